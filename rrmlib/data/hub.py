"""Rows of a Hugging Face hub dataset, or of a local copy of it.

``datasets`` is an optional extra (``hub``) and is imported only when a hub dataset is actually
asked for, so that local files work without it; when it is missing, or the hub cannot be
reached, the error says which option takes a local copy instead.
"""
from __future__ import annotations

from typing import Iterable

from rrmlib.data.files import read_records


class HubUnavailable(RuntimeError):
    """A hub dataset was asked for but cannot be loaded here (no ``datasets``, or offline)."""


def local_copy_advice(repo_id: str, split: str) -> str:
    """How to run without the hub: the notebooks' ``data_path`` and the library's ``path=``."""
    return (f"give a local copy of {repo_id!r} (split {split!r}, a .parquet, .jsonl or .json with the same columns): "
            f"`-p data_path FILE` to a notebook, papermill or `rrm run`, or path=FILE to load_pairs/load_candidates. "
            f"To make one on a machine that reaches the hub: python -c \"import datasets; "
            f"datasets.load_dataset('{repo_id}', split='{split}').to_parquet('FILE')\" "
            f"(README, 'Reproducing the paper')")


def hub_rows(repo_id: str, split: str, *, revision: str | None = None) -> list[tuple[str, dict]]:
    """``(where, row)`` for each row of ``repo_id``'s ``split``."""
    instead = local_copy_advice(repo_id, split)
    try:
        import datasets
    except ImportError:
        raise HubUnavailable(f"loading {repo_id!r} from the Hugging Face hub needs the `datasets` package "
                             f"(pip install 'rrm-notebooks[hub]'); or {instead}") from None
    try:
        ds = datasets.load_dataset(repo_id, split=split, revision=revision)
    except Exception as e:  # offline, rate-limited, gated, renamed: all mean "use a local copy"
        raise HubUnavailable(f"could not load {repo_id!r} (split {split!r}) from the Hugging Face hub "
                             f"({type(e).__name__}: {e}); {instead}") from e
    return [(f"row {n}", dict(row)) for n, row in enumerate(ds)]


def source_rows(path, repo_id: str, split: str, *, revision: str | None = None) -> tuple[str, Iterable[tuple[str, dict]]]:
    """``(label, rows)``: the local file at ``path`` if given, else the hub dataset.

    ``label`` is what error messages name as the file.
    """
    if path is not None:
        return str(path), read_records(path)
    return f"{repo_id} (split {split})", hub_rows(repo_id, split, revision=revision)
