import math

import pandas as pd
import pytest

from rrmlib.judge import results_frame
from rrmlib.metrics import bootstrap_ci, by_subset, metrics, subset_table, pair_scores, position_consistency, summarize, voting_curve


def rows(spec):
    """spec: {pair_id: [(order, sample, picked), ...]} -> a results frame."""
    out = []
    for pid, judgments in spec.items():
        for order, sample, picked in judgments:
            out.append({"pair_id": pid, "subset": pid[0], "tie": False, "order": order, "sample": sample,
                        "key": f"{pid}-{order}-{sample}", "verdict": None if picked is None else 1,
                        "picked": picked, "correct": None if picked is None else picked == "chosen",
                        "prompt_tokens": 1, "completion_tokens": 1, "think_tokens": None,
                        "cut_off": picked is None})
    return results_frame(out)


CF = "chosen_first"
RF = "rejected_first"
# Four pairs, one judgment each: right, wrong, unparseable, right.
SINGLE = rows({"a1": [(CF, 0, "chosen")], "a2": [(CF, 0, "rejected")], "b1": [(CF, 0, None)], "b2": [(RF, 0, "chosen")]})


@pytest.mark.parametrize("policy,accuracy,n", [("tie", 2.5 / 4, 4), ("wrong", 2 / 4, 4), ("exclude", 2 / 3, 3)])
def test_verdict_policies(policy, accuracy, n):
    s = summarize(SINGLE, policy)
    assert s["accuracy"] == pytest.approx(accuracy) and s["n"] == n
    assert s["unparseable"] == pytest.approx(0.25) and s["cut_off"] == pytest.approx(0.25)
    assert s["undecided"] == 1


def test_unknown_policy():
    with pytest.raises(ValueError, match="policy"):
        summarize(SINGLE, "coin")


def test_majority_and_voting_curve_by_hand():
    r = rows({
        # votes c, r, c, r, c -> k=1: c; k=2: tie; k=3: c (2-1); k=4: tie; k=5: c
        "x": [(CF, i, p) for i, p in enumerate(["chosen", "rejected", "chosen", "rejected", "chosen"])],
        # r, None, r, c, c -> k=1: r; k=2: r (1-0, None abstains); k=3: r; k=4: r (2-1); k=5: tie (2-2)
        "y": [(CF, i, p) for i, p in enumerate(["rejected", None, "rejected", "chosen", "chosen"])],
    })
    curve = voting_curve(r, "tie")["accuracy"].to_dict()
    # x: 1, .5, 1, .5, 1 ; y: 0, 0, 0, 0, .5
    assert curve == {1: 0.5, 2: 0.25, 3: 0.5, 4: 0.25, 5: 0.75}
    assert voting_curve(r, "exclude")["n"].to_dict() == {1: 2, 2: 1, 3: 2, 4: 1, 5: 1}
    scores = pair_scores(r, "tie")
    assert scores.loc["x", ["for_chosen", "for_rejected", "unparseable"]].tolist() == [3, 2, 0]
    assert scores.loc["y", ["for_chosen", "for_rejected", "unparseable"]].tolist() == [2, 2, 1]


def test_position_consistency_by_hand():
    r = rows({
        "p1": [(CF, 0, "chosen"), (RF, 0, "chosen")],      # follows the answer
        "p2": [(CF, 0, "chosen"), (RF, 0, "rejected")],    # always slot 1
        "p3": [(CF, 0, "rejected"), (RF, 0, "chosen")],    # always slot 2
        "p4": [(CF, 0, "rejected"), (RF, 0, "rejected")],  # consistent, but wrong
        "p5": [(CF, 0, None), (RF, 0, "chosen")],          # undecided in one order
    })
    pc = position_consistency(r)
    assert pc == {"position_consistency": 0.5, "pairs_compared": 4, "pairs_undecided_in_an_order": 1,
                  "prefers_slot_1": 1, "prefers_slot_2": 1}
    m = metrics(r, "tie")
    # per order: chosen_first: p1 1, p2 1, p3 0, p4 0, p5 .5 -> 2.5/5; rejected_first: 1,0,1,0,1 -> 3/5
    assert m["by_order"][CF]["accuracy"] == pytest.approx(0.5)
    assert m["by_order"][RF]["accuracy"] == pytest.approx(0.6)
    # pooled: p1 2-0 -> 1; p2 1-1 -> .5; p3 .5; p4 0; p5 1-0 -> 1
    assert m["accuracy"] == pytest.approx(3 / 5)


def test_human_ties_are_excluded():
    r = SINGLE.copy()
    r.loc[r["pair_id"] == "a2", "tie"] = True
    m = metrics(r, "tie")
    assert m["pairs"] == 3 and m["human_ties_excluded"] == 1


def test_bootstrap_ci_seeded_and_brackets_mean():
    x = [1, 0, 1, 1, 0, 1, 1, 1, 0, 1] * 3
    lo, hi = bootstrap_ci(x, seed=3)
    assert (lo, hi) == bootstrap_ci(x, seed=3)
    assert lo < sum(x) / len(x) < hi
    assert all(math.isnan(v) for v in bootstrap_ci([]))


def test_subset_table_in_metrics():
    m = metrics(SINGLE, "tie")
    assert set(m["subsets"]) == {"a", "b"}
    assert m["subsets"]["a"]["accuracy"] == pytest.approx(0.5)
    assert m["subsets"]["b"]["accuracy"] == pytest.approx(0.75)


def test_rewardbench_sections_reported_for_rewardbench_subsets():
    r = rows({"x1": [(CF, 0, "chosen")], "x2": [(CF, 0, "rejected")]})
    r["subset"] = ["hep-go", "math-prm"]
    m = metrics(r.astype({"subset": "string"}), "tie")
    # Reasoning: math-prm weighs 984, hep-go 164: (0 * 984 + 1 * 164) / 1148
    assert m["sections"] == {"Reasoning": pytest.approx(164 / 1148)}
    assert "sections" not in metrics(SINGLE, "tie")


def test_metrics_are_strict_json_when_a_subset_is_all_unparseable():
    import json

    r = rows({"a1": [(CF, 0, None), (CF, 1, None)], "b1": [(CF, 0, "chosen"), (CF, 1, "chosen")]})
    m = metrics(r, "exclude")
    text = json.dumps(m, allow_nan=False)  # raises on NaN
    assert m["subsets"]["a"]["accuracy"] is None and m["subsets"]["a"]["ci_low"] is None
    assert json.loads(text)["subsets"]["b"]["accuracy"] == 1.0 and m["voting_curve"] == {1: 1.0, 2: 1.0}


def test_subset_table_from_metrics_equals_by_subset():
    import pandas as pd

    pd.testing.assert_frame_equal(subset_table(metrics(SINGLE, "tie", seed=2)), by_subset(SINGLE, "tie", seed=2),
                                  check_dtype=False)


# --- the paper's headline and verdict rule (issue 9, items 3 and 4) ---------------------------

def judged(rows_):
    """(pair_id, subset, order, verdict_paper, verdict_lenient) -> a results frame read by the
    paper's rule (verdict = verdict_paper)."""
    out = []
    for pid, subset, order, vp, vl in rows_:
        swapped = order == RF
        picked = None if vp is None else ("chosen" if (vp == 1) != swapped else "rejected")
        out.append({"pair_id": pid, "subset": subset, "tie": False, "order": order, "sample": 0, "key": pid,
                    "verdict": vp, "picked": picked, "correct": None if picked is None else picked == "chosen",
                    "prompt_tokens": 1, "completion_tokens": 1, "think_tokens": None, "cut_off": False,
                    "verdict_paper": vp, "verdict_lenient": vl})
    return results_frame(out)


def test_rewardbench_headline_is_the_plain_mean_of_the_four_sections():
    right, wrong = (CF, 1, 1), (CF, 2, 2)
    spec = [("alpacaeval-easy", [right, right]), ("mt-bench-hard", [right, wrong]), ("donotanswer", [wrong, wrong]),
            ("math-prm", [right]), ("hep-cpp", [wrong, wrong, wrong])]
    res = judged([(f"{s}-{i}", s, *j) for s, js in spec for i, j in enumerate(js)])
    m = metrics(res, "tie")
    # By hand: Chat 1, Chat Hard 0.5, Safety 0, Reasoning (1 * 984 + 0 * 164) / 1148.
    reasoning = 984 / 1148
    assert m["sections"] == pytest.approx({"Chat": 1.0, "Chat Hard": 0.5, "Safety": 0.0, "Reasoning": reasoning,
                                           "Overall": (1.5 + reasoning) / 4})
    assert m["score"] == pytest.approx((1.5 + reasoning) / 4)
    assert "Overall" in m["score_name"]
    assert m["accuracy"] == pytest.approx(4 / 10)  # the mean over pairs stays, under its own name
    lo, hi = m["score_ci"]
    assert lo <= m["score"] <= hi and set(m["sections_ci"]) == set(m["sections"])


def test_partial_rewardbench_is_not_called_the_overall():
    res = judged([("a", "alpacaeval-easy", CF, 1, 1), ("b", "math-prm", CF, 2, 2)])
    m = metrics(res, "tie")
    assert "Overall" not in m["sections"] and m["score"] == pytest.approx(0.5)
    assert "partial" in m["score_name"]


def test_other_datasets_score_the_pair_mean():
    m = metrics(SINGLE, "tie")
    assert m["score"] == m["accuracy"] and "sections" not in m


def test_both_verdict_rules_shown_from_the_same_completions():
    # Pair p1: the paper's rule reads no verdict (0.5), the lenient one the right answer (1).
    # Pair p2 shown swapped: paper slot 2 = chosen (1); lenient slot 1 = rejected (0).
    # Pair p3: both rules right.
    res = judged([("p1", "x", CF, None, 1), ("p2", "x", RF, 2, 1), ("p3", "x", CF, 1, 1)])
    m = metrics(res, "tie")
    assert m["accuracy"] == pytest.approx(2.5 / 3)
    assert m["verdict_rules"]["paper"]["accuracy"] == pytest.approx(2.5 / 3)
    assert m["verdict_rules"]["lenient"]["accuracy"] == pytest.approx(2 / 3)
    assert m["verdict_rules"]["paper"]["unparseable"] == pytest.approx(1 / 3)
    assert m["verdict_rules"]["lenient"]["unparseable"] == 0


# --- review fixes (issue 10, items 1 and 2) ---------------------------------------------------

def test_a_shuffled_run_reports_no_position_consistency():
    # Each pair shown once, in one order or the other (order="shuffle"): nothing to compare.
    m = metrics(SINGLE, "tie")
    assert {"position_consistency", "pairs_compared", "pairs_undecided_in_an_order", "by_order"}.isdisjoint(m)
    both = rows({"a1": [(CF, 0, "chosen"), (RF, 0, "chosen")], "a2": [(CF, 0, "chosen"), (RF, 0, "rejected")]})
    m = metrics(both, "tie")
    assert m["position_consistency"] == 0.5 and m["pairs_compared"] == 2


def test_mostly_unparseable_runs_are_flagged():
    # Three of four judgments unparseable: 0.5 each under "tie", so the score says little.
    res = rows({"a1": [(CF, 0, None)], "a2": [(CF, 0, None)], "b1": [(CF, 0, None)], "b2": [(CF, 0, "chosen")]})
    m = metrics(res, "tie")
    assert m["accuracy"] == pytest.approx(2.5 / 4)
    assert m["warnings"] and "75% of 4 judgments gave no verdict" in m["warnings"][0]
    assert "subsets with more than 50% unparseable: a" in m["warnings"]  # b: one in two, not more
    assert metrics(SINGLE, "tie")["warnings"] == []  # one in four: no warning



def test_a_subset_all_too_long_still_keeps_the_headline_the_pair_mean():
    """RewardBench subsets beside one of your own whose every judgment was skipped as too long:
    not a RewardBench run, so the headline stays the pair mean (as before the headline rule was
    written once)."""
    from rrmlib.metrics import PAIR_MEAN, metrics

    rows = [{"pair_id": f"c{i}", "subset": "alpacaeval-easy", "tie": False, "order": "chosen_first", "sample": 0,
             "picked": "chosen" if i % 2 else "rejected", "cut_off": False, "fit": "whole"} for i in range(4)]
    rows += [{"pair_id": "m0", "subset": "mine", "tie": False, "order": "chosen_first", "sample": 0, "picked": None,
              "cut_off": False, "fit": "too long"}]
    m = metrics(pd.DataFrame(rows), "tie")
    assert m["score_name"] == PAIR_MEAN and m["score"] == m["accuracy"] == 0.5


def test_each_verdict_rules_score_is_the_runs_score_read_by_that_rule():
    from rrmlib.metrics import metrics
    from rrmlib.prompts import VERDICT_RULES

    rows = [{"pair_id": f"p{i}", "subset": s, "tie": False, "order": "chosen_first", "sample": 0, "cut_off": False,
             "fit": "whole", "verdict": v, "picked": {1: "chosen", 2: "rejected", None: None}[v],
             **{f"verdict_{r}": (v if r == "paper" else 1) for r in VERDICT_RULES}}
            for i, (s, v) in enumerate([("alpacaeval-easy", 1), ("mt-bench-hard", 2), ("donotanswer", None),
                                        ("math-prm", 1), ("hep-go", 1)])]
    m = metrics(pd.DataFrame(rows), "tie")
    assert m["verdict_rules"]["paper"]["score"] == pytest.approx(m["score"])
    assert m["verdict_rules"]["lenient"]["score"] == pytest.approx(1.0)  # every pair read as slot 1: chosen
