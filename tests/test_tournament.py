import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rrmlib.data.rrm_records import load_elo_merged_results, load_rrm_bracket, load_rrm_knockout_records
from rrmlib.tournament import Driver, Knockout, Match, RoundRobin, Swiss, matches_frame, play, replay

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def first_wins(asks):
    return [ask.match.a for ask in asks]


def play_alone(t, pick=lambda m: m.a):
    while not t.done:
        for m in t.pending():
            t.record(m, pick(m))
    return t


# --- Knockout -------------------------------------------------------------------------------

def test_knockout_bracket_is_entrant_order_and_odd_one_out_gets_a_bye():
    t = play_alone(Knockout(range(5)))
    assert t.rounds == [[(0, 1, 0), (2, 3, 2)], [(0, 2, 0)], [(0, 4, 0)]]
    assert t.byes == [(1, 4), (2, 4)]  # the last of each odd round
    assert t.winner == 0

    t = play_alone(Knockout(list("abcdefg")), pick=lambda m: m.b)
    assert t.rounds == [[("a", "b", "b"), ("c", "d", "d"), ("e", "f", "f")], [("b", "d", "d"), ("f", "g", "g")],
                        [("d", "g", "g")]]
    assert t.byes == [(1, "g")]


def test_knockout_winners_of_adjacent_matches_meet_next():
    t = Knockout(range(8))
    assert [(m.a, m.b) for m in t.pending()] == [(0, 1), (2, 3), (4, 5), (6, 7)]
    for m, w in zip(t.pending(), [1, 2, 5, 6]):
        t.record(m, w)
    assert [(m.a, m.b, m.round) for m in t.pending()] == [(1, 2, 2), (5, 6, 2)]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 32])
def test_knockout_match_and_round_counts(n):
    t = play_alone(Knockout(range(n)))
    assert sum(len(r) for r in t.rounds) == n - 1
    assert len(t.rounds) == math.ceil(math.log2(n))
    assert t.done and t.winner == 0


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 40), data=st.data())
def test_knockout_every_loser_loses_once(n, data):
    t = Knockout(range(n))
    while not t.done:
        for m in t.pending():
            t.record(m, data.draw(st.sampled_from([m.a, m.b])))
    losers = [b if w == a else a for r in t.rounds for a, b, w in r]
    assert len(losers) == len(set(losers)) == n - 1
    assert set(losers) | {t.winner} == set(range(n))


def test_knockout_shuffle_is_seeded_permutation():
    a, b = Knockout(range(16), shuffle_seed=3), Knockout(range(16), shuffle_seed=3)
    assert a.bracket == b.bracket and sorted(a.bracket) == list(range(16)) and a.bracket != list(range(16))
    assert Knockout(range(16)).bracket == list(range(16))


def test_knockout_rejects_bad_records():
    t = Knockout(range(4))
    m = t.pending()[0]
    with pytest.raises(ValueError, match="neither"):
        t.record(m, 3)
    with pytest.raises(ValueError, match="no draws"):
        t.record(m, None)
    with pytest.raises(ValueError, match="not a pending"):
        t.record(Match(0, 2, 1, 0), 0)
    t.record(m, 0)
    with pytest.raises(ValueError, match="already recorded"):
        t.record(m, 0)
    with pytest.raises(ValueError, match="more than once"):
        Knockout([1, 2, 1])
    with pytest.raises(ValueError, match="at least one"):
        Knockout([])


# --- Round robin ----------------------------------------------------------------------------

def test_round_robin_pairs_and_both_orders():
    t = RoundRobin("abcd")
    assert [(m.a, m.b) for m in t.pending()] == [("a", "b"), ("a", "c"), ("a", "d"), ("b", "c"), ("b", "d"),
                                                 ("c", "d")]
    both = RoundRobin("abcd", both_orders=True)
    pairs = [(m.a, m.b) for m in both.pending()]
    assert len(pairs) == 12 and len(set(pairs)) == 12
    assert {(b, a) for a, b in pairs} == set(pairs)
    assert len({m.key for m in both.pending()}) == 12


def test_round_robin_records_draws():
    t = RoundRobin([0, 1, 2])
    ms = t.pending()
    t.record(ms[0], None)
    t.record(ms[1], 2)
    assert not t.done
    t.record(ms[2], 1)
    assert t.done and t.matches == [(0, 1, None), (0, 2, 2), (1, 2, 1)]


# --- Swiss ----------------------------------------------------------------------------------

def _check_swiss(t: Swiss, n: int):
    played = [frozenset((a, b)) for r in t.rounds for a, b, _ in r]
    assert len(played) == len(set(played)), "rematch"
    for r, matches in enumerate(t.rounds, start=1):
        seen = [e for a, b, _ in matches for e in (a, b)] + [e for rr, e in t.byes if rr == r]
        assert sorted(seen) == sorted(t.entrants), f"round {r} does not seat everyone once"
    byes = [e for _, e in t.byes]
    assert len(byes) == len(set(byes)) == (len(t.rounds) if n % 2 else 0)
    total = t.standings()["score"].sum()
    assert total == pytest.approx(sum(len(r) for r in t.rounds) + len(byes))


@pytest.mark.parametrize("n", [2, 5, 7, 8, 32])
def test_swiss_schedule(n):
    t = Swiss(range(n), seed=1)
    rng = np.random.default_rng(n)
    while not t.done:
        for m in t.pending():
            t.record(m, [m.a, m.b, None][rng.integers(3)])
    assert len(t.rounds) == t.rounds_total == math.ceil(math.log2(n))
    _check_swiss(t, n)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 20), seed=st.integers(0, 2**16), data=st.data())
def test_swiss_no_rematches_property(n, seed, data):
    rounds = data.draw(st.integers(1, min(4, (n + n % 2) // 2)))
    t = Swiss(range(n), rounds=rounds, seed=seed)
    while not t.done:
        for m in t.pending():
            t.record(m, data.draw(st.sampled_from([m.a, m.b, None])))
    _check_swiss(t, n)


def test_swiss_pairs_equal_scores_and_strongest_leads():
    # Entrant strength = its number; the stronger always wins. After round 1 winners meet winners.
    t = Swiss(range(8), rounds=3, seed=5)
    play_alone(t, pick=lambda m: max(m.a, m.b))
    r1_winners = {w for _, _, w in t.rounds[0]}
    assert all({a, b} <= r1_winners or not ({a, b} & r1_winners) for a, b, _ in t.rounds[1])
    st_ = t.standings()
    assert t.leader == 7 and st_["score"].iloc[0] == 3
    scores = dict(zip(st_["entrant"], st_["score"]))
    for e, b in zip(st_["entrant"], st_["buchholz"]):
        opponents = [y if x == e else x for r in t.rounds for x, y, _ in r if e in (x, y)]
        assert b == sum(scores[o] for o in opponents)


def test_swiss_tie_break_by_entrant_order():
    t = Swiss(["x", "y"], rounds=1, seed=0)
    t.record(t.pending()[0], None)
    assert list(t.standings()["entrant"]) == ["x", "y"] and t.leader == "x"


def test_swiss_is_seeded_and_validates_rounds():
    def schedule(seed):
        t = play_alone(Swiss(range(10), seed=seed))
        return t.rounds
    assert schedule(4) == schedule(4)
    assert schedule(4) != schedule(5)
    with pytest.raises(ValueError, match="rounds"):
        Swiss(range(4), rounds=4)
    assert Swiss([7]).done and Swiss([7]).leader == 7


# --- Driver ---------------------------------------------------------------------------------

def test_driver_one_judge_call_per_round_for_many_knockouts():
    calls = []

    def judge(asks):
        calls.append(len(asks))
        return first_wins(asks)

    tournaments = [Knockout(range(32)) for _ in range(512)]
    assert play(tournaments, judge) == 5
    assert calls == [512 * 16, 512 * 8, 512 * 4, 512 * 2, 512]
    assert all(t.winner == 0 for t in tournaments)


def test_driver_reasks_unparseable_with_next_attempt():
    seen = []

    def judge(asks):
        seen.extend((a.tournament, a.match.key, a.attempt) for a in asks)
        # the first match of tournament "q2" is unparseable on its first ask only
        return [None if (a.tournament == "q2" and a.match.key == (1, 0) and a.attempt == 0) else a.match.b
                for a in asks]

    tournaments = {"q1": Knockout(range(4)), "q2": Knockout(range(4))}
    driver = Driver(tournaments, judge, max_retries=1)
    assert driver.run() == 3  # q2's round 1 waits one call for the re-ask
    assert ("q2", (1, 0), 1) in seen and driver.undecided == []
    assert driver.asked == 2 * 3 + 1
    assert tournaments["q1"].winner == tournaments["q2"].winner == 3


def test_driver_coin_after_retries_is_seeded_and_logged():
    def never(asks):
        return [None] * len(asks)

    def run(seed):
        ts = [Knockout(range(8)) for _ in range(20)]
        d = Driver(ts, never, max_retries=2, seed=seed)
        steps = d.run()
        return ts, d, steps

    ts, d, steps = run(7)
    assert steps == 3 * 3  # every round asked three times
    assert len(d.coin_flips) == 20 * 7 and all(u.attempts == 3 for u in d.coin_flips)
    # The documented coin, worked out here from its definition (sha256 of the tournament's key,
    # first 4 bytes big-endian, then numpy's default_rng([seed, that, round, slot])), for every
    # one of the 140 flips: a wrong formula agrees with it on all of them with odds 2^-140.
    import hashlib

    def coin(seed, key, match):
        h = int.from_bytes(hashlib.sha256(str(key).encode()).digest()[:4], "big")
        return [match.a, match.b][np.random.default_rng([seed, h, match.round, match.slot]).integers(2)]

    assert all(flip.winner == coin(7, flip.tournament, flip.match) for flip in d.coin_flips)
    assert [t.winner for t in ts] == [t.winner for t in run(7)[0]]
    assert [t.winner for t in ts] != [t.winner for t in run(8)[0]]
    assert len({t.winner for t in ts}) > 1


def test_driver_draw_policy_for_round_robin_coin_for_knockout():
    def never(asks):
        return [None] * len(asks)

    rr, ko = RoundRobin(range(3)), Knockout(range(2))
    d = Driver([rr, ko], never, max_retries=0, unparseable="draw")
    assert d.run() == 1
    assert rr.matches == [(0, 1, None), (0, 2, None), (1, 2, None)]
    assert [u.policy for u in d.undecided] == ["draw"] * 3 + ["coin"]
    with pytest.raises(RuntimeError, match="unparseable"):
        Driver([Knockout(range(2))], never, max_retries=0, unparseable="raise").run()


def test_driver_checks_the_judge_answer():
    with pytest.raises(ValueError, match="answered 0 of 1"):
        play([Knockout(range(2))], lambda asks: [])
    with pytest.raises(ValueError, match="neither"):
        play([Knockout(range(2))], lambda asks: ["z"] * len(asks))


def test_matches_frame_feeds_ratings():
    ts = {"q1": RoundRobin("abc"), "q2": Knockout("xy")}
    play(ts, first_wins)
    df = matches_frame(ts)
    assert list(df.columns) == ["question", "a", "b", "winner", "round"]
    assert df.values.tolist() == [["q1", "a", "b", "a", 1], ["q1", "a", "c", "a", 1], ["q1", "b", "c", "b", 1],
                                  ["q2", "x", "y", "x", 1]]


# --- Records of the original evaluation -----------------------------------------------------

@pytest.mark.parametrize("model", ["7b", "32b"])
def test_replay_rrm_knockout_records(model):
    folder = SHARED_DATA / "rrm" / "knockout-mmlu-pro"
    if not folder.exists():
        pytest.skip(f"needs the RRM knockout records at {folder} (absent in a fresh clone)")
    bracket = load_rrm_bracket(folder)
    assert sorted(bracket) == list(range(32))
    records = load_rrm_knockout_records(folder, model)
    assert len(records) == 512 and all(len(r) == 31 for r in records.values())
    final = json.loads((folder / f"{model}_tournament_fifth_round_voting_results.json").read_text())
    champion = {e["question_id"]: e["winner"] for e in final["0"]}

    tournaments = {q: Knockout(bracket) for q in records}
    driver = replay(tournaments, records)
    assert driver.steps == 5
    assert driver.asked == 512 * 31  # exactly the recorded matches, each once
    assert {q: t.winner for q, t in tournaments.items()} == champion


def test_load_elo_merged_results(tmp_path):
    path = tmp_path / "7b_merged_results.json"
    path.write_text(json.dumps({
        "0": {"details": [
            {"question_id": 0, "rival_1": 0, "rival_2": 1, "winner": 1, "pred": "Assistant2", "score": 1},
            {"question_id": 1, "rival_1": 1, "rival_2": 0, "winner": 1, "pred": "Assistant1", "score": 0}]},
        "2": {"details": [{"question_id": 0, "rival_1": 2, "rival_2": 3, "winner": -1, "pred": "", "score": None}]},
    }))
    df = load_elo_merged_results(path)
    assert list(df.columns[:4]) == ["question", "a", "b", "winner"]
    assert df[["question", "a", "b", "winner"]].values.tolist() == [[0, 0, 1, 1], [1, 1, 0, 1], [0, 2, 3, None]]
    assert df["pred"].tolist() == ["Assistant2", "Assistant1", ""]
    path.write_text(json.dumps({"0": {"details": [{"question_id": 0, "rival_1": 0}]}}))
    with pytest.raises(ValueError, match="rival_2"):
        load_elo_merged_results(path)


@pytest.mark.parametrize("n, cap", [(1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (6, 3), (7, 4), (8, 4), (9, 5), (10, 5),
                                    (16, 8), (17, 9)])
def test_swiss_round_cap_is_half_the_field_rounded_up_to_even(n, cap):
    # By hand: with a bye as a phantom entrant the field is n' = n + n % 2; round-by-round pairing
    # without rematches is guaranteed (Dirac) while n' - 1 - r >= n'/2, i.e. for r <= n'/2 rounds.
    assert Swiss(range(n), rounds=cap).rounds_total == cap
    with pytest.raises(ValueError, match=f"at most {cap} rounds"):
        Swiss(range(n), rounds=cap + 1)
