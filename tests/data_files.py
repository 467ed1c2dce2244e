"""Helpers the data tests share: writing rows as a JSON-lines file, and the message a loader's
DataError carries."""
import json

import pytest

from rrmlib.data import DataError


def write_jsonl(path, rows, *, blank_after: int | None = None):
    """``rows`` as JSON lines in ``path`` (UTF-8); a blank line after row ``blank_after``, if given."""
    lines = [json.dumps(r) for r in rows]
    if blank_after is not None:
        lines.insert(blank_after + 1, "")
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def error_of(fn, *args, **kwargs) -> str:
    """The message of the DataError ``fn(*args, **kwargs)`` raises (failing if it raises none)."""
    with pytest.raises(DataError) as e:
        fn(*args, **kwargs)
    return str(e.value)
