"""Best-of-N: pick one candidate per question, and score the picks against the baselines a
reviewer asks for (random, majority vote, a scalar reward model, the oracle).

A pick is a dict question id -> candidate index. Ties are broken towards the lower index so
that every method is deterministic.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from rrmlib.data import CandidateSet
from rrmlib.votes import bootstrap_ci


def pick_by_rating(ratings: pd.DataFrame, group: str = "question") -> dict:
    """The highest-rated entrant per group of a (group, entrant, rating) table, as from
    ``ratings.elo_by_group``; equal ratings go to the lowest entrant."""
    ordered = ratings.sort_values([group, "rating", "entrant"], ascending=[True, False, True], kind="stable")
    best = ordered.drop_duplicates(group)
    return dict(zip(best[group], best["entrant"]))


def pick_winners(tournaments: Mapping) -> dict:
    """Knockout winners (``.winner``) or Swiss leaders (``.leader``) per question."""
    picks = {}
    for q, t in tournaments.items():
        if not t.done:
            raise ValueError(f"question {q!r}: the tournament is not finished")
        picks[q] = t.winner if hasattr(t, "winner") else t.leader
    return picks


def pick_random(sets: Iterable[CandidateSet], seed: int = 0) -> dict:
    """One uniformly random candidate per question (seeded; draws in the sets' order)."""
    rng = np.random.default_rng(seed)
    return {s.id: int(rng.integers(len(s.candidates))) for s in sets}


def random_expectation(sets: Iterable[CandidateSet]) -> float:
    """The exact expected accuracy of a random pick: the mean over questions of the share of
    correct candidates (what ``pick_random`` estimates with noise)."""
    shares = [np.mean(s.correct) for s in sets if s.candidates]
    return float(np.mean(shares)) if shares else float("nan")


def pick_majority(sets: Iterable[CandidateSet]) -> dict:
    """The first candidate giving the most frequent extracted answer (self-consistency).

    Only questions whose set has ``answers``; empty answers do not vote. Equal counts go to the
    answer that appears first; a question with no votes at all picks candidate 0.
    """
    picks = {}
    for s in sets:
        if s.answers is None:
            continue
        counts: dict[str, int] = {}
        for ans in s.answers:
            if ans not in (None, ""):
                counts[ans] = counts.get(ans, 0) + 1
        if not counts:
            picks[s.id] = 0
            continue
        top = max(counts.values())
        winner = next(a for a in counts if counts[a] == top)  # dicts keep first appearance
        picks[s.id] = s.answers.index(winner)
    return picks


def pick_by_score(sets: Iterable[CandidateSet]) -> dict:
    """The candidate with the highest scalar reward (``scores``), where the set has scores."""
    return {s.id: int(np.argmax(s.scores)) for s in sets if s.scores is not None}


def pick_highest_scored(scores: pd.DataFrame) -> dict:
    """Question -> the candidate with the highest score in a (``question``, ``candidate``,
    ``score``) table (a scalar judge's ``scores.parquet``; equal: the lower index); questions with
    no score at all get no pick."""
    scored = scores.dropna(subset=["score"]).rename(columns={"candidate": "entrant", "score": "rating"})
    return {str(q): int(c) for q, c in pick_by_rating(scored[["question", "entrant", "rating"]]).items()}


def pick_oracle(sets: Iterable[CandidateSet]) -> dict:
    """A correct candidate wherever there is one (accuracy = any correct), else candidate 0."""
    return {s.id: (s.correct.index(True) if any(s.correct) else 0) for s in sets}


def accuracy(sets: Iterable[CandidateSet], picks: Mapping) -> tuple[float, int]:
    """Share of picked candidates that are correct, over the questions that have a pick; and
    how many that is. A pick for an unknown question or an out-of-range index raises."""
    by_id = {s.id: s for s in sets}
    hits = []
    for q, i in picks.items():
        if q not in by_id:
            raise KeyError(f"pick for unknown question {q!r}")
        s = by_id[q]
        if not 0 <= int(i) < len(s.candidates):
            raise IndexError(f"question {q!r}: pick {i} but {len(s.candidates)} candidates")
        hits.append(bool(s.correct[int(i)]))
    return (float(np.mean(hits)) if hits else float("nan")), len(hits)


def baseline_picks(sets: list[CandidateSet], seed: int = 0) -> dict[str, dict]:
    """The baselines' picks by name: random (seeded), majority vote and scalar score (where the
    sets have answers or scores) and the oracle. (The exact random expectation has no picks.)"""
    out = {f"random (seed {seed})": pick_random(sets, seed)}
    for name, picks in (("majority vote", pick_majority(sets)), ("scalar score", pick_by_score(sets))):
        if picks:
            out[name] = picks
    out["oracle (any correct)"] = pick_oracle(sets)
    return out


def accuracy_table(sets: Iterable[CandidateSet], picks: Mapping[str, Mapping] | None = None, *,
                   judgments: Mapping[str, int] | None = None, baselines: bool = True, seed: int = 0,
                   bootstrap: int = 0) -> pd.DataFrame:
    """One row per method: ``method``, ``accuracy``, ``n`` (questions with a pick),
    ``judgments`` (judge calls spent; 0 for baselines), ``judgments_per_question``, and with
    ``bootstrap`` resamples a percentile-bootstrap 95% interval over questions (``ci_low``,
    ``ci_high``; missing for the exact random expectation, or with ``bootstrap`` 0).

    ``picks`` maps a method name to its picks, ``judgments`` a method name to its cost. With
    ``baselines`` the table adds: random (seeded) and its exact expectation, majority vote
    (where the sets have answers), scalar score (where they have scores) and the oracle.
    """
    sets = list(sets)
    judgments = dict(judgments or {})
    picks = dict(picks or {})
    rows, every = [], dict(picks)
    for name, p in picks.items():
        acc, n = accuracy(sets, p)
        rows.append((name, acc, n, int(judgments.get(name, 0))))
    if baselines:
        base = baseline_picks(sets, seed)
        every.update(base)
        random_name = next(iter(base))
        rows.append((random_name, *accuracy(sets, base.pop(random_name)), 0))
        rows.append(("random (expected)", random_expectation(sets), len(sets), 0))
        rows.extend((name, *accuracy(sets, p), 0) for name, p in base.items())
    table = pd.DataFrame(rows, columns=["method", "accuracy", "n", "judgments"])
    table["judgments_per_question"] = table["judgments"] / len(sets) if sets else np.nan
    by_id = {s.id: s for s in sets}
    intervals = [bootstrap_ci([float(by_id[q].correct[int(i)]) for q, i in every[m].items()], seed=seed,
                              n_boot=bootstrap) if bootstrap and m in every else (np.nan, np.nan)
                 for m in table["method"]]
    table["ci_low"], table["ci_high"] = [lo for lo, _ in intervals], [hi for _, hi in intervals]
    return table
