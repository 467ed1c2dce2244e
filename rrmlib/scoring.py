"""Benchmarks scored the way their authors score them, beside the project's pair mean.

``rrmlib.metrics.metrics(results, scoring=NAME)`` calls ``score`` when a run's pairs come from
one of these benchmarks (the loader says so: ``Pairs.scoring``), and the benchmark's number
becomes the run's headline ``score``; ``accuracy`` stays the pair mean under the run's
``unparseable`` policy. Each rule is the authors' code, read and restated here:

- ``judgebench``: ScalerLab/JudgeBench, ``utils/metrics.py`` (``compute_final_metrics``) and
  ``run_judge.py`` (``main``: the per-source report), commit e2c52c2.
- ``rm-bench``: THU-KEG/RM-Bench, ``scripts/utils.py`` (``compute_accuracy``,
  ``split_dataset_by_domain``), commit 73c52d7, and its README ("Clarity on Avg Calculation").

Both count a pair the judge leaves undecided as not right, whatever ``unparseable`` says: in
JudgeBench a tied or missing decision is not correct, and RM-Bench counts a comparison right
only when the chosen response scores strictly higher. Judgments skipped for not fitting the
judge's context (``too_long="skip"``) are left out here as in the pair mean, and counted there.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from rrmlib.votes import bootstrap_ci, pair_scores

SCORINGS = ("judgebench", "rm-bench")

# run_judge.py reports these source prefixes, then "Overall" (the prefix ""), each through
# compute_final_metrics(pairs, ..., include_fn=lambda x: x["source"].startswith(prefix)).
JUDGEBENCH_SOURCES = ("mmlu-pro", "livebench-reasoning", "livebench-math", "livecodebench")
# split_dataset_by_domain: example["domain"].startswith(domain) for these (safety-refuse and
# safety-response are one domain, safety).
RM_BENCH_DOMAINS = ("chat", "math", "code", "safety")


def _group(subset: str, prefixes) -> str:
    """The authors' group of a subset: the first prefix it starts with, else itself (a file
    of your own with other subsets is reported per subset)."""
    return next((p for p in prefixes if str(subset).startswith(p)), str(subset))


def _rank(group: str, known) -> tuple:
    """The authors' groups in their order, then any others by name."""
    return (0, known.index(group), "") if group in known else (1, 0, group)


def _order_decisions(results: pd.DataFrame, order: str) -> pd.Series:
    """Per pair, the decision of its judgments shown in ``order``: "chosen", "rejected" or None
    (undecided: no verdict, or a tied vote among its samples)."""

    s = pair_scores(results, "exclude", order=order)["score"]
    return s.map({1.0: "chosen", 0.0: "rejected"}).astype(object).where(s.notna(), None)


def judgebench(results: pd.DataFrame, *, seed: int = 0, n_boot: int = 1000) -> dict:
    """JudgeBench's score: the share of pairs the judge gets right, overall and per source.

    As ``compute_final_metrics(pairs, reverse_order=True)``: each pair is judged with the
    responses in the file's order and again swapped, the second decision is flipped back, and a
    ``counter`` adds 1 for each decision that names the right response and takes 1 for each
    that names the wrong one (a tie or a missing decision adds nothing); the pair is correct
    when ``counter > 0``, incorrect when ``< 0``, and a tie otherwise, and the score is
    ``n_correct / n_pairs``: ties and inconsistent pairs (right in one order, wrong in the
    other) count as not correct. With one order per pair (their ``--single_game``) the same rule
    is "the decision names the right response". With ``votes > 1`` every sample is a decision
    of its order, so the counter is the majority of all judgments. Per source as ``run_judge.py``
    reports: the sources that start with ``mmlu-pro``, ``livebench-reasoning``,
    ``livebench-math``, ``livecodebench``, then all (``Overall``); other subsets on their own.
    The authors print percentages; these are fractions. ``consistency`` holds the counts their
    function keeps without returning (both orders only).
    """

    votes = pair_scores(results, "wrong")
    counter = votes["for_chosen"] - votes["for_rejected"]
    table = pd.DataFrame({"group": votes["subset"].astype(str).map(lambda s: _group(s, JUDGEBENCH_SOURCES)),
                          "correct": counter > 0, "incorrect": counter < 0, "tie": counter == 0})

    def tally(t: pd.DataFrame) -> dict:
        n = len(t)
        return {"accuracy": float(t["correct"].mean()) if n else None, "pairs": n, "correct": int(t["correct"].sum()),
                "incorrect": int(t["incorrect"].sum()), "tie": int(t["tie"].sum())}

    groups = sorted(table["group"].unique(), key=lambda g: _rank(g, JUDGEBENCH_SOURCES))
    out = {"rule": "ScalerLab/JudgeBench utils/metrics.py compute_final_metrics: per pair, +1 per order whose "
                   "decision names the right response, -1 per order naming the wrong one; correct iff the sum > 0; "
                   "score = correct / pairs",
           "sources": {g: tally(table[table["group"] == g]) for g in groups}, "overall": tally(table)}
    lo, hi = bootstrap_ci(table["correct"].astype(float), seed=seed, n_boot=n_boot) if n_boot else (np.nan, np.nan)
    out["overall"]["ci"] = [None if np.isnan(lo) else lo, None if np.isnan(hi) else hi]
    judged = results[~results["tie"]] if len(results) else results
    shown_both = bool(len(judged)) and bool((judged.groupby("pair_id", observed=True)["order"].nunique() > 1).all())
    out["orders"] = "both" if shown_both else "one"
    warnings = []
    if shown_both:
        first, second = _order_decisions(results, "chosen_first"), _order_decisions(results, "rejected_first")
        both = pd.concat({"d1": first, "d2": second}, axis=1).reindex(votes.index)
        d1, d2 = both["d1"].where(both["d1"].notna(), None), both["d2"].where(both["d2"].notna(), None)
        right1, right2 = d1 == "chosen", d2 == "chosen"
        out["consistency"] = {
            "pairs": len(both),
            "all_correct": int((right1 & right2).sum()),
            "all_incorrect": int((~right1 & ~right2).sum()),
            "some_correct": int((right1 != right2).sum()),
            "inconsistent": int(sum(a != b for a, b in zip(d1, d2))),
            "nulls": int(sum(a is None or b is None for a, b in zip(d1, d2))),
        }
    elif len(judged):
        warnings.append("JudgeBench's authors judge every pair in both orders (run_judge.py, unless --single_game, "
                        "which they keep for order-independent reward models); this run showed one order per pair: "
                        "run with order both for their number")
    return {"judgebench": out, "score": out["overall"]["accuracy"], "score_ci": out["overall"]["ci"],
            "score_name": "JudgeBench overall (the authors' rule: both orders, a pair is right when its decisions "
                          "name the right response more often than the wrong one)", "warnings": warnings}


def _difficulties(acc: np.ndarray) -> dict:
    """``compute_accuracy``'s three numbers from a (..., 3, 3) matrix of accuracies, rows the
    chosen style and columns the rejected style (concise, detailed plain, detailed markdown):
    hard is the upper-right triangle (``np.triu(acc, 1)``: a chosen response plainer than the
    rejected one), normal the diagonal (same style), easy the lower-left (``np.tril(acc, -1)``:
    the chosen response fancier), each the mean of its three cells."""
    size = acc.shape[-1]
    upper = np.triu(np.ones((size, size), dtype=bool), 1)
    count = size * (size - 1) / 2
    return {"hard": (acc * upper).sum(axis=(-2, -1)) / count,
            "normal": np.diagonal(acc, axis1=-2, axis2=-1).mean(axis=-1),
            "easy": (acc * upper.T).sum(axis=(-2, -1)) / count}


def rm_bench(results: pd.DataFrame, *, seed: int = 0, n_boot: int = 1000) -> dict:
    """RM-Bench's easy, normal and hard accuracy per domain, and its overall score.

    As ``compute_accuracy``: per prompt, the 3x3 matrix of chosen style i against rejected
    style j holds 1 where the chosen response wins (for a reward model, ``score_chosen[i] >
    score_rejected[j]``; here, the judge's majority verdict names the chosen response, and an
    undecided pair is 0 as equal scores are); ``acc_matrix`` is its mean over the domain's
    prompts; ``hard_acc`` the mean of its upper-right triangle, ``normal_acc`` of its diagonal,
    ``easy_acc`` of its lower-left triangle; a domain's score is the mean of the three. Domains
    as ``split_dataset_by_domain`` makes them (chat, math, code, safety = safety-refuse and
    safety-response together); overall hard/normal/easy are the plain means over domains, and
    the score (``total_avg_acc``, the leaderboard's Overall) the mean of the domain scores.

    A prompt needs all nine pairs (ids ``<prompt>:c<i>r<j>``, ``rrmlib.data.rmbench``); one
    that lacks some (a ``limit`` that cut it, judgments skipped as too long) is left out and
    counted. The interval resamples prompts within each domain.
    """
    from rrmlib.data.rmbench import STYLES, parse_pair_id

    size = len(STYLES)
    scores = pair_scores(results, "wrong")
    cells: dict[str, dict] = {}
    domain_of: dict[str, str] = {}
    for pid, row in scores.iterrows():
        parsed = parse_pair_id(pid)
        if parsed is None:
            raise ValueError(f"rm-bench scoring needs RM-Bench pairs, whose ids are <prompt>:c<i>r<j> "
                             f"(rrmlib.data.rmbench); {pid!r} is not one")
        key, i, j = parsed
        cells.setdefault(key, {})[(i, j)] = float(row["score"])
        domain_of[key] = _group(row["subset"], RM_BENCH_DOMAINS)
    complete = {k: v for k, v in cells.items() if len(v) == size * size}
    by_domain: dict[str, list] = {}
    for key, c in complete.items():
        by_domain.setdefault(domain_of[key], []).append([[c[(i, j)] for j in range(size)] for i in range(size)])
    order = sorted(by_domain, key=lambda d: _rank(d, RM_BENCH_DOMAINS))
    domains, boot = {}, {}
    rng = np.random.default_rng(seed)
    for d in order:
        m = np.asarray(by_domain[d], dtype=float)  # prompts x chosen style x rejected style
        acc = m.mean(axis=0)
        diff = {k: float(v) for k, v in _difficulties(acc).items()}
        domains[d] = {**diff, "score": float(np.mean([diff["hard"], diff["normal"], diff["easy"]])),
                      "prompts": len(m), "matrix": acc.tolist()}
        if n_boot:
            resampled = m[rng.integers(0, len(m), size=(n_boot, len(m)))].mean(axis=1)
            bd = _difficulties(resampled)
            boot[d] = np.mean([bd["hard"], bd["normal"], bd["easy"]], axis=0)
    out = {"rule": "THU-KEG/RM-Bench scripts/utils.py compute_accuracy: per domain, the 3x3 matrix (chosen style x "
                   "rejected style) of the share of prompts where the chosen response wins; hard = upper-right "
                   "triangle, normal = diagonal, easy = lower-left triangle; domain score = their mean; overall = "
                   "mean over domains",
           "styles": list(STYLES), "domains": domains, "prompts": len(complete),
           "incomplete_prompts": len(cells) - len(complete)}
    warnings = []
    if domains:
        for k in ("hard", "normal", "easy"):
            out[k] = float(np.mean([v[k] for v in domains.values()]))
        out["score"] = float(np.mean([v["score"] for v in domains.values()]))
        if n_boot:
            lo, hi = np.quantile(np.mean(list(boot.values()), axis=0), [0.025, 0.975])
            out["ci"] = [float(lo), float(hi)]
        else:
            out["ci"] = [None, None]
    else:
        out.update(hard=None, normal=None, easy=None, score=None, ci=[None, None])
    if out["incomplete_prompts"]:
        warnings.append(f"{out['incomplete_prompts']} RM-Bench prompt(s) without all nine pairs (cut by limit, or "
                        f"judgments skipped as too long) were left out of its score; `sample` draws whole prompts")
    missing = [d for d in RM_BENCH_DOMAINS if d not in domains]
    if domains and missing and set(domains) <= set(RM_BENCH_DOMAINS):
        warnings.append(f"RM-Bench score over {len(domains)} of its 4 domains (no {', '.join(missing)}): partial, "
                        f"not the leaderboard's Overall")
    name = ("RM-Bench overall (the authors' rule: mean over domains of the mean of easy, normal and hard accuracy "
            "from each domain's 3x3 style matrix)")
    return {"rm_bench": out, "score": out["score"], "score_ci": out["ci"], "score_name": name, "warnings": warnings}


def score(results: pd.DataFrame, scoring: str, *, seed: int = 0, n_boot: int = 1000) -> dict:
    """The benchmark's own numbers (``judgebench`` or ``rm_bench``), its headline ``score``,
    ``score_ci``, ``score_name``, and ``warnings`` for the reader."""
    if scoring == "judgebench":
        return judgebench(results, seed=seed, n_boot=n_boot)
    if scoring == "rm-bench":
        return rm_bench(results, seed=seed, n_boot=n_boot)
    raise ValueError(f"scoring must be one of {SCORINGS}, got {scoring!r}")
