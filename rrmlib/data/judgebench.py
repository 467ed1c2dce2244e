"""JudgeBench (ScalerLab/JudgeBench; Tan et al., 2024): 350 GPT-4o and 270 Claude-3.5-Sonnet
response pairs on MMLU-Pro, LiveBench reasoning and math, and LiveCodeBench questions, each
with an objective label.

Records (the repository's ``data/*.jsonl`` and the hub dataset ``ScalerLab/JudgeBench``,
splits ``gpt`` and ``claude``, alike): ``pair_id`` (unique), ``original_id``, ``source`` (e.g.
``mmlu-pro-computer science``, ``livebench-math``), ``question``, ``response_model``,
``response_A``, ``response_B``, ``label`` (``"A>B"`` or ``"B>A"``: which response is right).
Each becomes a Pair with the right response as ``chosen``, ``source`` as its subset and
``pair_id`` as its id. The authors judge every pair in both orders and score it by their own
rule (``judgebench_score``, from ScalerLab/JudgeBench ``utils/metrics.py``
``compute_final_metrics`` and ``run_judge.py`` ``main``, commit e2c52c2): run the pairwise
notebook with ``order both``. A pair the judge leaves undecided is not right, whatever
``unparseable`` says (a tied or missing decision is not correct), and judgments skipped for not
fitting the judge's context are left out as in the pair mean.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from rrmlib.data.hub import source_rows
from rrmlib.data.own import read_mapped
from rrmlib.data.records import Pairs
from rrmlib.data.registry import register_pairs, register_scoring
from rrmlib.data.select import first, group_of, group_rank
from rrmlib.votes import bootstrap_ci, pair_scores

HUB_ID = "ScalerLab/JudgeBench"
SPLITS = ("gpt", "claude")
# The columns of JudgeBench's records, as the pair-file roles (rrmlib.data.own).
FIELDS = {"id": "pair_id", "prompt": "question", "first": "response_A", "second": "response_B", "label": "label",
          "subset": "source"}
KEYS = {"response_A", "response_B"}  # either one tells a JudgeBench-shaped file


def read_judgebench(label, records, *, labels=None, other_labels=None, subset=None, bad_rows="strict",
                    subsets=None) -> Pairs:
    """Pairs from JudgeBench records (``(where, record)``); ``labels``/``other_labels``,
    ``bad_rows`` and ``subsets`` as for any file read by its label column (default ``A>B`` -> A
    better, ``B>A`` -> B better, any other value an error naming the row)."""
    return read_mapped(label, list(records), labels=labels, other_labels=other_labels, subset=subset, defaults=FIELDS,
                       fmt="judgebench", scoring="judgebench", bad_rows=bad_rows, subsets=subsets)


def _load(split, *, path, subset, limit, revision, labels, other_labels, bad_rows) -> Pairs:
    if split not in SPLITS:
        raise ValueError(f"judgebench: split must be one of {SPLITS}, got {split!r}")
    source, rows = source_rows(path, HUB_ID, split, revision=revision)
    pairs = read_judgebench(source, rows, labels=labels, other_labels=other_labels, bad_rows=bad_rows,
                            subsets=subset)
    pairs.loaded["split"] = split
    return first(pairs, limit)  # read_judgebench kept the subsets


@register_pairs("judgebench", "judgebench-gpt", "scalerlab/judgebench")
def judgebench_pairs(*, path=None, split: str = "gpt", subset=None, limit: int | None = None,
                     revision: str | None = None, labels=None, other_labels=None, bad_rows: str = "strict") -> Pairs:
    """JudgeBench's GPT-4o pairs (``split="claude"``, or the name ``judgebench-claude``, for
    Claude's) from the hub, from a copy in the data folder (``judgebench-gpt.parquet``), or
    from ``path`` (a file in the records' format). ``subset`` keeps sources by name, prefix or
    pattern (``mmlu-pro``, ``livebench*``); ``bad_rows`` as for your own files."""
    return _load(split, path=path, subset=subset, limit=limit, revision=revision, labels=labels,
                 other_labels=other_labels, bad_rows=bad_rows)


@register_pairs("judgebench-claude")
def judgebench_claude_pairs(*, path=None, subset=None, limit: int | None = None, revision: str | None = None,
                            labels=None, other_labels=None, bad_rows: str = "strict") -> Pairs:
    """JudgeBench's Claude-3.5-Sonnet pairs (split ``claude``)."""
    return _load("claude", path=path, subset=subset, limit=limit, revision=revision, labels=labels,
                 other_labels=other_labels, bad_rows=bad_rows)


# -- the authors' score -----------------------------------------------------------------------
# run_judge.py reports these source prefixes, then "Overall" (the prefix ""), each through
# compute_final_metrics(pairs, ..., include_fn=lambda x: x["source"].startswith(prefix)).
JUDGEBENCH_SOURCES = ("mmlu-pro", "livebench-reasoning", "livebench-math", "livecodebench")


def _order_decisions(results: pd.DataFrame, order: str) -> pd.Series:
    """Per pair, the decision of its judgments shown in ``order``: "chosen", "rejected" or None
    (undecided: no verdict, or a tied vote among its samples)."""

    s = pair_scores(results, "exclude", order=order)["score"]
    return s.map({1.0: "chosen", 0.0: "rejected"}).astype(object).where(s.notna(), None)


def judgebench_score(results: pd.DataFrame, *, seed: int = 0, n_boot: int = 1000) -> dict:
    """JudgeBench's score: the share of pairs the judge gets right, overall and per source.

    As ``compute_final_metrics(pairs, reverse_order=True)``: each pair is judged with the
    responses in the file's order and again swapped, the second decision is flipped back, and a
    ``counter`` adds 1 for each decision that names the right response and takes 1 for each
    that names the wrong one (a tie or a missing decision adds nothing); the pair is correct
    when ``counter > 0``, incorrect when ``< 0``, and a tie otherwise, and the score is
    ``n_correct / n_pairs``: ties and inconsistent pairs (right in one order, wrong in the
    other) count as not correct. With one order per pair (their ``--single_game``) the same rule
    is "the decision names the right response". With ``votes > 1`` every sample is a decision
    of its order, so the counter is the majority of all judgments. Per source as ``run_judge.py``
    reports: the sources that start with ``mmlu-pro``, ``livebench-reasoning``,
    ``livebench-math``, ``livecodebench``, then all (``Overall``); other subsets on their own.
    The authors print percentages; these are fractions. ``consistency`` holds the counts their
    function keeps without returning (both orders only).
    """

    votes = pair_scores(results, "wrong")
    counter = votes["for_chosen"] - votes["for_rejected"]
    table = pd.DataFrame({"group": votes["subset"].astype(str).map(lambda s: group_of(s, JUDGEBENCH_SOURCES)),
                          "correct": counter > 0, "incorrect": counter < 0, "tie": counter == 0})

    def tally(t: pd.DataFrame) -> dict:
        n = len(t)
        return {"accuracy": float(t["correct"].mean()) if n else None, "pairs": n, "correct": int(t["correct"].sum()),
                "incorrect": int(t["incorrect"].sum()), "tie": int(t["tie"].sum())}

    groups = sorted(table["group"].unique(), key=lambda g: group_rank(g, JUDGEBENCH_SOURCES))
    out = {"rule": "ScalerLab/JudgeBench utils/metrics.py compute_final_metrics: per pair, +1 per order whose "
                   "decision names the right response, -1 per order naming the wrong one; correct iff the sum > 0; "
                   "score = correct / pairs",
           "sources": {g: tally(table[table["group"] == g]) for g in groups}, "overall": tally(table)}
    lo, hi = bootstrap_ci(table["correct"].astype(float), seed=seed, n_boot=n_boot) if n_boot else (np.nan, np.nan)
    out["overall"]["ci"] = [None if np.isnan(lo) else lo, None if np.isnan(hi) else hi]
    judged = results[~results["tie"]] if len(results) else results
    shown_both = bool(len(judged)) and bool((judged.groupby("pair_id", observed=True)["order"].nunique() > 1).all())
    out["orders"] = "both" if shown_both else "one"
    warnings = []
    if shown_both:
        shown_first = _order_decisions(results, "chosen_first")
        shown_second = _order_decisions(results, "rejected_first")
        both = pd.concat({"d1": shown_first, "d2": shown_second}, axis=1).reindex(votes.index)
        d1, d2 = both["d1"].where(both["d1"].notna(), None), both["d2"].where(both["d2"].notna(), None)
        right1, right2 = d1 == "chosen", d2 == "chosen"
        out["consistency"] = {
            "pairs": len(both),
            "all_correct": int((right1 & right2).sum()),
            "all_incorrect": int((~right1 & ~right2).sum()),
            "some_correct": int((right1 != right2).sum()),
            "inconsistent": int(sum(a != b for a, b in zip(d1, d2))),
            "nulls": int(sum(a is None or b is None for a, b in zip(d1, d2))),
        }
    elif len(judged):
        warnings.append("JudgeBench's authors judge every pair in both orders (run_judge.py, unless --single_game, "
                        "which they keep for order-independent reward models); this run showed one order per pair: "
                        "run with order both for their number")
    return {"judgebench": out, "score": out["overall"]["accuracy"], "score_ci": out["overall"]["ci"],
            "score_name": "JudgeBench overall (the authors' rule: both orders, a pair is right when its decisions "
                          "name the right response more often than the wrong one)", "warnings": warnings}


register_scoring("judgebench", judgebench_score)
