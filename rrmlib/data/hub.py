"""Rows of a Hugging Face hub dataset, or of a local copy of it.

``datasets`` is an optional extra (``hub``) and is imported only when a hub dataset is actually
asked for, so that local files work without it; when it is missing, or the hub cannot be
reached, the error says which option takes a local copy instead.
"""
from __future__ import annotations

from typing import Iterable

from rrmlib.data.files import read_records
from rrmlib.paths import data_dir


class HubUnavailable(RuntimeError):
    """A hub dataset was asked for but cannot be loaded here (no ``datasets``, or offline)."""


# Where a local copy of a hub dataset is found without being named: in the data folder
# (``$RRM_DATA``, else ``data/`` in the project), under these names, which docs/reproducing-the-paper.md's
# download commands write.
LOCAL_NAMES = {
    ("lmarena-ai/PPE-MATH-Best-of-K", "train"): "ppe-MATH.parquet",
    ("lmarena-ai/PPE-MMLU-Pro-Best-of-K", "train"): "ppe-MMLU-Pro.parquet",
    ("lmarena-ai/PPE-GPQA-Best-of-K", "train"): "ppe-GPQA.parquet",
    ("allenai/reward-bench", "filtered"): "reward-bench.parquet",
    ("ScalerLab/JudgeBench", "gpt"): "judgebench-gpt.parquet",
    ("ScalerLab/JudgeBench", "claude"): "judgebench-claude.parquet",
    ("THU-KEG/RM-Bench", "train"): "rm-bench.parquet",
}


def local_copy(repo_id: str, split: str):
    """The local copy of a hub dataset in the data folder, if there is one."""
    name = LOCAL_NAMES.get((repo_id, split))
    path = data_dir() / name if name else None
    return path if path is not None and path.is_file() else None


def local_copy_advice(repo_id: str, split: str) -> str:
    """How to run without the hub: the notebooks' ``data_path``, the library's ``path=``, or a
    copy in the data folder under its conventional name."""
    name = LOCAL_NAMES.get((repo_id, split), "FILE")
    where = data_dir() / name
    return (f"give a local copy of {repo_id!r} (split {split!r}, a .parquet, .jsonl or .json with the same columns): "
            f"`-p data_path FILE` to a notebook, papermill or `rrm run`, or path=FILE to load_pairs/load_candidates"
            + (f", or put it at {where} where every run finds it" if name != "FILE" else "")
            + f". To make one on a machine that reaches the hub: python -c \"import datasets; "
            f"datasets.load_dataset('{repo_id}', split='{split}').to_parquet('{where}')\" "
            f"(docs/reproducing-the-paper.md)")


def hub_rows(repo_id: str, split: str, *, revision: str | None = None) -> list[tuple[str, dict]]:
    """``(where, row)`` for each row of ``repo_id``'s ``split``."""
    instead = local_copy_advice(repo_id, split)
    try:
        import datasets
    except ImportError:
        raise HubUnavailable(f"loading {repo_id!r} from the Hugging Face hub needs the `datasets` package "
                             f"(in the project's folder: .venv/bin/pip install -e '.[hub]'); or {instead}") from None
    try:
        ds = datasets.load_dataset(repo_id, split=split, revision=revision)
    except Exception as e:  # offline, rate-limited, gated, renamed: all mean "use a local copy"
        raise HubUnavailable(f"could not load {repo_id!r} (split {split!r}) from the Hugging Face hub "
                             f"({type(e).__name__}: {e}); {instead}") from e
    return [(f"row {n}", dict(row)) for n, row in enumerate(ds)]


def source_rows(path, repo_id: str, split: str, *, revision: str | None = None) -> tuple[str, Iterable[tuple[str, dict]]]:
    """``(label, rows)``: the local file at ``path`` if given, else a copy in the data folder
    under its conventional name (``LOCAL_NAMES``; not when a hub ``revision`` is pinned), else
    the hub dataset.

    ``label`` is what error messages name as the file.
    """
    if path is None and revision is None:
        path = local_copy(repo_id, split)
    if path is not None:
        return str(path), read_records(path)
    return f"{repo_id} (split {split})", hub_rows(repo_id, split, revision=revision)
