"""From judgments to numbers: per-pair scores under a verdict policy, accuracy with confidence
intervals, per-subset tables, the voting curve and position consistency. A pair's verdict (its
majority vote) and the policies for undecided pairs are ``rrmlib.votes``'s, said there.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from rrmlib.data.registry import scoring_rule
from rrmlib.data.rewardbench import SECTION_OF, rewardbench_score
from rrmlib.data.rewardbench import rewardbench_sections  # noqa: F401 (a contract: rrmlib.metrics.rewardbench_sections)
from rrmlib.prompts import VERDICT_RULES
from rrmlib.votes import bootstrap_ci, judged_rows, pair_scores, picked

PAIR_MEAN = "accuracy (mean over pairs)"


SUMMARY_FIELDS = ("accuracy", "ci_low", "ci_high", "n", "pairs", "undecided", "excluded", "judgments",
                  "unparseable", "cut_off", "too_long", "shortened")


def summarize(results: pd.DataFrame, policy: str = "tie", *, seed: int = 0, **select) -> dict:
    """Accuracy and the rates no policy may hide, for all pairs of ``results``."""
    scores = pair_scores(results, policy, **select)
    judged = judged_rows(results)
    if select.get("votes") is not None:
        judged = judged[judged["sample"] < select["votes"]]
    if select.get("order") is not None:
        judged = judged[judged["order"] == select["order"]]
    lo, hi = bootstrap_ci(scores["score"], seed=seed)
    acc = scores["score"].mean()
    return {
        "accuracy": None if pd.isna(acc) else float(acc),
        "ci_low": None if np.isnan(lo) else lo,
        "ci_high": None if np.isnan(hi) else hi,
        "n": int(scores["score"].notna().sum()),
        "pairs": int(len(scores)),
        "undecided": int((~scores["decided"]).sum()),
        "excluded": int(scores["score"].isna().sum()),
        "judgments": int(len(judged)),
        "unparseable": float(judged["picked"].isna().mean()) if len(judged) else 0.0,
        "cut_off": float(judged["cut_off"].mean()) if len(judged) else 0.0,
        # Pairs none of whose judgments fit the judge's context (too_long="skip"): left out.
        "too_long": int(results[~results["tie"]]["pair_id"].nunique() - judged["pair_id"].nunique()),
        "shortened": int((judged["fit"] == "shortened").sum()) if "fit" in judged.columns else 0,
    }


def ties_per_subset(results: pd.DataFrame, ties: dict | None = None) -> dict[str, int]:
    """Pairs labelled a tie per subset: ``ties`` (those left out before judging, as
    ``rrmlib.data.select`` counts them) and those judged all the same (in ``results``)."""
    out = {str(k): int(v) for k, v in (ties or {}).items() if v}
    if len(results):
        judged = results[results["tie"]].drop_duplicates("pair_id").groupby("subset", observed=True).size()
        for sub, n in judged.items():
            out[str(sub)] = out.get(str(sub), 0) + int(n)
    return dict(sorted(out.items()))


def subset_summaries(results: pd.DataFrame, policy: str = "tie", *, seed: int = 0,
                     ties: dict | None = None) -> dict[str, dict]:
    """The summary of each subset that has a pair to score, with its ``ties`` (left out), as
    plain dicts (None where a value is undefined). A subset of ties only has no summary: its
    count is in ``ties_per_subset``, and no accuracy, n or unparseable share can be said of it."""
    tied = ties_per_subset(results, ties)
    scored = set(results.loc[~results["tie"], "subset"].astype(str))
    return {str(sub): {**summarize(part, policy, seed=seed), "ties": tied.get(str(sub), 0)}
            for sub, part in results.groupby("subset", sort=True, observed=True) if str(sub) in scored}


def by_subset(results: pd.DataFrame, policy: str = "tie", *, seed: int = 0, ties: dict | None = None) -> pd.DataFrame:
    """The summary per subset, then the whole set as ``all``, as a table."""
    total = sum(ties_per_subset(results, ties).values())
    rows = {**subset_summaries(results, policy, seed=seed, ties=ties),
            "all": {**summarize(results, policy, seed=seed), "ties": total}}
    return pd.DataFrame.from_dict(rows, orient="index")


def subset_table(m: dict) -> pd.DataFrame:
    """``metrics()``'s per-subset summaries and the overall one as a table, as ``by_subset``
    gives it, without computing anything (bootstrap included) a second time."""
    overall = {**{k: m[k] for k in SUMMARY_FIELDS}, "ties": m.get("human_ties_excluded", 0)}
    return pd.DataFrame.from_dict({**m["subsets"], "all": overall}, orient="index")


def tie_lines(m: dict) -> list[str]:
    """What the ties left out of a run's accuracy are, as lines for the notebook and the terminal
    (nothing when there are none)."""
    total = m.get("human_ties_excluded") or 0
    if not total:
        return []
    only = m.get("tie_only_subsets") or {}
    lines = [f"{total} pair(s) labelled a tie left out (not judged; no verdict on a tie can be right)"]
    lines += [f"subset {s}: 0 pairs scored: all {n} are ties" for s, n in only.items()]
    return lines


def voting_summaries(results: pd.DataFrame, policy: str = "tie") -> dict[int, dict]:
    """The summary with the first k samples, for every k up to the votes drawn: one run, one curve."""
    k_max = int(results["sample"].max()) + 1 if len(results) else 0
    return {k: summarize(results, policy, votes=k) for k in range(1, k_max + 1)}


def voting_curve(results: pd.DataFrame, policy: str = "tie") -> pd.DataFrame:
    """``voting_summaries`` as a table indexed by the number of votes."""
    return pd.DataFrame.from_dict(voting_summaries(results, policy), orient="index").rename_axis("votes")


def position_consistency(results: pd.DataFrame) -> dict:
    """For pairs judged in both orders: the share whose majority verdict follows the answer
    (picks the same answer in both orders) rather than the slot. Pairs undecided in either
    order are counted apart, not as consistent or inconsistent."""
    per_order = {}
    for order in ("chosen_first", "rejected_first"):
        s = pair_scores(results, "exclude", order=order)
        per_order[order] = s["score"]
    both = pd.concat(per_order, axis=1).dropna(how="all")
    comparable = both.dropna()
    consistent = int((comparable["chosen_first"] == comparable["rejected_first"]).sum())
    # A judge that always names slot 1 scores 1 when the chosen answer is first, 0 otherwise.
    slot1 = int(((comparable["chosen_first"] == 1) & (comparable["rejected_first"] == 0)).sum())
    slot2 = int(((comparable["chosen_first"] == 0) & (comparable["rejected_first"] == 1)).sum())
    n = len(comparable)
    return {
        "position_consistency": consistent / n if n else None,
        "pairs_compared": n,
        "pairs_undecided_in_an_order": int(len(both) - n),
        "prefers_slot_1": slot1,
        "prefers_slot_2": slot2,
    }


def metrics(results: pd.DataFrame, policy: str = "tie", *, seed: int = 0, scoring: str | None = None,
            ties: dict | None = None) -> dict:
    """Everything a pairwise run reports, as plain JSON-able values. With ``scoring``
    (``"judgebench"``, ``"rm-bench"``: the loader's ``Pairs.scoring``) the headline ``score`` is
    that benchmark's, computed as its authors compute it (its module in ``rrmlib.data``). ``ties``: the
    pairs labelled a tie per subset that were left out before judging (``selection``'s
    ``ties_per_subset``); with those judged anyway they make ``human_ties_excluded``, each
    subset's ``ties`` and ``tie_only_subsets`` (the subsets with nothing else)."""
    out = summarize(results, policy, seed=seed)
    out["policy"] = policy
    out["subsets"] = subset_summaries(results, policy, seed=seed, ties=ties)
    bench = headline(results, out, policy, seed=seed, scoring=scoring)
    out.update({k: v for k, v in bench.items() if k != "warnings"})
    # Position consistency needs pairs shown both ways (order="both"); a shuffled run shows each
    # pair once, in one order or the other, and has nothing to compare.
    shown_both = (results.groupby("pair_id", observed=True)["order"].nunique() > 1).any() if len(results) else False
    if shown_both:
        orders = sorted(results["order"].unique())
        out["by_order"] = {o: summarize(results, policy, seed=seed, order=o) for o in orders}
        out.update(position_consistency(results))
    if len(results) and results["sample"].max() > 0:
        out["voting_curve"] = {k: v["accuracy"] for k, v in voting_summaries(results, policy).items()}
    tied = ties_per_subset(results, ties)
    out["human_ties_excluded"] = sum(tied.values())
    out["tie_only_subsets"] = {k: v for k, v in tied.items() if k not in out["subsets"]}
    rules = verdict_rule_comparison(results, policy, seed=seed, scoring=scoring)
    if rules:
        out["verdict_rules"] = rules
    out["warnings"] = warnings_for(out) + bench.get("warnings", [])
    return out


def headline(results: pd.DataFrame, summary: dict, policy: str = "tie", *, seed: int = 0,
             scoring: str | None = None, n_boot: int = 1000) -> dict:
    """A run's headline ``score`` (with ``score_ci`` and ``score_name``), by one rule whatever
    reads it: the benchmark's own score as its authors compute it (``scoring``: its numbers and
    ``warnings`` too), else RewardBench's Overall where every judged subset is RewardBench's and
    some pair was scored (the leaderboard's four sections and their plain mean), else the mean
    over pairs (``summary``, from ``summarize``)."""
    if scoring is not None:
        return scoring_rule(scoring)(results, seed=seed, n_boot=n_boot)
    subsets = set(results.loc[~results["tie"], "subset"].dropna().unique())  # judged or skipped as too long
    if summary["n"] and subsets and subsets <= set(SECTION_OF):
        return rewardbench_score(results, policy, seed=seed, n_boot=n_boot)
    return {"score": summary["accuracy"], "score_ci": [summary["ci_low"], summary["ci_high"]], "score_name": PAIR_MEAN}


# Above this share of unparseable judgments a number is mostly the policy's 0.5, not the judge.
UNPARSEABLE_WARN = 0.5


def warnings_for(m: dict, threshold: float = UNPARSEABLE_WARN) -> list[str]:
    """What a reader must be told before trusting the headline: verdicts mostly unparseable
    (the score is then mostly the policy's, e.g. 0.5 per pair), and where that holds per subset."""
    out = []
    if m.get("too_long"):
        out.append(f"{m['too_long']} pair(s) did not fit the judge's context and were left out of the accuracy "
                   f"(too_long=skip; too_long=shorten cuts both answers alike instead)")
    if m.get("shortened"):
        out.append(f"{m['shortened']} judgment(s) saw both answers shortened alike to fit the judge's context")
    if m["judgments"] and m["unparseable"] > threshold:
        out.append(f"{m['unparseable']:.0%} of {m['judgments']} judgments gave no verdict (more than "
                   f"{threshold:.0%}): the score is mostly the '{m['policy']}' policy, not the judge "
                   f"(cut off at the token limit: {m['cut_off']:.0%})")
    bad = [k for k, v in m.get("subsets", {}).items() if v["judgments"] and v["unparseable"] > threshold]
    if bad and len(m.get("subsets", {})) > 1:
        out.append(f"subsets with more than {threshold:.0%} unparseable: {', '.join(bad)}")
    return out


def picked_of(verdict: pd.Series, order: pd.Series) -> pd.Series:
    """Which answer each verdict (the slot, 1 or 2) names, given the order it was shown in:
    ``chosen``, ``rejected`` or missing (no verdict), by ``votes.picked``."""
    return pd.Series([picked(v, o == "rejected_first") for v, o in zip(verdict, order)], index=verdict.index,
                     dtype="string")


def with_rule(results: pd.DataFrame, rule: str) -> pd.DataFrame:
    """The judgments as another verdict rule reads the same completions (``verdict_<rule>``)."""
    verdict = results[f"verdict_{rule}"]
    picked = picked_of(verdict, results["order"])
    return results.assign(verdict=verdict, picked=picked,
                          correct=(picked == "chosen").astype("boolean").where(picked.notna(), pd.NA))


def verdict_rule_comparison(results: pd.DataFrame, policy: str = "tie", *, seed: int = 0,
                            scoring: str | None = None) -> dict:
    """The headline numbers under every verdict rule, from the same completions, so a run read
    by a lenient rule still shows the paper's number beside its own (and the other way round)."""
    if not all(f"verdict_{r}" in results.columns for r in VERDICT_RULES):
        return {}
    out = {}
    for rule in VERDICT_RULES:
        m = with_rule(results, rule)
        summary = summarize(m, policy, seed=seed)
        row = {k: summary[k] for k in ("accuracy", "ci_low", "ci_high", "unparseable")}
        best = headline(m, summary, policy, seed=seed, scoring=scoring, n_boot=0)  # the numbers, not intervals
        row["score"] = best["score"]
        if "sections" in best and scoring is None:
            row["sections"] = best["sections"]
        out[rule] = row
    return out
