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

import importlib
import os
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Pair:
    """One prompt with a better (``chosen``) and a worse (``rejected``) answer.

    ``chosen``/``rejected`` are None-free strings; a tie in a human-labelled set is carried as
    ``tie=True`` (chosen/rejected then in file order) so that accuracy can exclude it.
    """

    id: str
    prompt: str
    chosen: str
    rejected: str
    subset: str = ""
    tie: bool = False


@dataclass(frozen=True)
class CandidateSet:
    """One prompt with N candidate answers and whether each is correct."""

    id: str
    prompt: str
    candidates: list[str]
    correct: list[bool]
    answers: list[str] | None = None   # extracted final answers, where the data has them
    scores: list[float] | None = None  # a scalar reward model's scores, where the data has them
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if len(self.candidates) != len(self.correct):
            raise ValueError(f"candidate set {self.id}: {len(self.candidates)} candidates but {len(self.correct)} labels")


class Pairs(list):
    """A list of pairs that remembers how it was loaded.

    ``scoring`` names the benchmark whose authors' own scoring applies to these pairs
    (``"judgebench"``, ``"rm-bench"``; None: the plain pair mean), and ``loaded`` says what was
    read (the file or hub split, rows, label values and how they were mapped, the selection), for
    meta.json. Slicing gives a plain list: ``select_pairs`` keeps both when it selects.
    """

    def __init__(self, pairs=(), *, scoring: str | None = None, loaded: dict | None = None):
        super().__init__(pairs)
        self.scoring = scoring
        self.loaded = dict(loaded or {})


class DataError(ValueError):
    """Bad input data; the message names the file, the line or row, and the field."""

    def __init__(self, path, where, field, problem):
        self.path, self.where, self.field, self.problem = str(path), where, field, problem
        loc = f"{path}"
        if where is not None:
            loc += f", {where}"
        if field is not None:
            loc += f", field {field!r}"
        super().__init__(f"{loc}: {problem}")


_PAIRS: dict[str, Callable] = {}
_CANDIDATES: dict[str, Callable] = {}
# A source's locator: called with the loader's options, it finds the files the loader would read
# (FileNotFoundError naming where it looked) without reading them, so a run can be refused first.
_LOCATE: dict[Callable, Callable] = {}
# Modules that register sources; imported on first use so `import rrmlib` stays light.
_SOURCE_MODULES = ["rrmlib.data.demo", "rrmlib.data.rewardbench", "rrmlib.data.ppe", "rrmlib.data.llmbar",
                   "rrmlib.data.pandalm", "rrmlib.data.qwen_math", "rrmlib.data.judgebench", "rrmlib.data.rmbench"]


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def register_pairs(*names: str, locate: Callable | None = None):
    """Register a pair source under ``names``; ``locate`` (optional) finds its local files, for
    ``check_source``."""
    def deco(fn):
        for n in names:
            _PAIRS[_key(n)] = fn
        if locate is not None:
            _LOCATE[fn] = locate
        return fn
    return deco


def register_candidates(*names: str, locate: Callable | None = None):
    def deco(fn):
        for n in names:
            _CANDIDATES[_key(n)] = fn
        if locate is not None:
            _LOCATE[fn] = locate
        return fn
    return deco


def _load_sources():
    for mod in _SOURCE_MODULES:
        importlib.import_module(mod)


def _resolve(source, registry: dict, what: str):
    _load_sources()
    if isinstance(source, (str, os.PathLike)) and _key(str(source)) in registry:
        return registry[_key(str(source))], None
    if os.path.exists(source):
        return None, os.fspath(source)
    known = ", ".join(sorted(registry))
    raise ValueError(f"unknown {what} source {_short(source)}: not a registered name ({known}) and no such file")


def _loader(source, kind: str, options: dict) -> tuple[Callable, dict]:
    """The function that loads ``source`` (``kind`` "pair" or "candidate") and the options it
    gets; an option the source does not take is a TypeError naming it, before anything loads."""
    import inspect

    fn, path = _resolve(source, _PAIRS if kind == "pair" else _CANDIDATES, kind)
    if fn is None:
        from rrmlib.data import files
        fn = files.load_pair_file if kind == "pair" else files.load_candidate_file
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
    locate = _LOCATE.get(fn)
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
    import inspect

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
    from rrmlib.data.select import select

    return select(pairs, subsets=subsets, sample=sample, seed=seed, limit=limit, ties=ties)
