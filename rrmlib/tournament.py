"""Which matches to judge next: knockout, round robin and Swiss tournaments, and a driver that
plays many of them (one per question) with one judge call per step.

A tournament knows nothing of models: ``pending()`` says which matches can be judged now,
``record(match, winner)`` takes an outcome back. ``Driver`` collects the pending matches of all
tournaments into one batch, so a knockout over 32 entrants costs 5 judge calls however many
questions are played, and it owns the policy for verdicts that could not be parsed (re-ask, then
a seeded coin or a draw, each logged).

The last section reads the match records of the original RRM evaluation (knockout rounds and the
merged ELO results) so that they can be replayed through these classes.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from rrmlib.seeding import stable_int


@dataclass(frozen=True)
class Match:
    """Entrant ``a`` (shown first) against ``b``; ``round`` and ``slot`` place it in the schedule.

    ``key`` = (round, slot) is unique within one tournament and made of ints, so a judge can
    cache by it and the driver can seed a coin with it.
    """

    a: Hashable
    b: Hashable
    round: int
    slot: int

    @property
    def key(self) -> tuple[int, int]:
        return (self.round, self.slot)


def _missing(winner) -> bool:
    return winner is None or (isinstance(winner, float) and math.isnan(winner))


def _check_entrants(entrants) -> list:
    entrants = list(entrants)
    if not entrants:
        raise ValueError("a tournament needs at least one entrant")
    if any(e is None for e in entrants):
        raise ValueError("None cannot be an entrant: it stands for a draw")
    if len(set(entrants)) != len(entrants):
        dup = next(e for e in entrants if entrants.count(e) > 1)
        raise ValueError(f"entrant {dup!r} is listed more than once")
    return entrants


class _Tournament:
    allows_draws = False

    def __init__(self):
        self._pending: dict[Match, None] = {}  # a dict keeps the schedule order
        self._results: dict[Match, Any] = {}

    @property
    def done(self) -> bool:
        return not self._pending

    def pending(self) -> list[Match]:
        """The matches that can be judged now and have no outcome yet."""
        return list(self._pending)

    def record(self, match: Match, winner) -> None:
        """Take the outcome of a pending match: ``match.a``, ``match.b`` or None for a draw."""
        if match not in self._pending:
            state = "already recorded" if match in self._results else "not a pending match"
            raise ValueError(f"{type(self).__name__}: cannot record {match}: {state}")
        if _missing(winner):
            if not self.allows_draws:
                raise ValueError(f"{type(self).__name__} has no draws: {match} needs a winner")
            winner = None
        elif winner == match.a:
            winner = match.a
        elif winner == match.b:
            winner = match.b
        else:
            raise ValueError(f"winner {winner!r} is neither {match.a!r} nor {match.b!r} of {match}")
        del self._pending[match]
        self._results[match] = winner
        if not self._pending:
            self._next_round()

    def _next_round(self) -> None:
        pass

    def _recorded(self, round_: int | None = None) -> list[tuple]:
        done = sorted((m for m in self._results if round_ is None or m.round == round_), key=lambda m: m.key)
        return [(m.a, m.b, self._results[m]) for m in done]

    @property
    def matches(self) -> list[tuple]:
        """Every recorded match as (a, b, winner), in schedule order (winner None: a draw)."""
        return self._recorded()


class Knockout(_Tournament):
    """Single elimination over the bracket given by the entrants' order.

    Adjacent entrants meet in round 1 and winners of adjacent matches meet next. In a round with
    an odd number of entrants the last one gets a bye and stays last in the next round. With
    ``shuffle_seed`` the bracket is a seeded permutation of the entrants. N entrants: N - 1
    matches over ceil(log2 N) rounds. No draws.
    """

    def __init__(self, entrants: Sequence[Hashable], *, shuffle_seed: int | None = None):
        super().__init__()
        entrants = _check_entrants(entrants)
        if shuffle_seed is not None:
            entrants = [entrants[i] for i in np.random.default_rng(shuffle_seed).permutation(len(entrants))]
        self.bracket: list = entrants
        self.byes: list[tuple[int, Hashable]] = []  # (round, entrant)
        self._round = 0
        self._alive = entrants
        self._start_round()

    def _start_round(self) -> None:
        if len(self._alive) == 1:
            return
        self._round += 1
        alive = self._alive
        for slot in range(len(alive) // 2):
            self._pending[Match(alive[2 * slot], alive[2 * slot + 1], self._round, slot)] = None
        if len(alive) % 2:
            self.byes.append((self._round, alive[-1]))

    def _next_round(self) -> None:
        winners = [w for _, _, w in self._recorded(self._round)]
        if len(self._alive) % 2:
            winners.append(self._alive[-1])
        self._alive = winners
        self._start_round()

    @property
    def winner(self):
        """The champion once the tournament is done, else None."""
        return self._alive[0] if self.done else None

    @property
    def rounds(self) -> list[list[tuple]]:
        """Recorded matches per round, each as (a, b, winner)."""
        return [self._recorded(r) for r in range(1, self._round + 1)]


class RoundRobin(_Tournament):
    """Every pair of entrants meets once (in the entrants' order: (e0, e1), (e0, e2), ...).

    ``both_orders=True`` adds each pair again with the positions swapped, (b, a), after all the
    first-order matches, so a judge's position bias cancels. All matches are pending at once
    (round 1); draws are allowed.
    """

    allows_draws = True

    def __init__(self, entrants: Sequence[Hashable], both_orders: bool = False):
        super().__init__()
        self.entrants = _check_entrants(entrants)
        pairs = list(itertools.combinations(self.entrants, 2))
        if both_orders:
            pairs += [(b, a) for a, b in pairs]
        for slot, (a, b) in enumerate(pairs):
            self._pending[Match(a, b, 1, slot)] = None


class Swiss(_Tournament):
    """A fixed number of rounds; each round pairs entrants with equal or nearest scores.

    Ranking for the pairing: score, then a seeded random order (so equal scores, as in round 1,
    are paired by ``seed``, not by list position). No rematches: pairing backtracks to avoid
    them. An odd field gives a bye (scored as a win) to the lowest-ranked entrant without one.
    A win scores 1, a draw 0.5. ``rounds`` defaults to ceil(log2 N). The leader is ranked by
    score, then Buchholz (the sum of the opponents' scores), then the entrants' order.
    """

    allows_draws = True

    def __init__(self, entrants: Sequence[Hashable], rounds: int | None = None, seed: int = 0):
        super().__init__()
        self.entrants = _check_entrants(entrants)
        n = len(self.entrants)
        self.rounds_total = math.ceil(math.log2(n)) if rounds is None else int(rounds)
        # Rounds are paired one at a time, without lookahead. With a bye counted as a phantom
        # entrant, after r rounds every entrant still has n' - 1 - r unmet opponents among n' =
        # n + n % 2; while that is at least n'/2, Dirac's theorem guarantees a pairing with no
        # rematch (and no second bye). Beyond that a field can paint itself into a corner (6
        # entrants, 4 rounds: the unmet pairs can form two triangles): use a round robin then.
        most = max(1, (n + n % 2) // 2) if n > 1 else 0
        if not 0 <= self.rounds_total <= most:
            raise ValueError(f"Swiss over {n} entrants is guaranteed to pair without rematches for at most {most} "
                             f"rounds, got {self.rounds_total}; for more, play a RoundRobin")
        self.seed = seed
        self.byes: list[tuple[int, Hashable]] = []
        self._order = {e: i for i, e in enumerate(self.entrants)}
        self._score = {e: 0.0 for e in self.entrants}
        self._met: dict[Hashable, set] = {e: set() for e in self.entrants}
        self._round = 0
        self._next_round()

    def _next_round(self) -> None:
        # Scores count only finished rounds: credit the round that just ended.
        for m in (m for m in self._results if m.round == self._round):
            w = self._results[m]
            for e in (m.a, m.b):
                self._score[e] += 0.5 if w is None else float(w == e)
        if self._round == self.rounds_total:
            return
        self._round += 1
        rng = np.random.default_rng([self.seed, self._round])
        shuffle = dict(zip(self.entrants, rng.permutation(len(self.entrants))))
        ranked = sorted(self.entrants, key=lambda e: (-self._score[e], shuffle[e]))
        bye, pairs = self._pair(ranked)
        if bye is not None:
            self.byes.append((self._round, bye))
            self._score[bye] += 1.0
        for slot, (a, b) in enumerate(pairs):
            self._met[a].add(b)
            self._met[b].add(a)
            self._pending[Match(a, b, self._round, slot)] = None

    def _pair(self, ranked: list):
        had_bye = {e for _, e in self.byes}
        candidates = [e for e in reversed(ranked) if e not in had_bye] if len(ranked) % 2 else [None]
        self._budget = 200_000  # pairing steps; many rounds over a small field can make it hopeless
        for bye in candidates:  # lowest-ranked first
            pairs = self._pair_all([e for e in ranked if e != bye])
            if pairs is not None:
                return bye, pairs
        raise RuntimeError(f"Swiss round {self._round}: no pairing without a rematch")

    def _pair_all(self, ranked: list) -> list | None:
        # Depth-first: the highest-ranked unpaired entrant takes the nearest-ranked opponent it
        # has not met; backtrack when the rest cannot be paired.
        if not ranked:
            return []
        self._budget -= 1
        if self._budget < 0:
            raise RuntimeError(f"Swiss round {self._round}: no pairing without a rematch found (search gave up)")
        top, rest = ranked[0], ranked[1:]
        for i, other in enumerate(rest):
            if other in self._met[top]:
                continue
            tail = self._pair_all(rest[:i] + rest[i + 1:])
            if tail is not None:
                return [(top, other)] + tail
        return None

    @property
    def rounds(self) -> list[list[tuple]]:
        return [self._recorded(r) for r in range(1, self._round + 1)]

    def standings(self) -> pd.DataFrame:
        """Entrants ranked by score, Buchholz, then the entrants' order (finished rounds only)."""
        buchholz = {e: sum(self._score[o] for o in self._met[e]) for e in self.entrants}
        rows = [(e, self._score[e], buchholz[e], self._order[e]) for e in self.entrants]
        rows.sort(key=lambda r: (-r[1], -r[2], r[3]))
        return pd.DataFrame([r[:3] for r in rows], columns=["entrant", "score", "buchholz"])

    @property
    def leader(self):
        return self.standings()["entrant"].iloc[0]


# ---------------------------------------------------------------------------------------------
# Playing many tournaments at once


class Ask(NamedTuple):
    """One judgment requested from the judge: ``attempt`` is 0 on the first ask, 1 on the first
    re-ask of an unparseable verdict, ... (a judge can use it as a sample index)."""

    tournament: Hashable  # the position in the list, or the key in the mapping, of tournaments
    match: Match
    attempt: int


@dataclass(frozen=True)
class Undecided:
    """A match recorded without a verdict after ``attempts`` unparseable ones."""

    tournament: Hashable
    match: Match
    winner: Any  # the coin's pick, or None for a draw
    policy: str  # "coin" or "draw"
    attempts: int


UNPARSEABLE = ("coin", "draw", "raise")


class Driver:
    """Plays tournaments (a list, or a mapping such as question id -> tournament) together.

    Each ``step()`` makes ONE call ``judge_batch(asks) -> winners``: ``asks`` holds an ``Ask``
    for every pending match of every unfinished tournament, and the answer lists, per ask, the
    winner (``match.a`` or ``match.b``) or None when the verdict could not be parsed. Such a
    match is asked again in the next step, up to ``max_retries`` times; then ``unparseable``
    decides it: ``"coin"`` by a fair coin from ``numpy.random.default_rng([seed, stable_int(key),
    round, slot])`` (the tournament's key, so filtering the collection changes no coin), ``"draw"`` as a draw where
    the format allows one (a knockout falls back to the coin), ``"raise"`` stops. Every match
    so decided is in ``undecided``.
    """

    def __init__(self, tournaments, judge_batch: Callable[[list[Ask]], Sequence], *, max_retries: int = 0,
                 unparseable: str = "coin", seed: int = 0):
        if unparseable not in UNPARSEABLE:
            raise ValueError(f"unparseable must be one of {UNPARSEABLE}, got {unparseable!r}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.tournaments = tournaments
        self._keys = list(tournaments.keys()) if isinstance(tournaments, Mapping) else list(range(len(tournaments)))
        self.judge_batch = judge_batch
        self.max_retries = max_retries
        self.unparseable = unparseable
        self.seed = seed
        self.steps = 0  # judge calls made
        self.asked = 0  # judgments asked for, re-asks included
        self.undecided: list[Undecided] = []
        self._attempts: dict[tuple, int] = {}

    @property
    def coin_flips(self) -> list[Undecided]:
        return [u for u in self.undecided if u.policy == "coin"]

    @property
    def done(self) -> bool:
        return all(self.tournaments[k].done for k in self._keys)

    def step(self) -> int:
        """One judge call over every pending match; returns how many matches it asked about."""
        asks = [Ask(k, m, self._attempts.get((k, m), 0))
                for k in self._keys for m in self.tournaments[k].pending()]
        if not asks:
            return 0
        winners = list(self.judge_batch(asks))
        if len(winners) != len(asks):
            raise ValueError(f"judge_batch answered {len(winners)} of {len(asks)} asks")
        self.steps += 1
        self.asked += len(asks)
        for ask, winner in zip(asks, winners):
            if not _missing(winner):
                self.tournaments[ask.tournament].record(ask.match, winner)
                continue
            tries = ask.attempt + 1
            self._attempts[(ask.tournament, ask.match)] = tries
            if tries > self.max_retries:
                self._decide(ask, tries)
        return len(asks)

    def _decide(self, ask: Ask, tries: int) -> None:
        t, m = self.tournaments[ask.tournament], ask.match
        if self.unparseable == "raise":
            raise RuntimeError(f"tournament {ask.tournament!r}: {m} unparseable after {tries} asks")
        if self.unparseable == "draw" and t.allows_draws:
            winner, policy = None, "draw"
        else:
            rng = np.random.default_rng([self.seed, stable_int(ask.tournament), m.round, m.slot])
            winner, policy = (m.a if rng.integers(2) == 0 else m.b), "coin"
        t.record(m, winner)
        self.undecided.append(Undecided(ask.tournament, m, winner, policy, tries))

    def run(self) -> int:
        """Step until every tournament is done; returns the number of judge calls."""
        while self.step():
            pass
        return self.steps


def play(tournaments, judge_batch: Callable[[list[Ask]], Sequence], **options) -> int:
    """Play all tournaments to the end (see ``Driver``); returns the number of judge calls.
    Use ``Driver`` directly to read the log of undecided matches."""
    return Driver(tournaments, judge_batch, **options).run()


def matches_frame(tournaments, group: str = "question") -> pd.DataFrame:
    """The recorded matches of many tournaments as one DataFrame (group, a, b, winner, round),
    ready for ``rrmlib.ratings``; ``group`` is the list position or mapping key."""
    items = tournaments.items() if isinstance(tournaments, Mapping) else enumerate(tournaments)
    rows = [(k, m.a, m.b, w, m.round) for k, t in items for m, w in sorted(t._results.items(), key=lambda x: x[0].key)]
    return pd.DataFrame(rows, columns=[group, "a", "b", "winner", "round"])


def replay(tournaments: Mapping, records: Mapping[Hashable, Mapping[tuple, Hashable]],
           undecided: Mapping[Hashable, Collection[tuple]] | None = None) -> Driver:
    """Play tournaments (question id -> tournament) with recorded outcomes as the judge; a match
    the records lack raises KeyError. Returns the finished driver (``steps``, ``asked``).

    A match listed in ``undecided`` (question id -> its (a, b) pairs) was decided in the records
    by a coin, not a verdict: it takes the recorded winner, the coin's pick, as the original's
    next round did, and is logged in ``driver.undecided`` as a coin, as a judged run logs its own."""
    coins: list[tuple[Ask, Hashable]] = []

    def judge(asks: list[Ask]) -> list:
        out = []
        for ask in asks:
            try:
                out.append(records[ask.tournament][(ask.match.a, ask.match.b)])
            except KeyError:
                raise KeyError(f"question {ask.tournament!r}: {ask.match} is not in the records") from None
            if undecided and (ask.match.a, ask.match.b) in undecided.get(ask.tournament, ()):
                coins.append((ask, out[-1]))
        return out

    driver = Driver(tournaments, judge, max_retries=0, unparseable="raise")
    driver.run()
    driver.undecided.extend(Undecided(ask.tournament, ask.match, winner, "coin", 1) for ask, winner in coins)
    return driver
