"""Continuous batching in the hf backend (sequences leave the batch as they end, waiting requests
take their slots): the same texts as static batches, token for token; completions stream as they
end; the batch stays within batch_size and max_batch_tokens.

The model is the tests' tiny random Llama with one change: it ends a sequence where a hash of
(its last token, that token's position) hits 0 mod 10, and never elsewhere. Lengths then vary
with the text and the positions, so a cache row mixed up, a position id off by one or a wrong
step in the sampler changes them, and the texts would differ."""
import pytest

from rrmlib.backends import Request, Sampling
from rrmlib.backends.base import as_messages
from rrmlib.backends.hf import HFBackend
from rrmlib.prompts import rrm_messages

pytestmark = pytest.mark.slow  # real generation loops, several model runs per test

GREEDY = Sampling(temperature=0.0, max_new_tokens=40)
SAMPLED = [Sampling(temperature=1.0, top_p=0.9, max_new_tokens=40, seed=3),
           Sampling(temperature=0.6, top_p=1.0, max_new_tokens=40, seed=11)]


def _hash_eos_class():
    import torch
    from transformers import LlamaForCausalLM

    class HashEos(LlamaForCausalLM):
        M = 10

        def forward(self, input_ids=None, position_ids=None, **kwargs):
            out = super().forward(input_ids=input_ids, position_ids=position_ids, **kwargs)
            tok, pos = input_ids[:, -1], position_ids[:, -1]
            hit = (tok * 7919 + pos * 104729) % self.M == 0
            last = out.logits[:, -1]
            eos = self.config.eos_token_id
            last[:, eos] = float("-inf")
            last[hit] = torch.where(torch.arange(last.shape[-1], device=last.device) == eos, 0.0, float("-inf"))
            return out

    return HashEos


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return _hash_eos_class().from_pretrained(tiny_model_dir).eval(), AutoTokenizer.from_pretrained(tiny_model_dir)


def make(model_and_tokenizer, batching, batch_size=3, **kw):
    model, tok = model_and_tokenizer
    return HFBackend.from_model(model, tok, model_id="tiny-hash-eos", batch_size=batch_size, batching=batching, **kw)


@pytest.fixture(scope="module")
def static(model_and_tokenizer):
    return make(model_and_tokenizer, "static")


@pytest.fixture(scope="module")
def continuous(model_and_tokenizer):
    return make(model_and_tokenizer, "continuous")


def requests(sampling, n=10, continuation=None):
    # Prompts of very different lengths (about 200 to 320 tokens), two samples' seeds.
    return [Request(as_messages(rrm_messages("q" + " word" * (13 * i % 40), "a" * (i + 1), "b")), sampling, i % 2,
                    continuation=tuple(continuation[i]) if continuation and continuation[i] else ())
            for i in range(n)]


def same(a, b):
    return [(c.text, c.completion_tokens, c.finish_reason, c.prompt_tokens) for c in a] == \
           [(c.text, c.completion_tokens, c.finish_reason, c.prompt_tokens) for c in b]


@pytest.mark.parametrize("sampling", [GREEDY, *SAMPLED], ids=["greedy", "t1-p0.9", "t0.6"])
def test_texts_equal_static_batches(static, continuous, sampling):
    reqs = requests(sampling)
    a, b = static.generate(reqs), continuous.generate(reqs)
    assert same(a, b)
    ended = [c.completion_tokens for c in a if c.finish_reason == "stop"]
    assert len(set(ended)) >= 3, "the test needs thoughts of mixed lengths to refill slots"


def test_continuation_requests_equal_static(static, continuous):
    """Token ids given as the answer's start (a thought cut and closed): generation continues
    after them in both modes alike; requests with and without one in the same call."""
    ids = static.token_ids("Let me think. The first answer")
    cont = [ids[: 1 + i % len(ids)] if i % 3 else None for i in range(9)]
    for sampling in (GREEDY, SAMPLED[0]):
        reqs = requests(sampling, n=9, continuation=cont)
        a, b = static.generate(reqs), continuous.generate(reqs)
        assert same(a, b)
        plain = continuous.generate(requests(sampling, n=9))
        assert [c.prompt_tokens for c in b] == [p.prompt_tokens + (len(x) if x else 0) for p, x in zip(plain, cont)]


@pytest.mark.parametrize("sampling", [GREEDY, SAMPLED[0]], ids=["greedy", "sampled"])
def test_text_does_not_depend_on_batch(model_and_tokenizer, continuous, sampling):
    reqs = requests(sampling)
    ref = [c.text for c in continuous.generate(reqs)]
    assert [c.text for c in continuous.generate(reqs[::-1])][::-1] == ref
    for batch_size in (1, 2, 7):
        other = make(model_and_tokenizer, "continuous", batch_size=batch_size)
        assert [c.text for c in other.generate(reqs)] == ref
    assert [continuous.generate([r])[0].text for r in reqs[:4]] == ref[:4]
    unsorted = make(model_and_tokenizer, "continuous", sort_by_length=False)
    assert [c.text for c in unsorted.generate(reqs)] == ref


def test_finished_sequences_stream_at_once(model_and_tokenizer):
    """All requests in one batch: each completion comes back after exactly as many decoding
    steps as it has tokens after its first (the prefill makes the first), in more than one chunk;
    static batching gives one chunk when the longest ends."""
    reqs = requests(GREEDY)
    backend = make(model_and_tokenizer, "continuous", batch_size=len(reqs))
    seen, chunks = {}, 0
    for chunk in backend.stream(reqs):
        chunks += 1
        for i, c in chunk:
            seen[i] = (backend.stats["decode_forwards"], c.completion_tokens)
    assert sorted(seen) == list(range(len(reqs)))
    assert all(steps == n - 1 for steps, n in seen.values())
    assert chunks == len({n for _, n in seen.values()}) > 1
    static = make(model_and_tokenizer, "static", batch_size=len(reqs))
    assert len(list(static.stream(reqs))) == 1


def test_refilled_slots_stream_before_the_rest_ends(continuous):
    """With three slots for ten requests, a request that waited for a slot can end and stream
    before one admitted earlier does: completions come back in the order they end."""
    reqs = requests(SAMPLED[0])
    order = [i for chunk in continuous.stream(reqs) for i, _ in chunk]
    assert sorted(order) == list(range(len(reqs)))
    lengths = [len(continuous.tokenizer(continuous.prompt_text(r.messages), add_special_tokens=False)["input_ids"])
               for r in reqs]
    admitted = sorted(range(len(reqs)), key=lambda i: (lengths[i], i))
    assert order != admitted  # not the admission order: a later one overtook an earlier one


def test_batch_stays_within_batch_size_and_token_cap(model_and_tokenizer, static):
    reqs = requests(SAMPLED[1])
    seen = []
    backend = make(model_and_tokenizer, "continuous", batch_size=4)
    backend.step_hook = lambda rows, step, budget: seen.append((rows, step, budget))
    out = backend.generate(reqs)
    assert seen and all(1 <= rows <= 4 and 1 <= step < budget == 40 for rows, step, budget in seen)
    assert backend.stats["max_rows"] == 4
    # A token cap that allows two rows of the longest prompt and its budget: never more cells.
    longest = max(c.prompt_tokens for c in out)
    cap = 2 * (longest + 40)
    capped = make(model_and_tokenizer, "continuous", batch_size=8, max_batch_tokens=cap)
    assert same(capped.generate(reqs), static.generate(reqs))
    assert capped.stats["max_cells"] <= cap and capped.stats["max_rows"] >= 2


def test_idle_slots_are_not_computed(static, continuous):
    """What refilling buys: static batches compute every row until the batch's longest ends;
    continuously batched rows are computed only while they generate."""
    reqs = requests(GREEDY)
    for backend in (static, continuous):
        backend.stats = dict.fromkeys(backend.stats, 0)
        backend.generate(reqs)
    assert continuous.stats["tokens"] == static.stats["tokens"] == continuous.stats["row_steps"]
    assert static.stats["row_steps"] > static.stats["tokens"]


def test_batching_choice(model_and_tokenizer, tiny_model_dir):
    from rrmlib.backends import make_backend

    assert make_backend("hf", model=str(tiny_model_dir)).batching == "continuous"  # the default
    assert make_backend("hf", model=str(tiny_model_dir), batching="static").describe()["batching"] == "static"
    with pytest.raises(ValueError, match="batching"):
        make(model_and_tokenizer, "paged")


def test_models_whose_cache_cannot_be_merged_fall_back_to_static(model_and_tokenizer, monkeypatch):
    from transformers.cache_utils import DynamicSlidingWindowLayer

    class Sliding:
        layers = [DynamicSlidingWindowLayer(sliding_window=8)]

    monkeypatch.setattr(HFBackend, "_new_cache", lambda self: Sliding())
    with pytest.warns(UserWarning, match="DynamicSlidingWindowLayer"):
        backend = make(model_and_tokenizer, "continuous")
    assert backend.batching == "static" and backend.refill_problem
