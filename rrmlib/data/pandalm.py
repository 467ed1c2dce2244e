"""PandaLM's human-annotated test set (WeOpenML/PandaLM ``data/testset-v1.json``, 999 pairs).

Records: ``idx``, ``instruction``, ``input``, ``response1``, ``response2`` and three annotators'
verdicts ``annotator1..3`` (1 or 2: the better response; 0: a tie). The label is the majority of
the three; a majority tie, or no majority, gives ``Pair(tie=True)`` (responses in file order),
which accuracy leaves out by default.
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from rrmlib.data.files import data_root, field, first_time, given_file, not_found, read_records, shown
from rrmlib.data.records import DataError, Pair
from rrmlib.data.registry import register_pairs
from rrmlib.data.select import first

log = logging.getLogger(__name__)

FILE = "testset-v1.json"
ANNOTATORS = ("annotator1", "annotator2", "annotator3")


def _response(path, where, rec, name: str) -> str:
    value = rec.get(name)
    # The file stores a few answers "True" as JSON `true`; the RRM evaluation also read them
    # back as the string (its `clean_value`).
    if isinstance(value, bool):
        return str(value)
    # Empty responses are data here, not defects: weak models answered nothing, and the
    # annotators judged those answers like any other.
    return field(path, where, rec, name, nonempty=False)


def majority(votes: list[int]) -> int:
    """1 or 2 where at least two annotators agree on it, else 0 (a tie)."""
    value, count = Counter(votes).most_common(1)[0]
    return value if count >= 2 else 0


def read_pandalm(path, *, ties: str = "keep", records=None) -> list[Pair]:
    """Pairs from a PandaLM-format file; ``ties="drop"`` leaves tied pairs out. ``records``: the
    file's ``(where, record)`` pairs where already read."""
    if ties not in ("keep", "drop"):
        raise ValueError(f"ties must be 'keep' or 'drop', got {ties!r}")
    pairs, seen, tied = [], {}, 0
    for where, rec in records if records is not None else read_records(path):
        votes = []
        for name in ANNOTATORS:
            vote = field(path, where, rec, name, int)
            if vote not in (0, 1, 2):
                raise DataError(path, where, name, f"expected 0 (tie), 1 or 2, got {shown(vote)}")
            votes.append(vote)
        pid = field(path, where, rec, "idx")
        first_time(path, where, "idx", pid, seen)
        # One row has a blank instruction and its whole task in `input`: the prompt is whichever
        # of the two is not blank, joined by a blank line.
        parts = [field(path, where, rec, name, nonempty=False) for name in ("instruction", "input")]
        prompt = "\n\n".join(p for p in parts if p.strip())
        if not prompt:
            raise DataError(path, where, "instruction", "empty, and so is `input`: no prompt")
        first, second = _response(path, where, rec, "response1"), _response(path, where, rec, "response2")
        label = majority(votes)
        tied += label == 0
        if label == 0 and ties == "drop":
            continue
        chosen, rejected = (second, first) if label == 2 else (first, second)
        pairs.append(Pair(id=pid, prompt=prompt, chosen=chosen, rejected=rejected, subset="pandalm", tie=label == 0))
    log.info("%s: %d ties among %d annotated pairs (%s)", path, tied, len(seen),
             "dropped" if ties == "drop" else "kept with tie=True")
    return pairs


def pandalm_file(*, path=None, root=None, ties: str = "keep", limit: int | None = None) -> Path:
    """The file ``pandalm_pairs`` reads with these options."""
    if path is not None:
        return given_file(path, "pandalm")
    file = data_root(root, "pandalm", source="pandalm") / FILE
    if not file.exists():
        raise not_found("pandalm", FILE, "pandalm", root)
    return file


@register_pairs("pandalm", locate=pandalm_file)
def pandalm_pairs(*, path=None, root=None, ties: str = "keep", limit: int | None = None) -> list[Pair]:
    """PandaLM pairs from ``path``, or ``testset-v1.json`` in ``root`` / the data folder's ``pandalm/``."""
    return first(read_pandalm(pandalm_file(path=path, root=root), ties=ties), limit)
