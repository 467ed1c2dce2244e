from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_data(*parts) -> Path:
    """A file under ../shared/data, or skip: a user's fresh clone has no ../shared."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs the shared evaluation data at {path} (absent in a fresh clone)")
    return path


@pytest.fixture(scope="session")
def smollm2_dir():
    """The embedded judge converted to a transformers folder (cached across runs)."""
    from rrmlib import models

    path, _ = models.converted_default()
    return Path(path)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, smollm2_dir):
    """A tiny random Llama with SmolLM2's tokenizer and chat template: a real transformers model
    that generates in milliseconds (its text is noise; tests that need known verdicts fill the
    store first)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("tiny-llama")
    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    config = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=len(tok), bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, max_position_embeddings=2048)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def thinking_model_dir(tmp_path_factory, tiny_model_dir):
    """The tiny model with a chat template that opens <think> in the generation prompt, as RRM's."""
    import shutil

    folder = tmp_path_factory.mktemp("thinker") / "model"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "chat_template.jinja").write_text(
        "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|><think>\n{% endif %}")
    return folder


@pytest.fixture(scope="session")
def bos_model_dir(tmp_path_factory, tiny_model_dir):
    """The tiny model with a tokenizer that adds a BOS when asked for special tokens, as a
    LlamaTokenizerFast with add_bos_token does (DeepSeek-R1-Distill's, RRM's): its chat template
    (SmolLM2's) already starts with that token, so text tokenized with special tokens has two."""
    import shutil

    from tokenizers.processors import TemplateProcessing
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("bos") / "model"
    shutil.copytree(tiny_model_dir, folder)
    tok = AutoTokenizer.from_pretrained(folder)
    bos = tok.bos_token
    tok.backend_tokenizer.post_processor = TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tok.bos_token_id)])
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def declared_bos_model_dir(tmp_path_factory, tiny_model_dir):
    """The tiny model with a tokenizer configured as DeepSeek-R1-Distill's (and so RRM's):
    tokenizer_config.json says LlamaTokenizerFast with "add_bos_token": true over a byte-level
    tokenizer.json. transformers 4 put a BOS before every text for it; transformers 5 loads it
    without one. Its chat template (SmolLM2's) starts with that BOS token."""
    import json
    import shutil

    folder = tmp_path_factory.mktemp("declared-bos") / "model"
    shutil.copytree(tiny_model_dir, folder)
    tj = json.loads((folder / "tokenizer.json").read_text())
    tj["post_processor"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    (folder / "tokenizer.json").write_text(json.dumps(tj))
    tc = json.loads((folder / "tokenizer_config.json").read_text())
    tc.update(tokenizer_class="LlamaTokenizerFast", add_bos_token=True, add_eos_token=False, legacy=True)
    (folder / "tokenizer_config.json").write_text(json.dumps(tc))
    return folder


@pytest.fixture
def record_prompt_ids():
    """``record(backend)``: a list that fills with each row's prompt token ids as the hf backend
    hands them to the model (both ways of batching pad a batch's rows through ``tokenizer.pad``)."""
    def record(backend):
        seen, pad = [], backend.tokenizer.pad

        def recording(encoded, *args, **kwargs):
            seen.extend(list(map(list, encoded["input_ids"])))
            return pad(encoded, *args, **kwargs)

        backend.tokenizer.pad = recording
        return seen

    return record


@pytest.fixture(scope="session", autouse=True)
def _project_root_outside_the_checkout(tmp_path_factory):
    """Runs that use the default folders (runs/, the store) write under $RRM_ROOT: a folder of
    the test session, never the checkout. Tests that look at those folders set RRM_ROOT
    themselves (to their working folder)."""
    import os

    old = os.environ.get("RRM_ROOT")
    os.environ["RRM_ROOT"] = str(tmp_path_factory.mktemp("project-root"))
    yield
    if old is None:
        os.environ.pop("RRM_ROOT", None)
    else:
        os.environ["RRM_ROOT"] = old


@pytest.fixture(autouse=True)
def _quiet_tokenizers(monkeypatch):
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
