"""LLMBar (princeton-nlp/LLMBar) and the MT-Bench human judgements as LLMBar processed them.

Records: ``input`` (the instruction), ``output_1``, ``output_2``, ``label`` (1 or 2: the better
output). The sets are not on the hub in a loadable form, so a local copy is needed: ``path=``
(one file), ``root=`` (a folder), or ``$RRM_DATA/llmbar``. A folder may hold the files flat
(``Natural.json``, ``Adversarial_Neighbor.json``, ``MT-Bench_human.json``, ...) or be a checkout
of the LLMBar repository (``Dataset/LLMBar/Natural/dataset.json``, ...).
"""
from __future__ import annotations

from pathlib import Path

from rrmlib.data import DataError, Pair, register_pairs
from rrmlib.data.files import data_root, field, read_records, shown

SUBSETS = ("Natural", "Adversarial_Neighbor", "Adversarial_GPTInst", "Adversarial_GPTOut", "Adversarial_Manual")
MT_BENCH = "MT-Bench_human"

# Where each set sits in a checkout of the LLMBar repository.
_REPO_PATHS = {
    "Natural": "Dataset/LLMBar/Natural/dataset.json",
    **{s: f"Dataset/LLMBar/Adversarial/{s.split('_', 1)[1]}/dataset.json" for s in SUBSETS[1:]},
    MT_BENCH: "Dataset/Processed/MT-Bench/dataset.json",
}


def read_llmbar(path, *, subset: str, records=None) -> list[Pair]:
    """Pairs from one LLMBar-format file; ids are ``<subset>-<row>``. ``records``: the file's
    ``(where, record)`` pairs where already read."""
    pairs = []
    for where, rec in records if records is not None else read_records(path):
        label = field(path, where, rec, "label", int)
        if label not in (1, 2):
            raise DataError(path, where, "label", f"expected 1 or 2 (the better output), got {shown(label)}")
        first, second = field(path, where, rec, "output_1"), field(path, where, rec, "output_2")
        chosen, rejected = (first, second) if label == 1 else (second, first)
        pairs.append(Pair(id=f"{subset}-{len(pairs)}", prompt=field(path, where, rec, "input"),
                          chosen=chosen, rejected=rejected, subset=subset))
    return pairs


def _set_file(root: Path, name: str) -> Path:
    for candidate in (root / f"{name}.json", root / _REPO_PATHS[name]):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"LLMBar set {name!r} not found under {root} "
                            f"(looked for {name}.json and {_REPO_PATHS[name]})")


def _subsets(subset: str) -> tuple[str, ...]:
    if subset == "all":
        return SUBSETS
    if subset == "Adversarial":
        return SUBSETS[1:]
    if subset in SUBSETS:
        return (subset,)
    raise ValueError(f"llmbar: unknown subset {subset!r}; use one of {list(SUBSETS)}, 'Adversarial' or 'all'")


@register_pairs("llmbar")
def llmbar_pairs(*, subset: str = "Natural", path=None, root=None, limit: int | None = None) -> list[Pair]:
    """LLMBar pairs: ``subset`` is Natural (default), one Adversarial_* set, "Adversarial"
    (the four) or "all"; ``path`` reads one file instead (its pairs take ``subset``'s name)."""
    if path is not None:
        pairs = read_llmbar(path, subset=subset)
    else:
        folder = data_root(root, "llmbar", source="llmbar")
        pairs = [p for name in _subsets(subset) for p in read_llmbar(_set_file(folder, name), subset=name)]
    return pairs[:limit] if limit is not None else pairs


@register_pairs("mt-bench-human", "mtbench-human")
def mt_bench_human_pairs(*, path=None, root=None, limit: int | None = None) -> list[Pair]:
    """MT-Bench human judgements as LLMBar processed them (200 pairs, one label each)."""
    if path is None:
        path = _set_file(data_root(root, "llmbar", source="mt-bench-human"), MT_BENCH)
    pairs = read_llmbar(path, subset="mt-bench-human")
    return pairs[:limit] if limit is not None else pairs
