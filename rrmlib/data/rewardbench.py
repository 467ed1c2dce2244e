"""RewardBench (allenai/reward-bench, split ``filtered``: 2985 pairs in 23 subsets)."""
from __future__ import annotations

from rrmlib.data import DataError, Pair, register_pairs
from rrmlib.data.files import field, shown
from rrmlib.data.hub import source_rows
from rrmlib.rewardbench import SECTION_OF, SECTIONS

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
        if pid in seen:
            raise DataError(label, where, "id", f"duplicate id {shown(pid)} (first at {seen[pid]})")
        seen[pid] = where
        pair = Pair(id=pid, prompt=field(label, where, rec, "prompt"), chosen=field(label, where, rec, "chosen"),
                    rejected=field(label, where, rec, "rejected"), subset=name)
        if wanted is None or name in wanted:
            pairs.append(pair)
    return pairs[:limit] if limit is not None else pairs
