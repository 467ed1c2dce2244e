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
from pathlib import Path
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


# ---------------------------------------------------------------------------------------------
# Records of the original RRM evaluation (microsoft/LMOps, RRM-evaluation)

ROUND_NAMES = ("first", "second", "third", "fourth", "fifth")

# The verdicts each kind of record spells. A record whose ``pred`` is neither was decided without
# a verdict, by the original's coin: its ``winner`` is that coin's pick.
# Knockout rounds: spelled as run_generative.py's reading spells them (``\boxed{Assistant 1}``'s
# body). Their writer is not in the PR; each of the 63,484 entries that spells a verdict has the
# winner it names, and the 4 that do not (RRM-7B, question 317, round 1: "B" and "I") have one
# of each rival, as a coin gives (tests/test_paper_records.py).
KNOCKOUT_VERDICTS = {"Assistant 1": 1, "Assistant 2": 2}
# Merged ELO results: RRM-evaluation/scripts/elo_rival_results.py compares, without a space,
# ``if pred == "Assistant1": winner = rival_1 elif pred == "Assistant2": winner = rival_2 else:
# winner = rival_1 if hash(line) % 2 == 0 else rival_2``.
ELO_VERDICTS = {"Assistant1": 1, "Assistant2": 2}


def elo_coins(merged: pd.DataFrame) -> pd.Series:
    """Which matches of ``load_elo_merged_results`` the original's coin decided: a winner, but a
    ``pred`` that elo_rival_results.py does not read as a verdict (``ELO_VERDICTS``)."""
    return ~merged["pred"].isin(list(ELO_VERDICTS)) & merged["winner"].notna()


def load_rrm_bracket(folder) -> list[int]:
    """The knockout bracket of ``tournament.json``: round 1's pairs flattened, in order.

    ``round_1`` lists [a, b] pairs of distinct entrants 0..n-1; ``round_k`` lists the groups
    whose winners meet in round k, each two adjacent groups of round k-1 joined; anything else
    in the file is a DataError naming it.
    """
    from rrmlib.data import DataError
    from rrmlib.data.files import field_name, read_json, shown

    path = Path(folder) / "tournament.json"
    data = read_json(path, lambda parts: (None, field_name(parts)))
    if not isinstance(data, dict):
        raise DataError(path, None, None, f"expected an object with a list 'round_1' of [a, b] pairs, "
                        f"got {type(data).__name__}")
    first = data.get("round_1")
    if first is None:
        raise DataError(path, None, "round_1", "missing: expected a list of [a, b] pairs")
    if not isinstance(first, list):
        raise DataError(path, None, "round_1", f"expected a list of [a, b] pairs, got {shown(first)}")
    if not first:
        raise DataError(path, None, "round_1", "empty")
    n = 2 * len(first)
    placed: dict[int, int] = {}
    for s, pair in enumerate(first):
        where = f"pair {s}"
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(e, int) and not isinstance(e, bool) for e in pair)):
            raise DataError(path, where, "round_1", f"expected [a, b], two response indices, got {shown(pair)}")
        for e in pair:
            if not 0 <= e < n:
                raise DataError(path, where, "round_1", f"entrant {e} out of range: {len(first)} pairs hold 0..{n - 1}")
            if e in placed:
                raise DataError(path, where, "round_1", f"entrant {e} is already in pair {placed[e]}")
            placed[e] = s
    groups, k = [list(p) for p in first], 1
    while len(groups) > 1:
        k += 1
        name = f"round_{k}"
        groups = [groups[g] + groups[g + 1] if g + 1 < len(groups) else groups[g] for g in range(0, len(groups), 2)]
        got = data.get(name)
        if got is None:
            raise DataError(path, None, name, f"missing: expected the {len(groups)} groups of round_{k - 1} joined in twos")
        if not isinstance(got, list) or len(got) != len(groups):
            raise DataError(path, None, name, f"expected {len(groups)} groups (round_{k - 1}'s joined in twos), "
                            f"got {shown(got)}")
        for g, (want, group) in enumerate(zip(groups, got)):
            if (not isinstance(group, list) or len(group) != len(want)
                    or any(not isinstance(e, int) or isinstance(e, bool) or e != w for e, w in zip(group, want))):
                raise DataError(path, f"group {g}", name, f"expected {shown(want, 120)} (groups {2 * g} and "
                                f"{2 * g + 1} of round_{k - 1} joined), got {shown(group, 120)}")
    for key in data:
        if not (key.startswith("round_") and key[6:].isdigit() and 1 <= int(key[6:]) <= k and key == f"round_{int(key[6:])}"):
            raise DataError(path, None, key, f"not a round of this bracket (round_1..round_{k})")
    return [e for pair in first for e in pair]


def load_rrm_knockout_records(folder, model: str = "7b", *, undecided: bool = False):
    """Recorded knockout outcomes: question id -> {(rival_1, rival_2): winner}; with
    ``undecided=True``, ``(outcomes, undecided)`` where ``undecided`` is question id ->
    {(rival_1, rival_2): pred} for the matches whose ``pred`` is no verdict (``KNOCKOUT_VERDICTS``):
    the original decided those by its coin, and their recorded winner is the coin's pick.

    Files ``{model}_tournament_{first..fifth}_round_voting_results.json`` hold
    ``{bracket slot: [{question_id, rival_1, rival_2, winner, pred}, ...]}``; rivals and winners
    are response indices 0-31 (ints), rival_1 the response shown first, ``pred`` the parsed
    verdict (``"Assistant 1"``/``"Assistant 2"``; the two other values, ``"B"`` and ``"I"`` in the
    7B first round, are no verdict, and their winner the coin's). Each question is listed twice
    per slot with identical entries. Checked, each failure a DataError naming file, slot and entry, and field:
    round k has slots "0".."16/2^(k-1)-1"; a round-1 slot is the same pair for every question,
    a later slot's rivals are the winners of slots 2s and 2s+1 of the round before, in that
    order; a question's repeated entries agree; every question has an entry in every slot.
    """
    from rrmlib.data import DataError
    from rrmlib.data.files import field_name, read_json, shown

    def place(parts):
        if len(parts) >= 2 and isinstance(parts[1], int):
            return f"slot {parts[0]!r}, entry {parts[1]}", field_name(parts[2:])
        return (f"slot {parts[0]!r}", None) if parts else (None, None)

    def integer(path, where, e, name, high=None):
        if e.get(name) is None:
            raise DataError(path, where, name, "missing")
        v = e[name]
        if not isinstance(v, int) or isinstance(v, bool):
            raise DataError(path, where, name, f"expected int, got {type(v).__name__} {shown(v)}")
        if v < 0 or (high is not None and v >= high):
            raise DataError(path, where, name, f"{v} out of range: " + (f"responses are 0..{high - 1}" if high else "not >= 0"))
        return v

    entrants = 2 ** len(ROUND_NAMES)  # 32: five rounds
    records: dict[int, dict[tuple[int, int], int]] = {}
    no_verdict: dict[int, dict[tuple[int, int], str]] = {}
    played: dict[tuple, tuple] = {}   # (round, slot, question) -> ((rival_1, rival_2), winner, where)
    bracket: dict[int, tuple] = {}    # round-1 slot -> (pair, where)
    count: dict[int, int] = {}        # question -> slots with an entry
    first_at: dict[int, tuple] = {}   # question -> (path, where)
    paths = []
    for k, name in enumerate(ROUND_NAMES, 1):
        path = Path(folder) / f"{model}_tournament_{name}_round_voting_results.json"
        paths.append(path)
        data = read_json(path, place)
        if not isinstance(data, dict):
            raise DataError(path, None, None, f"expected an object {{slot: [entries]}}, got {type(data).__name__}")
        slots = entrants >> k
        keys = [str(s) for s in range(slots)]
        for key in data:
            if key not in keys:
                raise DataError(path, f"slot {key!r}", None, f"not a slot of the {name} round (slots '0'..'{slots - 1}')")
        for s, key in enumerate(keys):
            if key not in data:
                raise DataError(path, f"slot {key!r}", None, f"missing: the {name} round has slots '0'..'{slots - 1}'")
            entries = data[key]
            if not isinstance(entries, list):
                raise DataError(path, f"slot {key!r}", None, f"expected a list of entries, got {shown(entries)}")
            if not entries:
                raise DataError(path, f"slot {key!r}", None, "empty: no entries")
            for i, e in enumerate(entries):
                where = f"slot {key!r}, entry {i}"
                if not isinstance(e, dict):
                    raise DataError(path, where, None, f"expected an object, got {shown(e)}")
                q = integer(path, where, e, "question_id")
                r1, r2 = integer(path, where, e, "rival_1", entrants), integer(path, where, e, "rival_2", entrants)
                if r1 == r2:
                    raise DataError(path, where, "rival_2", f"{r2} is rival_1 as well")
                w = integer(path, where, e, "winner")
                if w not in (r1, r2):
                    raise DataError(path, where, "winner", f"{w} is not a rival ({r1} or {r2})")
                if e.get("pred") is None:
                    raise DataError(path, where, "pred", "missing")
                if not isinstance(e["pred"], str):
                    raise DataError(path, where, "pred", f"expected str, got {type(e['pred']).__name__} {shown(e['pred'])}")
                pair = (r1, r2)
                prev = played.get((k, s, q))
                if prev is not None:
                    if (prev[0], prev[1]) != (pair, w):
                        name_ = "winner" if prev[0] == pair else ("rival_1" if prev[0][0] != r1 else "rival_2")
                        raise DataError(path, where, name_, f"question {q} is already at {prev[2]} as {prev[0]} "
                                        f"won by {prev[1]}; here {pair} won by {w}")
                    continue
                if k == 1:
                    if s not in bracket:
                        for t, (other, at) in bracket.items():
                            if set(other) & set(pair):
                                raise DataError(path, where, "rival_1" if r1 in other else "rival_2",
                                                f"{pair} shares an entrant with slot '{t}' {other} ({at})")
                        bracket[s] = (pair, where)
                    elif bracket[s][0] != pair:
                        raise DataError(path, where, "rival_1" if bracket[s][0][0] != r1 else "rival_2",
                                        f"slot '{s}' is {bracket[s][0]} ({bracket[s][1]}): a round-1 slot is one "
                                        f"pair of the bracket for every question, here {pair}")
                else:
                    a, b = played.get((k - 1, 2 * s, q)), played.get((k - 1, 2 * s + 1, q))
                    if a is not None and b is not None and pair != (a[1], b[1]):
                        raise DataError(path, where, "rival_1" if r1 != a[1] else "rival_2",
                                        f"question {q}: {pair}, but the winners of slots '{2 * s}' and '{2 * s + 1}' "
                                        f"of the {ROUND_NAMES[k - 2]} round are ({a[1]}, {b[1]})")
                played[(k, s, q)] = (pair, w, where)
                records.setdefault(q, {})[pair] = w
                if e["pred"] not in KNOCKOUT_VERDICTS:
                    no_verdict.setdefault(q, {})[pair] = e["pred"]
                count[q] = count.get(q, 0) + 1
                first_at.setdefault(q, (path, where))
    total = entrants - 1
    for q, c in count.items():
        if c == total:
            continue
        if 2 * c <= total:
            raise DataError(first_at[q][0], first_at[q][1], "question_id",
                            f"question {q} has entries in {c} of the {total} slots, the other questions in all")
        for k, name in enumerate(ROUND_NAMES, 1):
            for s in range(entrants >> k):
                if (k, s, q) not in played:
                    raise DataError(paths[k - 1], f"slot '{s}'", "question_id",
                                    f"no entry for question {q}, which has entries in {c} of the {total} slots")
    return (records, no_verdict) if undecided else records


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


def load_elo_merged_results(path) -> pd.DataFrame:
    """The ELO step's ``*_merged_results.json`` as matches: one row per judged match with
    columns question, a, b, winner (None where it is neither rival: a draw), pred, and any other
    fields of the entries (``score``). The layout is ``{rival: {"details": [{question_id,
    rival_1, rival_2, winner, pred, ...}]}}``: one key per file of judgments, not per entrant,
    so a match is listed once.

    Checked, each failure a DataError naming the file, block and entry, and field: question ids
    all ints or all non-empty strings; rivals distinct ints >= 0; the winner a rival, -1 or null
    (a draw); ``pred`` a string; ``score`` (where the entries have it: all or none) null, a
    boolean or 0/1; no match (question, rival_1, rival_2) listed twice.
    """
    from collections import Counter

    from rrmlib.data import DataError
    from rrmlib.data.files import field_name, read_json, shown

    def place(parts):
        if len(parts) >= 3 and parts[1] == "details" and isinstance(parts[2], int):
            return f"block {parts[0]!r}, entry {parts[2]}", field_name(parts[3:])
        return (f"block {parts[0]!r}", field_name(parts[1:])) if parts else (None, None)

    def rival(where, d, name):
        v = d[name]
        if v is None:
            raise DataError(path, where, name, "missing")
        if not isinstance(v, int) or isinstance(v, bool):
            raise DataError(path, where, name, f"expected int, got {type(v).__name__} {shown(v)}")
        if v < 0:
            raise DataError(path, where, name, f"{v} out of range: candidates are numbered from 0")
        return v

    path = Path(path)
    data = read_json(path, place)
    if not isinstance(data, dict):
        raise DataError(path, None, None, f"expected an object {{rival: {{'details': [...]}}}}, got {type(data).__name__}")
    if not data:
        raise DataError(path, None, None, "no records")
    # Question ids of one kind: the kind most entries have (the odd entry is the one named).
    kinds = Counter(type(d.get("question_id")) for b in data.values() if isinstance(b, dict)
                    and isinstance(b.get("details"), list) for d in b["details"] if isinstance(d, dict))
    kinds = [k for k, _ in kinds.most_common() if k in (int, str)]
    kind = kinds[0] if kinds else None
    rows, seen, scored = [], {}, []
    for key, block in data.items():
        at = f"block {key!r}"
        if not isinstance(block, dict):
            raise DataError(path, at, None, f"expected an object with 'details', got {shown(block)}")
        details = block.get("details")
        if details is None:
            raise DataError(path, at, "details", "missing")
        if not isinstance(details, list):
            raise DataError(path, at, "details", f"expected a list of entries, got {shown(details)}")
        if not details:
            raise DataError(path, at, "details", "empty")
        for i, d in enumerate(details):
            where = f"block {key!r}, entry {i}"
            if not isinstance(d, dict):
                raise DataError(path, where, None, f"expected an object, got {shown(d)}")
            for f in ("question_id", "rival_1", "rival_2", "winner", "pred"):
                if f not in d:
                    raise DataError(path, where, f, "missing")
            q = d["question_id"]
            if q is None:
                raise DataError(path, where, "question_id", "missing")
            if not isinstance(q, (int, str)) or isinstance(q, bool):
                raise DataError(path, where, "question_id", f"expected int or str, got {type(q).__name__} {shown(q)}")
            if isinstance(q, str) and not q.strip():
                raise DataError(path, where, "question_id", "empty")
            if type(q) is not kind:
                raise DataError(path, where, "question_id", f"{type(q).__name__} {shown(q)}, while most entries have "
                                f"{kind.__name__} ids: ids of one kind (1 and '1' would be two questions)")
            a, b = rival(where, d, "rival_1"), rival(where, d, "rival_2")
            if a == b:
                raise DataError(path, where, "rival_2", f"{b} is rival_1 as well")
            w = d["winner"]
            if w is not None and (not isinstance(w, int) or isinstance(w, bool)):
                raise DataError(path, where, "winner", f"expected int or null, got {type(w).__name__} {shown(w)}")
            if w not in (a, b, -1, None):
                raise DataError(path, where, "winner", f"{w} is neither rival ({a} or {b}) nor -1 (a draw)")
            if not isinstance(d["pred"], str):
                raise DataError(path, where, "pred", f"expected str, got {type(d['pred']).__name__} {shown(d['pred'])}")
            s = d.get("score")
            if s is not None and not (isinstance(s, bool) or (isinstance(s, int) and s in (0, 1))):
                raise DataError(path, where, "score", f"expected null, a boolean or 0/1, got {shown(s)}")
            scored.append(("score" in d, where))
            match = (q, a, b)
            if match in seen:
                raise DataError(path, where, "question_id", f"match {a} vs {b} of question {shown(q)} is already "
                                f"listed at {seen[match]}")
            seen[match] = where
            rows.append(d)
    have = sum(h for h, _ in scored)
    if 0 < have < len(scored):
        odd = not (2 * have >= len(scored))
        where = next(w for h, w in scored if h == odd)
        raise DataError(path, where, "score", "given here, while most entries have none" if odd else
                        "missing, while most entries have one")
    df = pd.DataFrame(rows).rename(columns={"question_id": "question", "rival_1": "a", "rival_2": "b"})
    draw = (df["winner"] != df["a"]) & (df["winner"] != df["b"])
    df["winner"] = df["winner"].astype(object).where(~draw, None)
    first = ["question", "a", "b", "winner"]
    return df[first + [c for c in df.columns if c not in first]]
