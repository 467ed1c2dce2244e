"""The built-in demo set: pairs and candidate sets written for this project.

Small on purpose (24 pairs, 12 candidate sets of 4) so that `make demo` judges it on a CPU in a
few minutes; in each pair one answer is plainly better (a right result vs a wrong one, a fact vs
an error, an instruction followed vs ignored).
"""
from __future__ import annotations

from pathlib import Path

from rrmlib.data.formats import load_candidate_file, load_pair_file
from rrmlib.data.registry import register_candidates, register_pairs

HERE = Path(__file__).parent / "demo"


@register_pairs("demo")
def demo_pairs(*, limit: int | None = None, subset: str | None = None):
    pairs = load_pair_file(HERE / "pairs.jsonl")
    if subset is not None:
        pairs = [p for p in pairs if p.subset == subset]
    return pairs[:limit] if limit is not None else pairs


@register_candidates("demo")
def demo_candidates(*, limit: int | None = None):
    return load_candidate_file(HERE / "candidates.jsonl", limit=limit)
