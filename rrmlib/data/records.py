"""What the data is made of: pairs, candidate sets, and the error that names where a file is wrong."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pair:
    """One prompt with a better (``chosen``) and a worse (``rejected``) answer.

    ``chosen``/``rejected`` are None-free strings; a tie in a human-labelled set is carried as
    ``tie=True`` (chosen/rejected then in file order) so that accuracy can exclude it.
    """

    id: str
    prompt: str
    chosen: str
    rejected: str
    subset: str = ""
    tie: bool = False


@dataclass(frozen=True)
class CandidateSet:
    """One prompt with N candidate answers and whether each is correct."""

    id: str
    prompt: str
    candidates: list[str]
    correct: list[bool]
    answers: list[str] | None = None   # extracted final answers, where the data has them
    scores: list[float] | None = None  # a scalar reward model's scores, where the data has them
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if len(self.candidates) != len(self.correct):
            raise ValueError(f"candidate set {self.id}: {len(self.candidates)} candidates but {len(self.correct)} labels")


class Pairs(list):
    """A list of pairs that remembers how it was loaded.

    ``scoring`` names the benchmark whose authors' own scoring applies to these pairs
    (``"judgebench"``, ``"rm-bench"``; None: the plain pair mean), and ``loaded`` says what was
    read (the file or hub split, rows, label values and how they were mapped, the selection), for
    meta.json. A slice keeps both.
    """

    def __init__(self, pairs=(), *, scoring: str | None = None, loaded: dict | None = None):
        super().__init__(pairs)
        self.scoring = scoring
        self.loaded = dict(loaded or {})

    def __getitem__(self, index):
        """A slice is ``Pairs`` too, saying how its pairs were loaded (what a run keeps is
        recorded by ``rrmlib.data.select``, in ``loaded["selection"]``)."""
        got = super().__getitem__(index)
        return Pairs(got, scoring=self.scoring, loaded=copy.deepcopy(self.loaded)) if isinstance(index, slice) else got


class DataError(ValueError):
    """Bad input data; the message names the file, the line or row, and the field."""

    def __init__(self, path, where, field, problem):
        self.path, self.where, self.field, self.problem = str(path), where, field, problem
        loc = f"{path}"
        if where is not None:
            loc += f", {where}"
        if field is not None:
            loc += f", field {field!r}"
        super().__init__(f"{loc}: {problem}")
