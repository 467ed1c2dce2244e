"""Thinking budgets with forced verdicts (issue 14): the forced prompt is the original prompt,
then exactly the first B tokens of the long thought, then the template's closing, compared as
token ids (the tiny thinking model, and the real CPU judge); a rerun with one more budget
generates only that budget's verdicts."""
import pytest

from rrmlib import budgets
from rrmlib.backends import Sampling, make_backend
from rrmlib.backends.base import as_messages
from rrmlib.data import Pair
from rrmlib.judge import Judge
from rrmlib.prompts import rrm_messages
from rrmlib.store import JudgmentStore

pytestmark = pytest.mark.slow  # real generation on SmolLM2 and the tiny model

PAIRS = [Pair(f"p{i}", f"What is {i} + {i}?", str(2 * i), str(2 * i + 1), "math") for i in range(3)]
CLOSE = "\n</think>\n\n"


def expected_forced_ids(backend, pair, swap, completion_text, budget, reasoning):
    tok = backend.tokenizer
    first, second = (pair.rejected, pair.chosen) if swap else (pair.chosen, pair.rejected)
    prompt = tok(backend.prompt_text(as_messages(rrm_messages(pair.prompt, first, second))),
                 add_special_tokens=False)["input_ids"]
    thought = completion_text.split("</think>")[0] if reasoning else completion_text
    return prompt + tok(thought, add_special_tokens=False)["input_ids"][:budget] + \
        tok(CLOSE, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("model", ["thinking", "smollm2"])
def test_forced_prompt_is_prompt_plus_first_b_thought_tokens_plus_closing(tmp_path, model, thinking_model_dir,
                                                                            smollm2_dir, record_prompt_ids):
    folder = thinking_model_dir if model == "thinking" else smollm2_dir
    backend = make_backend("hf", model=str(folder), batch_size=8)
    judge = Judge(backend, JudgmentStore(tmp_path / "s.sqlite"), Sampling(temperature=0.6, max_new_tokens=20),
                  progress=False)
    assert judge.reasoning is (model == "thinking")
    longs = {r.pair_id: r for r in judge.judge_pairs(PAIRS, order="fixed").itertuples()}
    seen = record_prompt_ids(backend)
    frame = budgets.judge_budgets(judge, PAIRS, budgets=[3, 7, 20], order="fixed", verdict_tokens=5, close=CLOSE)
    stored = judge.store.get_many([longs[p.id].key for p in PAIRS])
    want = []
    for p in PAIRS:
        text = stored[longs[p.id].key]["text"]
        thought = text.split("</think>")[0] if judge.reasoning else text
        n = len(backend.tokenizer(thought, add_special_tokens=False)["input_ids"])
        for b in (3, 7, 20):
            row = frame[(frame["pair_id"] == p.id) & (frame["budget"] == b)].iloc[0]
            if n > b or (judge.reasoning and "</think>" not in text):
                assert row["forced"]
                want.append(expected_forced_ids(backend, p, False, text, b, judge.reasoning))
            else:
                assert not row["forced"] and row["key"] == longs[p.id].key  # its own verdict
    assert sorted(seen) == sorted(want) and want  # exactly those prompts went to the model
    assert frame.loc[frame["forced"], "key"].is_unique
    assert set(frame.loc[frame["budget"] == 3, "think_tokens"]) <= {0, 1, 2, 3}


def test_another_budget_generates_only_its_verdicts(tmp_path, thinking_model_dir):
    backend = make_backend("hf", model=str(thinking_model_dir), batch_size=8)
    judge = Judge(backend, JudgmentStore(tmp_path / "s.sqlite"), Sampling(temperature=0.6, max_new_tokens=16),
                  progress=False)
    first = budgets.judge_budgets(judge, PAIRS, budgets=[4, 16], order="both", verdict_tokens=4)
    before = dict(judge.counts)
    again = budgets.judge_budgets(judge, PAIRS, budgets=[4, 8, 16], order="both", verdict_tokens=4)
    new = judge.counts["generated"] - before["generated"]
    assert new == int(again.loc[again["budget"] == 8, "forced"].sum()) > 0
    same = again[again["budget"] != 8].reset_index(drop=True)
    assert same[["pair_id", "order", "budget", "key", "forced_paper"]].equals(
        first[["pair_id", "order", "budget", "key", "forced_paper"]])


def test_truncation_reads_the_same_completion_cut_at_the_budget(tmp_path, thinking_model_dir):
    from rrmlib.backends.base import Completion

    backend = make_backend("hf", model=str(thinking_model_dir))
    judge = Judge(backend, JudgmentStore(tmp_path / "s.sqlite"), Sampling(temperature=0.6, max_new_tokens=64),
                  progress=False)
    # A known long completion: a thought, its end, and a verdict; stored as the judge's own.
    req = judge.request(*(PAIRS[0].prompt, PAIRS[0].chosen, PAIRS[0].rejected, 0))
    text = "weighing the two " * 3 + "</think>\n\n\\boxed{Assistant 1}"
    n = len(backend.token_ids(text))
    judge.remember([(req, Completion(text, 10, n, "stop"))])
    frame = budgets.judge_budgets(judge, PAIRS[:1], budgets=[2, n, 64], order="fixed", verdict_tokens=4)
    by = frame.set_index("budget")
    assert by.loc[64, "truncated_paper"] == 1 and by.loc[n, "truncated_paper"] == 1  # it fits
    assert pd_isna(by.loc[2, "truncated_paper"])  # cut after 2 tokens: no verdict (scored 0.5)
    assert not by.loc[64, "forced"] and by.loc[64, "forced_paper"] == 1  # the thought ended: its own verdict
    assert by.loc[2, "forced"]


def pd_isna(x):
    import pandas as pd

    return pd.isna(x)


def test_budgets_are_checked():
    assert budgets.parse_budgets("1024, 512,512") == [512, 1024]
    for bad in ("", "a,b", [0, 8]):
        with pytest.raises(ValueError, match="think_budgets"):
            budgets.parse_budgets(bad)
