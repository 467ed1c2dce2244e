"""Conflict pairs: per PPE prompt, five ``[i, j]`` pairs of response indices, one per round.

The RRM paper's own files are a JSON list with one row per prompt (dataset order), each row five
``[i, j]`` pairs (indices 0..31 into ``response_{i+1}`` / ``scores[i]``); round k uses pair k-1.
The project's builder draws its own, seeded, and writes the same rows inside an object that
also records how they were drawn; ``read_conflict_pairs`` takes either shape.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from rrmlib.data import DataError

ROUNDS = 5


def read_conflict_pairs(path, *, responses: int = 32, rounds: int = ROUNDS) -> list[list[tuple[int, int]]]:
    """Rows of ``rounds`` index pairs, each index in ``0..responses-1`` and the two distinct."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(path, f"line {e.lineno}", None, f"not valid JSON ({e.msg})") from None
    if isinstance(data, dict):
        if not isinstance(data.get("pairs"), list):
            raise DataError(path, None, "pairs", "expected a list of rows")
        data = data["pairs"]
    if not isinstance(data, list):
        raise DataError(path, None, None, "expected a list of rows (one per prompt)")
    rows = []
    for r, row in enumerate(data):
        where = f"row {r}"
        if not isinstance(row, list) or len(row) != rounds:
            raise DataError(path, where, None, f"expected {rounds} [i, j] pairs (one per round), got {row!r:.80}")
        pairs = []
        for k, pair in enumerate(row):
            name = f"round {k + 1}"
            if (not isinstance(pair, list) or len(pair) != 2
                    or not all(isinstance(x, int) and not isinstance(x, bool) for x in pair)):
                raise DataError(path, where, name, f"expected a pair [i, j] of response indices, got {pair!r:.80}")
            i, j = pair
            if not (0 <= i < responses and 0 <= j < responses):
                raise DataError(path, where, name, f"index out of range in {pair}: responses are 0..{responses - 1}")
            if i == j:
                raise DataError(path, where, name, f"pair {pair} compares a response with itself")
            pairs.append((i, j))
        rows.append(pairs)
    return rows


def draw_conflict_pairs(correct: list[bool], *, seed: int, row: int, rounds: int = ROUNDS) -> list[tuple[int, int]]:
    """``rounds`` distinct ``(correct, incorrect)`` index pairs for one prompt.

    Each prompt has its own generator, seeded by ``(seed, row)``, so a prompt's pairs do not
    depend on which other prompts were drawn (a ``limit`` or a filter leaves them unchanged).
    A string seed keeps Python's ``random`` stable across versions and platforms.
    """
    right = [i for i, c in enumerate(correct) if c]
    wrong = [i for i, c in enumerate(correct) if not c]
    if len(right) * len(wrong) < rounds:
        raise ValueError(f"{len(right)} correct and {len(wrong)} incorrect responses: "
                         f"fewer than {rounds} distinct conflict pairs")
    rng = random.Random(f"rrm-conflict-pairs:{seed}:{row}")
    picks = rng.sample(range(len(right) * len(wrong)), rounds)
    return [(right[p // len(wrong)], wrong[p % len(wrong)]) for p in picks]


def write_conflict_pairs(path, rows: list[list[tuple[int, int]]], *, about: dict) -> Path:
    """Write rows (and ``about``: dataset, source, seed) as JSON; same rows, same bytes."""
    path = Path(path)
    head = {**about, "rounds": len(rows[0]) if rows else ROUNDS}
    # One prompt per line: readable, and diffs between seeds show which prompts changed.
    lines = ["{"] + [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    body = [" " + json.dumps([list(p) for p in row]) for row in rows]
    lines += [' "pairs": ['] + [",\n".join(body)] + [" ]", "}"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
