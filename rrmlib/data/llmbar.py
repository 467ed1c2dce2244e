"""LLMBar (princeton-nlp/LLMBar) and the MT-Bench human judgements as LLMBar processed them.

Records: ``input`` (the instruction), ``output_1``, ``output_2``, ``label`` (1 or 2: the better
output). The sets are not on the hub in a loadable form, so a local copy is read: ``path=``
(one file), ``root=`` (a folder), else ``llmbar/`` in the data folder (``$RRM_DATA``, else the
project's ``data/`` where it has one), else the copy shipped with rrmlib
(``rrmlib/data/shipped/llmbar``, byte-identical to LLMBar's files). A folder may hold the files flat
(``Natural.json``, ``Adversarial_Neighbor.json``, ``MT-Bench_human.json``, ...) or be a checkout
of the LLMBar repository (``Dataset/LLMBar/Natural/dataset.json``, ...).
"""
from __future__ import annotations

from pathlib import Path

from rrmlib.data.files import data_root, field, given_file, not_found, read_records, shown
from rrmlib.data.records import DataError, Pair, Pairs
from rrmlib.data.registry import register_pairs
from rrmlib.data.select import first

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


def _set_file(folder: Path, name: str, *, source: str, root) -> Path:
    for candidate in (folder / f"{name}.json", folder / _REPO_PATHS[name]):
        if candidate.exists():
            return candidate
    raise not_found(source, f"LLMBar set {name!r} (looked for {name}.json and {_REPO_PATHS[name]})", "llmbar", root)


def _subsets(subset: str) -> tuple[str, ...]:
    if subset == "all":
        return SUBSETS
    if subset == "Adversarial":
        return SUBSETS[1:]
    if subset in SUBSETS:
        return (subset,)
    raise ValueError(f"llmbar: unknown subset {subset!r}; use one of {list(SUBSETS)}, 'Adversarial' or 'all'")


def llmbar_files(*, subset: str = "Natural", path=None, root=None, limit: int | None = None) -> list[tuple[str, Path]]:
    """``(set name, file)`` for each set ``llmbar_pairs`` reads with these options (see there);
    a file that is not there is a FileNotFoundError naming where it was looked for."""
    if path is not None:
        return [(subset, given_file(path, "llmbar"))]
    names = _subsets(subset)
    folder = data_root(root, "llmbar", source="llmbar")
    return [(name, _set_file(folder, name, source="llmbar", root=root)) for name in names]


def mt_bench_human_file(*, path=None, root=None, limit: int | None = None) -> Path:
    """The file ``mt_bench_human_pairs`` reads with these options."""
    if path is not None:
        return given_file(path, "mt-bench-human")
    return _set_file(data_root(root, "llmbar", source="mt-bench-human"), MT_BENCH, source="mt-bench-human", root=root)


@register_pairs("llmbar", locate=llmbar_files)
def llmbar_pairs(*, subset: str = "Natural", path=None, root=None, limit: int | None = None) -> list[Pair]:
    """LLMBar pairs: ``subset`` is Natural (default), one Adversarial_* set, "Adversarial"
    (the four) or "all"; ``path`` reads one file instead (its pairs take ``subset``'s name).
    ``loaded["source"]`` lists the files read."""
    files = llmbar_files(subset=subset, path=path, root=root)
    pairs = [p for name, file in files for p in read_llmbar(file, subset=name)]
    return first(Pairs(pairs, loaded={"source": [str(file) for _, file in files]}), limit)


@register_pairs("mt-bench-human", "mtbench-human", locate=mt_bench_human_file)
def mt_bench_human_pairs(*, path=None, root=None, limit: int | None = None) -> list[Pair]:
    """MT-Bench human judgements as LLMBar processed them (200 pairs, one label each)."""
    file = mt_bench_human_file(path=path, root=root)
    return first(Pairs(read_llmbar(file, subset="mt-bench-human"), loaded={"source": [str(file)]}), limit)
