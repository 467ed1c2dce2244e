"""Reading local JSON, JSONL and parquet files with errors that name file, line and field.

Every defect of a file is a ``DataError`` naming the file, where in it (``row N``, and in a
JSONL file also its ``line L``; nothing for the file as a whole) and the field: a file that
cannot be read (a directory, no permission), an empty one, bytes that are not UTF-8, broken
JSON, a key given twice in one object (JSON would keep the last silently), a record that is not
an object. The readers of each source then check the fields they use.

One numbering, everywhere: rows count the file's records from 0, as pandas numbers them (the
first record is row 0), and a pair file without ids numbers its pairs by that row; a JSONL
file's line counts from 1, as editors do, and blank lines count as lines but not as rows.
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Callable, Iterator

from rrmlib.data.records import DataError
from rrmlib.paths import data_dir

_JSON_SPACE = " \t\r\n"
_SURROGATE = re.compile("[\ud800-\udfff]")            # bytes that are not UTF-8 decode to \udc80-\udcff
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # \udXXX escapes: a lone one is not Unicode
_ID_NAMES = ("id", "idx", "question_id")


def shown(value, n: int = 60) -> str:
    """``repr(value)`` cut to about ``n`` characters, for messages (a value may be 1 MB)."""
    text = repr(value)
    return text if len(text) <= n else text[:n] + f"... ({len(text)} characters)"


def unreadable(path, e: OSError, what: str = "cannot be read") -> DataError:
    """The DataError for a file the system would not read (a missing one is not asked here: it
    stays FileNotFoundError, for nothing is wrong with a file that is not there, the path is)."""
    if isinstance(e, PermissionError):
        return DataError(path, None, None, "cannot be read: permission denied")
    if isinstance(e, IsADirectoryError):
        return DataError(path, None, None, "is a directory, not a data file")
    return DataError(path, None, None, f"{what} ({shown(str(e.strerror or e), 160)})")


def read_bytes(path) -> bytes:
    """The file's bytes; a directory or an unreadable file is a DataError, a missing one
    FileNotFoundError."""
    path = Path(path)
    if path.is_dir():
        raise DataError(path, None, None, "is a directory, not a data file")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as e:
        raise unreadable(path, e) from None


def _decode(data: bytes) -> tuple[str, bool]:
    """The text, and whether it may hold lone surrogates (bytes that are not UTF-8, kept as
    surrogate escapes so that the record and field holding them can be named, or ``\\udXXX``)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", "surrogateescape"), True
    return text, bool(_SURROGATE_ESCAPE.search(text))


def _not_utf8(text: str) -> str:
    m = _SURROGATE.search(text)
    ch = ord(m.group())
    what = (f"byte 0x{ch - 0xDC00:02x}, which is not valid UTF-8," if 0xDC80 <= ch <= 0xDCFF
            else f"a lone surrogate \\u{ch:04x}, which is not valid Unicode,")
    return f"{what} at character {m.start()}"


class _Repeated(dict):
    """A JSON object in which a key was given more than once."""

    __slots__ = ("repeated",)


def _parse(path, where, text: str):
    """``json.loads`` with a DataError for broken JSON; objects that repeat a key come back as
    ``_Repeated``. Returns (value, whether any object repeated a key)."""
    repeats = []

    def hook(pairs):
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen = set()
            obj = _Repeated(obj)
            obj.repeated = next(k for k, _ in pairs if k in seen or seen.add(k))
            repeats.append(obj)
        return obj

    try:
        return json.loads(text, object_pairs_hook=hook), bool(repeats)
    except json.JSONDecodeError as e:
        at = where or f"line {e.lineno}"
        lines = text.split("\n")
        line = lines[min(e.lineno, len(lines)) - 1]
        note = f"; {_not_utf8(line)}" if _SURROGATE.search(line) else ""
        raise DataError(path, at, None, f"not valid JSON ({e.msg} at column {e.colno}){note}") from None
    except RecursionError:
        raise DataError(path, where, None, "not readable JSON (nested too deeply)") from None
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        raise DataError(path, where, None, f"not readable JSON ({shown(str(e), 120)})") from None


def field_name(parts) -> str | None:
    """``("code", 3)`` -> ``"code[3]"``; ``()`` -> None."""
    if not parts:
        return None
    out = str(parts[0])
    for p in parts[1:]:
        out += f"[{p}]" if isinstance(p, int) else f"[{p!r}]"
    return out


def first_defect(value, at: tuple = ()) -> tuple[tuple, str] | None:
    """``(path to it, problem)`` for the first repeated key or text that is not valid UTF-8
    inside a parsed JSON value, in document order; None if there is none."""
    if isinstance(value, str):
        return (at, f"not valid text: {_not_utf8(value)}") if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        if isinstance(value, _Repeated):
            return at + (value.repeated,), "given twice in one object (JSON would keep only the last value)"
        for k, v in value.items():
            if _SURROGATE.search(k):
                return at + (k,), f"field name is not valid text: {_not_utf8(k)}"
            found = first_defect(v, at + (k,))
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = first_defect(v, at + (i,))
            if found:
                return found
    return None


def read_json(path, locate: Callable[[tuple], tuple] | None = None):
    """A whole JSON file, parsed and checked (readable, not empty, valid UTF-8 and JSON, no key
    twice in one object). ``locate(parts) -> (where, field)`` names the place of a defect found
    at ``parts`` (keys and indices from the top); by default nothing but the field path."""
    path = Path(path)
    text, suspect = _decode(read_bytes(path))
    if not text.strip(_JSON_SPACE):
        raise DataError(path, None, None, "empty file")
    value, repeated = _parse(path, None, text)
    if suspect or repeated:
        found = first_defect(value)
        if found:
            where, name = (locate or (lambda parts: (None, field_name(parts))))(found[0])
            raise DataError(path, where, name, found[1])
    return value


class BadRecord:
    """A record that could not be read as one (a JSONL line that is not a JSON object, an item
    of a JSON list that is not an object): what ``read_records(..., bad="keep")`` yields in its
    place, so that a reader that skips bad rows can list it and keep the rows numbered."""

    __slots__ = ("error",)

    def __init__(self, error: DataError):
        self.error = error


def where_row(row: int, line: int | None = None) -> str:
    """Where a record is, as messages say it: ``row N`` (from 0), and ``(line L)`` (from 1) in a
    JSONL file."""
    return f"row {row}" if line is None else f"row {row} (line {line})"


def _jsonl(path: Path, keep_bad: bool = False) -> Iterator[tuple[str, dict]]:
    text, suspect = _decode(read_bytes(path))
    if not text.strip(_JSON_SPACE):
        raise DataError(path, None, None, "empty file: no records")
    if "\r" in text:  # universal newlines, as text-mode reading had them
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    row = 0
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip(_JSON_SPACE):
            continue
        where = where_row(row, n)
        row += 1
        try:
            rec, repeated = _parse(path, where, line)
            if not isinstance(rec, dict):
                raise DataError(path, where, None, f"expected a JSON object, got {type(rec).__name__}")
            if suspect or repeated:
                found = first_defect(rec)
                if found:
                    raise DataError(path, where, field_name(found[0]), found[1])
        except DataError as e:
            if not keep_bad:
                raise
            yield where, BadRecord(e)
            continue
        yield where, rec


def _record_place(parts: tuple) -> tuple:
    """(where, field) of a defect at ``parts`` in a JSON file of records: a list, ``{"data":
    [...]}`` or ``{"id": record, ...}``."""
    if parts and parts[0] == "data" and len(parts) > 1 and isinstance(parts[1], int):
        parts = parts[1:]
    if parts and isinstance(parts[0], int):
        return f"row {parts[0]}", field_name(parts[1:])
    if len(parts) > 1:
        return f"record {parts[0]!r}", field_name(parts[1:])
    return None, field_name(parts)


def _json(path: Path, keep_bad: bool = False) -> Iterator[tuple[str, dict]]:
    data = read_json(path, _record_place)
    if isinstance(data, dict):  # {"id": record, ...} or {"data": [...]}
        items = data.get("data") if isinstance(data.get("data"), list) else list(data.values())
    else:
        items = data
    if not isinstance(items, list):
        raise DataError(path, None, None, f"expected a list of records, got {type(items).__name__}")
    for n, rec in enumerate(items):
        if not isinstance(rec, dict):
            error = DataError(path, f"row {n}", None, f"expected an object, got {type(rec).__name__} {shown(rec)}")
            if not keep_bad:
                raise error
            rec = BadRecord(error)
        yield f"row {n}", rec


def _parquet(path: Path) -> Iterator[tuple[str, dict]]:
    # pyarrow gives plain Python lists for list columns (pandas would give numpy arrays, which
    # the type checks would reject as "not a list"). An open file, not a path: pyarrow would
    # read a directory as a dataset.
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.is_dir():
        raise DataError(path, None, None, "is a directory, not a data file")
    try:
        with open(path, "rb") as f:
            source = pq.ParquetFile(f)
            names = source.schema_arrow.names
            for name in names:
                if names.count(name) > 1:
                    raise DataError(path, None, name, "column given twice (one would hide the other)")
            table = source.read()
    except FileNotFoundError:
        raise
    except (PermissionError, IsADirectoryError) as e:
        raise unreadable(path, e) from None
    except (pa.ArrowException, OSError) as e:
        raise DataError(path, None, None, f"not a readable parquet file ({shown(str(e), 160)})") from None
    columns = []
    for i, name in enumerate(names):
        col = table.column(i)
        try:
            columns.append(col.to_pylist())
        except UnicodeDecodeError:
            for n in range(len(col)):
                try:
                    col[n].as_py()
                except UnicodeDecodeError as e:
                    raise DataError(path, f"row {n}", name, f"not valid UTF-8 (byte 0x{e.object[e.start]:02x})") from None
            raise DataError(path, None, name, "not valid UTF-8") from None
        except (pa.ArrowException, ValueError, OverflowError) as e:
            raise DataError(path, None, name, f"cannot be read ({shown(str(e), 160)})") from None
    for n, values in enumerate(zip(*columns)):
        yield f"row {n}", dict(zip(names, values))


def read_records(path, *, bad: str = "raise") -> Iterator[tuple[str, dict]]:
    """Yield ``(where, record)`` for each record; ``where`` is "row N" (from 0), with "(line L)"
    in a JSONL file (module text).

    ``bad="keep"`` yields a ``BadRecord`` for a record that is not one (a broken JSONL line, an
    item of a JSON list that is not an object) instead of raising; a file that cannot be read
    as a whole still raises. A file without any record is an error (an empty evaluation set
    gives no number to trust).
    """
    if bad not in ("raise", "keep"):
        raise ValueError(f"bad must be 'raise' or 'keep', got {bad!r}")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        records = _jsonl(path, bad == "keep")
    elif suffix == ".json":
        records = _json(path, bad == "keep")
    elif suffix == ".parquet":
        records = _parquet(path)
    else:
        raise DataError(path, None, None, f"unsupported file type {suffix!r} (use .json, .jsonl or .parquet)")
    empty = True
    for item in records:
        empty = False
        yield item
    if empty:
        raise DataError(path, None, None, "no records")


def first_time(path, where, field_name: str, value, seen: dict, *, word: str | None = None,
               record: bool = True) -> None:
    """Refuse ``value`` (of the field ``field_name``) given again: a DataError naming where it
    was first (``seen``: value -> where), said as a duplicate ``word`` (the field's name unless
    given). ``record``: note it as seen here (else the caller does, once the record is taken)."""
    if value in seen:
        raise DataError(path, where, field_name, f"duplicate {word or field_name} {shown(value)} "
                                                 f"(first at {seen[value]})")
    if record:
        seen[value] = where


def field(path, where, rec: dict, name: str, kind=str, *, nonempty: bool = True):
    """``rec[name]`` checked for presence, type and (for strings and lists) non-emptiness.

    Ids (``id``, ``idx``, ``question_id``) may be integers; they come back as strings.
    """
    if name not in rec or rec[name] is None:
        raise DataError(path, where, name, "missing")
    value = rec[name]
    if kind is str and name in _ID_NAMES and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool and (
            kind is int or (isinstance(kind, tuple) and bool not in kind))):
        want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        if kind is str and name in _ID_NAMES:
            want = "str or int"
        raise DataError(path, where, name, f"expected {want}, got {type(value).__name__} {shown(value)}")
    if nonempty and isinstance(value, (str, list)) and not (value.strip() if isinstance(value, str) else value):
        raise DataError(path, where, name, "empty")
    return value


def optional(path, where, rec: dict, name: str, kind=str, *, nonempty: bool = True):
    """``field`` for a field that may be absent (or null): None then."""
    if rec.get(name) is None:
        return None
    return field(path, where, rec, name, kind, nonempty=nonempty)


def finite(path, where, name: str, value) -> float:
    """A number (not a boolean), finite."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise DataError(path, where, name, f"expected a number, got {type(value).__name__} {shown(value)}")
    if not math.isfinite(value):
        raise DataError(path, where, name, f"expected a finite number, got {value!r}")
    return float(value)


def presence(path, records: list[tuple[str, dict]], name: str, *,
             key_only: bool = False) -> tuple[bool, list[tuple[int, DataError]]]:
    """Whether the records have the optional field ``name`` (not null; with ``key_only``, null
    counts as given), as most of them do, and an error for each record (by its index) that does
    otherwise: a field is in every record or in none. A ``BadRecord`` is not counted."""
    have = {i: (name in rec) if key_only else (rec.get(name) is not None)
            for i, (_, rec) in enumerate(records) if not isinstance(rec, BadRecord)}
    n, total = sum(have.values()), len(have)
    if n in (0, total):
        return n > 0, []
    given = 2 * n >= total
    first = records[next(i for i, h in have.items() if h == given)][0]
    if given:
        problem = f"missing, while {n} of the {total} records have it (first at {first})"
    else:
        problem = (f"given here, while {total - n} of the {total} records have none (first at {first}): give it in "
                   f"every record or none")
    return given, [(i, DataError(path, records[i][0], name, problem)) for i, h in have.items() if h != given]


def same_presence(path, records: list[tuple[str, dict]], name: str, *, key_only: bool = False) -> bool:
    """Whether the records have the optional field ``name`` (see ``presence``); it must be in
    all of them or in none: a record without it among records with it (or the other way round)
    is an error naming that record, not a silent default."""
    given, errors = presence(path, records, name, key_only=key_only)
    if errors:
        raise errors[0][1]
    return given


SHIPPED = Path(__file__).resolve().parent / "shipped"  # small real sets shipped with rrmlib: PROVENANCE.md


def given_file(path, source: str) -> Path:
    """A file given as ``path=``, or a FileNotFoundError naming it (for a source's locator)."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{source}: no such file: {path}")
    return Path(path)


def data_root(root, folder: str, *, source: str) -> Path:
    """Where a source's files live: ``root`` if given; else ``<data folder>/<folder>``, the data
    folder being ``$RRM_DATA`` (used whether or not it holds ``<folder>``: a folder asked for is
    not quietly replaced) or the project's ``data/`` where it holds ``<folder>``; else the copy
    shipped with rrmlib (``rrmlib/data/shipped/<folder>``: LLMBar and the Qwen2.5-Math sample).

    Sources that are not on the hub in a loadable form (LLMBar, PandaLM) need a local copy; the
    data folder is laid out as ``llmbar/``, ``pandalm/``, ... so that one setting serves every
    such source.
    """
    if root is not None:
        return Path(root)
    if os.environ.get("RRM_DATA") or (data_dir() / folder).is_dir():
        return data_dir() / folder
    if (SHIPPED / folder).is_dir():
        return SHIPPED / folder
    raise ValueError(f"{source}: no local copy given; pass path= (a file) or root= (a folder holding the "
                     f"{source} files), or set RRM_DATA to a data folder with a {folder}/ subfolder "
                     f"(or put one in {data_dir()})")


def not_found(source: str, what: str, folder: str, root) -> FileNotFoundError:
    """The error for a source's file missing from where ``data_root(root, folder)`` pointed: where
    $RRM_DATA chose the place, the error says so and how to read the shipped copy instead."""
    place = data_root(root, folder, source=source)
    message = f"{source}: {what} not found in {place}"
    if root is None and os.environ.get("RRM_DATA"):
        message += " ($RRM_DATA)"
        if (SHIPPED / folder).is_dir():
            message += f"; unset RRM_DATA to read the copy shipped with rrmlib ({SHIPPED / folder})"
    return FileNotFoundError(message)
