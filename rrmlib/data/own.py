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
``other_labels="tie"`` says otherwise (and more than ``OUTSIDE_LABELS_WARN`` of the rows kept so
is a warning: the mapping likely misses a whole value), and a file that matches no known format
fails with the columns it has, the columns expected and the parameters that map them.

A row that fails a check (a missing or empty field, a value of the wrong type, a label outside
the mapping, a repeated id, a line that is not a JSON object) stops the reading with an error
naming the file, the row and the field (``bad_rows="strict"``, the default), or, with
``bad_rows="skip"``, is left out and listed with its reason in ``loaded["skipped_rows"]`` and a
warning. With ``subsets``, only each row's subset is read for the rows of other subsets: a bad
row there stops nothing. Rows count from 0 (``rrmlib.data.files``), and a pair without an id
takes its row's number, whatever rows are skipped or left out.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

from rrmlib.data.files import BadRecord, field, first_time, presence, shown
from rrmlib.data.records import DataError, Pair, Pairs
from rrmlib.data.select import check_subsets, in_subset, names_list

ROLES = ("prompt", "chosen", "rejected", "first", "second", "label", "id", "subset")
TARGETS = ("first", "second", "tie", "refuse")
OTHER_LABELS = ("tie", "refuse")
BAD_ROWS = ("strict", "skip")
# More than this share of rows with a label value outside `labels` is a warning (in the notebook,
# the terminal and metrics.json): a mapping that misses a whole value, not a few odd rows.
OUTSIDE_LABELS_WARN = 0.02
DEFAULT_LABELS = {"A>B": "first", "B>A": "second"}  # JudgeBench's (ScalerLab/JudgeBench, README "Data")

EXPECTED = ("expected prompt, chosen, rejected (optional: id, subset), or prompt, first, second and a label column "
            "saying which is better")
MAPPING_HELP = ("map yours with the parameters fields ('prompt=question,chosen=good,rejected=bad' or "
                "'prompt=question,first=response_A,second=response_B,label=label'), labels ('A>B=first,B>A=second') "
                "and other_labels (tie or refuse); docs/data.md, 'Your own data'")

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


def _choice(value, name: str, allowed: tuple, default: str) -> str:
    """``value`` if it is one of ``allowed``, ``default`` for None, else an error naming ``name``."""
    if value is None:
        return default
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def check_other_labels(other_labels) -> str:
    return _choice(other_labels, "other_labels", OTHER_LABELS, "refuse")


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
    dropped), an integer as its digits, and so a whole float (``2.0``: a 0/1/2 column that
    pandas turned to floats for a missing value)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise DataError(path, where, name, "missing")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
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


def check_bad_rows(bad_rows) -> str:
    return _choice(bad_rows, "bad_rows", BAD_ROWS, "strict")


def _percent(k: int, n: int) -> str:
    return f"{100 * k / n:.1f}%" if n else "-"


def outside_labels_warning(outside: Counter, counts: Counter, label_map: dict, kept_as: str) -> str | None:
    """The warning for a file more than ``OUTSIDE_LABELS_WARN`` of whose rows hold a label value
    that ``labels`` does not name: a mapping that misses a whole value (the README's own mistake
    once: ``1=first,2=second`` on a 0/1/2 file scores the 1s and 2s wrongly and keeps the 0s as
    ties), not a few odd rows. None below the threshold."""
    k, n = sum(outside.values()), sum(counts.values())
    if not n or k / n <= OUTSIDE_LABELS_WARN:
        return None
    values = ", ".join(f"{v!r} ({c})" for v, c in sorted(counts.items()))
    mapping = ",".join(f"{v}={t}" for v, t in label_map.items())
    every = ",".join(f"{v}=..." for v in sorted(counts))
    return (f"{k} of {n} rows ({_percent(k, n)}, more than {OUTSIDE_LABELS_WARN:.0%}) hold a label value outside "
            f"labels ({', '.join(f'{v!r}' for v in sorted(outside))}) and were {kept_as}: is the mapping right? labels "
            f"'{mapping}' against the file's values {values}; map every value, e.g. labels '{every}' with each of "
            f"first, second, tie")


def _skipped_entry(i: int, e: DataError, subset: str | None) -> dict:
    entry = {"row": i, "where": e.where, "field": e.field, "problem": e.problem}
    if subset is not None:
        entry["subset"] = subset
    return entry


def skipped_warning(skipped: list[dict], rows: int, shown_rows: int = 3) -> str:
    """The warning for rows that ``bad_rows="skip"`` left out: how many, and the first few."""
    first = "; ".join(f"{s['where']}" + (f", field {s['field']!r}" if s["field"] else "") + f": {s['problem'][:120]}"
                      for s in skipped[:shown_rows])
    more = f"; and {len(skipped) - shown_rows} more" if len(skipped) > shown_rows else ""
    return (f"{len(skipped)} of {rows} rows skipped (bad_rows skip), each listed with its reason in meta.json "
            f"(data.skipped_rows): {first}{more}")


def read_mapped(path, records: list[tuple[str, dict]], *, fields=None, labels=None, other_labels=None,
                subset: str | None = None, defaults: dict | None = None, fmt: str = "pairs",
                scoring: str | None = None, bad_rows: str = "strict", subsets=None) -> Pairs:
    """Pairs from a file's ``(where, record)`` list, read through the mapping (module text).

    ``defaults`` are a known format's own column names (JudgeBench's), under ``fields``.
    ``bad_rows``: ``strict`` (a row that fails a check is an error naming it) or ``skip`` (it is
    left out, and listed with its reason in ``loaded["skipped_rows"]`` and a warning). With
    ``subsets``, a row of another subset is not read beyond its subset column, so it cannot stop
    the run; a row whose subset cannot be read is a bad row like any other.
    """
    policy = check_bad_rows(bad_rows)
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
    wanted = names_list(subsets, "subsets")

    # Rows that could not be read as records (bad_rows skip only: read_records raises otherwise).
    errors: dict[int, DataError] = {i: rec.error for i, (_, rec) in enumerate(records) if isinstance(rec, BadRecord)}
    good = [(where, rec) for where, rec in records if not isinstance(rec, BadRecord)]
    if not good:
        raise DataError(path, None, None, f"no record could be read (the first: {errors[0]})")
    where0, rec0 = good[0]
    # A column that no record has is the mapping's fault, not a row's: say how to map the file.
    for role in ("prompt", *answers):
        if names[role] not in rec0 and not any(names[role] in rec for _, rec in good):
            raise format_error(path, where0, names[role], rec0)
    if not by_label:
        _check_not_positional(path, where0, rec0, names, mapped)

    has_id, id_errors = presence(path, records, names["id"])
    has_subset, subset_errors = presence(path, records, names["subset"])
    for i, e in [*id_errors, *subset_errors]:
        errors.setdefault(i, e)
    default_subset = subset or Path(str(path)).stem

    # Each row's subset first, where it can be read: the rows of other subsets are not read further.
    subset_of: dict[int, str] = {}
    for i, (where, rec) in enumerate(records):
        if i in errors:
            continue
        try:
            subset_of[i] = field(path, where, rec, names["subset"]) if has_subset else default_subset
        except DataError as e:
            errors[i] = e
    if wanted is not None:
        check_subsets(wanted, subset_of.values())

    def refused(i: int, e: DataError) -> None:
        if policy == "strict":
            raise DataError(e.path, e.where, e.field, f"{e.problem} (bad_rows skip would leave such rows out, each "
                                                      f"listed with its reason)") from None
        skipped.append(_skipped_entry(i, e, subset_of.get(i)))

    pairs, seen, skipped = [], {}, []
    counts, outside, ties, other_subsets = Counter(), Counter(), 0, 0
    for i, (where, rec) in enumerate(records):
        if i in subset_of and wanted is not None and not any(in_subset(n, subset_of[i]) for n in wanted):
            other_subsets += 1
            continue
        if i in errors:
            refused(i, errors[i])
            continue
        try:
            pid = ident(path, where, rec, names["id"]) if has_id else str(i)  # without ids: the row, from 0
            first_time(path, where, names["id"], pid, seen, word="id", record=False)
            prompt = field(path, where, rec, names["prompt"])
            tie, key = False, None
            if by_label:
                first, second = field(path, where, rec, names["first"]), field(path, where, rec, names["second"])
                key = label_key(path, where, names["label"], rec.get(names["label"]))
                target = label_map.get(key)
                if target is None and other == "refuse":
                    outside[key] += 1
                    counts[key] += 1
                    mapping = ", ".join(f"{k}={v}" for k, v in label_map.items())
                    raise DataError(path, where, names["label"], (
                        f"{shown(key)} is not a mapped label value ({mapping[:200]}): "
                        f"map it with labels (e.g. '{key}=tie'), or set other_labels to tie to keep every such row "
                        f"as a tie (counted, and left out of the accuracy)"))
                if target == "refuse":
                    counts[key] += 1
                    raise DataError(path, where, names["label"], f"label {shown(key)} is mapped to refuse")
                if target is None:
                    target = "tie"
                    outside[key] += 1
                tie = target == "tie"
                chosen, rejected = (second, first) if target == "second" else (first, second)
            else:
                chosen, rejected = field(path, where, rec, names["chosen"]), field(path, where, rec, names["rejected"])
        except DataError as e:
            refused(i, e)
            continue
        seen[pid] = where
        if key is not None:
            counts[key] += 1
        ties += tie
        pairs.append(Pair(id=pid, prompt=prompt, chosen=chosen, rejected=rejected, tie=tie, subset=subset_of[i]))
    loaded = {"source": str(path), "format": fmt, "rows": len(records), "pairs": len(pairs),
              "fields": {r: names[r] for r in ("id", "prompt", *answers, "subset")
                         if r in names and (r != "id" or has_id) and (r != "subset" or has_subset)},
              "bad_rows": policy, "skipped_rows": skipped}
    if wanted is not None:
        loaded.update(subsets=wanted, rows_of_other_subsets=other_subsets)
    warnings = []
    if by_label:
        # Values outside labels, kept as ties or (bad_rows skip) skipped: both take rows out of the accuracy.
        loaded.update(labels=dict(sorted(counts.items())), label_map=label_map, other_labels=other, ties=ties,
                      unmapped_labels=dict(sorted(outside.items())))
        warning = outside_labels_warning(outside, counts, label_map,
                                         "kept as ties (other_labels tie), left out" if other == "tie" else
                                         "skipped (bad_rows skip)")
        if warning:
            warnings.append(warning)
    if skipped:
        warnings.append(skipped_warning(skipped, len(records)))
    if warnings:
        loaded["warnings"] = warnings
    return Pairs(pairs, scoring=scoring, loaded=loaded)
