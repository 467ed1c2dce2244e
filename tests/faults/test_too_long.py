"""A pair longer than the judge's context (fault suite, "Too long"): a recorded, counted
policy, never a crash mid-batch. The judge is the tiny random Llama of tests/conftest.py
(a real transformers model, 2048 positions), so a few thousand words overflow it."""
import pytest

from rrmlib.backends import Sampling, make_backend
from rrmlib.data import Pair
from rrmlib.judge import Judge
from rrmlib.metrics import metrics
from rrmlib.prompts import rrm_messages
from rrmlib.store import JudgmentStore

SAMPLING = Sampling(temperature=0.0, max_new_tokens=8)
PAIRS = [Pair("short", "What is 2 + 2?", "4", "5", "s"),
         Pair("long", "Summarise.", "word " * 3000, "a short answer", "s"),
         Pair("both-long", "Compare.", "alpha " * 2500, "beta " * 1800, "s"),
         Pair("short2", "Capital of France?", "Paris", "Rome", "s")]


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    b = make_backend("hf", model=str(tiny_model_dir), batch_size=4)
    assert b.context_length == 2048
    return b


def prompt_tokens(backend, q, a, b):
    return len(backend.tokenizer(backend.prompt_text(rrm_messages(q, a, b)), add_special_tokens=False)["input_ids"])


def test_skip_counts_the_pair_and_leaves_it_out(tmp_path, backend):
    store = JudgmentStore(tmp_path / "s.sqlite")
    judge = Judge(backend, store, SAMPLING, reasoning=False, progress=False)  # too_long="skip" by default
    res = judge.judge_pairs(PAIRS, order="both")
    fits = res.set_index(["pair_id", "order"])["fit"]
    assert set(fits.loc["long"]) == set(fits.loc["both-long"]) == {"too long"}
    assert set(fits.loc["short"]) == set(fits.loc["short2"]) == {"whole"}
    assert len(store) == 4 and judge.counts["generated"] == 4  # nothing generated for the skipped pairs
    assert judge.fitting == {"skipped": 4, "shortened": 0}
    skipped = res[res["fit"] == "too long"]
    assert skipped["key"].isna().all() and skipped["verdict"].isna().all()
    m = metrics(res, "tie")
    assert m["too_long"] == 2 and m["pairs"] == 2 and m["judgments"] == 4  # left out, and counted
    assert any("did not fit the judge's context" in w for w in m["warnings"])
    assert judge.provenance()["too_long"]["policy"] == "skip"


def test_shorten_cuts_both_answers_alike_to_the_longest_that_fits(tmp_path, backend):
    store = JudgmentStore(tmp_path / "s.sqlite")
    judge = Judge(backend, store, SAMPLING, reasoning=False, progress=False, too_long="shorten")
    res = judge.judge_pairs(PAIRS, order="fixed")
    assert res.set_index("pair_id")["fit"].to_dict() == {"short": "whole", "long": "shortened",
                                                        "both-long": "shortened", "short2": "whole"}
    limit = 2048 - 8  # context minus room, room = min(max_new_tokens, context // 4)
    tok = backend.tokenizer
    for p in PAIRS[1:3]:
        a_ids = tok(p.chosen, add_special_tokens=False)["input_ids"]
        b_ids = tok(p.rejected, add_special_tokens=False)["input_ids"]

        def shown(cap):
            cut = [x if len(ids) <= cap else tok.decode(ids[:cap]) for x, ids in ((p.chosen, a_ids), (p.rejected, b_ids))]
            return prompt_tokens(backend, p.prompt, *cut), cut

        # The largest common cap that fits, found here by walking down (in steps of 64, then 1)
        # from the most tokens an answer could keep.
        cap = min(max(len(a_ids), len(b_ids)), limit)
        while shown(cap)[0] > limit:
            cap -= 64
        while shown(cap + 1)[0] <= limit:
            cap += 1
        size, (first, second) = shown(cap)
        assert size <= limit < shown(cap + 1)[0]
        stored = store.get_many([res.set_index("pair_id").loc[p.id, "key"]])
        assert len(stored) == 1
        # The prompt the model saw holds both answers cut to that same cap.
        assert backend.prompt_text(rrm_messages(p.prompt, first, second)) in _stored_prompts(store)
    assert judge.fitting == {"skipped": 0, "shortened": 2}
    m = metrics(res, "tie")
    assert m["too_long"] == 0 and m["shortened"] == 2 and m["pairs"] == 4


def _stored_prompts(store):
    import sqlite3

    return {row[0] for row in sqlite3.connect(store.path).execute("SELECT prompt FROM completions")}


def test_a_question_longer_than_the_context_cannot_be_shortened(tmp_path, backend):
    judge = Judge(backend, JudgmentStore(tmp_path / "s.sqlite"), SAMPLING, reasoning=False, progress=False,
                  too_long="shorten")
    res = judge.judge_pairs([Pair("q", "why " * 3000, "a", "b", "s"), PAIRS[0]], order="fixed")
    assert res["fit"].tolist() == ["too long", "whole"]


def test_unknown_policy_is_refused(tmp_path, backend):
    with pytest.raises(ValueError, match="too_long"):
        Judge(backend, JudgmentStore(tmp_path / "s.sqlite"), SAMPLING, reasoning=False, too_long="truncate")
