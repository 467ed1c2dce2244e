import pandas as pd
import pytest

from rrmlib import ratings, selection
from rrmlib.data import CandidateSet
from rrmlib.tournament import Knockout, RoundRobin, Swiss, matches_frame, play


def cs(id, correct, answers=None, scores=None):
    return CandidateSet(id, f"question {id}", [f"answer {i}" for i in range(len(correct))], correct, answers, scores)


SETS = [
    cs("q1", [False, True, False, True], answers=["7", "6", "7", "6"], scores=[0.9, 0.1, 0.2, 0.3]),
    cs("q2", [True, False, False, False], answers=["1", "2", "2", ""], scores=[0.1, 0.2, 0.3, 0.4]),
    cs("q3", [False, False, False, False], answers=["", "", "", ""], scores=[0.5, 0.5, 0.1, 0.0]),
]


def test_majority_vote_ties_to_first_answer_and_skips_empty():
    picks = selection.pick_majority(SETS)
    assert picks == {"q1": 0, "q2": 1, "q3": 0}  # q1: "7" and "6" tie, "7" came first
    assert selection.pick_majority([cs("x", [True, False])]) == {}  # no answers: no vote


def test_score_argmax_oracle_and_random_expectation():
    assert selection.pick_by_score(SETS) == {"q1": 0, "q2": 3, "q3": 0}
    assert selection.pick_oracle(SETS) == {"q1": 1, "q2": 0, "q3": 0}
    assert selection.random_expectation(SETS) == pytest.approx((0.5 + 0.25 + 0.0) / 3)
    assert selection.pick_random(SETS, seed=3) == selection.pick_random(SETS, seed=3)
    many = [cs(f"r{i}", [True, False, False, False]) for i in range(4000)]
    acc, n = selection.accuracy(many, selection.pick_random(many, seed=0))
    assert n == 4000 and acc == pytest.approx(0.25, abs=0.03)


def test_accuracy_checks_picks():
    assert selection.accuracy(SETS, {"q1": 1, "q2": 1}) == (0.5, 2)
    with pytest.raises(KeyError, match="unknown question"):
        selection.accuracy(SETS, {"nope": 0})
    with pytest.raises(IndexError, match="4 candidates"):
        selection.accuracy(SETS, {"q1": 4})


def test_pick_by_rating_ties_to_lower_entrant():
    table = pd.DataFrame({"question": ["q1", "q1", "q1", "q2", "q2"], "entrant": [2, 0, 1, 0, 1],
                          "rating": [1010.0, 1010.0, 990.0, 995.0, 1005.0]})
    assert selection.pick_by_rating(table) == {"q1": 0, "q2": 1}


def test_best_of_n_end_to_end():
    # A judge that prefers correct candidates, then the lower index: every tournament finds a
    # correct candidate where there is one.
    by_id = {s.id: s for s in SETS}

    def judge(asks):
        out = []
        for ask in asks:
            ok = by_id[ask.tournament].correct
            a, b = ask.match.a, ask.match.b
            out.append(a if (ok[a], -a) > (ok[b], -b) else b)
        return out

    knockouts = {s.id: Knockout(range(len(s.candidates))) for s in SETS}
    swiss = {s.id: Swiss(range(len(s.candidates)), seed=0) for s in SETS}
    robins = {s.id: RoundRobin(range(len(s.candidates))) for s in SETS}
    spent = {}
    for name, ts in (("knockout", knockouts), ("swiss", swiss), ("elo", robins)):
        play(ts, judge)
        spent[name] = sum(len(t.matches) for t in ts.values())
    picks = {
        "knockout": selection.pick_winners(knockouts),
        "swiss": selection.pick_winners(swiss),
        "elo": selection.pick_by_rating(ratings.elo_by_group(matches_frame(robins), k=32)),
    }
    table = selection.accuracy_table(SETS, picks, judgments=spent)
    assert list(table.columns) == ["method", "accuracy", "n", "judgments", "judgments_per_question", "ci_low",
                                   "ci_high"]
    assert table["ci_low"].isna().all()  # no bootstrap asked for
    rows = table.set_index("method")
    for name in ("knockout", "swiss", "elo"):
        assert rows.loc[name, "accuracy"] == pytest.approx(2 / 3)  # as good as the oracle
    assert rows.loc["oracle (any correct)", "accuracy"] == pytest.approx(2 / 3)
    assert rows.loc["knockout", "judgments"] == 3 * 3 and rows.loc["elo", "judgments"] == 3 * 6
    assert rows.loc["majority vote", "accuracy"] == pytest.approx(0.0)  # q1 "7" (wrong), q2 "2" (wrong)
    assert rows.loc["scalar score", "accuracy"] == pytest.approx(0.0)
    assert rows.loc["random (expected)", "accuracy"] == pytest.approx(0.25)
    assert (rows["n"] == 3).all()


def test_pick_winners_needs_finished_tournaments():
    with pytest.raises(ValueError, match="not finished"):
        selection.pick_winners({"q": Knockout(range(4))})


def test_table_without_answers_or_scores_has_no_such_rows():
    table = selection.accuracy_table([cs("x", [True, False])])
    assert list(table["method"]) == ["random (seed 0)", "random (expected)", "oracle (any correct)"]
