"""What meta.json says about the paper's protocol: every choice that changes a number away from
the paper's is named (rrmlib.paper)."""
import json

import pytest
from notebook_runs import read as read_run
from notebook_runs import run as run_notebook

from rrmlib.backends import Sampling, make_backend
from rrmlib.data import Pair
from rrmlib.judge import Judge
from rrmlib.params import SPECS, check
from rrmlib.paper import ALWAYS, describe
from rrmlib.runs import RunDir
from rrmlib.store import JudgmentStore


def test_the_defaults_of_a_named_judge_are_the_papers():
    d = describe("pairwise", check("pairwise", {"model": "org/RRM-7B", "reasoning": True}))
    assert d["paper"] is True and d["deviations"] == {}


def test_part_of_the_data_is_a_departure():
    for given in ({"limit": 10}, {"sample": 5}, {"subsets": "chat"}):
        d = describe("pairwise", check("pairwise", {"model": "org/RRM-7B", **given}))
        assert d["deviations"] == given and d["paper"] is False
    assert describe("knockout", check("knockout", {"model": "m", "limit": 3}))["deviations"] == {"limit": 3}


def test_reading_verdicts_without_a_thought_is_named():
    d = describe("pairwise", check("pairwise", {"model": "m", "reasoning": False, "too_long": "shorten"}))
    # too_long departs only where it acted (below): a policy that never fired changes no number
    assert d["deviations"] == {"reasoning": False}


def test_a_replay_of_the_papers_records_runs_no_judge_and_tosses_no_coin():
    p = check("knockout", {"records": "/records", "records_model": "7b", "dataset": "mmlu-pro"})
    assert p["max_new_tokens"] == 128  # the embedded judge's budget, which the replay never uses
    d = describe("knockout", p)
    assert d["paper"] is True and d["deviations"] == {} and "unparseable_match_coin" not in d["always"]
    assert "unparseable_match_coin" in describe("knockout", check("knockout", {"model": "m"}))["always"]


# --- too_long: the original never skipped nor shortened a prompt (issue 20, item 9) ------------
# run_generative.py gave vLLM every prompt whole: a pair skipped is left out of the accuracy, and
# one shortened is judged on other answers. Either departs, on the runs where it happened.

PAIRS = [Pair("short", "What is 2 + 2?", "4", "5", "s"), Pair("long", "Summarise.", "word " * 3000, "short", "s")]


@pytest.fixture(scope="module")
def tiny_backend(tiny_model_dir):
    b = make_backend("hf", model=str(tiny_model_dir), batch_size=2)
    assert b.context_length == 2048  # "word " * 3000 does not fit
    return b


@pytest.mark.parametrize("policy, pairs, departs", [("skip", PAIRS, True), ("shorten", PAIRS, True),
                                                    ("skip", PAIRS[:1], False), ("shorten", PAIRS[:1], False)])
def test_a_runs_meta_names_too_long_where_it_skipped_or_shortened(tmp_path, tiny_backend, policy, pairs, departs):
    params = check("pairwise", {"model": "org/RRM-7B", "too_long": policy, "max_new_tokens": 8192, "reasoning": True})
    judge = Judge(tiny_backend, JudgmentStore(tmp_path / "s.sqlite"), Sampling(temperature=0.0, max_new_tokens=4),
                  reasoning=True, progress=False, too_long=policy)
    res = judge.judge_pairs(pairs, order="fixed")
    acted = {"skip": "too long", "shorten": "shortened"}[policy]
    assert (res["fit"] == acted).any() == departs  # the judge did (or did not) act on the long pair
    RunDir(tmp_path / "run", "pairwise", params).write_meta(**judge.provenance())
    protocol = json.loads((tmp_path / "run" / "meta.json").read_text())["protocol"]
    assert protocol["deviations"] == ({"too_long": policy} if departs else {})
    assert protocol["paper"] is not departs


@pytest.mark.slow
def test_a_pairwise_run_that_skipped_a_pair_says_it_departs(tmp_path, tiny_model_dir):
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps({"id": p.id, "prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected})
                            + "\n" for p in PAIRS))
    out = run_notebook(tmp_path, "pairwise", "long", dataset=str(data), model=str(tiny_model_dir), max_new_tokens=4,
                       store=str(tmp_path / "s.sqlite"))
    metrics, meta = read_run(out)
    assert metrics["too_long"] == 1 and meta["too_long"]["skipped"] == 1  # skip, the default
    assert meta["protocol"]["deviations"]["too_long"] == "skip" and meta["protocol"]["paper"] is False


# --- each notebook lists the coins it tosses, and no other (issue 20, item 9) --------------------

def judges(notebook):
    """Whether a notebook runs a judge, read from what it declares: a judge has a backend."""
    return "backend" in SPECS[notebook]


@pytest.mark.parametrize("notebook", sorted(SPECS))
def test_a_notebook_that_runs_no_judge_tosses_no_coin(notebook):
    params = check(notebook, {"matches": "m.parquet"} if notebook == "elo_accuracy" else {})
    always = describe(notebook, params)["always"]
    if not judges(notebook):
        assert always == {}
    else:
        assert always and set(always) <= set(ALWAYS)
    if notebook == "knockout":  # a replay runs no judge either
        assert describe(notebook, check(notebook, {"records": "/r"}))["always"] == {}


@pytest.mark.parametrize("notebook, given, coins", [
    ("pairwise", {}, {"answer_order_coin"}),                                  # shown in a seeded random order
    ("pairwise", {"order": "both"}, set()),
    ("pairwise", {"order": "fixed"}, set()),
    ("pairwise", {"backend": "classifier"}, set()),                           # a score cannot depend on the order
    ("elo_rival", {}, {"answer_order_coin", "unparseable_match_coin"}),
    ("elo_rival", {"both_orders": True}, {"unparseable_match_coin"}),
    ("elo_rival", {"unparseable": "draw"}, {"answer_order_coin"}),
    ("knockout", {}, {"unparseable_match_coin"}),                             # the bracket's order is shown
    ("knockout", {"unparseable": "draw"}, {"unparseable_match_coin"}),        # a knockout needs a winner
    ("knockout", {"format": "swiss"}, {"answer_order_coin", "unparseable_match_coin"}),
    ("knockout", {"format": "swiss", "unparseable": "draw"}, {"answer_order_coin"}),
])
def test_a_judge_lists_the_coins_its_parameters_toss(notebook, given, coins):
    assert set(describe(notebook, check(notebook, given))["always"]) == coins
