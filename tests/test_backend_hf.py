"""The transformers backend on a tiny random model: order, batching, seeds, limits."""
import pytest

from rrmlib.backends import Request, Sampling, make_backend
from rrmlib.backends.base import as_messages
from rrmlib.prompts import rrm_messages


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    return make_backend("hf", model=str(tiny_model_dir), batch_size=3)


def requests(sampling, n=7):
    # Prompts of very different lengths, so length-sorting reorders them.
    return [Request(as_messages(rrm_messages("q" + " word" * (13 * i % 40), "a" * (i + 1), "b")), sampling, i % 2)
            for i in range(n)]


def test_length_sorted_batches_return_callers_order(backend):
    greedy = Sampling(temperature=0.0, max_new_tokens=5)
    reqs = requests(greedy)
    batched = backend.generate(reqs)
    one_by_one = [backend.generate([r])[0] for r in reqs]
    assert [c.text for c in batched] == [c.text for c in one_by_one]
    assert [c.prompt_tokens for c in batched] == [len(backend.tokenizer(backend.prompt_text(r.messages),
                                                   add_special_tokens=False)["input_ids"]) for r in reqs]


def test_sampling_is_seeded_per_request_not_per_batch(backend):
    s = Sampling(temperature=1.0, top_p=0.9, max_new_tokens=8, seed=3)
    reqs = requests(s)
    a = [c.text for c in backend.generate(reqs)]
    b = [c.text for c in backend.generate(list(reversed(reqs)))][::-1]
    c = [backend.generate([r])[0].text for r in reqs[:3]]
    assert a == b and a[:3] == c
    other = [c.text for c in backend.generate(requests(Sampling(temperature=1.0, top_p=0.9, max_new_tokens=8, seed=4)))]
    assert other != a


def test_token_limit_marks_cut_off(backend):
    out = backend.generate(requests(Sampling(temperature=0.0, max_new_tokens=4), n=2))
    for c in out:
        assert c.completion_tokens <= 4
        assert (c.finish_reason == "length") == (c.completion_tokens == 4)


def test_batches_respect_token_cap(backend):
    backend.max_batch_tokens = 1500
    try:
        lengths = [400, 410, 420, 900, 905]
        batches = list(backend._batches(list(range(5)), lengths, 100))
    finally:
        backend.max_batch_tokens = None
    assert sum(batches, []) == list(range(5))
    assert all(len(b) * (max(lengths[i] for i in b) + 100) <= 1500 or len(b) == 1 for b in batches)


def test_reasoning_template_detected(thinking_model_dir):
    assert make_backend("hf", model=str(thinking_model_dir)).is_reasoning() is True
