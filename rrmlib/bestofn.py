"""Best-of-N glue: tournaments over candidate sets, judged by the RRM judge; match records in
and out; picks scored against the baselines.

The notebooks stay thin: they load candidate sets, build one tournament per set
(``round_robin``, ``knockout``, ``swiss``), ``play`` them with a ``Judge`` (one judge call per
driver step, across all questions), and write ``judgments_frame`` / ``matches_table`` rows.
``read_matches`` reads those records back, or the original RRM evaluation's merged ELO results,
so that ``elo_accuracy`` re-scores judgments without a judge.

Entrants are candidate indices (0 .. N-1); a tournament is keyed by its candidate set's id.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pandas as pd

from rrmlib import ratings, selection
from rrmlib.data import CandidateSet, load_candidates
from rrmlib.data.rrm_records import elo_coins, load_elo_merged_results
from rrmlib.judge import swapped
from rrmlib.paper import knockout_bracket
from rrmlib.seeding import stable_int
from rrmlib.tournament import Ask, Driver, Knockout, RoundRobin, Swiss, matches_frame
from rrmlib.votes import in_slot

FORMATS = ("round_robin", "knockout", "swiss")
ORDERS = ("scheduled", "shuffle")


# ---------------------------------------------------------------------------------------------
# Candidate sets and tournaments


def load_sets(dataset: str, data_path: str | None = None, limit: int | None = None) -> list[CandidateSet]:
    """Candidate sets of ``dataset`` (a registered name or a file); ``data_path`` is passed as
    ``path=`` (a local copy of a hub set, or the file of a ``qwen-math`` source)."""
    options = {"path": data_path} if data_path is not None else {}
    sets = load_candidates(dataset, **options)
    return sets[:limit] if limit is not None else sets


def set_seed(seed: int, set_id) -> int:
    """A per-set seed from a run seed and the set's id (sha256: the same in every process, and
    independent of which other sets a run holds, so ``limit`` does not change a set's draw)."""
    return stable_int(seed, set_id)


def round_robin(sets: Iterable[CandidateSet], *, both_orders: bool = False) -> dict:
    """Set id -> a round robin over the set's candidate indices."""
    return {s.id: RoundRobin(range(len(s.candidates)), both_orders=both_orders) for s in sets}


BRACKETS = ("paper", "order")


def bracket_of(n: int, bracket: str = "paper") -> list[int]:
    """The knockout bracket over candidates 0..n-1: the paper's for 32 candidates
    (``PPEdataset/knockout-mmlu-pro/tournament.json``: 3-7, 29-20, 19-5, ...) with
    ``bracket="paper"``, else the candidates' order."""
    if bracket not in BRACKETS:
        raise ValueError(f"bracket must be one of {BRACKETS}, got {bracket!r}")
    if bracket == "paper" and n == 32:
        return knockout_bracket()
    return list(range(n))


def knockout(sets: Iterable[CandidateSet], *, bracket: str = "paper", shuffle_seed: int | None = None) -> dict:
    """Set id -> a knockout over the set's candidate indices: the bracket of ``bracket_of``
    (the paper's for 32 candidates), or with ``shuffle_seed`` a seeded permutation of the
    candidates, drawn per set (``set_seed``)."""
    if shuffle_seed is not None:
        return {s.id: Knockout(range(len(s.candidates)), shuffle_seed=set_seed(shuffle_seed, s.id)) for s in sets}
    return {s.id: Knockout(bracket_of(len(s.candidates), bracket)) for s in sets}


def swiss(sets: Iterable[CandidateSet], *, rounds: int | None = None, seed: int = 0) -> dict:
    """Set id -> a Swiss tournament (``rounds`` None: ceil(log2 N)); its pairing seed per set."""
    return {s.id: Swiss(range(len(s.candidates)), rounds=rounds, seed=set_seed(seed, s.id)) for s in sets}


# ---------------------------------------------------------------------------------------------
# Judging matches


_JUDGMENT_DTYPES = {
    "question": "string", "round": "int64", "slot": "int64", "a": "Int64", "b": "Int64", "first": "Int64",
    "attempt": "int64", "step": "int64", "key": "string", "verdict": "Int64", "winner": "Int64",
    "prompt_tokens": "Int64", "completion_tokens": "Int64", "think_tokens": "Int64", "cut_off": "bool",
}


def judgments_frame(rows: list[dict]) -> pd.DataFrame:
    """Judgment rows with fixed dtypes, so results.parquet has one schema whatever the values.

    ``first`` is the entrant shown in slot 1 (``a`` unless the shown order was swapped),
    ``verdict`` the slot the judge named (1, 2, or missing when unparseable), ``winner`` the
    entrant that slot holds, ``attempt`` 0 for a first ask and k for the k-th re-ask (it is the
    judge's sample index), ``step`` the judge call it came from.
    """
    return pd.DataFrame(rows, columns=list(_JUDGMENT_DTYPES)).astype(_JUDGMENT_DTYPES)


class MatchJudge:
    """A ``judge_batch`` for ``tournament.Driver``: one ``Judge.judge`` call per driver step.

    Each ask becomes the judge item (question = the set's prompt, slot 1 = match.a's text, slot
    2 = match.b's text, sample index = the ask's attempt, so a re-ask draws a new sample and is
    stored under its own key). The verdict's slot is mapped back to the entrant
    (``votes.in_slot``): 1 -> match.a, 2 -> match.b, unparseable -> None. With
    ``order="shuffle"`` each match is instead shown in a seeded order (a coin per (seed,
    question, a, b), the same for every attempt), so that no candidate is always in the first
    slot. Every judgment is logged in ``rows``.
    """

    def __init__(self, judge, sets: Mapping[str, CandidateSet] | Iterable[CandidateSet], *,
                 order: str = "scheduled", seed: int = 0, desc: str = "judging matches"):
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
        self.judge = judge
        self.sets = dict(sets) if isinstance(sets, Mapping) else {s.id: s for s in sets}
        self.order, self.seed, self.desc = order, seed, desc
        self.calls = 0
        self.rows: list[dict] = []

    def swapped(self, question, match) -> bool:
        return self.order == "shuffle" and swapped(self.seed, f"{question}\x00{match.a}\x00{match.b}")

    def item(self, ask: Ask) -> tuple[str, str, str, int]:
        s = self.sets[ask.tournament]
        first, second = ask.match.a, ask.match.b
        if self.swapped(ask.tournament, ask.match):
            first, second = second, first
        return (s.prompt, s.candidates[first], s.candidates[second], ask.attempt)

    def __call__(self, asks: list[Ask]) -> list:
        judgments = self.judge.judge([self.item(a) for a in asks], desc=self.desc)
        self.calls += 1
        winners = []
        for ask, j in zip(asks, judgments):
            m, swap = ask.match, self.swapped(ask.tournament, ask.match)
            first, second = (m.b, m.a) if swap else (m.a, m.b)
            winner = in_slot(j.verdict, first, second)
            winners.append(winner)
            self.rows.append({
                "question": ask.tournament, "round": m.round, "slot": m.slot, "a": m.a, "b": m.b,
                "first": first, "attempt": ask.attempt, "step": self.calls, "key": j.key, "verdict": j.verdict,
                "winner": winner, "prompt_tokens": j.prompt_tokens, "completion_tokens": j.completion_tokens,
                "think_tokens": j.think_tokens, "cut_off": j.cut_off,
            })
        return winners

    def frame(self) -> pd.DataFrame:
        return judgments_frame(self.rows)


def play(judge, sets: Iterable[CandidateSet], tournaments: Mapping | Callable, *, order: str = "scheduled",
         max_retries: int = 0, unparseable: str = "coin", seed: int = 0, desc: str = "judging matches"):
    """Play one tournament per candidate set with the judge, all sets together.

    ``tournaments``: set id -> tournament (e.g. from ``round_robin(sets)``), or a function of a
    set returning its tournament. Returns ``(tournaments, judgments, driver)``: the finished
    tournaments, one row per judgment (``judgments_frame``) and the driver (``steps`` = judge
    calls, ``asked``, ``undecided``/``coin_flips`` for the matches the policy decided).
    """
    sets = list(sets)
    if callable(tournaments):
        tournaments = {s.id: tournaments(s) for s in sets}
    match_judge = MatchJudge(judge, sets, order=order, seed=seed, desc=desc)
    driver = Driver(tournaments, match_judge, max_retries=max_retries, unparseable=unparseable, seed=seed)
    driver.run()
    return tournaments, match_judge.frame(), driver


_MATCH_DTYPES = {"question": "string", "a": "Int64", "b": "Int64", "first": "Int64", "winner": "Int64",
                 "round": "int64", "decided_by": "string", "coin": "bool", "judgments": "int64", "format": "string"}


def matches_table(tournaments: Mapping, driver: Driver | None = None, judgments: pd.DataFrame | None = None, *,
                  format: str) -> pd.DataFrame:
    """One row per recorded match: question, a, b, the entrant shown ``first`` (in slot 1; the
    original's rival_1, which its ELO step lists first), winner (missing: a draw), round, how it
    was decided (``judge``, ``coin`` or ``draw`` after unparseable verdicts; ``coin`` repeats it
    as a flag), how many judgments it cost, and the tournament ``format`` (for ``elo_accuracy``)."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    df = matches_frame(tournaments)
    policy = {(u.tournament, u.match.a, u.match.b): u.policy for u in (driver.undecided if driver else [])}
    keys = list(zip(df["question"], df["a"], df["b"]))
    df["decided_by"] = [policy.get(k, "judge") for k in keys]
    df["coin"] = df["decided_by"] == "coin"
    if judgments is not None and len(judgments):
        cost = judgments.groupby(["question", "a", "b"]).size()
        cost.index = [(q, int(a), int(b)) for q, a, b in cost.index]
        df["judgments"] = [int(cost.get(k, 0)) for k in keys]
        shown = judgments.groupby(["question", "a", "b"])["first"].last()
        shown.index = [(q, int(a), int(b)) for q, a, b in shown.index]
        df["first"] = [shown.get(k, a) for k, a in zip(keys, df["a"])]
    else:
        df["judgments"] = 1
        df["first"] = df["a"]
    df["format"] = format
    df["winner"] = df["winner"].astype(object).where(df["winner"].notna(), None)
    return df[list(_MATCH_DTYPES)].astype(_MATCH_DTYPES)


def judgment_metrics(judgments: pd.DataFrame, matches: pd.DataFrame, driver: Driver, n_sets: int) -> dict:
    """What a tournament run spent and how often the judge failed to give a verdict."""
    n = len(judgments)
    verdicts = judgments["verdict"].dropna()
    return {
        "questions": n_sets,
        "matches": len(matches),
        "judgments": n,
        "judgments_per_question": n / n_sets if n_sets else None,
        "judge_calls": driver.steps,
        "reasks": int((judgments["attempt"] > 0).sum()),
        "unparseable": float(judgments["verdict"].isna().mean()) if n else None,
        "cut_off": float(judgments["cut_off"].mean()) if n else None,
        "slot1_share": float((verdicts == 1).mean()) if len(verdicts) else None,  # position bias
        "coin_flips": len(driver.coin_flips),
        "draws": int(sum(u.policy == "draw" for u in driver.undecided)),
    }


# ---------------------------------------------------------------------------------------------
# Replaying the paper's knockout records


def replay_judgments(tournaments: Mapping, driver: Driver | None = None) -> pd.DataFrame:
    """Judgment rows for knockouts played from recorded outcomes (``tournament.replay``): one
    per match, shown in match order, no completion behind it. A match the records decided by a
    coin (in ``driver.undecided``) has no verdict, as the judgment behind it gave none."""
    coins = {(str(u.tournament), u.match.a, u.match.b) for u in (driver.undecided if driver else [])}
    rows = [{"question": str(q), "round": r, "slot": slot, "a": a, "b": b, "first": a, "attempt": 0, "step": r,
             "key": None, "verdict": None if (str(q), a, b) in coins else 1 if w == a else 2, "winner": w,
             "prompt_tokens": None, "completion_tokens": None, "think_tokens": None, "cut_off": False}
            for q, t in tournaments.items() for r, played in enumerate(t.rounds, 1)
            for slot, (a, b, w) in enumerate(played)]
    return judgments_frame(rows)


# ---------------------------------------------------------------------------------------------
# Match records in, picks and accuracy out


def read_matches(path) -> pd.DataFrame:
    """Match records as (question, a, b, first, winner, judgments, format, coin): an ``elo_rival`` or
    ``knockout`` run's ``matches.parquet`` (or its run folder), or the original RRM
    evaluation's merged ELO results (``{rival: {"details": [...]}}`` JSON; each match one
    judgment, round robin). ``question`` is a string (a candidate set's id), entrants ints, and
    a draw's winner None (what ``rrmlib.ratings`` expects)."""
    path = Path(path)
    if path.is_dir():
        path = path / "matches.parquet"
    if not path.exists():
        raise FileNotFoundError(f"no match records at {path}")
    if path.suffix == ".json":
        df = load_elo_merged_results(path)
        df["coin"] = elo_coins(df)
        df["judgments"] = 1
        df["format"] = "round_robin"
    else:
        df = pd.read_parquet(path)
        missing = [c for c in ("question", "a", "b", "winner") if c not in df.columns]
        if missing:
            raise ValueError(f"{path}: match records need columns question, a, b, winner; missing {missing}")
        if "judgments" not in df.columns:
            df["judgments"] = 1
        if "format" not in df.columns:
            df["format"] = "round_robin"
    first = df["first"] if "first" in df.columns else df["a"]  # the merged JSON's rival_1 is shown first
    out = pd.DataFrame({"question": df["question"].astype(str), "a": df["a"].astype(int), "b": df["b"].astype(int),
                        "first": first.fillna(df["a"]).astype(int),
                        "winner": pd.Series([None if pd.isna(w) else int(w) for w in df["winner"]], dtype=object,
                                            index=df.index),
                        "judgments": df["judgments"].astype(int), "format": df["format"].astype(str),
                        # decided by a coin, not a verdict (a run's own flag; the merged JSON's, read
                        # as the original's elo_rival_results.py read its verdicts)
                        "coin": df["coin"].astype(bool) if "coin" in df.columns else False})
    formats = set(out["format"])
    if len(formats) > 1:
        raise ValueError(f"{path}: mixed tournament formats {sorted(formats)}")
    out.attrs["source"] = str(path)
    return out


def _beside(matches_path, name: str) -> pd.DataFrame | None:
    """The table ``name`` a run wrote beside its matches file (None for the paper's merged
    results file, or where there is none), with ``question`` as text."""
    path = Path(matches_path)
    table = (path if path.is_dir() else path.parent) / name
    if not table.exists() or path.suffix == ".json":
        return None
    df = pd.read_parquet(table)
    return df.assign(question=df["question"].astype(str))


def read_picks(matches_path) -> pd.DataFrame | None:
    """A run's ``picks.parquet`` (question, pick) beside its matches file, if it wrote one."""
    return _beside(matches_path, "picks.parquet")


def read_scores(matches_path) -> pd.DataFrame | None:
    """A scalar judge's ``scores.parquet`` (question, candidate, score, ...) beside a run's
    matches file, if it wrote one (``elo_rival`` and ``knockout`` with ``backend="classifier"``):
    ``rrmlib.selection.pick_highest_scored`` makes its best-of-N pick, one forward pass per candidate."""
    return _beside(matches_path, "scores.parquet")


ELO_ORDERS = ("paper", "per-question", "recorded")


def rating_picks(matches: pd.DataFrame, *, k: float = 4.0, initial: float = 1000.0, scale: float = 400.0,
                 base: float = 10.0, elo_order: str = "paper", order_seed: int = 0,
                 prior: float = 1.0) -> tuple[dict, dict, dict]:
    """ELO and Bradley-Terry over each question's matches: ``(elo picks, bt picks, ratings)``
    where ``ratings`` holds both (question, entrant, rating) tables. ``matches`` may come from
    ``read_matches`` or straight from ``matches_table`` (nullable integer columns).

    ``elo_order``: ``"paper"`` plays and picks exactly as the original evaluation
    (``ratings.paper_elo``: one generator seeded with ``order_seed`` shuffles question after
    question; equal ratings go to the entrant evalica lists first); ``"per-question"`` shuffles
    each question on its own (``order_seed`` and the question's id); ``"recorded"`` keeps the
    records' order. Outside ``"paper"``, equal ratings go to the lowest entrant.
    """
    if elo_order not in ELO_ORDERS:
        raise ValueError(f"elo_order must be one of {ELO_ORDERS}, got {elo_order!r}")
    if elo_order == "paper":
        elo_picks, elo = ratings.paper_elo(matches, "question", seed=order_seed, k=k, initial=initial, scale=scale,
                                           base=base)
    else:
        elo = ratings.elo_by_group(matches, "question", k=k, initial=initial, scale=scale, base=base,
                                   order_seed=order_seed if elo_order == "per-question" else None)
        elo_picks = selection.pick_by_rating(elo)
    bt = ratings.bradley_terry_by_group(matches, "question", prior=prior, initial=initial, scale=scale, base=base)
    return elo_picks, selection.pick_by_rating(bt), {"elo": elo, "bradley_terry": bt}


def restrict(sets: list[CandidateSet], questions: Iterable) -> list[CandidateSet]:
    """The sets whose ids are in ``questions`` (in the sets' order); a question without a set
    raises, naming it."""
    wanted = {str(q) for q in questions}
    by_id = {s.id: s for s in sets}
    unknown = sorted(wanted - set(by_id))
    if unknown:
        raise KeyError(f"{len(unknown)} question(s) of the match records have no candidate set "
                       f"(e.g. {unknown[:5]}): the records belong to another dataset")
    return [s for s in sets if s.id in wanted]


def check_entrants(sets: list[CandidateSet], matches: pd.DataFrame) -> None:
    """Every entrant of the records indexes a candidate of its question's set."""
    size = {s.id: len(s.candidates) for s in sets}
    n = matches["question"].map(size)
    bad = (matches["a"] >= n) | (matches["b"] >= n) | (matches["a"] < 0) | (matches["b"] < 0)
    if bad.any():
        row = matches[bad].iloc[0]
        raise IndexError(f"question {row['question']!r}: match {row['a']} vs {row['b']} but the set has "
                         f"{size[row['question']]} candidates: the records belong to another dataset")
