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
from rrmlib.data.files import field_name, read_json, shown

ROUNDS = 5


# The object shape's header, as ``write_conflict_pairs`` writes it (``revision`` only where the
# hub revision was pinned); its kinds are checked.
_HEADER = {"dataset": str, "source": str, "split": str, "seed": int, "rounds": int}


def _place(parts: tuple) -> tuple:
    """(where, field) of a defect found at ``parts`` of a conflict-pair file."""
    if parts and parts[0] == "pairs":
        parts = parts[1:]
        if not parts:
            return None, "pairs"
    if parts and isinstance(parts[0], int):
        return f"row {parts[0]}", f"round {parts[1] + 1}" if len(parts) > 1 and isinstance(parts[1], int) else None
    return None, field_name(parts)


def _header(path, data: dict, *, rounds: int, dataset: str | None) -> None:
    from rrmlib.data.ppe import PPE_SETS

    for name, kind in {**_HEADER, **({"revision": str} if "revision" in data else {})}.items():
        if data.get(name) is None:
            raise DataError(path, None, name, "missing (the builder writes dataset, source, split, seed, rounds)")
        value = data[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise DataError(path, None, name, f"expected {kind.__name__}, got {type(value).__name__} {shown(value)}")
        if kind is str and not value.strip():
            raise DataError(path, None, name, "empty")
    names = [s.name for s in PPE_SETS.values()]
    if data["dataset"] not in names:
        raise DataError(path, None, "dataset", f"{shown(data['dataset'])} is not a PPE set ({', '.join(names)})")
    if dataset is not None and data["dataset"] != dataset:
        raise DataError(path, None, "dataset", f"the pairs are for {data['dataset']}, not {dataset}")
    if data["rounds"] != rounds:
        raise DataError(path, None, "rounds", f"{data['rounds']}, but conflict pairs have {rounds} rounds")


def read_conflict_pairs(path, *, responses: int = 32, rounds: int = ROUNDS,
                        dataset: str | None = None) -> list[list[tuple[int, int]]]:
    """Rows of ``rounds`` index pairs, each index in ``0..responses-1`` and the two distinct.

    The paper's shape (a list of rows) or the builder's (an object with a header and
    ``pairs``); ``dataset`` (a PPE set's name, e.g. "MATH"), where given, must be the one the
    builder's header names.
    """
    path = Path(path)
    data = read_json(path, _place)
    if isinstance(data, dict):
        if data.get("pairs") is None:
            raise DataError(path, None, "pairs", "missing: expected a list of rows")
        if not isinstance(data["pairs"], list):
            raise DataError(path, None, "pairs", f"expected a list of rows, got {type(data['pairs']).__name__}")
        _header(path, data, rounds=rounds, dataset=dataset)
        data = data["pairs"]
    if not isinstance(data, list):
        raise DataError(path, None, None, f"expected a list of rows (one per prompt), got {type(data).__name__}")
    if not data:
        raise DataError(path, None, None, "no rows")
    rows = []
    for r, row in enumerate(data):
        where = f"row {r}"
        if not isinstance(row, list) or len(row) != rounds:
            raise DataError(path, where, None, f"expected {rounds} [i, j] pairs (one per round), got {shown(row, 80)}")
        pairs = []
        for k, pair in enumerate(row):
            name = f"round {k + 1}"
            if (not isinstance(pair, list) or len(pair) != 2
                    or not all(isinstance(x, int) and not isinstance(x, bool) for x in pair)):
                raise DataError(path, where, name, f"expected a pair [i, j] of response indices, got {shown(pair, 80)}")
            i, j = pair
            if not (0 <= i < responses and 0 <= j < responses):
                raise DataError(path, where, name,
                                f"index out of range in {shown(pair, 80)}: responses are 0..{responses - 1}")
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
