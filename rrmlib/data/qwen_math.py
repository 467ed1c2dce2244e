"""Candidate sets in Qwen's math-evaluation format (QwenLM/Qwen2.5-Math ``evaluation/``).

One JSONL line per problem: ``idx``, ``question``, ``gt`` (the bare answer), and per sample
``code`` (the solution), ``pred`` (its extracted answer), ``score`` (correct?) and, where a
reward model scored them, ``pred_score`` (one ``[score]`` list per sample). A problem's samples
may sit in one file (``math_cot_100.jsonl``: 8 per line) or be spread over several files with
one sample each, one file per sampling seed, as the RRM ELO experiment stored its 8 candidates;
the files are then joined on ``idx``.

Without a path, ``qwen-math`` reads ``qwen25-math/math_cot_100.jsonl`` in the data folder
(``$RRM_DATA``, else the project's ``data/`` where it has one), else the copy shipped with rrmlib
(``rrmlib/data/shipped/qwen25-math``, byte-identical to Qwen's file).
"""
from __future__ import annotations

import glob as globlib
import re
from dataclasses import dataclass, field as dc_field
from pathlib import Path

from rrmlib.data.files import (data_root, field, finite, first_time, not_found, optional, read_records,
                                same_presence, shown)
from rrmlib.data.records import CandidateSet, DataError
from rrmlib.data.registry import register_candidates


@dataclass
class _Problem:
    idx: str
    question: str
    gt: str | None
    level: str | None
    first: str  # "file, line N" where it was first seen, for messages
    solutions: list[str] = dc_field(default_factory=list)
    preds: list[str] = dc_field(default_factory=list)
    correct: list[bool] = dc_field(default_factory=list)
    scores: list[float] = dc_field(default_factory=list)
    has_scores: bool | None = None  # None until the first sample is read


def _natural_key(path: str):
    # seed2 before seed10: a glob over per-seed files keeps the seeds' order.
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path)]


def expand_paths(paths) -> list[Path]:
    """A path, a glob pattern, or a list of either, as a list of files."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    files = []
    for item in items:
        item = str(item)
        if any(ch in item for ch in "*?["):
            matched = sorted(globlib.glob(item), key=_natural_key)
            if not matched:
                raise FileNotFoundError(f"no files match {item!r}")
            files += [Path(m) for m in matched]
        else:
            if not Path(item).exists():
                raise FileNotFoundError(f"no such file: {item!r}")
            files.append(Path(item))
    if not files:
        raise ValueError("no candidate files given")
    return files


def _reward_scores(path, where, rec, n: int) -> list[float] | None:
    """``pred_score`` flattened to one number per sample (Qwen stores ``[[3.5], [3.4], ...]``)."""
    raw = optional(path, where, rec, "pred_score", list)
    if raw is None:
        return None
    flat = []
    for k, s in enumerate(raw):
        if isinstance(s, list) and len(s) == 1:
            s = s[0]
        flat.append(finite(path, where, f"pred_score[{k}]", s))
    if len(flat) != n:
        raise DataError(path, where, "pred_score", f"{len(flat)} scores for {n} samples")
    return flat


def _answer(path, where, rec) -> str | None:
    """``gt``: a string or a number (as a string), or None where the file has none."""
    gt = optional(path, where, rec, "gt", (str, int, float))
    if isinstance(gt, float):
        finite(path, where, "gt", gt)
    return None if gt is None else str(gt)


def _read_file(path: Path, problems: dict[str, _Problem], *, first: bool, records=None) -> set[str]:
    records = list(read_records(path)) if records is None else records
    # Optional fields are in every record or in none: one problem without them is a defect.
    for name in ("gt", "level", "pred_score"):
        same_presence(path, records, name)
    seen = {}
    for where, rec in records:
        idx = field(path, where, rec, "idx")
        first_time(path, where, "idx", idx, seen)
        question = field(path, where, rec, "question")
        code = field(path, where, rec, "code", list)
        n = len(code)
        for k, c in enumerate(code):
            if not isinstance(c, str) or not c.strip():
                raise DataError(path, where, f"code[{k}]", f"expected a non-empty solution string, got {shown(c)}")
        preds = field(path, where, rec, "pred", list, nonempty=False)
        for k, p in enumerate(preds):
            if not isinstance(p, str):
                raise DataError(path, where, f"pred[{k}]", f"expected a string (the extracted answer), got {shown(p)}")
        if len(preds) != n:
            raise DataError(path, where, "pred", f"{len(preds)} answers for {n} samples in `code`")
        score = field(path, where, rec, "score", list)
        for k, s in enumerate(score):
            if not isinstance(s, bool):
                raise DataError(path, where, f"score[{k}]", f"expected true or false, got {shown(s)}")
        if len(score) != n:
            raise DataError(path, where, "score", f"{len(score)} labels for {n} samples in `code`")
        rewards = _reward_scores(path, where, rec, n)
        gt = _answer(path, where, rec)
        level = optional(path, where, rec, "level", (str, int))
        problem = problems.get(idx)
        if problem is None:
            if not first:
                raise DataError(path, where, "idx", f"idx {shown(idx)} is not in the first file; "
                                "per-seed files must hold the same problems")
            problem = problems[idx] = _Problem(idx, question, gt, level, f"{path}, {where}")
        elif question != problem.question:
            raise DataError(path, where, "question", f"differs from the question of idx {shown(idx)} at {problem.first}")
        elif gt != problem.gt:
            raise DataError(path, where, "gt", f"{shown(gt)} differs from {shown(problem.gt)} at {problem.first}")
        elif level != problem.level:
            raise DataError(path, where, "level", f"{shown(level)} differs from {shown(problem.level)} at {problem.first}")
        # Reward scores for some samples of a problem but not others would misalign them.
        if problem.has_scores is None:
            problem.has_scores = rewards is not None
        elif problem.has_scores != (rewards is not None):
            raise DataError(path, where, "pred_score", f"present for some samples of idx {shown(idx)} but not others")
        problem.solutions += code
        problem.preds += preds
        problem.correct += score
        problem.scores += rewards or []
    return set(seen)


def read_qwen_math(paths, *, limit: int | None = None, records=None) -> list[CandidateSet]:
    """Candidate sets from one file or several (a list of paths or a glob), joined on ``idx``.

    Every file must hold the same problems; a problem's candidates are its samples in file
    order. ``answers`` are the ``pred`` strings, ``scores`` the flattened ``pred_score`` where
    the files have it, and ``extra`` keeps ``gt`` and ``level``. ``records``: the
    ``(where, record)`` pairs of a single file, where already read.
    """
    files = expand_paths(paths)
    problems: dict[str, _Problem] = {}  # in the first file's order
    for n, f in enumerate(files):
        seen = _read_file(f, problems, first=n == 0, records=records if len(files) == 1 else None)
        missing = [i for i in problems if i not in seen]
        if missing:
            raise DataError(f, None, "idx", f"{len(missing)} problems of {files[0]} are missing here "
                            f"(first idx {shown(missing[0])}, at {problems[missing[0]].first}); "
                            "per-seed files must hold the same problems")
    sets = []
    order = list(problems)
    for idx in order[:limit] if limit is not None else order:
        p = problems[idx]
        sets.append(CandidateSet(id=idx, prompt=p.question, candidates=p.solutions, correct=p.correct,
                                 answers=p.preds, scores=p.scores if p.has_scores else None,
                                 extra={"gt": p.gt, "level": p.level}))
    return sets


SAMPLE = "math_cot_100.jsonl"  # the sample of Qwen's evaluation/data/eval_rm_maj_example/


def qwen_math_files(*, path=None, limit: int | None = None) -> list[Path]:
    """The files ``qwen_math_candidates`` reads with these options: ``path`` expanded (a glob, a
    list), else the 100 x 8 sample found as the module says; FileNotFoundError where none is."""
    if path is not None:
        return expand_paths(path)
    file = data_root(None, "qwen25-math", source="qwen-math") / SAMPLE
    if not file.exists():
        raise not_found("qwen-math", SAMPLE, "qwen25-math", None)
    return [file]


@register_candidates("qwen-math", "qwen25-math", "math-eval", locate=qwen_math_files)
def qwen_math_candidates(*, path=None, limit: int | None = None) -> list[CandidateSet]:
    """``path``: a file, a glob such as ``"runs/seed*.jsonl"``, or a list of files; None: Qwen's
    100 x 8 sample (``math_cot_100.jsonl``, see the module)."""
    return read_qwen_math(qwen_math_files(path=path), limit=limit)
