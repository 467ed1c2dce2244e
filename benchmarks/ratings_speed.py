"""Rating many questions at once: a per-question evalica loop against rrmlib's grouped numpy fits.

The paper's MATH workload: 5,000 questions, 8 candidates each, a round robin of 28 matches.
Both sides get the same matches; the loop calls evalica directly on lists prepared beforehand
(the cheapest a per-question loop can be). Prints timings, their ratio and the largest
difference in rating.

    .venv/bin/python benchmarks/ratings_speed.py [--questions 5000] [--entrants 8]
"""
from __future__ import annotations

import argparse
import itertools
import math
import platform
import time

import evalica
import numpy as np
import pandas as pd

from rrmlib import ratings


def workload(questions: int, entrants: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pairs = np.array(list(itertools.combinations(range(entrants), 2)))
    strength = rng.normal(size=(questions, entrants))
    a = np.tile(pairs[:, 0], questions)
    b = np.tile(pairs[:, 1], questions)
    q = np.repeat(np.arange(questions), len(pairs))
    p_a = 1 / (1 + np.exp(strength[q, b] - strength[q, a]))
    u = rng.random(len(q))
    winner = np.where(rng.random(len(q)) < p_a, a, b).astype(object)
    winner[u < 0.05] = None  # a few draws
    return pd.DataFrame({"question": q, "a": a, "b": b, "winner": winner})


def side_by_side(baseline, ours, repeat: int = 3) -> tuple[float, object, float, object]:
    """Both timed the same way: ``repeat`` interleaved runs each (baseline, ours, baseline, ...),
    the best of each, so a burst of load on this shared machine hits both sides alike."""
    times = {0: [], 1: []}
    out = [None, None]
    for _ in range(repeat):
        for side, fn in ((0, baseline), (1, ours)):
            t = time.perf_counter()
            out[side] = fn()
            times[side].append(time.perf_counter() - t)
    return min(times[0]), out[0], min(times[1]), out[1]


def per_group_inputs(m: pd.DataFrame):
    W = evalica.Winner
    out = []
    for _, g in m.groupby("question", sort=False):
        ws = [W.Draw if w is None else W.X if w == a else W.Y for a, w in zip(g["a"], g["winner"])]
        out.append((g["question"].iloc[0], g["a"].tolist(), g["b"].tolist(), ws))
    return out


def loop_elo(groups):
    return {q: evalica.elo(xs, ys, ws, initial=1000.0, base=10.0, scale=400.0, k=4.0).scores
            for q, xs, ys, ws in groups}


def loop_bt(groups, prior: float):
    out = {}
    for q, xs, ys, ws in groups:
        labels = list(dict.fromkeys(xs + ys))
        virtual = list(itertools.combinations(labels, 2))
        out[q] = evalica.bradley_terry(xs + [p for p, _ in virtual], ys + [r for _, r in virtual],
                                       ws + [evalica.Winner.Draw] * len(virtual),
                                       weights=[1.0] * len(xs) + [prior] * len(virtual),
                                       tolerance=1e-10, limit=10_000).scores
    return out


def max_diff(loop: dict, table: pd.DataFrame, to_rating) -> float:
    worst = 0.0
    for q, sub in table.groupby("question", sort=False):
        ref = to_rating(loop[q])
        worst = max(worst, float((sub.set_index("entrant")["rating"] - ref).abs().max()))
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=5000)
    ap.add_argument("--entrants", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3, help="interleaved runs of each side; the best counts")
    ap.add_argument("--prior", type=float, default=1.0,
                    help="Bradley-Terry virtual draws (most groups have an unbeaten entrant)")
    args = ap.parse_args()

    m = workload(args.questions, args.entrants)
    groups = per_group_inputs(m)
    print(f"{args.questions} questions x {math.comb(args.entrants, 2)} matches = {len(m)} matches; "
          f"evalica {evalica.__version__}, numpy {np.__version__}, {platform.processor() or platform.machine()}")

    t_loop, loop, t_grp, table = side_by_side(lambda: loop_elo(groups), lambda: ratings.elo_by_group(m),
                                              args.repeat)
    d = max_diff(loop, table, lambda s: s)
    print(f"{'Elo':<16} evalica loop {t_loop:8.3f} s   elo_by_group {t_grp:8.3f} s   "
          f"ratio {t_loop / t_grp:7.1f}x   max |diff| {d:.1e}")

    t_loop, loop, t_grp, table = side_by_side(lambda: loop_bt(groups, args.prior),
                                              lambda: ratings.bradley_terry_by_group(m, prior=args.prior), args.repeat)
    d = max_diff(loop, table, lambda s: 1000.0 + 400.0 * np.log10(s))
    print(f"{'Bradley-Terry':<16} evalica loop {t_loop:8.3f} s   bt_by_group  {t_grp:8.3f} s   "
          f"ratio {t_loop / t_grp:7.1f}x   max |diff| {d:.1e}")

    # The paper's ELO (the default of elo_accuracy) is itself a per-question evalica loop, in the
    # original's match order: what reproducing the paper exactly costs beside the grouped fit.
    t_paper, _, t_grp, _ = side_by_side(lambda: ratings.paper_elo(m, first=None),
                                        lambda: ratings.elo_by_group(m, order_seed=0), args.repeat)
    print(f"{'Elo, paper order':<16} paper_elo    {t_paper:8.3f} s   elo_by_group {t_grp:8.3f} s   "
          f"ratio {t_paper / t_grp:7.1f}x")


if __name__ == "__main__":
    main()
