"""JudgeBench (ScalerLab/JudgeBench; Tan et al., 2024): 350 GPT-4o and 270 Claude-3.5-Sonnet
response pairs on MMLU-Pro, LiveBench reasoning and math, and LiveCodeBench questions, each
with an objective label.

Records (the repository's ``data/*.jsonl`` and the hub dataset ``ScalerLab/JudgeBench``,
splits ``gpt`` and ``claude``, alike): ``pair_id`` (unique), ``original_id``, ``source`` (e.g.
``mmlu-pro-computer science``, ``livebench-math``), ``question``, ``response_model``,
``response_A``, ``response_B``, ``label`` (``"A>B"`` or ``"B>A"``: which response is right).
Each becomes a Pair with the right response as ``chosen``, ``source`` as its subset and
``pair_id`` as its id. The authors judge every pair in both orders and score it by their own
rule (``rrmlib.scoring.judgebench``): run the pairwise notebook with ``order both``.
"""
from __future__ import annotations

from rrmlib.data import Pairs, register_pairs
from rrmlib.data.hub import source_rows
from rrmlib.data.own import read_mapped

HUB_ID = "ScalerLab/JudgeBench"
SPLITS = ("gpt", "claude")
# The columns of JudgeBench's records, as the pair-file roles (rrmlib.data.own).
FIELDS = {"id": "pair_id", "prompt": "question", "first": "response_A", "second": "response_B", "label": "label",
          "subset": "source"}
KEYS = {"response_A", "response_B"}  # either one tells a JudgeBench-shaped file


def read_judgebench(label, records, *, labels=None, other_labels=None, subset=None, bad_rows="strict",
                    subsets=None) -> Pairs:
    """Pairs from JudgeBench records (``(where, record)``); ``labels``/``other_labels``,
    ``bad_rows`` and ``subsets`` as for any file read by its label column (default ``A>B`` -> A
    better, ``B>A`` -> B better, any other value an error naming the row)."""
    return read_mapped(label, list(records), labels=labels, other_labels=other_labels, subset=subset, defaults=FIELDS,
                       fmt="judgebench", scoring="judgebench", bad_rows=bad_rows, subsets=subsets)


def _load(split, *, path, subset, limit, revision, labels, other_labels, bad_rows) -> Pairs:
    if split not in SPLITS:
        raise ValueError(f"judgebench: split must be one of {SPLITS}, got {split!r}")
    source, rows = source_rows(path, HUB_ID, split, revision=revision)
    pairs = read_judgebench(source, rows, labels=labels, other_labels=other_labels, bad_rows=bad_rows,
                            subsets=subset)
    pairs.loaded["split"] = split
    if limit is not None:
        from rrmlib.data.select import select

        pairs = select(pairs, subsets=subset, limit=limit)
    return pairs


@register_pairs("judgebench", "judgebench-gpt", "scalerlab/judgebench")
def judgebench_pairs(*, path=None, split: str = "gpt", subset=None, limit: int | None = None,
                     revision: str | None = None, labels=None, other_labels=None, bad_rows: str = "strict") -> Pairs:
    """JudgeBench's GPT-4o pairs (``split="claude"``, or the name ``judgebench-claude``, for
    Claude's) from the hub, from a copy in the data folder (``judgebench-gpt.parquet``), or
    from ``path`` (a file in the records' format). ``subset`` keeps sources by name, prefix or
    pattern (``mmlu-pro``, ``livebench*``); ``bad_rows`` as for your own files."""
    return _load(split, path=path, subset=subset, limit=limit, revision=revision, labels=labels,
                 other_labels=other_labels, bad_rows=bad_rows)


@register_pairs("judgebench-claude")
def judgebench_claude_pairs(*, path=None, subset=None, limit: int | None = None, revision: str | None = None,
                            labels=None, other_labels=None, bad_rows: str = "strict") -> Pairs:
    """JudgeBench's Claude-3.5-Sonnet pairs (split ``claude``)."""
    return _load("claude", path=path, subset=subset, limit=limit, revision=revision, labels=labels,
                 other_labels=other_labels, bad_rows=bad_rows)
