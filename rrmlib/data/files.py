"""Reading local JSON, JSONL and parquet files with errors that name file, line and field."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

from rrmlib.data import CandidateSet, DataError, Pair


def read_records(path) -> Iterator[tuple[str, dict]]:
    """Yield ``(where, record)`` for each record; ``where`` is "line N" (JSONL) or "row N"."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(path, f"line {n}", None, f"not valid JSON ({e.msg} at column {e.colno})") from None
                if not isinstance(rec, dict):
                    raise DataError(path, f"line {n}", None, f"expected a JSON object, got {type(rec).__name__}")
                yield f"line {n}", rec
    elif suffix == ".json":
        with open(path, encoding="utf-8") as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise DataError(path, f"line {e.lineno}", None, f"not valid JSON ({e.msg})") from None
        if isinstance(data, dict):  # {"id": record, ...} or {"data": [...]}
            items = data.get("data") if isinstance(data.get("data"), list) else list(data.values())
        else:
            items = data
        if not isinstance(items, list):
            raise DataError(path, None, None, "expected a list of records")
        for n, rec in enumerate(items):
            if not isinstance(rec, dict):
                raise DataError(path, f"row {n}", None, f"expected an object, got {type(rec).__name__}")
            yield f"row {n}", rec
    elif suffix == ".parquet":
        # pyarrow gives plain Python lists for list columns (pandas would give numpy arrays,
        # which the type checks below would reject as "not a list").
        import pyarrow.parquet as pq
        for n, rec in enumerate(pq.read_table(path).to_pylist()):
            yield f"row {n}", rec
    else:
        raise DataError(path, None, None, f"unsupported file type {suffix!r} (use .json, .jsonl or .parquet)")


def field(path, where, rec: dict, name: str, kind=str, *, nonempty: bool = True):
    """``rec[name]`` checked for presence, type and (for strings) non-emptiness."""
    if name not in rec or rec[name] is None:
        raise DataError(path, where, name, "missing")
    value = rec[name]
    if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool) and name in ("id", "idx", "question_id"):
        value = str(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DataError(path, where, name, f"expected {want}, got {type(value).__name__} {value!r:.60}")
    if nonempty and isinstance(value, (str, list)) and not (value.strip() if isinstance(value, str) else value):
        raise DataError(path, where, name, "empty")
    return value


def first_record(path) -> dict | None:
    """The file's first record (to tell its format), or None for an empty file."""
    for _, rec in read_records(path):
        return rec
    return None


def data_root(root, folder: str, *, source: str) -> Path:
    """Where a source's files live: ``root`` if given, else ``$RRM_DATA/<folder>``.

    Sources that are not on the hub in a loadable form (LLMBar, PandaLM) need a local copy;
    RRM_DATA names a data folder laid out as ``llmbar/``, ``pandalm/``, ... so that one
    setting serves every such source.
    """
    if root is not None:
        return Path(root)
    env = os.environ.get("RRM_DATA")
    if env:
        return Path(env) / folder
    raise ValueError(f"{source}: no local copy given; pass path= (a file) or root= (a folder holding the "
                     f"{source} files), or set RRM_DATA to a data folder with a {folder}/ subfolder")


# Formats with their own loader, told apart by the fields of the first record, so that
# ``load_pairs(path)`` / ``load_candidates(path)`` work on these files without naming a source.
def _pair_format(rec: dict) -> str | None:
    if {"output_1", "output_2", "label"} <= rec.keys():
        return "llmbar"
    if {"response1", "response2", "annotator1"} <= rec.keys():
        return "pandalm"
    if "response_1" in rec and "scores" in rec:
        return "ppe"
    return None


def load_pair_file(path, *, fields: dict | None = None, subset: str | None = None, limit: int | None = None) -> list[Pair]:
    """Pairs from a file whose records have ``prompt``, ``chosen``, ``rejected`` (and optional
    ``id``, ``subset``); ``fields`` maps these names to the file's own, e.g.
    ``{"prompt": "question", "chosen": "good", "rejected": "bad"}``.

    Without ``fields``, an LLMBar-shaped file (``output_1``/``output_2``/``label``) or a
    PandaLM-shaped one (``response1``/``response2``/``annotator1..3``) is read by its own loader.
    """
    if fields is None:
        rec = first_record(path)
        kind = _pair_format(rec) if rec is not None else None
        if kind == "llmbar":
            from rrmlib.data.llmbar import read_llmbar
            pairs = read_llmbar(path, subset=subset or Path(path).stem)
            return pairs[:limit] if limit is not None else pairs
        if kind == "pandalm":
            from rrmlib.data.pandalm import read_pandalm
            pairs = read_pandalm(path)
            return pairs[:limit] if limit is not None else pairs
        if kind == "ppe":
            raise DataError(path, None, None, "a PPE Best-of-K file: its pairs depend on the dataset and round; "
                            "load it with load_pairs('mmlu-pro' | 'gpqa' | 'math', path=..., round=...)")
    names = {"id": "id", "prompt": "prompt", "chosen": "chosen", "rejected": "rejected", "subset": "subset"}
    names.update(fields or {})
    pairs, seen = [], {}
    for where, rec in read_records(path):
        pid = str(field(path, where, rec, names["id"])) if names["id"] in rec else str(len(pairs))
        if pid in seen:
            raise DataError(path, where, names["id"], f"duplicate id {pid!r} (first at {seen[pid]})")
        seen[pid] = where
        pairs.append(Pair(
            id=pid,
            prompt=field(path, where, rec, names["prompt"]),
            chosen=field(path, where, rec, names["chosen"]),
            rejected=field(path, where, rec, names["rejected"]),
            subset=str(rec.get(names["subset"]) or subset or Path(path).stem),
        ))
    return pairs[:limit] if limit is not None else pairs


def load_candidate_file(path, *, limit: int | None = None) -> list[CandidateSet]:
    """Candidate sets from records with ``id``, ``prompt``, ``candidates`` (list of str) and
    ``correct`` (list of bool, same length).

    A file in Qwen's math-evaluation format (``question``, ``code``, ``pred``, ``score``) is read
    by its own loader.
    """
    rec = first_record(path)
    if rec is not None and {"code", "score"} <= rec.keys() and "candidates" not in rec:
        from rrmlib.data.qwen_math import read_qwen_math
        return read_qwen_math(path, limit=limit)
    if rec is not None and "response_1" in rec and "scores" in rec:
        raise DataError(path, None, None, "a PPE Best-of-K file: its question text depends on the dataset; "
                        "load it with load_candidates('mmlu-pro' | 'gpqa' | 'math', path=...)")
    sets = []
    for where, rec in read_records(path):
        cands = field(path, where, rec, "candidates", list)
        correct = field(path, where, rec, "correct", list)
        for i, c in enumerate(cands):
            if not isinstance(c, str) or not c.strip():
                raise DataError(path, where, f"candidates[{i}]", "expected a non-empty string")
        if len(correct) != len(cands) or not all(isinstance(c, bool) for c in correct):
            raise DataError(path, where, "correct", f"expected {len(cands)} booleans, one per candidate")
        answers = rec.get("answers")
        if answers is not None and (len(answers) != len(cands) or not all(isinstance(a, str) for a in answers)):
            raise DataError(path, where, "answers", f"expected {len(cands)} strings, one per candidate")
        sets.append(CandidateSet(id=str(field(path, where, rec, "id")), prompt=field(path, where, rec, "prompt"),
                                 candidates=cands, correct=correct, answers=answers))
    return sets[:limit] if limit is not None else sets
