"""The prompt's token ids in the hf backend (``special_tokens``): the original evaluation gave
vLLM the rendered chat template as text, which vLLM tokenizes with the tokenizer's special tokens
added. With a tokenizer that adds a BOS (the tests' ``bos_model_dir``, as RRM's) before a template
that starts with it, the model sees two BOS; ``paper`` (the default) does the same, ``template``
gives the template's tokens only. Expected ids are built here from the tokenizer directly."""
import pytest

from rrmlib import params as P
from rrmlib import paper as protocol
from rrmlib.backends import Request, Sampling, make_backend
from rrmlib.backends.base import as_messages
from rrmlib.backends.hf import SAMPLER
from rrmlib.prompts import rrm_messages


def fed_ids(record, backend, reqs):
    seen = record(backend)
    backend.generate(reqs)
    return seen


REQS = [Request(as_messages(rrm_messages(f"q{i}", "a", "b")), Sampling(temperature=0.0, max_new_tokens=2))
        for i in range(3)]


@pytest.mark.parametrize("folder", ["bos_model_dir", "declared_bos_model_dir"])
@pytest.mark.parametrize("batching", ["continuous", "static"])
@pytest.mark.parametrize("mode", ["paper", "template"])
def test_hf_prompt_ids(request, folder, mode, batching, record_prompt_ids):
    """A tokenizer that adds the BOS itself, and one whose config declares it (add_bos_token, as
    RRM's) but which transformers 5 loads without: the paper's ids have the BOS either way."""
    model_dir = request.getfixturevalue(folder)
    backend = make_backend("hf", model=str(model_dir), batch_size=2, special_tokens=mode, batching=batching)
    tok, bos = backend.tokenizer, backend.tokenizer.bos_token_id
    want = []
    for r in REQS:
        template = tok(backend.prompt_text(r.messages), add_special_tokens=False)["input_ids"]
        assert template[0] == bos and template[1] != bos
        want.append([bos] + template if mode == "paper" else template)
    assert sorted(fed_ids(record_prompt_ids, backend, REQS)) == sorted(want)
    base = f"cpu:float32:{SAMPLER}"
    assert backend.numerics == (base + ":specials+1" if mode == "paper" else base)
    assert backend.count_prompt_tokens(backend.prompt_text(REQS[0].messages)) == len(want[0])


def test_a_tokenizer_that_adds_nothing_keeps_ids_and_keys(tiny_model_dir, record_prompt_ids):
    """SmolLM2's tokenizer adds no special tokens: both modes give the template's ids and the key
    stores have always used."""
    paper = make_backend("hf", model=str(tiny_model_dir), batch_size=2)
    template = make_backend("hf", model=str(tiny_model_dir), batch_size=2, special_tokens="template")
    assert paper.special_tokens == "paper"  # the default
    assert paper.numerics == template.numerics == f"cpu:float32:{SAMPLER}"
    assert fed_ids(record_prompt_ids, paper, REQS) == fed_ids(record_prompt_ids, template, REQS)


def test_the_declared_bos_is_not_added_by_this_transformers(declared_bos_model_dir, tiny_model_dir):
    """Why the declared case needs its own handling: the tokenizer as loaded here adds nothing,
    though its config asks for a BOS; SmolLM2's config asks for none."""
    from transformers import AutoTokenizer

    from rrmlib.backends.base import declared_add_bos

    tok = AutoTokenizer.from_pretrained(declared_bos_model_dir)
    assert tok("x")["input_ids"] == tok("x", add_special_tokens=False)["input_ids"]
    assert declared_add_bos(tok) and not declared_add_bos(AutoTokenizer.from_pretrained(tiny_model_dir))


def test_bad_mode_is_refused(tiny_model_dir):
    with pytest.raises(ValueError, match="special_tokens must be one of"):
        make_backend("hf", model=str(tiny_model_dir), special_tokens="both")


def test_parameter_reaches_the_backend_and_meta():
    p = P.check("pairwise", {"special_tokens": "template", "batching": "static"})
    opts = P.backend_options(p)
    assert (opts["special_tokens"], opts["batching"]) == ("template", "static")
    assert P.backend_options(P.check("pairwise", {}))["special_tokens"] == "paper"
    default = protocol.deviations("pairwise", P.check("pairwise", {}))  # the embedded judge's budget only
    assert "special_tokens" not in default
    assert protocol.deviations("pairwise", p) == {**default, "special_tokens": "template"}  # batching: no text changes
    with pytest.raises(P.ParameterError):
        P.check("pairwise", {"special_tokens": "none"})
