"""Where the data's sources register: a name (matched case-insensitively, so the original
evaluation's ``--dataset`` spellings keep working as aliases) for the function that loads it, and
where a benchmark scores its own way, its scoring rule and sampling unit. Each source module
registers itself; ``rrmlib.data`` imports them all.
"""
from __future__ import annotations

from typing import Callable

_PAIRS: dict[str, Callable] = {}
_CANDIDATES: dict[str, Callable] = {}
# A source's locator: called with the loader's options, it finds the files the loader would read
# (FileNotFoundError naming where it looked) without reading them, so a run can be refused first.
_LOCATE: dict[Callable, Callable] = {}
# A benchmark's own score, as its authors compute it (``Pairs.scoring`` names it), and the unit a
# sample of its pairs draws (RM-Bench: a prompt with its nine pairs).
_SCORING: dict[str, Callable] = {}
_UNITS: dict[str, tuple[str, Callable]] = {}
# Names a benchmark gives groups of its subsets (RewardBench's sections), for ``subsets``.
_GROUPS: dict[str, tuple[str, ...]] = {}


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _register(table: dict, names: tuple, locate: Callable | None):
    def deco(fn):
        for n in names:
            table[_key(n)] = fn
        if locate is not None:
            _LOCATE[fn] = locate
        return fn
    return deco


def register_pairs(*names: str, locate: Callable | None = None):
    """Register a pair source under ``names``; ``locate`` (optional) finds its local files, for
    ``check_source``."""
    return _register(_PAIRS, names, locate)


def register_candidates(*names: str, locate: Callable | None = None):
    """Register a candidate-set source under ``names``, as ``register_pairs`` does."""
    return _register(_CANDIDATES, names, locate)


def _table(kind: str) -> dict:
    return _PAIRS if kind == "pair" else _CANDIDATES


def loader(source, kind: str) -> Callable | None:
    """The loader registered under the name ``source`` (case-insensitively) for ``kind`` ("pair"
    or "candidate"); None where ``source`` is no registered name (a path, say)."""
    if not isinstance(source, str):
        return None
    return _table(kind).get(_key(source))


def names(kind: str) -> list[str]:
    """The registered names of ``kind`` ("pair" or "candidate"), sorted."""
    return sorted(_table(kind))


def locator(fn: Callable) -> Callable | None:
    """The locator registered with the loader ``fn`` (finds its local files), or None."""
    return _LOCATE.get(fn)


def register_scoring(name: str, score: Callable, *, unit: Callable | None = None, unit_name: str = "pair"):
    """Register a benchmark's own scoring rule: ``score(results, *, seed, n_boot)`` gives its
    numbers, headline ``score``, ``score_ci``, ``score_name`` and ``warnings``; ``unit(pair_id)``
    names the unit a sample of its pairs draws (``unit_name``: "prompt"), where it is not the pair."""
    _SCORING[name] = score
    if unit is not None:
        _UNITS[name] = (unit_name, unit)


def scoring_rule(name: str) -> Callable:
    if name not in _SCORING:
        raise ValueError(f"scoring must be one of {sorted(_SCORING)}, got {name!r}")
    return _SCORING[name]


def scorings() -> list[str]:
    return sorted(_SCORING)


def sampling_unit(scoring: str | None) -> tuple[str, Callable]:
    """``(name, key of a pair)``: what a sample of ``scoring``'s pairs draws; the pair itself by default."""
    name, unit = _UNITS.get(scoring, ("pair", None))
    return name, (lambda p: p.id) if unit is None else (lambda p: unit(p.id))


def register_groups(groups: dict[str, tuple[str, ...]]) -> None:
    """Names for groups of subsets (RewardBench's "Chat Hard"), which ``subsets`` selects by."""
    _GROUPS.update(groups)


def subset_group(name: str) -> tuple[str, ...]:
    return _GROUPS.get(name, ())
