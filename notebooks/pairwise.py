# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Pairwise accuracy of a reward reasoning model
#
# The judge sees a query and two answers, thinks, and names the better one with
# `\boxed{Assistant 1}` or `\boxed{Assistant 2}`. We show each pair in a seeded order (or both
# orders), draw `votes` samples per showing, take the majority, and score it against the
# human- or ground-truth-preferred answer. Every completion goes to the judgment store, so a
# rerun, or a run killed midway and started again, generates only what is missing.
#
# The defaults are the paper's protocol: its conflict pairs for the PPE sets, its verdict rule
# (a verdict counts only if the text after the thought boxes exactly `Assistant 1` or
# `Assistant 2`; anything else scores 0.5), and for RewardBench its headline (the plain mean of
# the four section scores). `meta.json` records every choice that departs from it.
#
# Other judges: `protocol` picks another prompt and verdict rule (`rewardbench`: RewardBench's
# generative prompt, `[[A]]`/`[[B]]`; `plain`: "which answer is better", `Answer 1`/`Answer 2`),
# and `backend="classifier"` makes a scalar reward model the judge: it scores each answer, and
# the higher score wins (equal scores: no verdict).

# %%
import rrmlib.params

_names_before = rrmlib.params.fresh("pairwise", globals())

# %% tags=["parameters"]
# Parameters. Each has a default (`rrm params pairwise` lists them, with what they mean); the cell
# below prints the values this run uses. To change one, assign it here, for example
#     dataset = "llmbar"; limit = 8
# papermill and `rrm run pairwise -p NAME VALUE` set them the same way, so both routes agree.

# %%
P = rrmlib.params.in_notebook("pairwise", globals(), _names_before)

import sys
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from rrmlib import metrics, plots
from rrmlib.data import load_pairs, pair_options, select_pairs
from rrmlib.data.select import describe, nothing_to_judge
from rrmlib.judge import Judge
from rrmlib.models import short_name
from rrmlib.runs import RunDir

run = RunDir.start("pairwise", P)
print("run folder:", run.path)

# %% [markdown]
# ## Data

# %%
# Only the options a run sets are passed, so a dataset without rounds or files is not offered them.
load_options = pair_options(P)
# Then the subsets asked for, the pairs labelled a tie left out (and counted: no verdict on a tie
# can be right, so judging one would only cost), a sample stratified by subset (seeded by
# `seed`), the first `limit`.
pairs = select_pairs(load_pairs(P["dataset"], **load_options), subsets=P["subsets"], sample=P["sample"],
                     seed=P["seed"], limit=P["limit"])
# JudgeBench and RM-Bench data are scored as their authors score them (each benchmark's module in rrmlib.data).
score_rule = P["scoring"] or pairs.scoring
loaded = {"dataset": P["dataset"], **pairs.loaded, "scoring": score_rule}  # for meta.json
print(f"{len(pairs)} pairs to judge from {P['dataset']!r}" + (f", scored by {score_rule}'s rule" if score_rule else ""))
for line in describe(loaded):  # label values, rows skipped or of other subsets, ties left out
    print(line)
data_warnings = loaded.get("warnings", [])  # in the saved notebook, the terminal and metrics.json alike
for warning in data_warnings:
    display(Markdown(f"**Warning:** {warning}"))
    print("WARNING:", warning, file=sys.stderr)
if not pairs:  # an empty run would look like a successful one
    raise ValueError(nothing_to_judge(P["dataset"], loaded))
pd.Series([p.subset for p in pairs]).value_counts().rename("pairs").to_frame()

# %% [markdown]
# ## Judge
#
# Sampling as in the paper unless the parameters say otherwise (temperature 0.6, top-p 1,
# up to 8192 new tokens). Each completion is keyed by model, revision, rendered prompt, sampling
# settings and sample index.

# %%
judge = Judge.from_params(P)
print("judge:", judge.backend.summary(), "| protocol:", judge.protocol.name if judge.protocol else "scalar scores",
      "| reasoning judge:", judge.reasoning, "| verdict rule:", judge.verdict_rule)

# %%
results = judge.judge_pairs(pairs, order=P["order"], votes=P["votes"], seed=P["seed"])
print("completions:", judge.counts)

# %% [markdown]
# ## Accuracy
#
# Undecided pairs (no majority verdict) are scored by the `unparseable` policy; the table shows
# how many there were and how many completions hit the token limit, whatever the policy. The
# headline `score` is the accuracy over pairs, except on RewardBench, where it is the plain mean
# of the four section scores (the paper's number), and on JudgeBench and RM-Bench, where it is
# their authors' score (next section); the mean over pairs stays in the table as `all`. Pairs
# labelled a tie were left out before judging; `ties` counts them per subset.

# %%
M = metrics.metrics(results, P["unparseable"], seed=P["seed"], scoring=score_rule,
                    ties=loaded["selection"]["ties_per_subset"])
for warning in M["warnings"]:  # in the saved notebook, the terminal and metrics.json alike
    display(Markdown(f"**Warning:** {warning}"))
    print("WARNING:", warning, file=sys.stderr)
M["warnings"] = data_warnings + M["warnings"]  # the data's, shown above, kept with the judge's
table = metrics.subset_table(M)
display(table[["accuracy", "ci_low", "ci_high", "n", "ties", "undecided", "unparseable", "cut_off"]].round(3))
for line in metrics.tie_lines(M):  # ties are not judged: a subset of ties only has no row in the table
    print(line)
if "sections" in M:
    display(pd.DataFrame({"score": M["sections"], "ci_low": {k: v[0] for k, v in M["sections_ci"].items()},
                          "ci_high": {k: v[1] for k, v in M["sections_ci"].items()}}).rename_axis("RewardBench").round(4))
print(f"score: {M['score']:.4f} [{M['score_ci'][0]:.4f}, {M['score_ci'][1]:.4f}] = {M['score_name']}"
      if M["score"] is not None else "score: n/a (no pair could be scored)")
# The same completions read by each verdict rule: the paper's rule beside the lenient one.
display(pd.DataFrame({rule: {k: v for k, v in row.items() if k != "sections"}
                      for rule, row in M["verdict_rules"].items()}).T.rename_axis("verdict rule").round(4))
if "position_consistency" in M:
    print("position consistency:", M["position_consistency"], f"over {M['pairs_compared']} pairs")
if "voting_curve" in M:
    display(pd.Series(M["voting_curve"], name="accuracy").rename_axis("votes").round(3).to_frame())

# %% [markdown]
# ## The benchmark's own score
#
# JudgeBench and RM-Bench are scored as their authors score them, and that is the headline
# `score`. JudgeBench: each pair judged in both orders is right when its two decisions name the
# right response more often than the wrong one (a tie or an inconsistent pair is not right), per
# source. RM-Bench: each prompt's 3x3 matrix of chosen style against rejected style, as easy
# (chosen fancier), normal (same style) and hard (chosen plainer) accuracy per domain.

# %%
if "judgebench" in M:
    jb = M["judgebench"]
    display(pd.DataFrame.from_dict({**jb["sources"], "Overall": jb["overall"]}, orient="index")[
        ["accuracy", "pairs", "correct", "incorrect", "tie"]].rename_axis("JudgeBench").round(4))
    print("orders shown:", jb["orders"], "|", jb.get("consistency", ""))
elif "rm_bench" in M:
    rmb = M["rm_bench"]
    rows = {d: {k: v[k] for k in ("easy", "normal", "hard", "score", "prompts")} for d, v in rmb["domains"].items()}
    rows["Overall"] = {k: rmb[k] for k in ("easy", "normal", "hard", "score", "prompts")}
    display(pd.DataFrame.from_dict(rows, orient="index").rename_axis("RM-Bench").round(4))
else:
    display(Markdown(f"No benchmark rule for these pairs: the headline is the {M['score_name']}."))

# %% [markdown]
# ## How much the judge writes
#
# Completion tokens per subset, split by whether the verdict was right (the paper's
# adaptive-compute claim: harder pairs get longer thoughts).

# %%
tokens = results.assign(verdict_right=results["correct"].astype("string").fillna("unparseable"))
if "score_chosen" in tokens:  # a scalar reward model writes nothing: its mean scores instead
    display(tokens.pivot_table(index="subset", columns="verdict_right", values=["score_chosen", "score_rejected"],
                               aggfunc="mean").round(3))
else:
    display(tokens.pivot_table(index="subset", columns="verdict_right", values="completion_tokens", aggfunc="mean").round(1))

# %% [markdown]
# ## Figure

# %%
plots.setup()
if M["score"] is None:
    headline = f"no scored pair of {M['pairs']}"
elif "sections" in M:
    headline = f"{'Overall' if 'Overall' in M['sections'] else 'partial score'} {M['score']:.3f}, pair mean {M['accuracy']:.3f}"
else:
    headline = f"accuracy {M['accuracy']:.3f} over {M['n']} pairs"
fig = plots.accuracy_by_subset(table, title=f"{Path(P['dataset']).name}: {short_name(judge.backend.model_id)}, "
                                           f"{headline}")
figures = plots.savefig(fig, run.figures / "accuracy_by_subset")
plots.show(figures, close=fig)
print("figures:", plots.where(figures))

# %% [markdown]
# ## Thinking budgets
#
# With `think_budgets` (e.g. `512,1024,2048,4096,8192`), the judge thinks once, at
# `max_new_tokens`; for each smaller budget the thought is cut after that many tokens, closed as
# the template closes a thought, and only the verdict is generated. Beside it, the same
# completions scored as if cut off at the budget (the paper's scoring of a thought the limit cut:
# 0.5). Each forced verdict is stored under its own key: a rerun with another budget generates
# only that budget's verdicts.

# %%
budget_rows = None
if P["think_budgets"] is not None:
    from rrmlib import budgets

    budget_rows = budgets.judge_budgets(judge, pairs, budgets=P["think_budgets"], order=P["order"], votes=P["votes"],
                                        seed=P["seed"], verdict_tokens=P["verdict_tokens"], close=P["think_close"],
                                        count_long=False)
    M["think_budgets"] = budgets.budget_metrics(budget_rows, P["unparseable"], seed=P["seed"])
    display(pd.DataFrame({int(k): {"forced": v["forced"]["accuracy"], "truncated": v["truncated"]["accuracy"],
                                   "thinking tokens used": v["think_tokens_mean"], "forced share": v["forced_share"]}
                          for k, v in M["think_budgets"].items()}).T.rename_axis("budget").round(3))
    fig = plots.budget_curve(M["think_budgets"], title=f"{P['dataset']}: {judge.backend.model_id}")
    budget_figures = plots.savefig(fig, run.figures / "think_budgets")
    plots.show(budget_figures, close=fig)
    figures += budget_figures
    print("completions:", judge.counts)
else:
    display(Markdown(f"`think_budgets` not set: one budget, `max_new_tokens` = {P['max_new_tokens']}."))

# %% [markdown]
# ## Save the run

# %%
run.write_results(results)
if budget_rows is not None:
    run.write_results(budget_rows, "budgets.parquet")
run.write_metrics(M)
run.write_meta(**judge.provenance(), figures=[str(f) for f in figures], pairs=len(pairs), data=loaded)
print("wrote", run.path)
