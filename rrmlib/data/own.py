"""Your own pair files: the format, and how another file's columns are mapped onto it.

A pair file (``.jsonl``, ``.json`` or ``.parquet``) holds one record per pair, in one of two
shapes:

- ``prompt``, ``chosen`` (the better answer), ``rejected`` (the worse one);
- ``prompt``, ``first``, ``second`` (two answers in the file's order) and ``label``, a column
  saying which of the two is better; ``labels`` maps its values to ``first``, ``second``,
  ``tie`` or ``refuse`` (default ``A>B`` -> first, ``B>A`` -> second, JudgeBench's), and
  ``other_labels`` says what any other value is: ``refuse`` (the default: an error naming the
  row) or ``tie`` (kept as a tie, left out of the accuracy, and counted).

Either shape may add ``id`` (unique; a string or an integer) and ``subset``, each in every
record or in none (without ``id`` a pair is numbered by its row; without ``subset`` its subset
is the file's name). ``fields`` maps these names to the file's own columns, as a dict or as a
string: ``"prompt=question,first=response_A,second=response_B,label=label,subset=source"``.

Nothing is dropped or guessed: a label value that is not mapped is an error unless
``other_labels="tie"`` says otherwise, and a file that matches no known format fails with the
columns it has, the columns expected and the parameters that map them.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from rrmlib.data import DataError, Pair, Pairs
from rrmlib.data.files import field, same_presence, shown

ROLES = ("prompt", "chosen", "rejected", "first", "second", "label", "id", "subset")
TARGETS = ("first", "second", "tie", "refuse")
OTHER_LABELS = ("tie", "refuse")
DEFAULT_LABELS = {"A>B": "first", "B>A": "second"}  # JudgeBench's (ScalerLab/JudgeBench, README "Data")

EXPECTED = ("expected prompt, chosen, rejected (optional: id, subset), or prompt, first, second and a label column "
            "saying which is better")
MAPPING_HELP = ("map yours with the parameters fields ('prompt=question,chosen=good,rejected=bad' or "
                "'prompt=question,first=response_A,second=response_B,label=label'), labels ('A>B=first,B>A=second') "
                "and other_labels (tie or refuse); README, 'Your own data'")

# Answer columns named by their position, and label columns that say which position won: mapping
# such a column to `chosen` makes every row where the second answer is better count backwards.
_POSITIONAL = re.compile(r"(?i)(?:[_\-\s.](?:a|b)|[12])$")
_LABEL_COLUMNS = ("label", "winner", "preference", "choice")
_POSITION_LABELS = {"a>b", "b>a", "a=b", "a<b", "b<a", "a>>b", "b>>a", "a", "b", "1", "2", "model_a", "model_b"}


def _pairs_of(value, what: str) -> list[tuple[str, str]]:
    """``"k=v,k=v"`` (the value after the last '=', so a key may hold one: ``A=B=tie``) or a
    dict, as (key, value) pairs of stripped strings."""
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, str):
        items = []
        for part in value.split(","):
            if "=" not in part:
                raise ValueError(f"{what}: expected NAME=VALUE pairs separated by commas, got {part.strip()!r} "
                                 f"in {value!r}")
            k, v = part.rsplit("=", 1) if what == "labels" else part.split("=", 1)
            items.append((k, v))
    else:
        raise ValueError(f"{what}: expected a mapping or a 'NAME=VALUE,...' string, got {type(value).__name__}")
    out = []
    for k, v in items:
        if not isinstance(v, str) or not v.strip() or not k.strip():
            raise ValueError(f"{what}: {k!r}={v!r}: both sides must be non-empty text")
        out.append((k.strip(), v.strip()))
    return out


def parse_fields(fields) -> dict[str, str]:
    """``fields`` as {role: the file's column}; roles are ``ROLES``."""
    if fields is None:
        return {}
    out = {}
    for role, column in _pairs_of(fields, "fields"):
        if role not in ROLES:
            raise ValueError(f"fields: {role!r} is not one of {', '.join(ROLES)} (each maps one of these to a column "
                             f"of your file, e.g. prompt=question)")
        if role in out:
            raise ValueError(f"fields: {role!r} is mapped twice")
        out[role] = column
    if out.keys() & {"chosen", "rejected"} and out.keys() & {"first", "second", "label"}:
        raise ValueError("fields: map either chosen and rejected (the better and the worse answer), or first, second "
                         "and label (two answers and a column saying which is better), not both")
    if out.keys() & {"first", "second", "label"} and not {"first", "second"} <= out.keys():
        raise ValueError("fields: a file read by its label column needs both first= and second= (and label= unless "
                         "the column is called 'label')")
    return out


def parse_labels(labels) -> dict[str, str]:
    """``labels`` as {label value as text: first | second | tie | refuse}."""
    if labels is None:
        return dict(DEFAULT_LABELS)
    out = {}
    for value, target in _pairs_of(labels, "labels"):
        if target not in TARGETS:
            raise ValueError(f"labels: {value!r} maps to {target!r}; each label value maps to one of "
                             f"{', '.join(TARGETS)}")
        out[value] = target
    return out


def check_other_labels(other_labels) -> str:
    if other_labels is None:
        return "refuse"
    if other_labels not in OTHER_LABELS:
        raise ValueError(f"other_labels must be one of {', '.join(OTHER_LABELS)}, got {other_labels!r}")
    return other_labels


def format_error(path, where, name: str, rec: dict) -> DataError:
    """A file whose first record lacks a column the mapping needs: what it has, what is
    expected, and how to map it."""
    columns = ", ".join(map(str, rec)) or "none"
    if len(columns) > 120:
        columns = columns[:120] + "..."
    return DataError(path, where, name, f"missing: no known pair format fits (columns: {columns}); {EXPECTED}; "
                                        f"{MAPPING_HELP}")


def ident(path, where, rec: dict, name: str) -> str:
    """An id: a non-empty string, or an integer (as text)."""
    value = rec.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) and value is not None:
        raise DataError(path, where, name, f"expected str or int, got {type(value).__name__} {shown(value)}")
    return field(path, where, rec, name)


def label_key(path, where, name: str, value) -> str:
    """A label value as the text that ``labels`` maps: a string as it is (spaces around it
    dropped), an integer as its digits."""
    if value is None:
        raise DataError(path, where, name, "missing")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise DataError(path, where, name, f"expected a label (str or int), got {type(value).__name__} {shown(value)}")
    return value.strip()


def _check_not_positional(path, where, rec: dict, names: dict, mapped: dict) -> None:
    """Refuse ``chosen=response_A`` where the file's label says which position is better."""
    for role in ("chosen", "rejected"):
        column = names[role]
        if role not in mapped or not _POSITIONAL.search(column):
            continue
        for label in _LABEL_COLUMNS:
            value = rec.get(label)
            if label in mapped.values() or value is None:
                continue
            if str(value).strip().lower() in _POSITION_LABELS:
                raise DataError(path, where, column, (
                    f"mapped to {role!r}, but it names an answer by position and the file's {label!r} column "
                    f"({shown(value, 20)} here) says which position is better: rows where the other one is better "
                    f"would count backwards. Map first=..., second=..., label={label} in fields instead, and the "
                    f"label values with labels (e.g. 'A>B=first,B>A=second')"))


def read_mapped(path, records: list[tuple[str, dict]], *, fields=None, labels=None, other_labels=None,
                subset: str | None = None, defaults: dict | None = None, fmt: str = "pairs",
                scoring: str | None = None) -> Pairs:
    """Pairs from a file's ``(where, record)`` list, read through the mapping (module text).

    ``defaults`` are a known format's own column names (JudgeBench's), under ``fields``.
    """
    mapped = {**(defaults or {}), **parse_fields(fields)}
    by_label = bool(mapped.keys() & {"first", "second"})
    if not by_label and (labels is not None or other_labels is not None):
        raise ValueError("labels and other_labels read a label column: map the two answers with fields "
                         "'first=COLUMN,second=COLUMN' (and label=COLUMN unless it is called 'label')")
    label_map = parse_labels(labels) if by_label else None
    other = check_other_labels(other_labels) if by_label else None
    names = {"id": "id", "prompt": "prompt", "subset": "subset"}
    names.update({"label": "label"} if by_label else {"chosen": "chosen", "rejected": "rejected"})
    names.update(mapped)
    answers = ("first", "second", "label") if by_label else ("chosen", "rejected")

    where0, rec0 = records[0]
    for role in ("prompt", *answers):
        if names[role] not in rec0:
            raise format_error(path, where0, names[role], rec0)
    if not by_label:
        _check_not_positional(path, where0, rec0, names, mapped)

    has_id = same_presence(path, records, names["id"])
    has_subset = same_presence(path, records, names["subset"])
    default_subset = subset or Path(str(path)).stem
    pairs, seen = [], {}
    counts, unmapped, ties = Counter(), Counter(), 0
    for where, rec in records:
        pid = ident(path, where, rec, names["id"]) if has_id else str(len(pairs))
        if pid in seen:
            raise DataError(path, where, names["id"], f"duplicate id {shown(pid)} (first at {seen[pid]})")
        seen[pid] = where
        prompt = field(path, where, rec, names["prompt"])
        tie = False
        if by_label:
            first, second = field(path, where, rec, names["first"]), field(path, where, rec, names["second"])
            key = label_key(path, where, names["label"], rec.get(names["label"]))
            target = label_map.get(key)
            if target is None:
                if other == "refuse":
                    mapping = ", ".join(f"{k}={v}" for k, v in label_map.items())
                    raise DataError(path, where, names["label"], (
                        f"{shown(key)} is not a mapped label value ({mapping[:200]}): "
                        f"map it with labels (e.g. '{key}=tie'), or set other_labels to tie to keep every such row "
                        f"as a tie (counted, and left out of the accuracy)"))
                target = "tie"
                unmapped[key] += 1
            if target == "refuse":
                raise DataError(path, where, names["label"], f"label {shown(key)} is mapped to refuse")
            counts[key] += 1
            tie = target == "tie"
            ties += tie
            chosen, rejected = (second, first) if target == "second" else (first, second)
        else:
            chosen, rejected = field(path, where, rec, names["chosen"]), field(path, where, rec, names["rejected"])
        pairs.append(Pair(id=pid, prompt=prompt, chosen=chosen, rejected=rejected, tie=tie,
                          subset=field(path, where, rec, names["subset"]) if has_subset else default_subset))
    loaded = {"source": str(path), "format": fmt, "rows": len(records), "pairs": len(pairs),
              "fields": {r: names[r] for r in ("id", "prompt", *answers, "subset")
                         if r in names and (r != "id" or has_id) and (r != "subset" or has_subset)}}
    if by_label:
        loaded.update(labels=dict(sorted(counts.items())), label_map=label_map, other_labels=other, ties=ties,
                      unmapped_labels=dict(sorted(unmapped.items())))
    return Pairs(pairs, scoring=scoring, loaded=loaded)
