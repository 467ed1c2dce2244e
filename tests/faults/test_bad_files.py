"""Bad files (fault suite, "Bad files"): every accepted input format, corrupted at least 200 ways.

Per format a valid base is written here (no shared data needed), then variants are generated
from it, deterministically (one seeded numpy generator per format): truncated at a random byte,
a field of a wrong type, missing, null or empty, bytes that are not UTF-8 (inside a value and
at a random byte), a 1 MB string, a duplicate id, a label out of range, a key given twice, a
record that is not an object, the file an empty file, a directory, or unreadable.

The oracle for each variant is one of two outcomes, for every loading route of the format:
- a ``DataError`` whose ``path`` is the file (and appears in the message), whose ``where``
  names the row / line / entry the corruption is in (a whole-file defect may name none), and
  whose ``field`` is the corrupted field (or an element of it, ``field[k]``), with a message of
  sane length that can be printed;
- or a load whose result equals, exactly, what a reference reader written here makes of the
  corrupted data, for corruptions that leave a valid file (a JSONL file cut at a line
  boundary is a shorter valid file; a 1 MB string in a text field is text; an empty answer
  where empty answers are data).
Anything else fails: another exception type, a silent load of a bad file, a changed result.
"""
from __future__ import annotations

import copy
import hashlib
import io
import json
import math
import os
import re
import shutil
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rrmlib.data import CandidateSet, DataError, Pair, load_candidates, load_pairs
from rrmlib.data.files import SHIPPED
from rrmlib.data.ppe import read_conflict_pairs, write_conflict_pairs
from rrmlib.data.rrm_records import load_elo_merged_results, load_rrm_bracket, load_rrm_knockout_records

pytestmark = pytest.mark.slow

N_VARIANTS = 210  # per format (at least 200 required)
ANY = "ANY"       # any `where` / `field` accepted (a defect of the whole file)
BIG = ("One MB of text: é, 漢字, 🙂. " * 40000)[: 2 ** 20]  # 1 Mi characters, more bytes
MARK = "@@NOT-UTF8@@"
BAD_BYTES = [b"\xff", b"\xfe\xfe", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80", b"\xf8\x88\x80\x80\x80"]
TEXTS = ["Say hi.", "Résumé: naïve café, 漢字, 🙂 emoji", "What is 2 + 2?", "Line one\nline two",
         'Tabs\tand "quotes" and \\ backslashes', "Capital of France?", "A longer prompt " * 6, "Ω≈ç√∫ – “curly”"]


class Unrepresentable(Exception):
    """A mutation this file format cannot hold (e.g. a parquet column of two types)."""


# --- what a variant must give ------------------------------------------------------------------

@dataclass
class Err:
    paths: frozenset          # file names (in the variant's folder) the error may name
    where: Any = ANY          # ANY, or the set of acceptable `where` values
    fields: Any = ANY         # ANY, or the set of acceptable fields (f also accepts "f[...]")


@dataclass
class Ok:
    expected: dict            # route name -> the exact result


@dataclass
class Spec:
    """How a field may be corrupted, and what each corruption must give ("err" or "ok")."""
    wrong: tuple = ()         # values of a wrong type: err
    labels: tuple = ()        # values out of range: err
    empty: tuple = ()         # ((value, "err" | "ok"), ...)
    missing: str | None = "err"   # the key deleted (or list element removed)
    null: str | None = "err"
    column: str | None = None     # the field deleted from every record (None: as `missing`)
    huge: str | None = None       # a 1 MB string instead ("err" | "ok")
    huge_fn: Any = None           # old value -> the 1 MB value (default: BIG)
    text: bool = False            # bytes that are not UTF-8 inside the value: err
    dup: bool = False             # an id: a copy of an earlier record's value gives err


@dataclass
class Site:
    file: str
    parts: tuple              # keys / indices from the file's top-level value to the field
    where: Any                # acceptable `where` of an error about it
    field: str | None
    spec: Spec
    fields: Any = None        # acceptable error fields (default {field})
    record: tuple | None = None   # parts of the record holding it (for "not an object")
    paths: tuple = ()         # other files an error about it may name (cross-file checks)
    missing_where: Any = None  # `where` when the key is deleted (default: where)
    column_where: Any = None   # `where` when deleted everywhere (default: the first record's)


@dataclass
class Variant:
    kind: str
    target: str
    content: bytes | None
    outcome: Any
    special: str | None = None  # "dir" | "noperm"


TEXT = Spec(wrong=(1, 2.5, True, ["a list"], {"an": "object"}), empty=(("", "err"), ("  \n\t", "err")),
            huge="ok", text=True)
TEXT_OR_EMPTY = replace(TEXT, empty=(("", "ok"), ("   ", "ok")))
ID = Spec(wrong=(2.5, True, ["x"], {"a": 1}), empty=(("", "err"), (" ", "err")), huge="ok", text=True, dup=True)
LIST = Spec(wrong=("a string", 3, {"a": 1}, True), empty=(([], "err"),), huge="err")


def strict_eq(a, b) -> bool:
    """Equal and of the same types all the way down (True is not 1, 1 is not 1.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strict_eq(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(strict_eq(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def get(obj, parts):
    for p in parts:
        obj = obj[p]
    return obj


def put(obj, parts, value):
    get(obj, parts[:-1])[parts[-1]] = value


def delete(obj, parts):
    parent = get(obj, parts[:-1])
    if isinstance(parent, dict):
        del parent[parts[-1]]
    else:
        parent.pop(parts[-1])


# --- serialisers ----------------------------------------------------------------------------------

def jsonl_bytes(records, ensure_ascii=False) -> tuple[bytes, dict]:
    return "".join(json.dumps(r, ensure_ascii=ensure_ascii) + "\n" for r in records).encode("utf-8"), {}


def json_records_bytes(records, ensure_ascii=True) -> tuple[bytes, dict]:
    """One record a line, so that a line tells the row: line n + 2 holds row n."""
    if not isinstance(records, list):
        return (json.dumps(records, ensure_ascii=ensure_ascii) + "\n").encode("utf-8"), {}
    body = ",\n".join(json.dumps(r, ensure_ascii=ensure_ascii) for r in records)
    return f"[\n{body}\n]\n".encode("utf-8"), {n + 2: {f"row {n}"} for n in range(len(records))}


def parquet_bytes(records, schema=None) -> bytes:
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise Unrepresentable
    try:
        table = pa.Table.from_pylist(records, schema=schema)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        raise Unrepresentable from None
    names = table.column_names
    if any(k not in names for r in records for k in r):
        raise Unrepresentable
    buf = io.BytesIO()
    pq.write_table(table, buf)
    back = pq.read_table(io.BytesIO(buf.getvalue())).to_pylist()
    if not strict_eq(back, [{k: r.get(k) for k in names} for r in records]):
        raise Unrepresentable  # pyarrow coerced a value: not the corruption meant
    return buf.getvalue()


def parquet_with_bad_text(records, schema, column, bad: bytes) -> bytes:
    """A parquet file whose string (or list<string>) column holds bytes that are not UTF-8
    where a value holds MARK."""
    table = pa.Table.from_pylist(records, schema=schema)
    i = table.column_names.index(column)
    col = table.column(i).combine_chunks()
    if col.type == pa.string():
        btype = pa.binary()
    elif col.type == pa.list_(pa.string()):
        btype = pa.list_(pa.binary())
    else:
        raise Unrepresentable

    def enc(v):
        if v is None:
            return None
        if isinstance(v, list):
            return [enc(x) for x in v]
        return v.encode("utf-8").replace(MARK.encode(), bad)

    arr = pa.array([enc(v) for v in col.to_pylist()], type=btype).view(col.type)
    table = table.set_column(i, column, arr)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


# --- formats -------------------------------------------------------------------------------------

class Format:
    name: str
    targets: tuple            # the files corrupted (others are written as in the base)
    routes: dict              # route name -> fn(folder) -> result

    def base(self) -> dict: ...
    def kind(self, file) -> str: ...          # "jsonl" | "json" | "parquet"
    def serialize(self, file, obj) -> tuple[bytes, dict]: ...   # bytes, {line: wheres | ANY}
    def sites(self, bundle) -> list[Site]: ...
    def reference(self, bundle) -> dict: ...

    def as_stored(self, bundle):
        return bundle

    def original(self, file):
        """(bytes, locator) of a base read from a real file, or None (the base is serialised)."""
        return None

    def prefix_outcome(self, bundle, file, k):
        """A JSONL target cut after k whole records."""
        short = copy.deepcopy(bundle)
        short[file] = short[file][:k]
        return Ok(self.reference(short))

    def extra(self, rng, bundle) -> list:
        return []


class RecordFormat(Format):
    """A list of records in one file (.jsonl, .json or .parquet)."""
    ensure_ascii = False

    def __init__(self, suffix):
        self.suffix = suffix
        self.file = f"{self.stem}.{suffix}"
        self.targets = (self.file,)
        self.name = f"{self.title} (.{suffix})"
        self._schema = None

    def kind(self, file):
        return self.suffix if file == self.file else "json"

    def where(self, r):
        return {f"row {r} (line {r + 1})"} if self.suffix == "jsonl" else {f"row {r}"}

    def serialize(self, file, obj):
        if file != self.file:
            return self.serialize_other(file, obj)
        if self.suffix == "jsonl":
            return jsonl_bytes(obj, self.ensure_ascii)
        if self.suffix == "json":
            return json_records_bytes(obj, self.ensure_ascii)
        if isinstance(obj, list) and all(isinstance(r, dict) for r in obj):  # a field in no record: no column
            return parquet_bytes(obj, pa.schema([f for f in self.schema if any(f.name in r for r in obj)])), {}
        return parquet_bytes(obj, self.schema), {}

    def as_stored(self, bundle):
        """What the file holds: in parquet, a field missing from some records is a null there."""
        if self.suffix == "parquet":
            names = {k for r in bundle[self.file] for k in r}
            for r in bundle[self.file]:
                for k in names:
                    r.setdefault(k, None)
        return bundle

    def serialize_other(self, file, obj):
        raise AssertionError(file)

    @property
    def schema(self):
        if self._schema is None:
            self._schema = pa.Table.from_pylist(self.base()[self.file]).schema
        return self._schema

    def sites(self, bundle):
        out = []
        for r, rec in enumerate(bundle[self.file]):
            for site in self.record_sites(r, rec):
                out.append(replace(site, file=self.file, record=(r,), column_where=site.column_where or self.where(0)))
        return out

    def site(self, r, parts, spec, **kw):
        name = kw.pop("field", None) or (parts[0] if len(parts) == 1 else f"{parts[0]}[{parts[1]}]")
        return Site(self.file, (r, *parts), self.where(r), name, spec, **kw)


class GenericPairs(RecordFormat):
    stem, title = "pairs", "pair file"

    def __init__(self, suffix):
        super().__init__(suffix)
        self.routes = {"load_pairs": lambda d: load_pairs(d / self.file)}

    def base(self):
        ints = self.suffix == "jsonl"  # int ids in one, string ids in the others
        return {self.file: [{"id": i if ints else f"p{i}", "prompt": TEXTS[i] + f" #{i}", "chosen": f"good answer {i} ✓",
                             "rejected": f"bad answer {i} ✗", "subset": "alpha" if i % 2 else "beta"} for i in range(8)]}

    def record_sites(self, r, rec):
        optional = replace(TEXT, column="ok")
        return [self.site(r, ("id",), replace(ID, column="ok")), self.site(r, ("prompt",), TEXT),
                self.site(r, ("chosen",), TEXT), self.site(r, ("rejected",), TEXT), self.site(r, ("subset",), optional)]

    def reference(self, bundle):
        recs = bundle[self.file]
        has_id = any("id" in r for r in recs)
        has_subset = any("subset" in r for r in recs)
        return {"load_pairs": [Pair(str(r["id"]) if has_id else str(n), r["prompt"], r["chosen"], r["rejected"],
                                    r["subset"] if has_subset else "pairs") for n, r in enumerate(recs)]}


class GenericCandidates(RecordFormat):
    stem, title = "candidates", "candidate file"

    def __init__(self, suffix):
        super().__init__(suffix)
        self.routes = {"load_candidates": lambda d: load_candidates(d / self.file)}

    def base(self):
        mixed = self.suffix != "parquet"  # int and string ids in JSON; one type a parquet column
        return {self.file: [{"id": i if mixed and i % 2 == 0 else f"q{i}", "prompt": TEXTS[i] + f" #{i}",
                             "candidates": [f"answer {i}.{k} é" for k in range(4)],
                             "correct": [k == i % 4 for k in range(4)], "answers": [str(k) for k in range(4)]}
                            for i in range(6)]}

    def record_sites(self, r, rec):
        lengths = {"candidates", "correct", "answers"}
        out = [self.site(r, ("id",), ID), self.site(r, ("prompt",), TEXT),
               self.site(r, ("candidates",), LIST), self.site(r, ("correct",), LIST),
               self.site(r, ("answers",), replace(LIST, column="ok"), fields=lengths)]
        for k in range(4):
            out.append(self.site(r, ("candidates", k), replace(TEXT, wrong=(1, ["x"], True)), fields=lengths))
            out.append(self.site(r, ("correct", k), Spec(wrong=("true", [True], {"b": True}), labels=(2, -1, 0.5, 1, 0),
                                                         empty=(("", "err"),), huge="err"), fields={"correct"}))
            out.append(self.site(r, ("answers", k), replace(TEXT_OR_EMPTY, wrong=(1, True, ["x"])), fields={"answers"}))
        return out

    def reference(self, bundle):
        recs = bundle[self.file]
        has_answers = any("answers" in r for r in recs)
        return {"load_candidates": [CandidateSet(str(r["id"]), r["prompt"], r["candidates"], r["correct"],
                                                 answers=r["answers"] if has_answers else None) for r in recs]}


REWARDBENCH_SUBSETS = ["alpacaeval-easy", "math-prm", "refusals-offensive", "hep-python", "llmbar-natural"]


class RewardBench(RecordFormat):
    stem, title = "filtered", "RewardBench copy"

    def __init__(self, suffix):
        super().__init__(suffix)
        self.routes = {"rewardbench": lambda d: load_pairs("rewardbench", path=d / self.file)}

    def base(self):
        return {self.file: [{"prompt": TEXTS[i], "chosen": f"chosen {i} ✓", "rejected": f"rejected {i}",
                             "chosen_model": "m1", "rejected_model": "m2", "subset": s, "id": 30 + i}
                            for i, s in enumerate(REWARDBENCH_SUBSETS)]}

    def record_sites(self, r, rec):
        subset = Spec(wrong=(1, True, ["math-prm"]), labels=("shp", "Chat", "math_prm", "MATH-PRM"),
                      empty=(("", "err"),), huge="err", text=True)
        return [self.site(r, ("prompt",), TEXT), self.site(r, ("chosen",), TEXT), self.site(r, ("rejected",), TEXT),
                self.site(r, ("subset",), subset), self.site(r, ("id",), ID)]

    def reference(self, bundle):
        return {"rewardbench": [Pair(str(r["id"]), r["prompt"], r["chosen"], r["rejected"], r["subset"])
                                for r in bundle[self.file]]}


K = 32
PPE_TEMPLATE = "Solve the problem; end with \\boxed{{}}.\n<problem>\n{q}"


def ppe_pairs_rows(n, rng):
    """Conflict pairs for rows whose response k is correct iff k is even: one even, one odd."""
    return [[[int(2 * rng.integers(16)), int(2 * rng.integers(16) + 1)][::1 if rng.integers(2) else -1]
             for _ in range(5)] for _ in range(n)]


def ppe_rows(n):
    rows = []
    for r in range(n):
        row = {"question_id": f"q{r}", "model_name": "gpt-4o-mini" if r % 2 else "llama-3-8b",
               "prompt": PPE_TEMPLATE.format(q=f"{TEXTS[r]} What is {r} + 1?"), "scores": [k % 2 == 0 for k in range(K)]}
        row.update({f"response_{k + 1}": f"row {r} response {k}: {'right' if k % 2 == 0 else 'wrong'} é" for k in range(K)})
        rows.append(row)
    return rows


class PPE(RecordFormat):
    stem, title = "ppe-math", "PPE copy"

    def __init__(self, suffix):
        super().__init__(suffix)
        self.pairs_rows = ppe_pairs_rows(4, np.random.default_rng(11))
        self.routes = {
            "candidates": lambda d: load_candidates("math", path=d / self.file),
            "pairs": lambda d: load_pairs("math", path=d / self.file, pairs_file=d / "pairs.json", round=1),
        }

    def base(self):
        return {self.file: ppe_rows(4), "pairs.json": self.pairs_rows}

    def serialize_other(self, file, obj):
        return json.dumps(obj).encode(), {}

    def record_sites(self, r, rec):
        prompt = replace(TEXT, labels=("What is 1 + 1?", "<problem>   "), huge_fn=lambda old: old + BIG)
        extra = Spec(wrong=(2.5, True, ["q"], {"a": 1}), empty=(("", "err"),), null="ok", column="ok", huge="ok",
                     text=True)
        model = replace(extra, empty=(("", "ok"),), wrong=(1, True, ["m"]))
        out = [self.site(r, ("prompt",), prompt), self.site(r, ("question_id",), extra),
               self.site(r, ("model_name",), model), self.site(r, ("scores",), LIST)]
        for k in (0, 5, 17, K - 1):
            out.append(self.site(r, (f"response_{k + 1}",), TEXT))
            out.append(self.site(r, ("scores", k), Spec(wrong=("1", [1], {"s": 1}), labels=(2, -1, 0.5),
                                                        empty=(("", "err"),), huge="err"),
                                 fields={"scores", f"response_{K}"}))
        return out

    def reference(self, bundle):
        rows = bundle[self.file]
        cands, pairs = [], []
        for r, row in enumerate(rows):
            question = row["prompt"].split("<problem>", 1)[1].strip()
            correct = [bool(s) for s in row["scores"]]
            responses = [row[f"response_{k + 1}"] for k in range(K)]
            extra = {"dataset": "MATH", **{c: row[c] for c in ("question_id", "model_name", "category") if c in row}}
            cands.append(CandidateSet(str(r), question, responses, correct, extra=extra))
            i, j = self.pairs_rows[r][0]
            good, bad = (i, j) if correct[i] else (j, i)
            pairs.append(Pair(f"{r}-r1", question, responses[good], responses[bad], "MATH"))
        return {"candidates": cands, "pairs": pairs}


class LLMBar(RecordFormat):
    stem, title = "llmbar-set", "LLMBar file"
    ensure_ascii = True  # as the real files: \u escapes, surrogate pairs for emoji
    subset, route = "Natural", "llmbar"

    def __init__(self):
        super().__init__("json")
        self.routes = {self.route: self.named, "bare path": lambda d: load_pairs(d / self.file)}

    def named(self, d):
        return load_pairs("llmbar", path=d / self.file, subset=self.subset)

    def base(self):
        return {self.file: [{"input": TEXTS[i], "output_1": f"output one {i} 🙂", "output_2": f"output two {i}",
                             "label": 1 + i % 2} for i in range(6)]}

    def record_sites(self, r, rec):
        label = Spec(wrong=("1", 1.0, True, [1], {"v": 1}), labels=(0, 3, -1, 10 ** 12), empty=(("", "err"),),
                     huge="err")
        return [self.site(r, ("input",), TEXT), self.site(r, ("output_1",), TEXT), self.site(r, ("output_2",), TEXT),
                self.site(r, ("label",), label)]

    def pairs(self, recs, subset):
        out = []
        for n, r in enumerate(recs):
            good, bad = (r["output_1"], r["output_2"]) if r["label"] == 1 else (r["output_2"], r["output_1"])
            out.append(Pair(f"{subset}-{n}", r["input"], good, bad, subset))
        return out

    def reference(self, bundle):
        recs = bundle[self.file]
        return {self.route: self.pairs(recs, self.subset), "bare path": self.pairs(recs, self.stem)}


class MTBenchHuman(LLMBar):
    stem, title = "MT-Bench_human", "MT-Bench human file"
    subset, route = "mt-bench-human", "mt-bench-human"

    def __init__(self):
        super().__init__()
        self.name = "MT-Bench human (.json)"
        self.routes = {self.route: lambda d: load_pairs("mt-bench-human", path=d / self.file)}

    def base(self):
        return {self.file: [{"input": f"[turn 1] {TEXTS[i]}\n[turn 2] And then?", "output_1": f"model a answer {i}",
                             "output_2": f"model b answer {i} — ok", "label": 2 - i % 2} for i in range(6)]}

    def reference(self, bundle):
        return {self.route: self.pairs(bundle[self.file], self.subset)}


class PandaLM(RecordFormat):
    stem, title = "testset-v1", "PandaLM file"
    ensure_ascii = False
    VOTES = [(1, 1, 1), (2, 2, 1), (0, 0, 0), (1, 2, 0), (2, 2, 2), (1, 1, 0)]

    def __init__(self):
        super().__init__("json")
        self.routes = {"pandalm": lambda d: load_pairs("pandalm", path=d / self.file),
                       "bare path": lambda d: load_pairs(d / self.file)}

    def base(self):
        recs = []
        for i, votes in enumerate(self.VOTES):
            recs.append({"idx": [0, 157, 466, 3, 998, 12][i], "motivation_app": "Grammarly", "cmp_key": "a_b",
                         "instruction": "" if i == 2 else TEXTS[i], "input": "Truthfulness" if i == 2 else ("" if i % 2 else "some input é"),
                         "response1": True if i == 1 else f"response one {i}", "response2": f"response two {i} 🙂",
                         **{f"annotator{k + 1}": v for k, v in enumerate(votes)}})
        return {self.file: recs}

    def record_sites(self, r, rec):
        both = {"instruction", "input"}
        instruction = replace(TEXT, empty=(("", "ok" if rec["input"].strip() else "err"),))
        inp = replace(TEXT, empty=(("", "ok" if rec["instruction"].strip() else "err"), ("  ", "ok" if rec["instruction"].strip() else "err")))
        response = replace(TEXT_OR_EMPTY, wrong=(1, 2.5, ["x"], {"a": 1}))
        vote = Spec(wrong=("1", 1.0, True, [1]), labels=(3, -1, 10), empty=(("", "err"),), huge="err")
        return [self.site(r, ("idx",), ID), self.site(r, ("instruction",), instruction, fields=both),
                self.site(r, ("input",), inp, fields=both), self.site(r, ("response1",), response),
                self.site(r, ("response2",), response),
                *[self.site(r, (f"annotator{k}",), vote) for k in (1, 2, 3)]]

    def reference(self, bundle):
        pairs = []
        for r in bundle[self.file]:
            votes = [r["annotator1"], r["annotator2"], r["annotator3"]]
            label = next((v for v in (1, 2) if votes.count(v) >= 2), 0)
            r1, r2 = (str(r[k]) if isinstance(r[k], bool) else r[k] for k in ("response1", "response2"))
            prompt = "\n\n".join(p for p in (r["instruction"], r["input"]) if p.strip())
            good, bad = (r2, r1) if label == 2 else (r1, r2)
            pairs.append(Pair(str(r["idx"]), prompt, good, bad, "pandalm", tie=label == 0))
        return {"pandalm": pairs, "bare path": pairs}


def qwen_record(i, samples, seed=0):
    return {"idx": [0, 7, 12, 40, 99][i], "question": f"{TEXTS[i]} Compute {i} × 3?", "gt": str(3 * i), "level": f"Level {i % 5 + 1}",
            "code": [f"Solution {i}.{k}: 3 × {i} = \\boxed{{{3 * i + k % 2}}} é" for k in range(seed, seed + samples)],
            "pred": ["" if (i, k) == (1, 2) else str(3 * i + k % 2) for k in range(seed, seed + samples)],
            "score": [k % 2 == 0 for k in range(seed, seed + samples)],
            "pred_score": [[round(3.5 - 0.25 * k, 4)] for k in range(seed, seed + samples)]}


def qwen_sites(site, r, cross=(), samples=4):
    """Sites of a Qwen record; ``cross``: fields compared across per-seed files."""
    same = {"code", "pred", "score", "pred_score"}
    gt = Spec(wrong=(["1"], {"a": 1}, True), empty=(("", "err"),), huge="ok", text=True, column="ok")
    level = Spec(wrong=(2.5, ["L"], True), empty=(("", "err"),), huge="ok", text=True, column="ok")
    pred_score = Spec(wrong=("3.5", 3.5, {"a": 1}), empty=(([], "err"),), huge="err", column="ok")

    def xs(spec, name):
        if name in cross:  # a changed value in one file differs from the other files'
            return replace(spec, huge="err" if spec.huge else None, column="err" if spec.column else spec.column)
        return spec

    out = [site(r, ("idx",), xs(ID, "idx")), site(r, ("question",), xs(TEXT, "question")), site(r, ("gt",), xs(gt, "gt")),
           site(r, ("level",), xs(level, "level")), site(r, ("code",), LIST, fields=same),
           site(r, ("pred",), replace(LIST, empty=(([], "err"),))), site(r, ("score",), LIST),
           site(r, ("pred_score",), xs(pred_score, "pred_score"))]
    for k in range(samples):
        out += [site(r, ("code", k), replace(TEXT, wrong=(1, ["x"], True)), fields=same),
                site(r, ("pred", k), replace(TEXT_OR_EMPTY, wrong=(1, True, ["x"])), fields={"pred"}),
                site(r, ("score", k), Spec(wrong=("true", [True]), labels=(1, 0, 2, 0.5), empty=(("", "err"),),
                                           huge="err"), fields={"score"}),
                site(r, ("pred_score", k), Spec(wrong=("3.5", [1.0, 2.0], True, {"a": 1}),
                                                labels=(float("nan"), float("inf"), float("-inf")),
                                                empty=(("", "err"),), huge="err"), fields={"pred_score"})]
    return out


def qwen_set(rows: list[list[dict]]) -> list[CandidateSet]:
    """The reference join: rows of each file, the first file's order."""
    out = []
    for r, first in enumerate(rows[0]):
        recs = [file_rows[r] for file_rows in rows]
        has_scores = first.get("pred_score") is not None
        out.append(CandidateSet(
            str(first["idx"]), first["question"], [c for x in recs for c in x["code"]],
            [s for x in recs for s in x["score"]], answers=[p for x in recs for p in x["pred"]],
            scores=[float(s[0] if isinstance(s, list) else s) for x in recs for s in x["pred_score"]] if has_scores else None,
            extra={"gt": first.get("gt"), "level": first.get("level")}))
    return out


class QwenSingle(RecordFormat):
    stem, title = "math_cot", "Qwen math file"

    def __init__(self):
        super().__init__("jsonl")
        self.routes = {"qwen-math": lambda d: load_candidates("qwen-math", path=d / self.file),
                       "bare path": lambda d: load_candidates(d / self.file)}

    def base(self):
        return {self.file: [qwen_record(i, 4) for i in range(5)]}

    def record_sites(self, r, rec):
        return qwen_sites(self.site, r, samples=len(rec["code"]))

    def reference(self, bundle):
        sets = qwen_set([bundle[self.file]])
        return {"qwen-math": sets, "bare path": sets}


CROSS = ("idx", "question", "gt", "level", "pred_score")  # compared across per-seed files


class QwenPerSeed(Format):
    name = "Qwen math per-seed files (.jsonl x3)"
    files = tuple(f"test_qwen25-math-cot_-1_seed{k}_t0.6.jsonl" for k in range(3))
    targets = files

    def __init__(self):
        self.routes = {"qwen-math": lambda d: load_candidates("qwen-math", path=[d / f for f in self.files])}

    def kind(self, file):
        return "jsonl"

    def base(self):
        return {f: [qwen_record(i, 1, seed=k) for i in range(4)] for k, f in enumerate(self.files)}

    def serialize(self, file, obj):
        return jsonl_bytes(obj)

    def sites(self, bundle):
        out = []
        for k, f in enumerate(self.files):
            other = (self.files[1],) if k == 0 else ()

            def site(r, parts, spec, f=f, other=other, **kw):
                name = kw.pop("field", None) or (parts[0] if len(parts) == 1 else f"{parts[0]}[{parts[1]}]")
                cross = parts[0] in CROSS
                return Site(f, (r, *parts), {f"row {r} (line {r + 1})"}, name, spec, record=(r,),
                            paths=other if cross else (), column_where={"row 0 (line 1)"}, **kw)

            for r in range(len(bundle[f])):
                out += qwen_sites(site, r, cross=CROSS, samples=1)
        return out

    def reference(self, bundle):
        return {"qwen-math": qwen_set([bundle[f] for f in self.files])}

    def as_stored(self, bundle):
        return bundle

    def original(self, file):
        """(bytes, locator) of a base read from a real file, or None (the base is serialised)."""
        return None

    def prefix_outcome(self, bundle, file, k):
        # A per-seed file cut at a line boundary holds fewer problems than the others.
        return Err(frozenset(self.files), ANY, {"idx"})


class ConflictPairs(Format):
    """The paper's shape: a list of rows of five [i, j] pairs."""
    name = "conflict pairs, paper shape (.json)"
    file = "pairs.json"
    targets = (file,)
    n_rows = 6

    def __init__(self):
        self.rows = ppe_pairs_rows(self.n_rows, np.random.default_rng(5))
        self.routes = {"read_conflict_pairs": self.read,
                       "load_pairs": lambda d: load_pairs("math", path=d / "ppe.jsonl", pairs_file=d / self.file,
                                                          round=2)}

    def read(self, d):
        return read_conflict_pairs(d / self.file)

    def kind(self, file):
        return "json"

    def base(self):
        return {self.file: copy.deepcopy(self.rows), "ppe.jsonl": ppe_rows(self.n_rows)}

    def serialize(self, file, obj):
        if file == "ppe.jsonl":
            return jsonl_bytes(obj)
        return (json.dumps(obj, indent=2) + "\n").encode(), {}

    def rows_of(self, obj):
        return obj

    def row_sites(self, prefix, rows):
        out = []
        for r, row in enumerate(rows):
            where = {f"row {r}"}
            out.append(Site(self.file, (*prefix, r), where, None,
                            Spec(wrong=("row", 5, {"a": 1}), empty=(([], "err"),), missing=None, huge="err"),
                            fields={None}))
            for k, (i, j) in enumerate(row):
                name = f"round {k + 1}"
                out.append(Site(self.file, (*prefix, r, k), where, name,
                                Spec(wrong=("0, 1", 1, {"i": 0}, True, [0.5, 1], [True, 1]),
                                     labels=([0, 32], [-1, 3], [10 ** 9, 1], [4, 4]), empty=(([], "err"),), huge="err"),
                                fields={name, None}))
                for e, (x, other) in enumerate(((i, j), (j, i))):
                    out.append(Site(self.file, (*prefix, r, k, e), where, name,
                                    Spec(wrong=("3", 3.0, True, [3]), labels=(32, -1, 33, 2 ** 40, other),
                                         empty=(("", "err"),), huge="err")))
        return out

    def sites(self, bundle):
        return self.row_sites((), bundle[self.file])

    def reference(self, bundle):
        rows = self.rows_of(bundle[self.file])
        out = [[tuple(p) for p in row] for row in rows]
        pairs = []
        for r, (row, ppe) in enumerate(zip(rows, bundle["ppe.jsonl"])):
            i, j = row[1]
            good, bad = (i, j) if i % 2 == 0 else (j, i)
            q = ppe["prompt"].split("<problem>", 1)[1].strip()
            pairs.append(Pair(f"{r}-r2", q, ppe[f"response_{good + 1}"], ppe[f"response_{bad + 1}"], "MATH"))
        return {"read_conflict_pairs": out, "load_pairs": pairs}


class BuilderPairs(ConflictPairs):
    """The builder's shape: a header and ``pairs``, one row a line (write_conflict_pairs)."""
    name = "conflict pairs, builder shape (.json)"
    HEAD = {"dataset": "MATH", "source": "ppe-math.jsonl", "split": "train", "seed": 3}

    def read(self, d):
        return read_conflict_pairs(d / self.file, dataset="MATH")

    def base(self):
        return {self.file: {**self.HEAD, "rounds": 5, "pairs": copy.deepcopy(self.rows)}, "ppe.jsonl": ppe_rows(self.n_rows)}

    def serialize(self, file, obj):
        if file == "ppe.jsonl" or not isinstance(obj, dict) or not isinstance(obj.get("pairs"), list):
            return super().serialize(file, obj)
        head = [f" {json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}," for k, v in obj.items()
                if k != "pairs"]
        body = ",\n".join(" " + json.dumps(row) for row in obj["pairs"])
        lines = ["{", *head, ' "pairs": [', body, " ]", "}"]
        return ("\n".join(lines) + "\n").encode("utf-8"), {n + 2: ANY for n in range(len(head))}

    def rows_of(self, obj):
        return obj["pairs"]

    def sites(self, bundle):
        text = replace(TEXT, huge="ok")
        out = [Site(self.file, ("dataset",), {None}, "dataset",
                    Spec(wrong=(1, ["MATH"], True), labels=("MMLU", "math", "GPQA"), empty=(("", "err"),), huge="err",
                         text=True)),
               Site(self.file, ("source",), {None}, "source", text), Site(self.file, ("split",), {None}, "split", text),
               Site(self.file, ("seed",), {None}, "seed", Spec(wrong=("3", 3.5, True, [3]), empty=(("", "err"),), huge="err")),
               Site(self.file, ("rounds",), {None}, "rounds",
                    Spec(wrong=("5", 5.0, True), labels=(4, 6, 0, -5), empty=(("", "err"),), huge="err")),
               Site(self.file, ("pairs",), {None}, "pairs", Spec(wrong=("rows", 5, {"a": 1}), empty=(([], "err"),), huge="err"))]
        return out + self.row_sites(("pairs",), bundle[self.file]["pairs"])


ROUNDS = ("first", "second", "third", "fourth", "fifth")


class KnockoutFolder(Format):
    name = "knockout records folder (tournament.json + 5 round files)"
    round_files = tuple(f"7b_tournament_{r}_round_voting_results.json" for r in ROUNDS)
    targets = ("tournament.json", *round_files)
    Q = 3

    def __init__(self):
        self.routes = {"load": lambda d: (load_rrm_bracket(d), load_rrm_knockout_records(d, "7b"))}

    def kind(self, file):
        return "json"

    def base(self):
        rng = np.random.default_rng(7)
        bracket = [int(x) for x in rng.permutation(32)]
        groups = [bracket[2 * s: 2 * s + 2] for s in range(16)]
        bundle = {"tournament.json": {}}
        k = 1
        while True:
            bundle["tournament.json"][f"round_{k}"] = groups
            if len(groups) == 1:
                break
            groups = [groups[g] + groups[g + 1] for g in range(0, len(groups), 2)]
            k += 1
        alive = {q: bracket[:] for q in range(self.Q)}
        for k, file in enumerate(self.round_files, 1):
            slots, winners = {}, {q: [] for q in range(self.Q)}
            for s in range(32 >> k):
                entries = []
                for q in range(self.Q):
                    a, b = alive[q][2 * s], alive[q][2 * s + 1]
                    w = a if rng.integers(2) == 0 else b
                    winners[q].append(w)
                    entries.append({"question_id": q, "rival_1": a, "rival_2": b, "winner": w,
                                    "pred": "Assistant 1" if w == a else "Assistant 2"})
                slots[s] = entries + copy.deepcopy(entries)  # each question listed twice, as the paper's
            alive = winners
            bundle[file] = {str(s): slots[s] for s in sorted(range(32 >> k), key=str)}
        return bundle

    def serialize(self, file, obj):
        if file == "tournament.json" or not isinstance(obj, dict) or not all(isinstance(v, list) for v in obj.values()):
            text = json.dumps(obj, indent=4) + "\n"
            return text.encode(), {n: ANY for n, line in enumerate(text.split("\n"), 1) if '"' in line}
        lines, linemap = ["{"], {}
        for n, (key, entries) in enumerate(obj.items()):
            lines.append(f"{json.dumps(key)}: [")
            linemap[len(lines)] = ANY
            for i, e in enumerate(entries):
                lines.append(json.dumps(e, ensure_ascii=False) + ("," if i < len(entries) - 1 else ""))
                linemap[len(lines)] = {f"slot {key!r}, entry {i}"}
            lines.append("]" + ("," if n < len(obj) - 1 else ""))
        lines.append("}")
        return ("\n".join(lines) + "\n").encode("utf-8"), linemap

    def sites(self, bundle):
        out = []
        t = bundle["tournament.json"]
        for name, groups in t.items():
            out.append(Site("tournament.json", (name,), {None}, name,
                            Spec(wrong=("groups", 5, {"a": 1}), empty=(([], "err"),), huge="err")))
            for g, group in enumerate(groups):
                where = {f"pair {g}"} if name == "round_1" else {f"group {g}", None}
                out.append(Site("tournament.json", (name, g), where, name,
                                Spec(wrong=("3,7", 3, {"a": 1}, True), labels=([0, 64], [-1, 2]) if name == "round_1" else ([99],),
                                     empty=(([], "err"),), huge="err"), missing_where=ANY))
                for e, x in enumerate(group):
                    out.append(Site("tournament.json", (name, g, e), where, name,
                                    Spec(wrong=("3", 3.0, True, [3]), labels=(32, -1, 64), empty=(("", "err"),),
                                         huge="err", dup=name == "round_1"), missing_where=ANY))
        for file in self.round_files:
            for key, entries in bundle[file].items():
                out.append(Site(file, (key,), {f"slot {key!r}"}, None,
                                Spec(wrong=("entries", 5, {"a": 1}), empty=(([], "err"),), huge="err"), fields={None}))
                for i, e in enumerate(entries):
                    where = {f"slot {key!r}, entry {i}"}
                    a, b, w = e["rival_1"], e["rival_2"], e["winner"]
                    number = dict(wrong=("3", 3.0, True, [3]), empty=(("", "err"),), huge="err")
                    non_rival = next(x for x in range(32) if x not in (a, b))
                    for name, labels in (("question_id", (-1,)), ("rival_1", (32, -1, 10 ** 9, b)),
                                         ("rival_2", (32, -1, 10 ** 9, a)), ("winner", (32, -1, non_rival))):
                        rivals = {"rival_1", "rival_2"} if name.startswith("rival") else None
                        out.append(Site(file, (key, i, name), where, name, Spec(labels=labels, **number), record=(key, i),
                                        fields=rivals))
                    out.append(Site(file, (key, i, "pred"), where, "pred",
                                    replace(TEXT_OR_EMPTY, wrong=(1, True, ["x"], {"a": 1})), record=(key, i)))
        return out

    def reference(self, bundle):
        bracket = [e for pair in bundle["tournament.json"]["round_1"] for e in pair]
        records = {}
        for file in self.round_files:
            for entries in bundle[file].values():
                for e in entries:
                    records.setdefault(e["question_id"], {})[(e["rival_1"], e["rival_2"])] = e["winner"]
        return {"load": (bracket, records)}

    n_duplicates = 40

    def extra(self, rng, bundle):
        """Duplicate ids: an entry's question_id set to another question's. Where that question's
        entries in the slot agree with it (same pair, same winner: the records do not change), a
        valid file; else the conflict names the entry or its partner."""
        out = []
        for _ in range(self.n_duplicates):
            file = self.round_files[rng.integers(len(self.round_files))]
            new = dict(bundle)
            new[file] = copy.deepcopy(bundle[file])
            key = list(new[file])[rng.integers(len(new[file]))]
            entries = new[file][key]
            i = int(rng.integers(len(entries)))
            q = entries[i]["question_id"]
            q2 = int((q + 1 + rng.integers(self.Q - 1)) % self.Q) if self.Q > 1 else q
            entries[i]["question_id"] = q2
            match = (entries[i]["rival_1"], entries[i]["rival_2"], entries[i]["winner"])
            partners = [j for j, e in enumerate(entries) if e["question_id"] == q2 and j != i]
            if all((entries[j]["rival_1"], entries[j]["rival_2"], entries[j]["winner"]) == match for j in partners):
                outcome = Ok(self.reference(bundle))
            else:
                outcome = Err(frozenset([file]), {f"slot {key!r}, entry {j}" for j in [i, *partners]},
                              {"question_id", "winner", "rival_1", "rival_2"})
            out.append(Variant("duplicate id", file, self.serialize(file, new[file])[0], outcome))
        return out


class EloMerged(Format):
    name = "merged ELO results (.json)"
    file = "7b_merged_results.json"
    targets = (file,)

    def __init__(self):
        self.routes = {"load": lambda d: load_elo_merged_results(d / self.file)}

    def kind(self, file):
        return "json"

    def base(self):
        rng = np.random.default_rng(3)
        blocks = {}
        for q in range(4):
            for i in range(4):
                for j in range(i + 1, 4):
                    a, b = (i, j) if rng.integers(2) else (j, i)
                    v = int(rng.integers(3))
                    w, pred = [(a, "Assistant1"), (b, "Assistant2"), (-1, "")][v]
                    blocks.setdefault(str(i), {"details": []})["details"].append(
                        {"question_id": q, "rival_1": a, "rival_2": b, "winner": w, "pred": pred,
                         "score": [True, False, None][int(rng.integers(3))]})
        return {self.file: blocks}

    def serialize(self, file, obj):
        if not isinstance(obj, dict) or not all(isinstance(b, dict) and isinstance(b.get("details"), list)
                                                and len(b) == 1 for b in obj.values()):
            text = json.dumps(obj, indent=1, ensure_ascii=False) + "\n"
            return text.encode("utf-8"), {n: ANY for n in range(1, text.count("\n") + 2)}
        lines, linemap = ["{"], {}
        for n, (key, block) in enumerate(obj.items()):
            lines.append(f'{json.dumps(key)}: {{"details": [')
            linemap[len(lines)] = ANY
            for i, e in enumerate(block["details"]):
                lines.append(json.dumps(e, ensure_ascii=False) + ("," if i < len(block["details"]) - 1 else ""))
                linemap[len(lines)] = {f"block {key!r}, entry {i}"}
            lines.append("]}" + ("," if n < len(obj) - 1 else ""))
        lines.append("}")
        return ("\n".join(lines) + "\n").encode("utf-8"), linemap

    def sites(self, bundle):
        out = []
        for key, block in bundle[self.file].items():
            out.append(Site(self.file, (key,), {f"block {key!r}"}, None,
                            Spec(wrong=("b", 5, ["x"]), empty=(({}, "err"),), missing=None, huge="err"),
                            fields={None, "details"}))
            out.append(Site(self.file, (key, "details"), {f"block {key!r}"}, "details", LIST))
            for i, e in enumerate(block["details"]):
                where = {f"block {key!r}, entry {i}"}
                a, b = e["rival_1"], e["rival_2"]
                number = dict(wrong=("1", 1.5, True, [1]), empty=(("", "err"),), huge="err")
                site = lambda name, spec: Site(self.file, (key, "details", i, name), where, name, spec,  # noqa: E731
                                               record=(key, "details", i),
                                               fields={"rival_1", "rival_2"} if name.startswith("rival") else None)
                out += [site("question_id", Spec(wrong=("0", 0.5, True, [0], {"q": 0}), empty=(("", "err"),), huge="err")),
                        site("rival_1", Spec(labels=(-1, -7, b), **number)),
                        site("rival_2", Spec(labels=(-1, -7, a), **number)),
                        site("winner", Spec(labels=(99, -2, next(x for x in range(4) if x not in (a, b))), null="ok",
                                            **number)),
                        site("pred", replace(TEXT_OR_EMPTY, wrong=(1, True, ["x"]))),
                        site("score", Spec(wrong=("yes", 0.5, [True], {"a": 1}), labels=(2, -1), null="ok",
                                           column="ok", empty=(("", "err"),), huge="err"))]
        return out

    def reference(self, bundle):
        rows = [e for block in bundle[self.file].values() for e in block["details"]]
        records = []
        for e in rows:
            w = e["winner"] if e["winner"] in (e["rival_1"], e["rival_2"]) else None
            rec = {"question": e["question_id"], "a": e["rival_1"], "b": e["rival_2"], "winner": w, "pred": e["pred"]}
            if "score" in e:
                rec["score"] = e["score"]
            records.append(rec)
        return {"load": records}

    def extra(self, rng, bundle):
        """Duplicate ids: a match (question, rival_1, rival_2, winner) listed again in place of
        a later entry."""
        out = []
        flat = [(key, i) for key, block in bundle[self.file].items() for i in range(len(block["details"]))]
        for _ in range(30):
            x, y = sorted(rng.choice(len(flat), 2, replace=False))
            (k1, i1), (k2, i2) = flat[x], flat[y]
            new = copy.deepcopy(bundle)
            src, dst = new[self.file][k1]["details"][i1], new[self.file][k2]["details"][i2]
            dst.update({f: src[f] for f in ("question_id", "rival_1", "rival_2", "winner")})
            out.append(Variant("duplicate id", self.file, self.serialize(self.file, new[self.file])[0],
                               Err(frozenset([self.file]), {f"block {k2!r}, entry {i2}"},
                                   {"question_id", "rival_1", "rival_2"})))
        return out


FORMATS = [GenericPairs("jsonl"), GenericPairs("json"), GenericPairs("parquet"),
           GenericCandidates("jsonl"), GenericCandidates("json"), GenericCandidates("parquet"),
           RewardBench("jsonl"), RewardBench("parquet"), PPE("jsonl"), PPE("parquet"),
           ConflictPairs(), BuilderPairs(), LLMBar(), MTBenchHuman(), PandaLM(), QwenSingle(), QwenPerSeed(),
           KnockoutFolder(), EloMerged()]


# --- the variants ---------------------------------------------------------------------------------

def err_at(site: Site, where=None, fields=None, paths=()) -> Err:
    return Err(frozenset([site.file, *site.paths, *paths]), site.where if where is None else where,
               fields if fields is not None else (site.fields if site.fields is not None else {site.field}))


class Maker:
    """Makes the variants of one format."""

    def __init__(self, fmt: Format, rng):
        self.fmt, self.rng = fmt, rng
        self.base = fmt.base()
        self.serial = {f: fmt.original(f) or fmt.serialize(f, obj) for f, obj in self.base.items()}
        self.sites = fmt.sites(self.base)

    def copied(self, file) -> dict:
        """The base with its own copy of ``file``'s value (the other files are not changed)."""
        bundle = dict(self.base)
        bundle[file] = copy.deepcopy(self.base[file])
        return bundle

    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))] if seq else None

    def outcome(self, site, tag, bundle, **kw):
        return err_at(site, **kw) if tag == "err" else Ok(self.fmt.reference(self.fmt.as_stored(bundle)))

    def data(self, kind, site, change, tag, **kw) -> Variant | None:
        bundle = self.copied(site.file)
        change(bundle[site.file])
        try:
            content = self.fmt.serialize(site.file, bundle[site.file])[0]
        except Unrepresentable:
            return None
        return Variant(kind, site.file, content, self.outcome(site, tag, bundle, **kw))

    def column_wide(self, kind, site, value) -> Variant | None:
        """Parquet holds one type a column: the value in every row, the first row reports it."""
        bundle = self.copied(site.file)
        for rec in bundle[site.file]:
            put(rec, site.parts[1:], copy.deepcopy(value))
        try:
            content = parquet_bytes(bundle[site.file])
        except Unrepresentable:
            return None
        return Variant(kind, site.file, content, err_at(site, where={"row 0"}))

    def set_value(self, kind, values, tag="err"):
        sites = [s for s in self.sites if getattr(s.spec, values)]
        if not sites:
            return None
        site = self.pick(sites)
        options = getattr(site.spec, values)
        value = self.pick(list(options))
        if values == "empty":
            value, tag = value
        v = self.data(kind, site, lambda obj: put(obj, site.parts, copy.deepcopy(value)), tag)
        if v is None and self.fmt.kind(site.file) == "parquet" and tag == "err":
            v = self.column_wide(kind, site, value)
        return v

    # each returns a Variant or None (not applicable this time)
    def wrong_type(self):
        return self.set_value("wrong type", "wrong")

    def label(self):
        return self.set_value("label out of range", "labels")

    def empty_value(self):
        return self.set_value("empty value", "empty")

    def missing(self):
        site = self.pick([s for s in self.sites if s.spec.missing])
        if site is None:
            return None
        tag = site.spec.missing
        if self.fmt.kind(site.file) == "parquet" and isinstance(site.parts[-1], str):
            tag = site.spec.null  # a value missing from one row of a parquet column is a null
        if tag is None:
            return None
        return self.data("missing field", site, lambda obj: delete(obj, site.parts), tag, where=site.missing_where)

    def null(self):
        site = self.pick([s for s in self.sites if s.spec.null])
        if site is None:
            return None
        return self.data("null", site, lambda obj: put(obj, site.parts, None), site.spec.null)

    def missing_everywhere(self):
        """The field deleted from every record of the file."""
        sites = [s for s in self.sites if s.record is not None and len(s.parts) == len(s.record) + 1
                 and isinstance(s.parts[-1], str)]
        if not sites:
            return None
        site = self.pick(sites)
        tag = site.spec.column or site.spec.missing
        if tag is None:
            return None
        bundle = self.copied(site.file)
        holders = [get(bundle[site.file], s.record) for s in self.sites
                   if s.file == site.file and s.record is not None and s.parts == (*s.record, site.parts[-1])]
        for rec in holders:
            rec.pop(site.parts[-1], None)
        try:
            content = self.fmt.serialize(site.file, bundle[site.file])[0]
        except Unrepresentable:
            return None
        if tag == "ok":
            return Variant("missing field (every record)", site.file, content,
                           Ok(self.fmt.reference(self.fmt.as_stored(bundle))))
        return Variant("missing field (every record)", site.file, content,
                       err_at(site, where=site.column_where or ANY))

    def huge(self):
        site = self.pick([s for s in self.sites if s.spec.huge])
        if site is None:
            return None
        fn = site.spec.huge_fn or (lambda old: BIG)
        return self.data("1 MB string", site, lambda obj: put(obj, site.parts, fn(get(obj, site.parts))), site.spec.huge)

    def duplicate_id(self):
        sites = [s for s in self.sites if s.spec.dup]
        if not sites:
            return None
        site = self.pick(sites)
        earlier = [s for s in sites if s.file == site.file and s.field == site.field and s.parts < site.parts]
        if not earlier:
            return None
        source = self.pick(earlier)
        value = get(self.base[site.file], source.parts)
        return self.data("duplicate id", site, lambda obj: put(obj, site.parts, copy.deepcopy(value)), "err")

    def bad_text_in_value(self):
        sites = [s for s in self.sites if s.spec.text and isinstance(get(self.base[s.file], s.parts), str)]
        if not sites:
            return None
        site = self.pick(sites)
        bad = self.pick(BAD_BYTES)
        bundle = self.copied(site.file)
        old = get(bundle[site.file], site.parts)
        cut = int(self.rng.integers(len(old) + 1))
        put(bundle[site.file], site.parts, old[:cut] + MARK + old[cut:])
        if self.fmt.kind(site.file) == "parquet":
            try:
                content = parquet_with_bad_text(bundle[site.file], self.fmt.schema, site.parts[1], bad)
            except Unrepresentable:
                return None
        else:
            content = self.fmt.serialize(site.file, bundle[site.file])[0].replace(MARK.encode(), bad)
        return Variant("invalid UTF-8 in a value", site.file, content, err_at(site))

    def repeated_key(self):
        sites = [s for s in self.sites if isinstance(s.parts[-1], str) and s.parts[-1] in get(self.base[s.file], s.parts[:-1])]
        site = self.pick(sites)
        if site is None:
            return None
        key = site.parts[-1]
        if self.fmt.kind(site.file) == "parquet":
            table = pa.Table.from_pylist(self.base[site.file], schema=self.fmt.schema)
            table = table.append_column(key, table.column(key))
            buf = io.BytesIO()
            pq.write_table(table, buf)
            return Variant("key given twice", site.file, buf.getvalue(), err_at(site, where=ANY))
        bundle = self.copied(site.file)
        orig = get(bundle[site.file], site.parts)
        put(bundle[site.file], site.parts, "@@REPEATED@@")
        data, _ = self.fmt.serialize(site.file, bundle[site.file])
        text = data.decode("utf-8")
        pattern = f'{json.dumps(key, ensure_ascii=False)}: "@@REPEATED@@"'
        if text.count(pattern) != 1:
            pattern = f'{json.dumps(key)}: "@@REPEATED@@"'
            if text.count(pattern) != 1:
                return None
        other = self.pick([x for x in (0, "other", None, [1], "") if not strict_eq(x, orig)])
        dupe = f"{json.dumps(key)}: {json.dumps(other)}, {json.dumps(key)}: {json.dumps(orig, ensure_ascii=False)}"
        return Variant("key given twice", site.file, text.replace(pattern, dupe).encode("utf-8"),
                       err_at(site, fields={key, site.field, *(site.fields or ())}))

    def not_an_object(self):
        sites = [s for s in self.sites if s.record is not None and self.fmt.kind(s.file) != "parquet"]
        if not sites:
            return None
        site = self.pick(sites)
        value = self.pick([["a", "list"], "text", 42, None, True])
        return self.data("record not an object", site, lambda obj: put(obj, site.record, value), "err", fields=ANY)

    def truncate(self):
        file = self.pick(list(self.fmt.targets))
        data, _ = self.serial[file]
        b = int(self.rng.integers(len(data)))
        prefix = data[:b]
        kind = self.fmt.kind(file)
        whole = Err(frozenset([file]))
        if not prefix.strip():
            outcome = whole
        elif kind == "parquet":
            outcome = whole
        elif kind == "json":
            last = prefix.count(b"\n") + 1
            outcome = (Ok(self.fmt.reference(self.base)) if prefix.strip() == data.strip()
                       else Err(frozenset([file]), {f"line {last}"}, {None}))
        else:
            done = prefix.count(b"\n")
            partial = prefix[prefix.rfind(b"\n") + 1:]
            lines = data.split(b"\n")
            if not partial.strip():
                k = done
            elif partial == lines[done]:
                k = done + 1
            else:
                k = None
            outcome = (self.fmt.prefix_outcome(self.base, file, k) if k else
                       Err(frozenset([file]), {f"row {done} (line {done + 1})"}, {None}))
        return Variant(f"truncated ({'at a line end' if isinstance(outcome, Ok) else 'mid-record'})", file, prefix, outcome)

    def bad_bytes_anywhere(self):
        files = [f for f in self.fmt.targets if self.fmt.kind(f) != "parquet"]
        if not files:
            return None
        file = self.pick(files)
        data, linemap = self.serial[file]
        at = int(self.rng.integers(len(data) + 1))
        content = data[:at] + self.pick(BAD_BYTES) + data[at:]
        try:
            content.decode("utf-8")
            return None  # happened to make valid UTF-8: not this corruption
        except UnicodeDecodeError:
            pass
        line = data[:at].count(b"\n") + 1
        extra = linemap(at) if callable(linemap) else linemap.get(line, set())
        # a JSONL file's records are one a line, without blank lines: line n holds row n - 1
        at_line = f"row {line - 1} (line {line})" if self.fmt.kind(file) == "jsonl" else f"line {line}"
        where = ANY if extra == ANY else {at_line, *extra}
        return Variant("invalid UTF-8 at a random byte", file, content, Err(frozenset([file]), where, ANY))

    def whole_file(self):
        file = self.pick(list(self.fmt.targets))
        choice = int(self.rng.integers(4))
        whole = Err(frozenset([file]))
        if choice == 0:
            return Variant("a directory", file, None, whole, special="dir")
        if choice == 1:
            return Variant("no read permission", file, self.serial[file][0], whole, special="noperm")
        if self.fmt.kind(file) == "parquet":
            contents = [b"", pq_empty(self.fmt.schema), b"PAR1 not really", b'{"prompt": "a json file"}\n']
        else:
            contents = [b"", b"\n  \n\t\n", b"[]\n", b"{}\n", b"null\n", b"42\n", b'"text"\n', b"\xef\xbb\xbf[]"]
        return Variant("empty or wrong file", file, self.pick(contents), whole)

    KINDS = ["truncate", "wrong_type", "missing", "null", "empty_value", "bad_text_in_value", "huge", "label",
             "duplicate_id", "truncate", "whole_file", "repeated_key", "bad_bytes_anywhere", "not_an_object",
             "missing_everywhere", "wrong_type", "label", "truncate", "missing", "bad_bytes_anywhere"]

    def variants(self, n: int) -> list[Variant]:
        out, seen = [], set()
        for v in self.fmt.extra(self.rng, self.base):
            key = (v.target, v.special, hashlib.sha1(v.content or b"").hexdigest())
            if key not in seen:
                seen.add(key)
                out.append(v)
        attempts = 0
        while len(out) < n and attempts < 50 * n:
            kind = self.KINDS[attempts % len(self.KINDS)]
            attempts += 1
            v = getattr(self, kind)()
            if v is None:
                continue
            key = (v.target, v.special, hashlib.sha1(v.content or b"").hexdigest())
            if key in seen or (v.special is None and v.content == self.serial[v.target][0]):
                continue  # the same variant again, or no corruption at all
            seen.add(key)
            out.append(v)
        return out


def pq_empty(schema) -> bytes:
    buf = io.BytesIO()
    pq.write_table(schema.empty_table(), buf)
    return buf.getvalue()


# --- running one variant --------------------------------------------------------------------------

NOBODY = 65534


def as_unprivileged(fn):
    """Root reads any file whatever its mode: drop the effective uid while loading, so that the
    permission is really refused (and restore it, whatever happens)."""
    if os.geteuid() != 0:
        return fn()
    os.seteuid(NOBODY)
    try:
        return fn()
    finally:
        os.seteuid(0)


def can_drop_root() -> bool:
    if os.geteuid() != 0:
        return True
    try:
        os.seteuid(NOBODY)
    except OSError:
        return False
    os.seteuid(0)
    return True


def same(got, want) -> bool:
    if hasattr(got, "to_dict") and hasattr(got, "columns"):  # the merged ELO results
        return list(got.columns) == list(want[0].keys()) and got.to_dict("records") == want
    return got == want


def check(fmt: Format, v: Variant, folder: Path) -> tuple[str, str | None]:
    """("error" | "valid", a failure or None)."""
    outcomes = set()
    for route, load in fmt.routes.items():
        try:
            got = as_unprivileged(lambda: load(folder)) if v.special == "noperm" else load(folder)
        except DataError as e:
            outcomes.add("error")
            msg = str(e)
            if isinstance(v.outcome, Ok):
                return "error", f"{route}: DataError on a valid file: {msg[:300]}"
            want = v.outcome
            paths = {str(folder / p) for p in want.paths}
            problems = []
            if e.path not in paths:
                problems.append(f"names {e.path!r}, expected one of {sorted(paths)}")
            if e.path not in msg:
                problems.append("the message does not name the file")
            if want.where != ANY and e.where not in want.where:
                problems.append(f"where {e.where!r}, expected one of {sorted(map(str, want.where))}")
            if want.fields != ANY and not any(e.field == f or (f and (e.field or "").startswith(f + "["))
                                              for f in want.fields):
                problems.append(f"field {e.field!r}, expected one of {sorted(map(str, want.fields))}")
            if len(msg) > len(e.path) + 600:
                problems.append(f"message of {len(msg)} characters")
            try:
                msg.encode("utf-8")
            except UnicodeEncodeError:
                problems.append("message cannot be printed (lone surrogates)")
            if problems:
                return "error", f"{route}: " + "; ".join(problems) + f" -- {msg[:300]}"
            continue
        except Exception as e:  # noqa: BLE001 - anything but DataError is the failure looked for
            return "error", f"{route}: {type(e).__name__} escaped: {str(e)[:300]}"
        outcomes.add("valid")
        if isinstance(v.outcome, Err):
            return "valid", f"{route}: loaded silently (expected a DataError)"
        if not same(got, v.outcome.expected[route]):
            return "valid", f"{route}: loaded, but the result differs from the reference"
    if len(outcomes) > 1:
        return "mixed", "routes disagree"
    return outcomes.pop(), None


def materialize(maker: Maker, v: Variant, folder: Path) -> None:
    folder.mkdir()
    for name, (data, _) in maker.serial.items():
        if name != v.target:
            (folder / name).write_bytes(data)
    path = folder / v.target
    if v.special == "dir":
        path.mkdir()
        (path / "inside.json").write_text("[]")
    else:
        path.write_bytes(v.content)
    if v.special == "noperm":
        path.chmod(0)


@pytest.fixture(scope="module")
def workdir():
    # Not under pytest's tmp (mode 700): an unprivileged reader must reach the files.
    root = Path(tempfile.mkdtemp(prefix="rrm-bad-files-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def run_format(fmt: Format, n_variants: int, workdir: Path) -> tuple[list, Counter, Counter]:
    """Make ``n_variants`` variants of ``fmt`` and check each; (variants, outcomes, kinds), and
    the failures asserted empty."""
    maker = Maker(fmt, np.random.default_rng(int(hashlib.sha256(fmt.name.encode()).hexdigest()[:8], 16)))
    # The base itself loads, and equals the reference reader's result.
    base_dir = workdir / f"{slug(fmt.name)}-base"
    base_dir.mkdir()
    for name, (data, _) in maker.serial.items():
        (base_dir / name).write_bytes(data)
    for route, load in fmt.routes.items():
        assert same(load(base_dir), fmt.reference(maker.base)[route]), f"{route}: the base does not load as the reference"
    shutil.rmtree(base_dir)

    permission = can_drop_root()
    variants = [v for v in maker.variants(n_variants) if permission or v.special != "noperm"]
    if not permission:
        warnings.warn("no-permission variants left out: running as root without CAP_SETUID, and root reads any file")
    failures, counts, kinds = [], Counter(), Counter()
    for n, v in enumerate(variants):
        folder = workdir / f"{slug(fmt.name)}-{n}"
        materialize(maker, v, folder)
        try:
            result, failure = check(fmt, v, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        counts[result] += 1
        kinds[v.kind] += 1
        if failure:
            failures.append(f"#{n} {v.kind} in {v.target}: {failure}")
    print(f"\n{fmt.name}: {len(variants)} variants, {counts['error']} DataError, {counts['valid']} loaded as valid; "
          f"kinds {dict(sorted(kinds.items()))}")
    assert not failures, f"{len(failures)} of {len(variants)} variants failed:\n" + "\n".join(failures[:40])
    return variants, counts, kinds


@pytest.mark.parametrize("fmt", FORMATS, ids=[slug(f.name) for f in FORMATS])
def test_bad_files(fmt: Format, workdir):
    variants, counts, kinds = run_format(fmt, N_VARIANTS, workdir)
    assert len(variants) >= 200, f"only {len(variants)} distinct variants"
    assert counts["error"] + counts["valid"] == len(variants)
    assert kinds["a directory"] >= 1 and kinds["truncated (mid-record)"] >= 10
    if can_drop_root():
        assert kinds["no read permission"] >= 1


def test_builder_shape_serialiser_is_the_builders():
    """The builder-shape variants are written as write_conflict_pairs writes the file."""
    fmt = BuilderPairs()
    with tempfile.TemporaryDirectory() as d:
        path = write_conflict_pairs(Path(d) / "p.json", [[tuple(p) for p in row] for row in fmt.rows],
                                    about=dict(BuilderPairs.HEAD))
        assert path.read_bytes() == fmt.serialize(fmt.file, fmt.base()[fmt.file])[0]


def test_permission_case_is_real():
    """The unreadable-file variants really cannot be read (as root too: the effective uid is
    dropped while loading)."""
    if not can_drop_root():
        pytest.skip("running as root without CAP_SETUID: root reads any file, so no-permission variants cannot "
                    "be made real here")
    with tempfile.TemporaryDirectory() as d:
        Path(d).chmod(0o755)
        path = Path(d) / "x.jsonl"
        path.write_text('{"prompt": "p", "chosen": "a", "rejected": "b"}\n')
        path.chmod(0)
        with pytest.raises(PermissionError):
            as_unprivileged(lambda: open(path).close())
        with pytest.raises(DataError, match="permission denied") as e:
            as_unprivileged(lambda: load_pairs(path))
        assert e.value.path == str(path) and e.value.where is None


# --- the same on the real files (../shared/data, where present; LLMBar and the MATH sample are shipped) --

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
N_REAL = 40


def json_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, where) in characters of each record of a JSON list ("row n"), or of each
    entry of an object of lists ("slot 'k', entry i")."""
    dec, skip, colon = json.JSONDecoder(), re.compile(r"[ \t\r\n,]*"), re.compile(r"[ \t\r\n]*:[ \t\r\n]*")
    spans, pos = [], skip.match(text, 0).end()
    if text[pos] == "[":
        pos, n = pos + 1, 0
        while text[pos := skip.match(text, pos).end()] != "]":
            _, end = dec.raw_decode(text, pos)
            spans.append((pos, end, f"row {n}"))
            pos, n = end, n + 1
    elif text[pos] == "{":
        pos += 1
        while text[pos := skip.match(text, pos).end()] != "}":
            key, pos = dec.raw_decode(text, pos)
            pos = colon.match(text, pos).end() + 1  # past the "["
            i = 0
            while text[pos := skip.match(text, pos).end()] != "]":
                _, end = dec.raw_decode(text, pos)
                spans.append((pos, end, f"slot {key!r}, entry {i}"))
                pos, i = end, i + 1
            pos += 1
    return spans


def span_locator(data: bytes):
    """offset -> the `where` of the record holding that byte, or ANY between records."""
    import bisect

    spans = json_spans(data.decode("utf-8"))
    starts = [a for a, _, _ in spans]

    def locate(offset):
        c = len(data[:offset].decode("utf-8", "surrogateescape"))
        i = bisect.bisect_right(starts, c) - 1
        return {spans[i][2]} if i >= 0 and spans[i][0] < c < spans[i][1] else ANY
    return locate


class Real:
    """A format whose base is a real file: its own bytes for the byte-level corruptions."""
    source: Path

    def available(self) -> bool:
        return self.source.exists()

    def original(self, file):
        path = self.source if self.source.is_file() else self.source / file
        data = path.read_bytes()
        if file.endswith(".jsonl") or file == "tournament.json":
            return data, {}
        return data, span_locator(data)


class RealLLMBar(Real, LLMBar):
    def __init__(self, name):
        self.source, self.stem = SHIPPED / "llmbar" / f"{name}.json", name
        super().__init__()
        self.name = f"real {self.source.name}"

    def base(self):
        return {self.file: json.loads(self.source.read_text(encoding="utf-8"))}


class RealMTBench(Real, MTBenchHuman):
    source = SHIPPED / "llmbar" / "MT-Bench_human.json"

    def __init__(self):
        super().__init__()
        self.name = f"real {self.source.name}"

    def base(self):
        return {self.file: json.loads(self.source.read_text(encoding="utf-8"))}


class RealPandaLM(Real, PandaLM):
    source = SHARED / "pandalm" / "testset-v1.json"

    def __init__(self):
        super().__init__()
        self.name = f"real {self.source.name}"

    def base(self):
        return {self.file: json.loads(self.source.read_text(encoding="utf-8"))}


class RealQwen(Real, QwenSingle):
    source = SHIPPED / "qwen25-math" / "math_cot_100.jsonl"
    stem = "math_cot_100"

    def __init__(self):
        super().__init__()
        self.name = f"real {self.source.name}"

    def base(self):
        return {self.file: [json.loads(line) for line in self.source.read_text(encoding="utf-8").splitlines()]}


class RealConflictPairs(Real, ConflictPairs):
    source = SHARED / "rrm" / "conflict-pairs" / "MATH.json"

    def __init__(self):
        super().__init__()
        self.name = f"real conflict pairs {self.source.name}"
        self.routes = {"read_conflict_pairs": self.read}

    def base(self):
        return {self.file: json.loads(self.source.read_text())}

    def reference(self, bundle):
        return {"read_conflict_pairs": [[tuple(p) for p in row] for row in bundle[self.file]]}


class RealKnockout(Real, KnockoutFolder):
    source = SHARED / "rrm" / "knockout-mmlu-pro"
    name = "real knockout records (7b)"
    Q, n_duplicates = 512, 8

    def base(self):
        return {f: json.loads((self.source / f).read_text()) for f in self.targets}

    def sites(self, bundle):
        # The first entries of each slot: 31 slots x 6 entries are plenty to corrupt.
        keep = lambda site: len(site.parts) < 2 or site.file == "tournament.json" or site.parts[1] < 6  # noqa: E731
        return [site for site in super().sites(bundle) if keep(site)]


REAL = [RealLLMBar("Natural"), RealLLMBar("Adversarial_Neighbor"), RealMTBench(), RealPandaLM(), RealQwen(),
        RealConflictPairs(), RealKnockout()]


@pytest.mark.parametrize("fmt", REAL, ids=[slug(f.name) for f in REAL])
def test_bad_real_files(fmt, workdir):
    """Fewer variants, on the real files as bases (their own bytes cut and corrupted)."""
    if not fmt.available():
        pytest.skip(f"{fmt.source} absent: the shared evaluation data lives in ../shared/data beside the project "
                    "(a fresh clone has none)")
    variants, counts, _ = run_format(fmt, N_REAL, workdir)
    assert len(variants) >= N_REAL - 5 and counts["error"]
