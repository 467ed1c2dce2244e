"""Datasets as pairs (for pairwise accuracy) and candidate sets (for best-of-N).

``load_pairs(source)`` / ``load_candidates(source)`` take a registered name (``"demo"``,
``"llmbar"``, ...) or a path to a local file. A source module registers itself with
``@register_pairs(name, ...)``; names are matched case-insensitively, so the original
evaluation's ``--dataset`` spellings keep working as aliases. A file of your own is read through
``rrmlib.data.own`` (its format, the ``fields``/``labels``/``other_labels`` mapping, and
``bad_rows``); ``select_pairs`` keeps the subsets, leaves out the ties (counted), and keeps the
seeded stratified sample and the limit a run asks for.
"""
from __future__ import annotations

import inspect
import os
from typing import Callable

# The sources register themselves (rrmlib.data.registry) when imported: all of them, here.
from rrmlib.data import demo, judgebench, llmbar, pandalm, ppe, qwen_math, rewardbench, rmbench  # noqa: F401
from rrmlib.data import formats
from rrmlib.data.records import CandidateSet, DataError, Pair, Pairs  # noqa: F401 (rrmlib.data's API)
from rrmlib.data import registry
from rrmlib.data.select import select


def _resolve(source, kind: str):
    fn = registry.loader(os.fspath(source) if isinstance(source, os.PathLike) else source, kind)
    if fn is not None:
        return fn, None
    if os.path.exists(source):
        return None, os.fspath(source)
    known = ", ".join(registry.names(kind))
    raise ValueError(f"unknown {kind} source {_short(source)}: not a registered name ({known}) and no such file")


def _loader(source, kind: str, options: dict) -> tuple[Callable, dict]:
    """The function that loads ``source`` (``kind`` "pair" or "candidate") and the options it
    gets; an option the source does not take is a TypeError naming it, before anything loads."""
    fn, path = _resolve(source, kind)
    if fn is None:
        fn = formats.load_pair_file if kind == "pair" else formats.load_candidate_file
        options = {"path": path, **options}
    params = inspect.signature(fn).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(options) - set(params))
        if unknown == ["round"]:
            raise ValueError(f"{_short(source)} has a single round; drop `round` or set it to 1 (rounds are the PPE "
                            f"sets': mmlu-pro, gpqa, math)")
        if unknown:
            taken = sorted(set(params) - {"path"} if path is not None else params)
            raise TypeError(f"{_short(source)} does not take option(s) {unknown}; it takes {taken}")
    return fn, options


def check_source(source, kind: str = "pair", **options) -> None:
    """Refuse, before anything is read, a ``source`` that names no registered source and no
    file, that does not take ``options`` (``round`` for a dataset without rounds), or whose local
    files are not where it would read them (a data folder without the set): a ValueError that
    says where it looked. Sources read from the hub are not checked for their data."""
    fn, options = _loader(source, kind, options)
    locate = registry.locator(fn)
    if locate is not None:
        try:
            locate(**options)
        except FileNotFoundError as e:
            raise ValueError(str(e)) from None


def load_pairs(source, **options) -> list[Pair]:
    """Pairs from a registered source name or a local file."""
    fn, options = _loader(source, "pair", options)
    return fn(**options)


def load_candidates(source, **options) -> list[CandidateSet]:
    """Candidate sets from a registered source name or a local file."""
    fn, options = _loader(source, "candidate", options)
    return fn(**options)


def pair_options(p: dict) -> dict:
    """The loader options a pairwise run's checked parameters give: only those it sets, so that a
    dataset without rounds or files is not offered them. ``subsets`` goes to a loader that takes
    it (a file read through the pair-file mapping), which then reads no more than the subset of
    a row of another subset; ``select_pairs`` applies it in any case."""
    options = {"round": p["round"], "path": p["data_path"], "pairs_file": p["pairs_file"], "seed": p["pairs_seed"],
               "fields": p["fields"], "labels": p["labels"], "other_labels": p["other_labels"]}
    options = {k: v for k, v in options.items() if v is not None and (k, v) != ("round", 1)}
    if p.get("bad_rows", "strict") != "strict":
        options["bad_rows"] = p["bad_rows"]
    if p.get("subsets") is not None and _takes(p["dataset"], "subsets"):
        options["subsets"] = p["subsets"]
    return options


def _takes(source, option: str) -> bool:
    """Whether the pair loader of ``source`` takes ``option`` (False where there is none)."""
    try:
        fn, _ = _loader(source, "pair", {})
    except (ValueError, TypeError, OSError):
        return False
    return option in inspect.signature(fn).parameters


def _short(value, width: int = 80) -> str:
    text = repr(str(value))
    return text if len(text) <= width else f"{text[:width - 30]}... ({len(text):,} characters)"


def select_pairs(pairs, *, subsets=None, sample: int | None = None, seed: int = 0, limit: int | None = None,
                 ties: str = "leave out") -> Pairs:
    """The pairs a run judges: those of ``subsets``, less the pairs labelled a tie (counted;
    ``ties="keep"`` keeps them), then a seeded ``sample`` stratified by subset, then the first
    ``limit``; see ``rrmlib.data.select``."""
    return select(pairs, subsets=subsets, sample=sample, seed=seed, limit=limit, ties=ties)
