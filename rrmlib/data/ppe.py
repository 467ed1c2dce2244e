"""PPE Best-of-K sets (lmarena-ai/PPE-{MMLU-Pro,GPQA,MATH}-Best-of-K, split ``train``).

Each row is one prompt with 32 sampled responses (``response_1..32``) and whether each is
correct (``scores``). As pairs, round k of a prompt compares the k-th of its five conflict pairs
(one correct, one incorrect response): by default the RRM paper's own pairs (shipped in
``PPEdataset/conflict-pairs/``), or another file (``pairs_file=``), or pairs the project's
seeded builder draws (``seed=``); as candidate sets, all 32 responses with their correctness.

Conflict pairs: per PPE prompt, five ``[i, j]`` pairs of response indices, one per round. The
RRM paper's own files are a JSON list with one row per prompt (dataset order), each row five
``[i, j]`` pairs (indices 0..31 into ``response_{i+1}`` / ``scores[i]``); round k uses pair k-1.
The project's builder draws its own, seeded, and writes the same rows inside an object that
also records how they were drawn; ``read_conflict_pairs`` takes either shape.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rrmlib.data.files import field, field_name, read_json, same_presence, shown
from rrmlib.data.hub import source_rows
from rrmlib.data.records import CandidateSet, DataError, Pair
from rrmlib.data.registry import register_candidates, register_pairs
from rrmlib.paper import conflict_pairs_file


@dataclass(frozen=True)
class PPESet:
    name: str    # as the paper's tables and conflict-pair files name it
    hub_id: str
    marker: str  # the question is the prompt's text after this, as the RRM evaluation cut it


PPE_SETS = {
    "mmlu-pro": PPESet("MMLU-Pro", "lmarena-ai/PPE-MMLU-Pro-Best-of-K", "Question:"),
    "gpqa": PPESet("GPQA", "lmarena-ai/PPE-GPQA-Best-of-K", "Question"),
    "math": PPESet("MATH", "lmarena-ai/PPE-MATH-Best-of-K", "<problem>"),
}


# -- conflict pairs ---------------------------------------------------------------------------
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


# -- the sets -------------------------------------------------------------------------------
# Extra columns worth carrying into CandidateSet.extra where a row has them.
_EXTRA_COLUMNS = ("question_id", "model_name", "category")


@dataclass(frozen=True)
class PPEPrompt:
    source: str   # file or hub id, for error messages
    where: str    # "row N"
    row: int
    question: str
    correct: list[bool]
    record: dict

    def response(self, k: int) -> str:
        """Response k (0-based), checked when used: a pair needs only two of the 32."""
        return field(self.source, self.where, self.record, f"response_{k + 1}")


def _correctness(source, where, rec) -> list[bool]:
    scores = field(source, where, rec, "scores", list)
    # Booleans in some copies, 0/1 numbers in others; anything else is not a correctness label.
    for k, s in enumerate(scores):
        if not (isinstance(s, bool) or (isinstance(s, (int, float)) and s in (0, 1))):
            raise DataError(source, where, f"scores[{k}]", f"expected a boolean or 0/1, got {shown(s, 40)}")
    return [bool(s) for s in scores]


# Kinds of the extra columns, where a row has them (None is kept as it is).
_EXTRA_KINDS = {"question_id": (str, int), "model_name": str, "category": str}


def read_ppe(dataset: str, *, path=None, split: str = "train", revision: str | None = None) -> list[PPEPrompt]:
    """The prompts of a PPE set (``dataset`` is "mmlu-pro", "gpqa" or "math"), from the hub or
    from ``path`` (.parquet/.jsonl/.json with ``prompt``, ``response_1..K``, ``scores``).

    Every row is checked whole: ``scores`` and exactly the ``K`` responses it labels, each a
    non-empty string, and the extra columns' kinds; a pair uses two responses, but a row with a
    broken one is a broken copy of the set.
    """
    spec = PPE_SETS[dataset]
    source, rows = source_rows(path, spec.hub_id, split, revision=revision)
    rows = list(rows)
    for name in _EXTRA_KINDS:  # in every row or in none (null counts as given: hub columns may be null)
        same_presence(source, rows, name, key_only=True)
    prompts = []
    for r, (where, rec) in enumerate(rows):
        text = field(source, where, rec, "prompt")
        if spec.marker not in text:
            raise DataError(source, where, "prompt",
                            f"no {spec.marker!r} in the prompt, so the {spec.name} question cannot be cut out of it")
        question = text.split(spec.marker, 1)[1].strip()
        if not question:
            raise DataError(source, where, "prompt", f"nothing after {spec.marker!r}")
        correct = _correctness(source, where, rec)
        for k in range(len(correct)):
            field(source, where, rec, f"response_{k + 1}")
        extra = f"response_{len(correct) + 1}"
        if rec.get(extra) is not None:
            raise DataError(source, where, extra, f"a response beyond the {len(correct)} that `scores` labels")
        if prompts and len(correct) != len(prompts[0].correct):
            raise DataError(source, where, "scores",
                            f"{len(correct)} scores, but {prompts[0].where} has {len(prompts[0].correct)}")
        for name, kind in _EXTRA_KINDS.items():
            if rec.get(name) is not None:
                field(source, where, rec, name, kind, nonempty=name == "question_id")
        prompts.append(PPEPrompt(source, where, r, question, correct, rec))
    return prompts


def _round_pair(prompt: PPEPrompt, rows, pairs_file, round: int, seed: int) -> tuple[int, int]:
    """(correct index, incorrect index) for this prompt's round."""
    if rows is None:
        try:
            return draw_conflict_pairs(prompt.correct, seed=seed, row=prompt.row)[round - 1]
        except ValueError as e:
            raise DataError(prompt.source, prompt.where, "scores", f"cannot draw conflict pairs: {e}") from None
    i, j = rows[prompt.row][round - 1]
    if prompt.correct[i] == prompt.correct[j]:
        both = "correct" if prompt.correct[i] else "incorrect"
        raise DataError(pairs_file, f"row {prompt.row}", f"round {round}",
                        f"[{i}, {j}] is not a conflict pair: both responses are {both} "
                        f"by `scores` of {prompt.source} {prompt.where}")
    return (i, j) if prompt.correct[i] else (j, i)


def ppe_pairs(dataset: str, *, round: int = 1, pairs_file=None, seed: int | None = None, path=None,
              limit: int | None = None, split: str = "train", revision: str | None = None) -> list[Pair]:
    """One (correct, incorrect) pair per prompt for ``round`` (1..5).

    By default the RRM paper's conflict pairs (``PPEdataset/conflict-pairs/<set>.json``, rows
    kept as they are, repeats included). ``pairs_file``: another conflict-pair file (e.g. one
    ``PPEdataset/build.py`` wrote); ``seed``: draw the project's own distinct pairs here, exactly
    as the builder draws them.
    """
    if not (isinstance(round, int) and 1 <= round <= ROUNDS):
        raise ValueError(f"round must be 1..{ROUNDS}, got {round!r}")
    spec = PPE_SETS[dataset]
    if pairs_file is not None and seed is not None:
        raise ValueError("pass pairs_file (a conflict-pair file) or seed (draw pairs), not both")
    if pairs_file is None and seed is None:
        pairs_file = conflict_pairs_file(spec.name)
    prompts = read_ppe(dataset, path=path, split=split, revision=revision)
    rows = None
    if pairs_file is not None:
        rows = read_conflict_pairs(pairs_file, responses=len(prompts[0].correct) if prompts else 32,
                                   dataset=spec.name)
        if len(rows) != len(prompts):
            raise DataError(pairs_file, None, None, f"{len(rows)} rows, but {prompts[0].source if prompts else path} "
                            f"has {len(prompts)} prompts: the file belongs to another dataset or split")
    pairs = []
    for p in prompts[:limit] if limit is not None else prompts:
        good, bad = _round_pair(p, rows, pairs_file, round, seed)
        # The id names the round: round k's pair of a prompt is another pair than round j's, and
        # the seeded answer order (drawn per id) must not repeat itself across the five rounds.
        pairs.append(Pair(id=f"{p.row}-r{round}", prompt=p.question, chosen=p.response(good), rejected=p.response(bad),
                          subset=spec.name))
    return pairs


def ppe_candidates(dataset: str, *, path=None, limit: int | None = None, split: str = "train",
                   revision: str | None = None) -> list[CandidateSet]:
    """Every prompt with all its responses and their correctness."""
    spec = PPE_SETS[dataset]
    prompts = read_ppe(dataset, path=path, split=split, revision=revision)
    sets = []
    for p in prompts[:limit] if limit is not None else prompts:
        extra = {"dataset": spec.name, **{c: p.record[c] for c in _EXTRA_COLUMNS if c in p.record}}
        sets.append(CandidateSet(id=str(p.row), prompt=p.question,
                                 candidates=[p.response(k) for k in range(len(p.correct))],
                                 correct=list(p.correct), extra=extra))
    return sets


def build_conflict_pairs(dataset: str, out, *, seed: int = 0, path=None, split: str = "train",
                         revision: str | None = None) -> Path:
    """Draw five (correct, incorrect) pairs for every prompt and write them to ``out``."""
    spec = PPE_SETS[dataset]
    prompts = read_ppe(dataset, path=path, split=split, revision=revision)
    rows = []
    for p in prompts:
        try:
            rows.append(draw_conflict_pairs(p.correct, seed=seed, row=p.row))
        except ValueError as e:
            raise DataError(p.source, p.where, "scores", f"cannot draw conflict pairs: {e}") from None
    # The file name, not the full path, so that the same input gives the same bytes anywhere.
    source = spec.hub_id if path is None else Path(path).name
    about = {"dataset": spec.name, "source": source, "split": split, "seed": seed}
    if revision is not None:
        about["revision"] = revision
    return write_conflict_pairs(out, rows, about=about)


def _register(key: str, *aliases: str):
    spec = PPE_SETS[key]
    names = (key, f"ppe-{key}", spec.hub_id, *aliases)
    register_pairs(*names)(partial(ppe_pairs, key))
    register_candidates(*names)(partial(ppe_candidates, key))


# The original evaluation's --dataset names (MMLU, GPQA, MATH) are aliases; case does not matter.
_register("mmlu-pro", "mmlu")
_register("gpqa")
_register("math")
