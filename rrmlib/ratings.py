"""Ratings from matches: online Elo and Bradley-Terry, on the Elo scale.

``matches`` is a DataFrame with columns ``a``, ``b`` and ``winner`` (equal to ``a`` or ``b``;
missing for a draw). Ratings are ``initial + scale * log_base(strength)``, so they are linear in
log-strength and a gap of ``scale`` means odds of ``base`` to 1.

Single fits go through evalica (parameters always passed: its defaults changed between
versions). The ``*_by_group`` variants rate thousands of questions at once with numpy (all
groups advance together), because one evalica call per question costs about a millisecond;
tests check they equal evalica group by group.
"""
from __future__ import annotations

import itertools
import math
import random
import warnings

import evalica
import numpy as np
import pandas as pd

from rrmlib.seeding import stable_int

_WIN, _TIE = 1.0, 0.5  # what a win and a draw score (evalica's win_weight / tie_weight)


def _outcomes(matches: pd.DataFrame) -> np.ndarray:
    """Score of ``a`` per match: 1 (a won), 0 (b won) or 0.5 (draw); bad rows raise."""
    missing = [c for c in ("a", "b", "winner") if c not in matches.columns]
    if missing:
        raise ValueError(f"matches need columns a, b, winner; missing {missing}")
    # Plain object arrays compare element by element whatever the columns' dtypes (an Arrow
    # string column against ints would raise instead of answering False).
    a, b, w = (matches[c].to_numpy(dtype=object) for c in ("a", "b", "winner"))
    draw = np.asarray(pd.isna(w), dtype=bool)
    w = np.where(draw, None, w)  # pd.NA (nullable columns) compares as NA, not False: replace it
    a_won = (w == a) & ~draw
    b_won = (w == b) & ~draw
    bad = ~(draw | a_won | b_won) | (a == b)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        row = matches.iloc[i]
        why = "a and b are the same entrant" if row["a"] == row["b"] else "winner is neither a nor b"
        raise ValueError(f"match at row {i} ({row['a']!r} vs {row['b']!r}, winner {row['winner']!r}): {why}")
    return np.where(draw, _TIE, a_won.astype(float))


def _winners(score_a: np.ndarray) -> list:
    return [evalica.Winner.X if s == 1 else evalica.Winner.Y if s == 0 else evalica.Winner.Draw for s in score_a]


def _ordered(matches: pd.DataFrame, order_seed) -> pd.DataFrame:
    if order_seed is None:
        return matches
    return matches.iloc[np.random.default_rng(order_seed).permutation(len(matches))]


def group_order_seed(order_seed: int, group) -> list[int]:
    """The seed of one group's own match shuffle (``elo_by_group(order_seed=...)``): the run's
    seed and a stable hash of the group's id, so no two questions share a permutation and a
    question's order does not depend on which others are present."""
    return [int(order_seed), stable_int(group)]


def elo(matches: pd.DataFrame, *, k: float = 4.0, initial: float = 1000.0, scale: float = 400.0,
        base: float = 10.0, order_seed=None) -> pd.Series:
    """Online Elo over the matches in order (``order_seed``, an int or a list of ints for numpy's
    ``default_rng``: a seeded shuffle first). Highest rating first."""
    score_a = _outcomes(matches)
    matches = _ordered(matches.assign(_s=score_a), order_seed)
    if matches.empty:
        return pd.Series(dtype=float, name="rating").rename_axis("entrant")
    result = evalica.elo(matches["a"].tolist(), matches["b"].tolist(), _winners(matches["_s"].to_numpy()),
                         initial=initial, base=base, scale=scale, k=k, win_weight=_WIN, tie_weight=_TIE)
    return result.scores.rename("rating").rename_axis("entrant")


def _strongly_connected(matches: pd.DataFrame, score_a: np.ndarray) -> bool:
    # A finite maximum-likelihood Bradley-Terry fit exists iff every entrant can be reached from
    # every other along "beat (or drew with)" edges.
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    codes, labels = pd.factorize(pd.concat([matches["a"], matches["b"]], ignore_index=True))
    n, m = len(labels), len(matches)
    x, y = codes[:m], codes[m:]
    src = np.concatenate([x[score_a > 0], y[score_a < 1]])  # winner (or drawer) -> other side
    dst = np.concatenate([y[score_a > 0], x[score_a < 1]])
    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    return connected_components(graph, directed=True, connection="strong")[0] == 1


def bradley_terry(matches: pd.DataFrame, *, prior: float = 0.0, initial: float = 1000.0, scale: float = 400.0,
                  base: float = 10.0, tolerance: float = 1e-10, limit: int = 10_000, bootstrap: int = 0,
                  seed: int = 0, level: float = 0.95):
    """Bradley-Terry maximum-likelihood ratings (mean ``initial``). Highest rating first.

    When an entrant never lost (or never won) the likelihood has no finite maximum: this raises
    unless ``prior`` > 0, which adds a virtual draw of that weight between every two entrants
    (shrinking ratings towards each other). With ``bootstrap`` > 0 the result is a DataFrame
    with ``rating``, ``lower``, ``upper`` (see ``bradley_terry_ci``); otherwise a Series.
    """
    if bootstrap:
        return bradley_terry_ci(matches, bootstrap=bootstrap, seed=seed, level=level, prior=prior,
                                initial=initial, scale=scale, base=base, tolerance=tolerance, limit=limit)
    score_a = _outcomes(matches)
    if matches.empty:
        return pd.Series(dtype=float, name="rating").rename_axis("entrant")
    xs, ys, weights = matches["a"].tolist(), matches["b"].tolist(), [1.0] * len(matches)
    winners = _winners(score_a)
    if prior > 0:
        labels = list(dict.fromkeys(xs + ys))
        virtual = list(itertools.combinations(labels, 2))
        xs += [p for p, _ in virtual]
        ys += [q for _, q in virtual]
        winners += [evalica.Winner.Draw] * len(virtual)
        weights += [prior] * len(virtual)
    elif not _strongly_connected(matches, score_a):
        raise ValueError("no finite Bradley-Terry ratings: some entrant never lost or never won against the "
                         "rest (the matches are not strongly connected); pass prior > 0 to regularise")
    result = evalica.bradley_terry(xs, ys, winners, weights=weights, win_weight=_WIN, tie_weight=_TIE,
                                   tolerance=tolerance, limit=limit)
    strength = result.scores
    return (initial + scale * np.log(strength) / math.log(base)).rename("rating").rename_axis("entrant")


def bradley_terry_ci(matches: pd.DataFrame, *, bootstrap: int = 1000, seed: int = 0, level: float = 0.95,
                     prior: float = 0.0, initial: float = 1000.0, scale: float = 400.0, base: float = 10.0,
                     tolerance: float = 1e-10, limit: int = 10_000) -> pd.DataFrame:
    """Ratings with percentile-bootstrap intervals (matches resampled with replacement, seeded).

    Columns ``rating`` (the fit on all matches), ``lower``, ``upper``; highest rating first.
    With ``prior`` = 0 a resample in which some entrant never lost has no finite fit: it is
    left out, with a warning, and the count is in ``.attrs["dropped_resamples"]``.
    """
    point = bradley_terry(matches, prior=prior, initial=initial, scale=scale, base=base,
                          tolerance=tolerance, limit=limit)
    score_a = _outcomes(matches)
    codes, labels = pd.factorize(pd.concat([matches["a"], matches["b"]], ignore_index=True))
    m, n = len(matches), len(labels)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, m, size=(bootstrap, m))
    x, y, s = codes[:m][picks], codes[m:][picks], score_a[picks]
    g = np.repeat(np.arange(bootstrap), m)
    wins = _win_matrices(g, x.ravel(), y.ravel(), s.ravel(), bootstrap, n)
    present = np.ones((bootstrap, n), dtype=bool)
    log_strength, ok = _fit_groups(wins, present, prior, tolerance, limit)
    dropped = int((~ok).sum())
    if dropped:
        warnings.warn(f"bradley_terry_ci: {dropped} of {bootstrap} resamples have no finite fit and were left out",
                      stacklevel=2)
    ratings = initial + scale * log_strength[ok] / math.log(base)
    lower, upper = np.quantile(ratings, [(1 - level) / 2, (1 + level) / 2], axis=0)
    out = pd.DataFrame({"lower": lower, "upper": upper}, index=pd.Index(labels, name="entrant"))
    out.insert(0, "rating", point)
    out = out.loc[point.index]
    out.attrs["dropped_resamples"] = dropped
    return out


# ---------------------------------------------------------------------------------------------
# Many groups (questions) at once


def _grouped(matches: pd.DataFrame, group: str):
    """Codes for a grouped match table: group code per row, entrant code within its group (by
    first appearance), plus the labels to turn codes back into a table."""
    if group not in matches.columns:
        raise ValueError(f"matches need a {group!r} column")
    if matches[group].isna().any():
        raise ValueError(f"matches with no {group!r} at rows {list(np.flatnonzero(matches[group].isna()))[:5]}")
    score_a = _outcomes(matches)
    gcode, glabels = pd.factorize(matches[group], sort=False)
    m = len(matches)
    long = pd.DataFrame({"g": np.concatenate([gcode, gcode]),
                         "entrant": pd.concat([matches["a"], matches["b"]], ignore_index=True)})
    firsts = long.drop_duplicates()
    firsts = firsts.assign(code=firsts.groupby("g", sort=False).cumcount().to_numpy())
    ecode = long.merge(firsts, on=["g", "entrant"], how="left")["code"].to_numpy()
    return gcode, ecode[:m], ecode[m:], score_a, glabels, firsts


def _table(glabels, firsts: pd.DataFrame, values: np.ndarray, group: str) -> pd.DataFrame:
    g, code = firsts["g"].to_numpy(), firsts["code"].to_numpy()
    return pd.DataFrame({group: glabels[g], "entrant": firsts["entrant"].to_numpy(), "rating": values[g, code]})


def elo_by_group(matches: pd.DataFrame, group: str = "question", *, k: float = 4.0, initial: float = 1000.0,
                 scale: float = 400.0, base: float = 10.0, order_seed: int | None = None) -> pd.DataFrame:
    """``elo`` on each group's matches, computed for all groups together.

    Returns one row per (group, entrant) with columns ``group``, ``entrant``, ``rating``. Each
    group keeps its rows' order; with ``order_seed`` each group is shuffled on its own, exactly
    as ``elo(group's matches, order_seed=group_order_seed(order_seed, g))`` would, so no two
    groups share a permutation and results do not depend on which other groups are present.
    (The original evaluation's order is ``paper_elo``.)
    """
    if matches.empty:
        return pd.DataFrame(columns=[group, "entrant", "rating"])
    gcode, x, y, s, glabels, firsts = _grouped(matches, group)
    # t = the match's turn within its group, after the per-group shuffle
    t = pd.Series(np.arange(len(matches))).groupby(gcode).cumcount().to_numpy().copy()
    sizes = np.bincount(gcode)
    if order_seed is not None:
        # elo() puts row perm[j] at turn j, so row i plays at turn argsort(perm)[i]
        rows_of = pd.Series(np.arange(len(matches))).groupby(gcode).indices
        for g, rows in rows_of.items():
            perm = np.random.default_rng(group_order_seed(order_seed, glabels[g])).permutation(len(rows))
            t[rows] = np.argsort(perm)[t[rows]]
    n_groups, turns = len(glabels), sizes.max()
    width = int(firsts["code"].max()) + 1
    X = np.zeros((n_groups, turns), dtype=np.intp)
    Y = np.ones((n_groups, turns), dtype=np.intp)
    S = np.zeros((n_groups, turns))
    valid = np.zeros((n_groups, turns), dtype=bool)
    X[gcode, t], Y[gcode, t], S[gcode, t], valid[gcode, t] = x, y, s, True
    R = np.full((n_groups, width), float(initial))
    rows = np.arange(n_groups)
    for j in range(turns):
        # the same arithmetic as evalica's Elo, for all groups at once
        q_a = np.power(base, R[rows, X[:, j]] / scale)
        q_b = np.power(base, R[rows, Y[:, j]] / scale)
        step = np.where(valid[:, j], k, 0.0)
        delta_a = step * (S[:, j] - q_a / (q_a + q_b))
        delta_b = step * ((1.0 - S[:, j]) - q_b / (q_a + q_b))
        R[rows, X[:, j]] += delta_a
        R[rows, Y[:, j]] += delta_b
    return _table(glabels, firsts, R, group)


def paper_order(matches: pd.DataFrame, group: str = "question", seed: int = 0) -> pd.DataFrame:
    """The matches in the order the original evaluation's ELO step played them
    (RRM-evaluation/scripts/elo_accuracy_results.py): questions in the order they first appear,
    and each question's matches shuffled in place by ``random.shuffle`` from ONE generator seeded
    once (``random.seed(0)``) that advances from question to question. So a question's order
    depends on the questions before it, and the same records give the same order in any process.
    """
    rng = random.Random(seed)  # random.seed(0) seeds the module's generator to this very state
    rows: dict = {}
    for i, g in enumerate(matches[group].tolist()):
        rows.setdefault(g, []).append(i)
    order = []
    for members in rows.values():
        rng.shuffle(members)
        order.extend(members)
    return matches.iloc[order]


def paper_elo(matches: pd.DataFrame, group: str = "question", *, first: str | None = "first", seed: int = 0,
              k: float = 4.0, initial: float = 1000.0, scale: float = 400.0, base: float = 10.0):
    """The original evaluation's ELO picks, reproduced step by step: ``paper_order``; then per
    question ``evalica.elo`` on (rival_1, rival_2, winner) with entrants as strings (rival_1 the
    answer shown first: the ``first`` column where present, else ``a``; rival_1 won: X, rival_2:
    Y, else a draw), with evalica's defaults of the time (initial 1000, base 10, scale 400, k 4,
    unchanged from 0.3.2 to 0.4.2) passed explicitly; the pick is ``scores.idxmax()``, so equal
    ratings go to the entrant evalica lists first (first seen among rival_1s, then rival_2s).

    Returns ``(picks, table)``: question -> picked entrant, and (group, entrant, rating) rows.
    """
    if matches.empty:
        return {}, pd.DataFrame(columns=[group, "entrant", "rating"])
    score_a = _outcomes(matches)
    ordered = paper_order(matches.assign(_s=score_a), group, seed)
    picks, tables = {}, []
    for g, m in ordered.groupby(group, sort=False):
        a, b = m["a"].tolist(), m["b"].tolist()
        shown = m[first].tolist() if first is not None and first in m.columns else a
        s = m["_s"].to_numpy()
        xs, ys, winners = [], [], []
        for ai, bi, fi, si in zip(a, b, shown, s):
            swap = fi == bi and fi != ai
            xs.append(str(bi if swap else ai))
            ys.append(str(ai if swap else bi))
            si = 1.0 - si if swap else si
            winners.append(evalica.Winner.X if si == 1 else evalica.Winner.Y if si == 0 else evalica.Winner.Draw)
        result = evalica.elo(xs, ys, winners, initial=initial, base=base, scale=scale, k=k)
        label = {str(e): e for e in a + b}
        picks[g] = label[result.scores.idxmax()]
        tables.append(pd.DataFrame({group: g, "entrant": [label[e] for e in result.scores.index],
                                    "rating": result.scores.to_numpy()}))
    return picks, pd.concat(tables, ignore_index=True)


def _win_matrices(g, x, y, s, n_groups: int, width: int) -> np.ndarray:
    """wins[g, i, j]: how often i beat j in group g (a draw counts half each way)."""
    wins = np.zeros((n_groups, width, width))
    np.add.at(wins, (g, x, y), s * _WIN)
    np.add.at(wins, (g, y, x), (1.0 - s) * _WIN)
    return wins


def _fit_groups(wins: np.ndarray, present: np.ndarray, prior: float, tolerance: float, limit: int):
    """Log-strengths (mean 0 over present entrants) per group, and which groups have a finite
    fit (strongly connected, or ``prior`` > 0).

    Newman's (2023) iteration as evalica runs it: entrants updated one after another (a
    simultaneous update can oscillate: with two entrants it flips between two points forever),
    each update applied to all groups at once; geometric mean 1 after each sweep.
    """
    width = wins.shape[1]
    both = present[:, :, None] & present[:, None, :]
    wins = wins + np.where(both & ~np.eye(width, dtype=bool), prior * _TIE, 0.0)
    # Strong connectivity by transitive closure (repeated squaring of the reachability matrix).
    reach = ((wins > 0) | np.eye(width, dtype=bool)).astype(np.float32)
    for _ in range(max(1, math.ceil(math.log2(max(width, 2))))):
        reach = (np.matmul(reach, reach) > 0).astype(np.float32)
    ok = ((reach > 0) | ~both).all(axis=(1, 2))
    p = np.ones(present.shape)
    active = np.flatnonzero(ok)
    for _ in range(limit):
        if not len(active):
            break
        w, q, mask = wins[active], p[active], present[active]
        before = q.copy()
        for i in range(width):
            total = q[:, i:i + 1] + q
            num = (w[:, i, :] * q / total).sum(axis=1)
            den = (w[:, :, i] / total).sum(axis=1)
            q[:, i] = np.where(mask[:, i], num / np.where(mask[:, i], den, 1.0), 1.0)
        log_q = np.where(mask, np.log(q), 0.0)
        q = np.where(mask, np.exp(log_q - (log_q.sum(axis=1) / mask.sum(axis=1))[:, None]), 1.0)
        p[active] = q
        active = active[np.linalg.norm(q - before, axis=1) >= tolerance]
    return np.where(present, np.log(p), 0.0), ok


def bradley_terry_by_group(matches: pd.DataFrame, group: str = "question", *, prior: float = 0.0,
                           initial: float = 1000.0, scale: float = 400.0, base: float = 10.0,
                           tolerance: float = 1e-10, limit: int = 10_000) -> pd.DataFrame:
    """``bradley_terry`` on each group's matches, fitted for all groups together; one row per
    (group, entrant). With ``prior`` = 0, groups without a finite fit raise (pass prior > 0)."""
    if matches.empty:
        return pd.DataFrame(columns=[group, "entrant", "rating"])
    gcode, x, y, s, glabels, firsts = _grouped(matches, group)
    width = int(firsts["code"].max()) + 1
    wins = _win_matrices(gcode, x, y, s, len(glabels), width)
    present = np.zeros((len(glabels), width), dtype=bool)
    present[firsts["g"].to_numpy(), firsts["code"].to_numpy()] = True
    log_strength, ok = _fit_groups(wins, present, prior, tolerance, limit)
    if not ok.all():
        bad = list(glabels[~ok][:5])
        raise ValueError(f"no finite Bradley-Terry ratings for {int((~ok).sum())} groups (e.g. {bad}): some "
                         "entrant never lost or never won; pass prior > 0 to regularise")
    return _table(glabels, firsts, initial + scale * log_strength / math.log(base), group)
