"""A pair's verdict from its judgments, and the bootstrap interval of a mean: what every score
of this project (``rrmlib.metrics``, a benchmark's own rule in its ``rrmlib.data`` module) is made of.

A pair's verdict is the majority of its judgments (all shown orders, the first k samples of
each). Unparseable judgments do not vote; a pair with no majority (a tied vote, or nothing
parseable) is *undecided* and scored by the policy: ``tie`` 0.5 (as RRM and RewardBench),
``wrong`` 0 (as RM-R1) or ``exclude`` (left out of the accuracy, and counted).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

POLICIES = ("tie", "wrong", "exclude")


def in_slot(verdict, first, second):
    """What a verdict (the slot the judge preferred, 1 or 2; None: no verdict) names: ``first``,
    shown in slot 1, or ``second``; None for no verdict. The one rule from slot to answer, for
    pairs and for matches alike."""
    if verdict is None or pd.isna(verdict):
        return None
    return first if int(verdict) == 1 else second


def picked(verdict, swapped: bool) -> str | None:
    """Which answer a verdict names, the pair shown with its answers ``swapped`` (the rejected
    one in slot 1) or not."""
    return in_slot(verdict, *(("rejected", "chosen") if swapped else ("chosen", "rejected")))


def pair_scores(results: pd.DataFrame, policy: str = "tie", *, votes: int | None = None,
                order: str | None = None) -> pd.DataFrame:
    """One row per pair: votes for each answer, whether it was decided, and its score.

    ``votes`` keeps the first k samples of each shown order; ``order`` keeps one shown order.
    Pairs labelled a tie by humans are dropped (no answer is right).
    """
    if policy not in POLICIES:
        raise ValueError(f"unparseable policy must be one of {POLICIES}, got {policy!r}")
    df = judged_rows(results)
    if votes is not None:
        df = df[df["sample"] < votes]
    if order is not None:
        df = df[df["order"] == order]
    grouped = df.groupby("pair_id", sort=True, observed=True)
    out = pd.DataFrame({
        "subset": grouped["subset"].first(),
        "for_chosen": grouped["picked"].agg(lambda s: int((s == "chosen").sum())),
        "for_rejected": grouped["picked"].agg(lambda s: int((s == "rejected").sum())),
        "unparseable": grouped["picked"].agg(lambda s: int(s.isna().sum())),
        "cut_off": grouped["cut_off"].sum().astype(int),
        "judgments": grouped.size(),
    })
    decided = out["for_chosen"] != out["for_rejected"]
    score = (out["for_chosen"] > out["for_rejected"]).astype(float)
    undecided_score = {"tie": 0.5, "wrong": 0.0, "exclude": np.nan}[policy]
    out["decided"] = decided
    out["score"] = score.where(decided, undecided_score)
    return out


def judged_rows(results: pd.DataFrame) -> pd.DataFrame:
    """The judgments that count: not a human tie, and not skipped for not fitting the judge's
    context (those are counted apart, as ``too_long``)."""
    df = results[~results["tie"]]
    if "fit" in df.columns:
        df = df[df["fit"].fillna("whole") != "too long"]
    return df


def bootstrap_ci(scores, *, seed: int = 0, n_boot: int = 1000, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean, seeded so reruns print the same numbers."""
    x = np.asarray(pd.Series(scores).dropna(), dtype=float)
    if len(x) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)
