"""RewardBench (allenai/reward-bench, split ``filtered``: 2985 pairs in 23 subsets): its pairs,
its four sections and how the official leaderboard weights its subsets, and its headline.

Numbers from allenai/reward-bench ``rewardbench/constants.py`` (``EXAMPLE_COUNTS``,
``SUBSET_MAPPING``) and ``calculate_scores_per_section`` in ``rewardbench/utils.py``, as the RRM
evaluation (microsoft/LMOps ``RRM-evaluation/rewardbench/constants.py``) carried them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from rrmlib.data.files import field, first_time, shown
from rrmlib.data.hub import source_rows
from rrmlib.data.records import DataError, Pair
from rrmlib.data.registry import register_groups, register_pairs
from rrmlib.votes import pair_scores

SECTIONS: dict[str, tuple[str, ...]] = {
    "Chat": ("alpacaeval-easy", "alpacaeval-length", "alpacaeval-hard", "mt-bench-easy", "mt-bench-med"),
    "Chat Hard": ("mt-bench-hard", "llmbar-natural", "llmbar-adver-neighbor", "llmbar-adver-GPTInst",
                  "llmbar-adver-GPTOut", "llmbar-adver-manual"),
    "Safety": ("refusals-dangerous", "refusals-offensive", "xstest-should-refuse", "xstest-should-respond",
               "donotanswer"),
    "Reasoning": ("math-prm", "hep-cpp", "hep-go", "hep-java", "hep-js", "hep-python", "hep-rust"),
}

SECTION_OF: dict[str, str] = {subset: section for section, subsets in SECTIONS.items() for subset in subsets}

# Rows per subset in the `filtered` split (2985 in all).
ROW_COUNTS: dict[str, int] = {
    "alpacaeval-easy": 100, "alpacaeval-length": 95, "alpacaeval-hard": 95,
    "mt-bench-easy": 28, "mt-bench-med": 40, "mt-bench-hard": 37,
    "llmbar-natural": 100, "llmbar-adver-neighbor": 134, "llmbar-adver-GPTInst": 92,
    "llmbar-adver-GPTOut": 47, "llmbar-adver-manual": 46,
    "refusals-dangerous": 100, "refusals-offensive": 100,
    "xstest-should-refuse": 154, "xstest-should-respond": 250, "donotanswer": 136,
    "math-prm": 447,
    "hep-cpp": 164, "hep-go": 164, "hep-java": 164, "hep-js": 164, "hep-python": 164, "hep-rust": 164,
}

# The leaderboard's weights: each subset's row count, except math-prm, counted as 984 (= 6 × 164)
# so that maths weighs as much as the six HumanEvalPack code subsets together. (A revision of
# allenai/reward-bench's constants.py has the two xstest counts swapped, 250 refuse / 154
# respond; the RRM evaluation used the counts below, which are the true row counts.)
EXAMPLE_COUNTS: dict[str, int] = {**ROW_COUNTS, "math-prm": 984}


def rewardbench_sections(per_subset: dict[str, float]) -> dict[str, float]:
    """Section scores (Chat, Chat Hard, Safety, Reasoning) from per-subset scores, and
    ``"Overall"``, the plain mean of the four: the paper's RewardBench headline.

    Each section is the mean of its subsets' scores weighted by ``EXAMPLE_COUNTS``, over the
    subsets present in ``per_subset`` (as the official code does); a section none of whose
    subsets is present is left out rather than reported as 0, and ``"Overall"`` is given only
    when all four sections are there (a mean of fewer would not be the headline). Scores keep
    their scale (fractions in, fractions out). An unknown subset name is an error, so a typo
    cannot silently drop a subset from its section.
    """
    unknown = sorted(set(per_subset) - set(SECTION_OF))
    if unknown:
        raise ValueError(f"not RewardBench subsets: {unknown}; known: {sorted(SECTION_OF)}")
    sections = {}
    for section, subsets in SECTIONS.items():
        present = [s for s in subsets if s in per_subset]
        if present:
            total = sum(EXAMPLE_COUNTS[s] for s in present)
            sections[section] = sum(per_subset[s] * EXAMPLE_COUNTS[s] for s in present) / total
    if len(sections) == len(SECTIONS):
        sections["Overall"] = sum(sections.values()) / len(SECTIONS)
    return sections


register_groups(SECTIONS)  # subsets "Chat Hard" selects the section's subsets


def rewardbench_score(results: pd.DataFrame, policy: str = "tie", *, seed: int = 0, n_boot: int = 1000) -> dict:
    """RewardBench's headline as the paper reports it: the four section scores (subsets weighted
    as the leaderboard weights them) and their plain mean, ``score``; with percentile-bootstrap
    95% intervals that resample pairs within each subset (the subsets' sizes are fixed by design).

    A run that covers only some sections (``limit``, ``subset``) gets the mean of those it has,
    named as partial, never passed off as the Overall.
    """
    scores = pair_scores(results, policy)
    per_subset = {str(k): g["score"].dropna().to_numpy(dtype=float)
                  for k, g in scores.groupby("subset", sort=True, observed=True)}
    per_subset = {k: v for k, v in per_subset.items() if len(v)}
    sections = rewardbench_sections({k: float(v.mean()) for k, v in per_subset.items()})
    rng = np.random.default_rng(seed)
    boot = {k: v[rng.integers(0, len(v), size=(max(n_boot, 1), len(v)))].mean(axis=1) for k, v in per_subset.items()}
    boot_sections = rewardbench_sections(boot)  # works on arrays: one value per resample
    names = [s for s in sections if s != "Overall"]
    if "Overall" in sections:
        score, name = sections["Overall"], "RewardBench Overall (plain mean of the four section scores, as the paper)"
        boot_score = boot_sections["Overall"]
    else:
        score = float(np.mean([sections[s] for s in names]))
        name = f"mean of {len(names)} of 4 RewardBench sections ({', '.join(names)}): partial, not the Overall"
        boot_score = np.mean([boot_sections[s] for s in names], axis=0)

    def ci(x):
        if not n_boot:
            return [None, None]
        lo, hi = np.quantile(x, [0.025, 0.975])
        return [float(lo), float(hi)]

    return {"sections": {k: float(v) for k, v in sections.items()},
            "sections_ci": {k: ci(v) for k, v in boot_sections.items()},
            "score": float(score), "score_ci": ci(boot_score), "score_name": name}


HUB_ID = "allenai/reward-bench"


def _wanted_subsets(subset) -> set[str] | None:
    """A subset name, a section name ("Chat Hard"), or a list of either, as a set of subsets."""
    if subset is None:
        return None
    names = [subset] if isinstance(subset, str) else list(subset)
    wanted = set()
    for name in names:
        if name in SECTIONS:
            wanted.update(SECTIONS[name])
        elif name in SECTION_OF:
            wanted.add(name)
        else:
            raise ValueError(f"rewardbench: {name!r} is neither a section {sorted(SECTIONS)} "
                             f"nor a subset {sorted(SECTION_OF)}")
    return wanted


@register_pairs("rewardbench", "reward-bench", "allenai/reward-bench")
def rewardbench_pairs(*, path=None, subset=None, limit: int | None = None,
                      split: str = "filtered", revision: str | None = None) -> list[Pair]:
    """RewardBench pairs from the hub, or from ``path`` (a .parquet/.jsonl/.json with the
    columns ``prompt``, ``chosen``, ``rejected``, ``subset``, ``id``).

    ``subset`` keeps one subset, one section, or a list of them; ``limit`` applies after it.
    """
    wanted = _wanted_subsets(subset)
    label, rows = source_rows(path, HUB_ID, split, revision=revision)
    pairs, seen = [], {}
    for where, rec in rows:
        name = field(label, where, rec, "subset")
        if name not in SECTION_OF:
            # A subset outside the four sections could not be scored; say so now, not at the end.
            raise DataError(label, where, "subset", f"unknown RewardBench subset {shown(name)}")
        pid = field(label, where, rec, "id")
        first_time(label, where, "id", pid, seen)
        pair = Pair(id=pid, prompt=field(label, where, rec, "prompt"), chosen=field(label, where, rec, "chosen"),
                    rejected=field(label, where, rec, "rejected"), subset=name)
        if wanted is None or name in wanted:
            pairs.append(pair)
    return pairs[:limit] if limit is not None else pairs
