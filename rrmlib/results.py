"""What each notebook's ``metrics.json`` holds, typed.

A run writes its metrics as a plain dict (``RunDir.write_metrics``), which checks it here first:
a key renamed or missing on the writing side fails when the run writes it (and in the tests), not
months later when a report reads it. The report (``rrmlib.report``) and ``rrm`` read a finished
run's headline numbers through these classes (``read(notebook, metrics)``). Each class names the
fields its readers rely on; nested tables that stay plain (a verdict rule's row, a thinking
budget's numbers) are checked by the tests of the code that writes them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


class ResultError(ValueError):
    """A metrics dict without a field its notebook's results must have."""


def _get(m: dict, key: str, kinds, where: str, *, optional: bool = False):
    if key not in m:
        if optional:
            return None
        raise ResultError(f"{where}: no {key!r}")
    value = m[key]
    if value is None:
        if optional:
            return None
        raise ResultError(f"{where}: {key!r} is missing (null)")
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise ResultError(f"{where}: {key!r} must be {kinds}, got {value!r}")
    if not isinstance(value, kinds):
        raise ResultError(f"{where}: {key!r} must be {kinds}, got {type(value).__name__} {value!r}")
    return value


def _number(m: dict, key: str, where: str, *, present: bool = False) -> float | None:
    """A number that may be null (no pair could be scored; NaN is written as null); with
    ``present``, the key itself must be there."""
    if present and key not in m:
        raise ResultError(f"{where}: no {key!r}")
    value = _get(m, key, (int, float), where, optional=True)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


@dataclass(frozen=True)
class Estimate:
    """A number with its 95% interval (any part missing where nothing could be scored)."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None

    @classmethod
    def of(cls, m: dict, key: str, where: str, low: str = "ci_low", high: str = "ci_high") -> "Estimate":
        return cls(_number(m, key, where, present=True), _number(m, low, where), _number(m, high, where))

    def text(self, digits: int = 3) -> str:
        """``0.512 [0.401, 0.622]``; ``n/a`` where there is no number."""
        if self.value is None:
            return "n/a"
        if self.ci_low is None or self.ci_high is None:
            return f"{self.value:.{digits}f}"
        return f"{self.value:.{digits}f} [{self.ci_low:.{digits}f}, {self.ci_high:.{digits}f}]"

    @classmethod
    def pair(cls, value, interval, where: str) -> "Estimate":
        if interval is None:
            return cls(value)
        if not isinstance(interval, (list, tuple)) or len(interval) != 2:
            raise ResultError(f"{where}: an interval must be [low, high], got {interval!r}")
        return cls(value, *(None if v is None else float(v) for v in interval))


@dataclass(frozen=True)
class SubsetScore:
    accuracy: Estimate
    n: int
    unparseable: float | None
    cut_off: float | None

    @classmethod
    def read(cls, m: dict, where: str) -> "SubsetScore":
        return cls(Estimate.of(m, "accuracy", where), _get(m, "n", int, where), _number(m, "unparseable", where),
                   _number(m, "cut_off", where))


@dataclass(frozen=True)
class Method:
    """One best-of-N method's accuracy and what it spent (judgments per question)."""

    accuracy: Estimate
    judgments_per_question: float | None
    n: int | None = None  # questions with a pick

    @classmethod
    def read(cls, m: dict, where: str) -> "Method":
        return cls(Estimate.of(m, "accuracy", where), _number(m, "judgments_per_question", where),
                   _get(m, "n", int, where, optional=True))


@dataclass(frozen=True)
class PairwiseResult:
    score: Estimate                  # the headline: the benchmark's rule, RewardBench's Overall, or the pair mean
    score_name: str
    overall: SubsetScore             # the mean over pairs
    policy: str                      # how a pair without a verdict scores
    subsets: dict[str, SubsetScore]
    sections: dict[str, Estimate] | None  # RewardBench's sections and Overall
    verdict_rules: dict[str, dict]   # the headline under each verdict rule
    warnings: list[str]
    voting_curve: dict[int, float]
    think_budgets: dict[int, dict]

    @classmethod
    def read(cls, m: dict, where: str = "pairwise metrics") -> "PairwiseResult":
        score = Estimate.pair(_number(m, "score", where), _get(m, "score_ci", list, where, optional=True), where)
        sections = _get(m, "sections", dict, where, optional=True)
        if sections is not None:
            intervals = _get(m, "sections_ci", dict, where)
            sections = {k: Estimate.pair(v, intervals.get(k), f"{where}, section {k}") for k, v in sections.items()}
        subsets = {k: SubsetScore.read(v, f"{where}, subset {k}") for k, v in _get(m, "subsets", dict, where).items()}
        return cls(score=score, score_name=_get(m, "score_name", str, where),
                   overall=SubsetScore.read(m, where), policy=_get(m, "policy", str, where, optional=True) or "tie",
                   subsets=subsets, sections=sections,
                   verdict_rules=_get(m, "verdict_rules", dict, where, optional=True) or {},
                   warnings=_get(m, "warnings", list, where, optional=True) or [],
                   voting_curve={int(k): v for k, v in (_get(m, "voting_curve", dict, where, optional=True) or {}).items()},
                   think_budgets={int(k): v for k, v in
                                  (_get(m, "think_budgets", dict, where, optional=True) or {}).items()})


@dataclass(frozen=True)
class EloAccuracyResult:
    questions: int
    methods: dict[str, Method]       # ELO, Bradley-Terry, knockout, scalar judge, baselines
    elo_bt_agreement: dict

    @classmethod
    def read(cls, m: dict, where: str = "elo_accuracy metrics") -> "EloAccuracyResult":
        methods = {k: Method.read(v, f"{where}, method {k}") for k, v in _get(m, "methods", dict, where).items()}
        return cls(_get(m, "questions", int, where), methods, _get(m, "elo_bt_agreement", dict, where))


@dataclass(frozen=True)
class MatchesResult:
    """What a run that plays matches spent (``bestofn.judgment_metrics``): elo_rival, knockout."""

    questions: int
    matches: int
    judgments: int
    judgments_per_question: float | None
    unparseable: float | None
    spent: dict = field(default_factory=dict)  # judge calls, re-asks, coin flips, draws, slot-1 share

    SPENT = ("judge_calls", "reasks", "cut_off", "coin_flips", "draws", "slot1_share")

    @classmethod
    def read_spent(cls, m: dict, where: str) -> dict:
        return dict(questions=_get(m, "questions", int, where), matches=_get(m, "matches", int, where),
                    judgments=_get(m, "judgments", int, where),
                    judgments_per_question=_number(m, "judgments_per_question", where),
                    unparseable=_number(m, "unparseable", where),
                    spent={k: m[k] for k in cls.SPENT if k in m})

    @classmethod
    def read(cls, m: dict, where: str = "elo_rival metrics") -> "MatchesResult":
        return cls(**cls.read_spent(m, where))


@dataclass(frozen=True)
class KnockoutResult(MatchesResult):
    format: str = "knockout"
    accuracy: Estimate = Estimate(None)  # the winner's (Swiss: the leader's); None where it could not be scored
    scalar_judge: Method | None = None
    baselines: dict = field(default_factory=dict)

    @classmethod
    def read(cls, m: dict, where: str = "knockout metrics") -> "KnockoutResult":
        scalar = _get(m, "scalar_judge", dict, where, optional=True)
        return cls(**cls.read_spent(m, where), format=_get(m, "format", str, where),
                   accuracy=Estimate.of(m, "accuracy", where),
                   scalar_judge=None if scalar is None else Method.read(scalar, f"{where}, scalar_judge"),
                   baselines=_get(m, "baselines", dict, where, optional=True) or {})


@dataclass(frozen=True)
class ReportResult:
    cells: list[dict]

    @classmethod
    def read(cls, m: dict, where: str = "report metrics") -> "ReportResult":
        return cls(_get(m, "cells", list, where))


KINDS = {"pairwise": PairwiseResult, "elo_accuracy": EloAccuracyResult, "elo_rival": MatchesResult,
         "knockout": KnockoutResult, "report": ReportResult}


def read(notebook: str, metrics: dict, where: str | None = None):
    """A notebook's metrics as its typed result; a ResultError names what is missing."""
    if notebook not in KINDS:
        raise ResultError(f"no results are declared for notebook {notebook!r}")
    return KINDS[notebook].read(metrics, where or f"{notebook} metrics")
