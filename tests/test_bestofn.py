"""Best-of-N glue: tournaments judged by the real Judge (a tiny random model whose store is
filled with known completions, so verdicts are known), match records, picks and accuracy."""
import json
from itertools import permutations
from pathlib import Path

import pandas as pd
import pytest

from rrmlib import bestofn, plots, selection
from rrmlib.backends import Sampling, make_backend
from rrmlib.backends.base import Completion
from rrmlib.data import CandidateSet, load_candidates
from rrmlib.data.files import SHIPPED
from rrmlib.judge import Judge, Judgment
from rrmlib.store import JudgmentStore
from rrmlib.data.rrm_records import load_rrm_bracket, load_rrm_knockout_records
from rrmlib.tournament import Knockout, replay

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SAMPLING = Sampling(temperature=0.6, max_new_tokens=6, seed=0)
SLOT = {1: "\\boxed{Assistant 1}", 2: "\\boxed{Assistant 2}", None: "I cannot decide."}


def cs(id, candidates, correct):
    return CandidateSet(id, f"Question {id}?", candidates, correct)


# Four candidates per set with distinct lengths, so "the longer answer wins" has one champion.
SETS = [
    cs("a", ["x" * 5, "x" * 9, "x" * 2, "x" * 7], [False, True, False, False]),
    cs("b", ["y" * 8, "y" * 3, "y" * 4, "y" * 1], [True, False, False, True]),
    cs("c", ["z" * 2, "z" * 6, "z" * 3, "z" * 4, "z" * 5], [False, False, False, False, True]),
]


def fill(judge, sets, verdict_for, attempts=(0,)):
    """Store, for every ordered pair of candidates and attempt, the completion naming the slot
    ``verdict_for(set, first, second, attempt)`` (1, 2, or None for no verdict)."""
    done = []
    for s in sets:
        for i, j in permutations(range(len(s.candidates)), 2):
            for t in attempts:
                req = judge.request(s.prompt, s.candidates[i], s.candidates[j], t)
                done.append((req, Completion(SLOT[verdict_for(s, i, j, t)], 400, 7, "stop")))
    judge.remember(done)


def longer(s, i, j, t):
    return 1 if len(s.candidates[i]) >= len(s.candidates[j]) else 2


@pytest.fixture(scope="module")
def tiny_backend(tiny_model_dir):
    return make_backend("hf", model=str(tiny_model_dir), batch_size=4)


@pytest.fixture
def judge(tmp_path, tiny_backend):
    return Judge(tiny_backend, JudgmentStore(tmp_path / "s.sqlite"), SAMPLING, reasoning=False, progress=False)


class Counting:
    """Wraps a judge to count its calls."""

    def __init__(self, judge):
        self.inner, self.calls = judge, []

    def judge(self, items, desc=""):
        self.calls.append(list(items))
        return self.inner.judge(items, desc=desc)


def test_knockout_longer_answer_wins_one_judge_call_per_round(judge):
    fill(judge, SETS, longer)
    counting = Counting(judge)
    tournaments, judgments, driver = bestofn.play(counting, SETS, bestofn.knockout(SETS))
    assert {q: t.winner for q, t in tournaments.items()} == {"a": 1, "b": 0, "c": 1}
    # 4 and 4 and 5 entrants: 3 rounds for the five; every round of every set in one call
    assert driver.steps == len(counting.calls) == 3
    assert [len(c) for c in counting.calls] == [2 + 2 + 2, 1 + 1 + 1, 1]
    assert judge.counts == {"generated": 0, "reused": 3 + 3 + 4}
    assert len(judgments) == 10 and (judgments["attempt"] == 0).all()
    # slot 1 shows match.a's text, in bracket order (no shuffle), and the verdict maps back
    assert (judgments["first"] == judgments["a"]).all()
    first_call = counting.calls[0][0]
    assert first_call == (SETS[0].prompt, SETS[0].candidates[0], SETS[0].candidates[1], 0)
    row = judgments.iloc[0]
    assert (row["verdict"], row["winner"]) == (2, 1)


def test_round_robin_elo_and_bradley_terry_pick_the_longest(judge):
    fill(judge, SETS, longer)
    counting = Counting(judge)
    tournaments, judgments, driver = bestofn.play(counting, SETS, bestofn.round_robin(SETS), order="shuffle", seed=3)
    assert driver.steps == 1 and len(judgments) == 6 + 6 + 10
    # a seeded shuffle of shown orders: both orders occur, the same ones on every run
    swapped = judgments["first"] != judgments["a"]
    assert 0 < swapped.sum() < len(judgments)
    again = bestofn.play(Counting(judge), SETS, bestofn.round_robin(SETS), order="shuffle", seed=3)[1]
    assert again["first"].tolist() == judgments["first"].tolist()
    # whichever slot it was shown in, the longer candidate won
    lengths = {(s.id, i): len(c) for s in SETS for i, c in enumerate(s.candidates)}
    for r in judgments.itertuples():
        assert lengths[(r.question, r.winner)] == max(lengths[(r.question, r.a)], lengths[(r.question, r.b)])
    matches = bestofn.matches_table(tournaments, driver, judgments, format="round_robin")
    elo_picks, bt_picks, _ = bestofn.rating_picks(matches)
    assert elo_picks == bt_picks == {"a": 1, "b": 0, "c": 1}


def test_reask_uses_the_attempt_as_sample_index_then_coin(judge):
    # Set "a": no verdict on the first ask of every match; on the re-ask the longer wins, except
    # for candidates 0 vs 1, which stays unparseable and goes to the coin.
    def verdict(s, i, j, t):
        if s.id != "a":
            return longer(s, i, j, t)
        if t == 0 or {i, j} == {0, 1}:
            return None
        return longer(s, i, j, t)

    fill(judge, SETS, verdict, attempts=(0, 1))
    counting = Counting(judge)
    tournaments, judgments, driver = bestofn.play(counting, SETS, bestofn.knockout(SETS), max_retries=1, seed=0)
    reasks = judgments[judgments["attempt"] == 1]
    assert set(reasks["question"]) == {"a"} and len(reasks) == 3  # two round-1 matches, one final
    # a re-ask is a new sample: its own key, the one the judge gives sample index 1
    r = reasks.iloc[0]
    s = SETS[0]
    assert r["key"] == judge.key(judge.request(s.prompt, s.candidates[r["a"]], s.candidates[r["b"]], 1))
    first = judgments[(judgments["question"] == "a") & (judgments["attempt"] == 0) & (judgments["a"] == r["a"])
                      & (judgments["b"] == r["b"])]
    assert first["key"].iloc[0] != r["key"] and first["verdict"].isna().all()
    assert len(driver.coin_flips) == 1 and driver.coin_flips[0].match.a == 0
    matches = bestofn.matches_table(tournaments, driver, judgments, format="knockout")
    coin = matches[matches["coin"]]
    assert coin[["question", "a", "b"]].values.tolist() == [["a", 0, 1]]
    assert coin["decided_by"].tolist() == ["coin"] and coin["judgments"].tolist() == [2]
    m = bestofn.judgment_metrics(judgments, matches, driver, len(SETS))
    assert m["coin_flips"] == 1 and m["reasks"] == 3 and m["judgments"] == len(judgments) == 13
    assert m["unparseable"] == pytest.approx(4 / 13)
    # one call per step: three rounds for "c", and set "a" needed one extra step for its final's re-ask
    assert driver.steps == len(counting.calls) == 4


class Fake:
    """A judge that answers by a rule on the shown texts, without a model."""

    def __init__(self, rule):
        self.rule, self.items = rule, []

    def judge(self, items, desc=""):
        self.items += items
        return [Judgment(f"k{n}", "", self.rule(a, b, s), None, None, None, False) for n, (q, a, b, s) in enumerate(items)]


def test_shuffled_order_maps_slot_back_to_the_entrant():
    sets = [cs("q", ["short", "a longer answer"], [False, True])]
    fake = Fake(lambda a, b, s: 1)  # always the first slot
    for seed in range(8):
        t, j, _ = bestofn.play(fake, sets, bestofn.round_robin(sets), order="shuffle", seed=seed)
        r = j.iloc[0]
        assert r["winner"] == r["first"]
        assert fake.items[-1][1] == sets[0].candidates[r["first"]]
    with pytest.raises(ValueError, match="order"):
        bestofn.MatchJudge(fake, sets, order="random")


def test_tournament_helpers_are_seeded_per_set():
    sets = [cs(str(i), [f"c{k}" for k in range(8)], [False] * 8) for i in range(4)]
    plain = bestofn.knockout(sets)
    assert all(t.bracket == list(range(8)) for t in plain.values())
    shuffled = bestofn.knockout(sets, shuffle_seed=1)
    assert len({tuple(t.bracket) for t in shuffled.values()}) > 1  # not one permutation for all
    assert bestofn.knockout(sets[2:], shuffle_seed=1)["2"].bracket == shuffled["2"].bracket  # limit-proof
    assert bestofn.swiss(sets)["0"].rounds_total == 3
    assert len(bestofn.round_robin(sets, both_orders=True)["0"].pending()) == 56


def test_read_matches_from_parquet_and_the_papers_merged_json(tmp_path):
    sets = [cs("q", ["a", "bb", "ccc"], [False, False, True])]
    tournaments, judgments, driver = bestofn.play(Fake(lambda a, b, s: 1 if len(a) > len(b) else 2), sets,
                                                  bestofn.round_robin(sets))
    matches = bestofn.matches_table(tournaments, driver, judgments, format="round_robin")
    matches.to_parquet(tmp_path / "matches.parquet")
    back = bestofn.read_matches(tmp_path)  # a run folder works too
    assert back[["question", "a", "b", "winner"]].values.tolist() == [["q", 0, 1, 1], ["q", 0, 2, 2], ["q", 1, 2, 2]]
    assert back["judgments"].tolist() == [1, 1, 1] and set(back["format"]) == {"round_robin"}

    path = tmp_path / "7b_merged_results.json"
    path.write_text(json.dumps({"0": {"details": [
        {"question_id": 0, "rival_1": 0, "rival_2": 1, "winner": 1, "pred": "Assistant 2"},
        {"question_id": 0, "rival_1": 2, "rival_2": 0, "winner": -1, "pred": ""}]}}))
    rec = bestofn.read_matches(path)
    assert rec[["question", "a", "b", "winner"]].values.tolist() == [["0", 0, 1, 1], ["0", 2, 0, None]]
    elo, bt, tables = bestofn.rating_picks(rec)
    assert elo == bt == {"0": 1}
    with pytest.raises(FileNotFoundError):
        bestofn.read_matches(tmp_path / "nothing.parquet")


def test_accuracy_table_with_intervals_and_records_checks():
    sets = [CandidateSet(str(i), "q", ["a", "b"], [i % 2 == 0, True], answers=["1", "2"], scores=[0.0, 1.0])
            for i in range(10)]
    table = selection.accuracy_table(sets, {"ELO": {s.id: 0 for s in sets}}, judgments={"ELO": 10}, seed=0,
                                     bootstrap=200)
    assert table["method"].tolist() == ["ELO", "random (seed 0)", "random (expected)", "majority vote",
                                        "scalar score", "oracle (any correct)"]
    t = table.set_index("method")
    assert t.loc["ELO", "accuracy"] == 0.5 and t.loc["ELO", "judgments_per_question"] == 1.0
    assert t.loc["ELO", "ci_low"] < 0.5 < t.loc["ELO", "ci_high"]
    assert t.loc["oracle (any correct)", "ci_low"] == 1.0  # every baseline with picks gets an interval
    assert t[["ci_low"]].isna().sum().item() == 1  # only the exact expectation has none
    with pytest.raises(KeyError, match="no candidate set"):
        bestofn.restrict(sets, ["0", "nope"])
    with pytest.raises(IndexError, match="2 candidates"):
        bestofn.check_entrants(sets, pd.DataFrame({"question": ["0"], "a": [0], "b": [5]}))


def test_accuracy_figure_repeats_byte_for_byte(tmp_path):
    table = pd.DataFrame({"method": ["ELO", "knockout winner", "random (expected)"], "accuracy": [0.8, 0.7, 0.5],
                          "ci_low": [0.7, 0.6, float("nan")], "ci_high": [0.9, 0.8, float("nan")],
                          "judgments_per_question": [28.0, 7.0, 0.0]})
    plots.setup()
    a = plots.savefig(plots.accuracy_vs_judgments(table, title="t"), tmp_path / "a" / "f")
    b = plots.savefig(plots.accuracy_vs_judgments(table, title="t"), tmp_path / "b" / "f")
    assert [p.suffix for p in a] == [".png", ".pdf", ".svg"]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b))


def test_replay_judgments_of_the_papers_knockout():
    folder = SHARED_DATA / "rrm" / "knockout-mmlu-pro"
    if not folder.exists():
        pytest.skip(f"needs the RRM knockout records at {folder} (absent in a fresh clone)")
    records = load_rrm_knockout_records(folder, "32b")
    bracket = load_rrm_bracket(folder)
    tournaments = {q: Knockout(bracket) for q in sorted(records)[:20]}
    replay(tournaments, records)
    rows = bestofn.replay_judgments(tournaments)
    assert len(rows) == 20 * 31 and rows["question"].nunique() == 20
    assert ((rows["verdict"] == 1) == (rows["winner"] == rows["a"])).all()
    for q, grp in rows.groupby("question"):
        assert {(int(a), int(b)): int(w) for a, b, w in grp[["a", "b", "winner"]].values} == records[int(q)]


def test_demo_candidate_sets_load_with_limit_and_data_path():
    assert [s.id for s in bestofn.load_sets("demo", limit=2)] == [s.id for s in load_candidates("demo")[:2]]
    path = SHIPPED / "qwen25-math" / "math_cot_100.jsonl"
    sets = bestofn.load_sets("qwen-math", str(path), 3)
    assert [len(s.candidates) for s in sets] == [8, 8, 8] and sets[0].scores is not None


# --- the paper's protocol by default (issue 9, items 6 and 7) ---------------------------------

PAPER_BRACKET_FILE = Path(__file__).resolve().parents[1] / "PPEdataset" / "knockout-mmlu-pro" / "tournament.json"


def test_32_candidates_play_the_papers_bracket():
    rounds = json.loads(PAPER_BRACKET_FILE.read_text())  # round_k: groups of entrants, in bracket order
    sets = [cs("q", [f"c{k}" for k in range(32)], [False] * 32)]
    lowest = Fake(lambda a, b, s: 1 if int(a[1:]) < int(b[1:]) else 2)  # the lower index always wins
    tournaments, _, _ = bestofn.play(lowest, sets, bestofn.knockout(sets))
    t = tournaments["q"]
    assert t.bracket == [e for pair in rounds["round_1"] for e in pair]
    assert [(a, b) for a, b, _ in t.rounds[0]] == [tuple(p) for p in rounds["round_1"]]
    # Round k+1 meets the winners of adjacent matches: in each group of round_{k+1} the winner of
    # its first half meets the winner of its second half.
    for k in range(2, 6):
        groups = rounds[f"round_{k}"]
        half = len(groups[0]) // 2
        assert [(a, b) for a, b, _ in t.rounds[k - 1]] == [(min(g[:half]), min(g[half:])) for g in groups]
    assert t.winner == 0
    assert bestofn.knockout(sets, bracket="order")["q"].bracket == list(range(32))
    eight = [cs("e", [f"c{k}" for k in range(8)], [False] * 8)]
    assert bestofn.knockout(eight)["e"].bracket == list(range(8))  # other sizes: the candidates' order


def test_unparseable_matches_take_the_coin_at_once_by_default():
    sets = [cs(str(i), [f"c{k}" for k in range(4)], [False] * 4) for i in range(3)]
    never = Fake(lambda a, b, s: None)
    tournaments, judgments, driver = bestofn.play(never, sets, bestofn.round_robin(sets))
    assert len(judgments) == 3 * 6 and (judgments["attempt"] == 0).all()  # no re-ask
    assert len(driver.coin_flips) == 18
    again, _, _ = bestofn.play(never, sets, bestofn.round_robin(sets))
    assert bestofn.matches_table(again, format="round_robin")["winner"].tolist() == \
        bestofn.matches_table(tournaments, format="round_robin")["winner"].tolist()  # the coin is seeded
    _, judgments, _ = bestofn.play(never, sets, bestofn.round_robin(sets), max_retries=1)
    assert len(judgments) == 36  # the option re-asks each once
