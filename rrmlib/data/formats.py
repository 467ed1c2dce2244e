"""Files of your own, told apart by their first record: a pair file in a known benchmark's
format is read by that benchmark's own reader (JudgeBench, RM-Bench, LLMBar, PandaLM), any other
through the pair-file mapping (``rrmlib.data.own``); a candidate file in Qwen's math-evaluation
format by its reader, else as ``id``, ``prompt``, ``candidates``, ``correct``. ``load_pairs(path)``
and ``load_candidates(path)`` come here for a path.
"""
from __future__ import annotations

from pathlib import Path

import rrmlib.data.judgebench as judgebench
import rrmlib.data.llmbar as llmbar
import rrmlib.data.own as own
import rrmlib.data.pandalm as pandalm
import rrmlib.data.qwen_math as qwen_math
import rrmlib.data.rmbench as rmbench
from rrmlib.data.files import BadRecord, field, first_time, read_records, same_presence, shown
from rrmlib.data.records import CandidateSet, DataError, Pair
from rrmlib.data.select import first


# Formats with their own loader, told apart by the fields of the first record, so that
# ``load_pairs(path)`` / ``load_candidates(path)`` work on these files without naming a source.
# Any one of a format's own fields tells it, so that a first record missing a field is read
# (and reported) by its own loader, not as another format missing everything.
_LLMBAR_KEYS = {"output_1", "output_2"}
_PANDALM_KEYS = {"response1", "response2", "annotator1", "annotator2", "annotator3"}
_QWEN_KEYS = {"code", "score", "pred", "pred_score", "question", "idx", "gt"}


def _is_ppe(rec: dict) -> bool:
    return "scores" in rec or "response_1" in rec


def _pair_format(rec: dict) -> str | None:
    keys = rec.keys()
    if keys & {"chosen", "rejected"}:
        # RM-Bench: both are lists, one response per style (a single list is a broken pair file)
        return "rm-bench" if rmbench.is_rmbench_record(rec) else None
    if keys & judgebench.KEYS:
        return "judgebench"
    if keys & _LLMBAR_KEYS:
        return "llmbar"
    if keys & _PANDALM_KEYS:
        return "pandalm"
    if _is_ppe(rec):
        return "ppe"
    return None




def load_pair_file(path, *, fields=None, labels=None, other_labels=None, subset: str | None = None,
                   limit: int | None = None, bad_rows: str = "strict", subsets=None) -> list[Pair]:
    """Pairs from a pair file (``rrmlib.data.own``: ``prompt``, ``chosen``, ``rejected``, or
    ``prompt``, ``first``, ``second`` and a ``label``; optional ``id``, ``subset``). ``fields``
    maps these names to the file's own (a dict, or ``"prompt=question,chosen=good,..."``),
    ``labels`` the label column's values (``"A>B=first,B>A=second"``), ``other_labels`` any
    other value (``"refuse"``, the default, or ``"tie"``). ``bad_rows="skip"`` leaves out (and
    lists) the rows that fail a check instead of stopping at the first; ``subsets`` keeps those
    subsets (``rrmlib.data.select``), reading no more than the subset of any other row.

    Without ``fields``, a file in a known format is read by its own reader: JudgeBench's
    (``response_A``/``response_B``/``label``), RM-Bench's (``chosen``/``rejected`` lists of
    three styles), LLMBar's (``output_1``/``output_2``/``label``) and PandaLM's
    (``response1``/``response2``/``annotator1..3``). A file that matches none fails with the
    columns it has, those expected and the parameters that map them.
    """

    policy = own.check_bad_rows(bad_rows)
    records = list(read_records(path, bad="keep" if policy == "skip" else "raise"))
    mapped = own.parse_fields(fields)
    head = next((rec for _, rec in records if not isinstance(rec, BadRecord)), {})
    kind = None
    if not mapped:
        kind = _pair_format(head)
        if kind == "judgebench":
            return first(judgebench.read_judgebench(path, records, labels=labels, other_labels=other_labels,
                                                    subset=subset, bad_rows=policy, subsets=subsets), limit)
        if kind in ("llmbar", "pandalm", "ppe", "rm-bench") and (labels is not None or other_labels is not None):
            raise ValueError(f"{path}: a file in {kind}'s format has no label column that labels/other_labels map; "
                             "drop them, or name the columns with fields")
    elif not mapped.keys() & {"first", "second", "label"}:
        if rmbench.is_rmbench_record(head, {**rmbench.FIELDS, **mapped}):
            kind = "rm-bench"
    if kind in ("llmbar", "pandalm", "rm-bench") and policy == "skip":
        raise ValueError(f"{path}: bad_rows skip reads a file through the pair-file mapping, and this one is in "
                         f"{kind}'s format, read by its own reader: drop bad_rows, or map its columns with fields "
                         f"(docs/data.md, 'Your own data')")
    if kind == "rm-bench":
        return first(rmbench.read_rmbench(path, records, fields=mapped or None, subset=subset), limit, subsets=subsets)
    if kind == "llmbar":
        return first(llmbar.read_llmbar(path, subset=subset or Path(path).stem, records=records), limit, subsets=subsets)
    if kind == "pandalm":
        return first(pandalm.read_pandalm(path, records=records), limit, subsets=subsets)
    if kind == "ppe":
        raise DataError(path, None, None, "a PPE Best-of-K file: its pairs depend on the dataset and round; "
                        "load it with load_pairs('mmlu-pro' | 'gpqa' | 'math', path=..., round=...)")
    return first(own.read_mapped(path, records, fields=mapped, labels=labels, other_labels=other_labels,
                                 subset=subset, bad_rows=policy, subsets=subsets), limit)


def _is_qwen(rec: dict) -> bool:
    return "candidates" not in rec and bool(rec.keys() & _QWEN_KEYS)


def _items(path, where, rec: dict, name: str, ok, expected: str, n: int | None = None, what: str = "") -> list:
    """A record's list ``name``, each item ``ok`` (else an error naming the item: ``name[i]``),
    ``n`` long where given (else an error: ``<len> <what> for <n> candidates``)."""
    items = field(path, where, rec, name, list)
    for i, item in enumerate(items):
        if not ok(item):
            raise DataError(path, where, f"{name}[{i}]", f"expected {expected}, got {shown(item)}")
    if n is not None and len(items) != n:
        raise DataError(path, where, name, f"{len(items)} {what} for {n} candidates")
    return items


def load_candidate_file(path, *, limit: int | None = None) -> list[CandidateSet]:
    """Candidate sets from records with ``id`` (unique), ``prompt``, ``candidates`` (list of
    non-empty str) and ``correct`` (list of bool, same length), and optional ``answers`` (list
    of str, same length; in every record or in none).

    A file in Qwen's math-evaluation format (``question``, ``code``, ``pred``, ``score``) is read
    by its own loader.
    """
    records = list(read_records(path))
    rec = records[0][1]
    if _is_qwen(rec):
        return qwen_math.read_qwen_math(path, limit=limit, records=records)
    if _is_ppe(rec) and "candidates" not in rec:
        raise DataError(path, None, None, "a PPE Best-of-K file: its question text depends on the dataset; "
                        "load it with load_candidates('mmlu-pro' | 'gpqa' | 'math', path=...)")
    has_answers = same_presence(path, records, "answers")
    sets, seen = [], {}
    for where, rec in records:
        cid = field(path, where, rec, "id")
        first_time(path, where, "id", cid, seen)
        prompt = field(path, where, rec, "prompt")
        cands = _items(path, where, rec, "candidates", lambda c: isinstance(c, str) and bool(c.strip()),
                       "a non-empty string")
        correct = _items(path, where, rec, "correct", lambda c: isinstance(c, bool), "true or false",
                         len(cands), "labels")
        answers = _items(path, where, rec, "answers", lambda a: isinstance(a, str), "a string", len(cands),
                         "answers") if has_answers else None
        sets.append(CandidateSet(id=cid, prompt=prompt, candidates=cands, correct=correct, answers=answers))
    return sets[:limit] if limit is not None else sets
