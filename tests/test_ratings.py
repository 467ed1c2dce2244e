import itertools
import math

import choix
import evalica
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rrmlib import ratings

ELO_PER_NAT = 400 / math.log(10)


def frame(rows):
    return pd.DataFrame(rows, columns=["a", "b", "winner"])


def synthetic(n_entrants=6, n_matches=400, seed=0, draws=0.0, strengths=None):
    """Matches between random pairs drawn from a Bradley-Terry model (natural-log strengths)."""
    rng = np.random.default_rng(seed)
    s = rng.normal(size=n_entrants) if strengths is None else np.asarray(strengths)
    rows = []
    for _ in range(n_matches):
        a, b = rng.choice(n_entrants, size=2, replace=False)
        if rng.random() < draws:
            rows.append((a, b, None))
        else:
            rows.append((a, b, a if rng.random() < 1 / (1 + math.exp(s[b] - s[a])) else b))
    return frame(rows)


def grouped(n_groups=40, n_entrants=5, seed=0, draws=0.1):
    rng = np.random.default_rng(seed)
    parts = []
    for g in range(n_groups):
        pairs = list(itertools.combinations(range(n_entrants), 2)) * 2
        s = rng.normal(size=n_entrants)
        rows = []
        for a, b in pairs:
            u = rng.random()
            w = None if u < draws else (a if rng.random() < 1 / (1 + math.exp(s[b] - s[a])) else b)
            rows.append((f"q{g}", f"c{a}", f"c{b}", None if w is None else f"c{w}"))
        parts.append(pd.DataFrame(rows, columns=["question", "a", "b", "winner"]).sample(frac=1, random_state=g))
    return pd.concat(parts, ignore_index=True)


# --- Elo ------------------------------------------------------------------------------------

def test_elo_by_hand():
    # k = 32 from 1000 each.
    # 1) A beats B: expected 0.5, so A +16, B -16.                     A 1016, B 984, C 1000
    # 2) B beats C: E_B = 1/(1+10^(16/400)) = 0.476990; B +32*0.523010 = +16.7363
    #                                                                  B 1000.7363, C 983.2637
    # 3) A draws C: E_A = 1/(1+10^(-32.7363/400)) = 0.546972; A += 32*(0.5-0.546972) = -1.5031
    #                                                                  A 1014.4969, C 984.7668
    r = ratings.elo(frame([("A", "B", "A"), ("B", "C", "B"), ("A", "C", None)]), k=32)
    assert r["A"] == pytest.approx(1014.4969, abs=1e-3)
    assert r["B"] == pytest.approx(1000.7363, abs=1e-3)
    assert r["C"] == pytest.approx(984.7668, abs=1e-3)
    assert r.name == "rating" and r.index.name == "entrant" and list(r.index) == ["A", "B", "C"]


def test_elo_defaults_and_scale():
    r = ratings.elo(frame([("x", "y", "x")]))  # k 4, initial 1000
    assert r.to_dict() == {"x": 1002.0, "y": 998.0}
    r = ratings.elo(frame([("x", "y", "x")]), k=10, initial=0, scale=1, base=math.e)
    assert r["x"] == pytest.approx(5.0)


def test_elo_order_seed_shuffles_reproducibly():
    m = synthetic(n_matches=60, seed=1)
    W = evalica.Winner

    def direct(df):
        w = [W.X if x == a else W.Y for a, x in zip(df["a"], df["winner"])]
        return evalica.elo(df["a"].tolist(), df["b"].tolist(), w, initial=1000.0, base=10.0, scale=400.0, k=4.0).scores

    pd.testing.assert_series_equal(ratings.elo(m), direct(m), check_names=False)
    shuffled = m.iloc[np.random.default_rng(5).permutation(len(m))]
    pd.testing.assert_series_equal(ratings.elo(m, order_seed=5), direct(shuffled), check_names=False)
    assert not ratings.elo(m, order_seed=5).equals(ratings.elo(m))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.sampled_from(["a", "b", "draw"])),
                min_size=1, max_size=30))
def test_elo_is_zero_sum(rows):
    rows = [(a, b, {"a": a, "b": b, "draw": None}[w]) for a, b, w in rows if a != b]
    if not rows:
        return
    r = ratings.elo(frame(rows), k=16)
    assert r.sum() == pytest.approx(1000.0 * len(r))


def test_elo_by_group_equals_elo_on_each_group():
    m = grouped()
    for seed in (None, 11):
        table = ratings.elo_by_group(m, order_seed=seed, k=8)
        assert list(table.columns) == ["question", "entrant", "rating"]
        assert len(table) == 40 * 5
        for q, sub in m.groupby("question"):
            got = table[table["question"] == q].set_index("entrant")["rating"]
            want = ratings.elo(sub, order_seed=None if seed is None else ratings.group_order_seed(seed, q), k=8)
            pd.testing.assert_series_equal(got.sort_index(), want.sort_index(), check_names=False, rtol=1e-12)


def test_elo_by_group_shuffles_each_group_on_its_own():
    # Twenty questions with the very same matches and outcomes: one permutation shared by all
    # questions of a size would give them all the same ratings.
    one = pd.DataFrame([(a, b, a if (a + b) % 3 else b) for a, b in itertools.combinations(range(6), 2)],
                       columns=["a", "b", "winner"])
    m = pd.concat([one.assign(question=f"q{i}") for i in range(20)], ignore_index=True)
    table = ratings.elo_by_group(m, order_seed=0)
    per_question = table.pivot(index="question", columns="entrant", values="rating").round(9)
    assert len(per_question.drop_duplicates()) > 10
    # ... and a question's order does not depend on the others present.
    alone = ratings.elo_by_group(m[m["question"] == "q7"], order_seed=0).set_index("entrant")["rating"]
    pd.testing.assert_series_equal(per_question.loc["q7"].sort_index(), alone.round(9).sort_index(),
                                   check_names=False)


def test_elo_by_group_handles_ragged_groups():
    m = pd.DataFrame([("g1", 0, 1, 0), ("g2", 5, 6, None), ("g1", 1, 2, 2), ("g2", 6, 7, 7), ("g2", 5, 7, 5)],
                     columns=["q", "a", "b", "winner"])
    table = ratings.elo_by_group(m, group="q")
    for q, sub in m.groupby("q"):
        got = table[table["q"] == q].set_index("entrant")["rating"]
        pd.testing.assert_series_equal(got.sort_index(), ratings.elo(sub).sort_index(), check_names=False)


def test_bad_matches_raise():
    with pytest.raises(ValueError, match="neither a nor b"):
        ratings.elo(frame([("a", "b", "c")]))
    with pytest.raises(ValueError, match="same entrant"):
        ratings.bradley_terry(frame([("a", "a", "a")]))
    with pytest.raises(ValueError, match="missing"):
        ratings.elo(pd.DataFrame({"a": [1], "b": [2]}))


# --- Bradley-Terry --------------------------------------------------------------------------

def test_bradley_terry_by_hand():
    # x beats y 3 times out of 4: strength ratio 3, a gap of 400*log10(3) = 190.85 around 1000.
    r = ratings.bradley_terry(frame([("x", "y", "x")] * 3 + [("x", "y", "y")]))
    assert r["x"] - r["y"] == pytest.approx(400 * math.log10(3), abs=1e-6)
    assert r.mean() == pytest.approx(1000.0)


def test_bradley_terry_matches_choix():
    m = synthetic(n_entrants=6, n_matches=400, seed=2)
    data = [(w, b if w == a else a) for a, b, w in m.itertuples(index=False)]
    strength = choix.ilsr_pairwise(6, data, alpha=0.0, tol=1e-12, max_iter=1000)
    reference = pd.Series(ELO_PER_NAT * strength, index=range(6))
    ours = ratings.bradley_terry(m)
    np.testing.assert_allclose((ours - ours.mean()).sort_index(), (reference - reference.mean()), atol=1e-4)


def test_bradley_terry_does_not_depend_on_order():
    m = synthetic(seed=3, draws=0.1)
    shuffled = m.sample(frac=1, random_state=1)
    pd.testing.assert_series_equal(ratings.bradley_terry(m).sort_index(), ratings.bradley_terry(shuffled).sort_index(),
                                   atol=1e-6)


def test_bradley_terry_without_finite_fit_needs_prior():
    m = frame([("a", "b", "a"), ("a", "c", "a"), ("b", "c", "b"), ("c", "b", "c")])  # a never lost
    with pytest.raises(ValueError, match="prior"):
        ratings.bradley_terry(m)
    r = ratings.bradley_terry(m, prior=1.0)
    assert r.index[0] == "a" and np.isfinite(r).all()
    assert r["b"] == pytest.approx(r["c"])


def test_bradley_terry_by_group_equals_bradley_terry_on_each_group():
    m = grouped(n_groups=30, seed=4)
    for prior in (0.5, 0.0):
        sub_m = m if prior else m[m["question"].isin(_connected_groups(m))]
        table = ratings.bradley_terry_by_group(sub_m, prior=prior)
        assert set(table["question"]) == set(sub_m["question"])
        for q, sub in sub_m.groupby("question"):
            got = table[table["question"] == q].set_index("entrant")["rating"]
            want = ratings.bradley_terry(sub, prior=prior)
            pd.testing.assert_series_equal(got.sort_index(), want.sort_index(), check_names=False, atol=1e-5)


def _connected_groups(m):
    keep = []
    for q, sub in m.groupby("question"):
        try:
            ratings.bradley_terry(sub)
            keep.append(q)
        except ValueError:
            pass
    assert len(keep) >= 3
    return keep


def test_bradley_terry_by_group_names_groups_without_fit():
    m = pd.DataFrame([("q1", 0, 1, 0), ("q1", 1, 0, 1), ("q2", 0, 1, 0)], columns=["question", "a", "b", "winner"])
    with pytest.raises(ValueError, match=r"1 groups \(e.g. \['q2'\]\)"):
        ratings.bradley_terry_by_group(m)
    table = ratings.bradley_terry_by_group(m, prior=0.1).set_index(["question", "entrant"])["rating"]
    assert len(table) == 4
    # q2: 0 beat 1 once, plus a virtual draw of weight 0.1 (0.05 each way): odds 1.05 to 0.05
    assert table["q2", 0] - table["q2", 1] == pytest.approx(400 * math.log10(21), abs=1e-6)
    assert table["q1", 0] == pytest.approx(table["q1", 1])


def test_bootstrap_interval_contains_estimate_and_is_seeded():
    m = synthetic(n_entrants=5, n_matches=300, seed=5)
    ci = ratings.bradley_terry(m, bootstrap=300, seed=1)
    assert list(ci.columns) == ["rating", "lower", "upper"]
    assert ((ci["lower"] <= ci["rating"]) & (ci["rating"] <= ci["upper"])).all()
    assert (ci["upper"] - ci["lower"] > 10).all()
    pd.testing.assert_series_equal(ci["rating"], ratings.bradley_terry(m).rename("rating"))
    pd.testing.assert_frame_equal(ci, ratings.bradley_terry_ci(m, bootstrap=300, seed=1))
    assert not ci.equals(ratings.bradley_terry_ci(m, bootstrap=300, seed=2))
    assert isinstance(ratings.bradley_terry(m), pd.Series)


def test_bootstrap_drops_resamples_without_fit():
    m = frame([("a", "b", "a"), ("b", "a", "b"), ("a", "c", "a"), ("c", "a", "c"), ("b", "c", "c"),
               ("c", "b", "b")])
    with pytest.warns(UserWarning, match="resamples"):
        ci = ratings.bradley_terry_ci(m, bootstrap=200, seed=0)
    assert 0 < ci.attrs["dropped_resamples"] < 200
    assert ratings.bradley_terry_ci(m, bootstrap=200, seed=0, prior=1.0).attrs["dropped_resamples"] == 0


def test_nullable_integer_columns_with_a_draw():
    m = pd.DataFrame({"a": [0, 1, 0], "b": [1, 2, 2], "winner": [0, None, 2]}).astype("Int64")
    plain = pd.DataFrame({"a": [0, 1, 0], "b": [1, 2, 2], "winner": [0, None, 2]}, dtype=object)
    assert ratings.elo(m, k=32).to_dict() == ratings.elo(plain, k=32).to_dict()
