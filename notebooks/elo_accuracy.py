# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # ELO best-of-N, step 2: ratings, picks and accuracy
#
# Match records in, accuracy out; no judge, no GPU. The records are an `elo_rival` run's
# `matches.parquet`, or the original RRM evaluation's merged ELO results
# (`{rival: {"details": [{question_id, rival_1, rival_2, winner, ...}]}}`, where a winner of -1
# or null is a draw), or a `knockout` run's matches; a list of them puts several
# methods on one figure. Matches decided by a coin are counted (`coins`): a run's own flag, and in
# the paper's merged results every match whose `pred` its elo_rival_results.py did not read as a
# verdict (only `Assistant1` and `Assistant2`, without a space).
#
# Per question, the candidates are rated by online Elo and, as a check that does not depend on
# match order, by Bradley-Terry maximum likelihood. Elo is played as the original evaluation
# played it (`elo_order="paper"`): questions in the order they first appear in the records, each
# question's matches shuffled by one `random.Random(0)` that runs on from question to question,
# evalica's Elo with its defaults of the time, and equal ratings going to the candidate evalica
# lists first; so the paper's merged results give the paper's picks. `elo_order="per-question"`
# shuffles every question on its own instead. The highest-rated candidate is the pick;
# accuracy is the share of questions whose pick is correct, with a bootstrap interval over
# questions, beside the baselines a reviewer asks for: a random pick (and its exact
# expectation), majority vote over extracted answers, a scalar reward model's choice, and the
# oracle (any candidate correct). The figure sets each method against the judgments it spent.
# Where the records come from a scalar reward model (`backend="classifier"`), its highest-scored
# candidate is a method too, "scalar judge", at N judgments (forward passes) per question.

# %%
import rrmlib.params

_names_before = rrmlib.params.fresh("elo_accuracy", globals())

# %% tags=["parameters"]
# Parameters. Each has a default (`rrm params elo_accuracy` lists them, with what they mean); the cell
# below prints the values this run uses. To change one, assign it here, for example
#     matches = "runs/<an elo_rival run>/matches.parquet"
# papermill and `rrm run elo_accuracy -p NAME VALUE` set them the same way, so both routes agree.

# %%
P = rrmlib.params.in_notebook("elo_accuracy", globals(), _names_before)
if P["matches"] is None:
    raise ValueError("elo_accuracy needs matches=: an elo_rival or knockout run's matches.parquet (or run folder), "
                     "the RRM paper's merged-results JSON, or a list of these")

from pathlib import Path

import pandas as pd
from IPython.display import display

from rrmlib import bestofn, plots, selection
from rrmlib.runs import RunDir

run = RunDir.start("elo_accuracy", P)
print("run folder:", run.path)

# %% [markdown]
# ## Match records

# %%
paths = [P["matches"]] if isinstance(P["matches"], str) else list(P["matches"])
records = [bestofn.read_matches(p) for p in paths]
sources = [r.attrs["source"] for r in records]
FORMAT_NAMES = {"round_robin": "round robin", "knockout": "knockout", "swiss": "Swiss"}
labels = [FORMAT_NAMES[r["format"].iloc[0]] if len(r) else "empty" for r in records]
for i, label in enumerate(labels):
    if labels.count(label) > 1:  # two files of one format: tell them apart by file
        labels[i] = f"{label}: {Path(sources[i]).parent.name if Path(sources[i]).suffix == '.parquet' else Path(sources[i]).stem}"
display(pd.DataFrame({
    "file": sources, "label": labels,
    "questions": [r["question"].nunique() for r in records], "matches": [len(r) for r in records],
    "judgments": [int(r["judgments"].sum()) for r in records],
    "draws": [int(r["winner"].isna().sum()) for r in records],
    "coins": [int(r["coin"].sum()) for r in records],  # decided by a coin, not a verdict
}))

# %% [markdown]
# ## Candidate sets
#
# Accuracy is measured on the questions that every record file covers, so that methods and
# baselines are compared on the same questions.

# %%
sets = bestofn.load_sets(P["dataset"], P["data_path"])
common = set.intersection(*(set(r["question"]) for r in records))
sets = bestofn.restrict(sets, common)
records = [r[r["question"].isin(common)].reset_index(drop=True) for r in records]
for r in records:
    bestofn.check_entrants(sets, r)
print(f"{len(sets)} questions scored, candidate sets from {P['dataset']!r}")

# %% [markdown]
# ## Ratings and picks

# %%
picks, cost, rating_tables = {}, {}, []
scored = [bestofn.read_scores(source) for source in sources]  # scalar judges' candidate scores, where any
for label, r, source, scores in zip(labels, records, sources, scored):
    elo_picks, bt_picks, tables = bestofn.rating_picks(
        r, k=P["elo_k"], initial=P["elo_initial"], scale=P["elo_scale"], base=P["elo_base"],
        elo_order=P["elo_order"], order_seed=P["order_seed"], prior=P["bt_prior"])
    spent = int(r["judgments"].sum())
    picks[f"ELO ({label})"], cost[f"ELO ({label})"] = elo_picks, spent
    picks[f"Bradley-Terry ({label})"], cost[f"Bradley-Terry ({label})"] = bt_picks, spent
    rating_tables.append(tables["elo"].rename(columns={"rating": "elo"})
                         .merge(tables["bradley_terry"].rename(columns={"rating": "bradley_terry"}),
                                on=["question", "entrant"]).assign(records=label))
    winners = bestofn.read_picks(source)
    if winners is not None:  # a knockout or Swiss run also wrote its own pick
        name = "knockout winner" if r["format"].iloc[0] == "knockout" else "Swiss leader"
        name = name if labels.count(label) == 1 else f"{name} ({label})"
        chosen = winners[winners["question"].isin(common)]
        picks[name], cost[name] = dict(zip(chosen["question"], chosen["pick"].astype(int))), spent
    if scores is not None:  # a scalar judge's pick: the highest-scored candidate, one forward pass each
        name = "scalar judge" if sum(x is not None for x in scored) == 1 else f"scalar judge ({label})"
        scores = scores[scores["question"].isin(common)]
        picks[name], cost[name] = selection.pick_highest_scored(scores), int(scores["score"].notna().sum())
agreement = {label: float(pd.Series(picks[f"ELO ({label})"]).eq(pd.Series(picks[f"Bradley-Terry ({label})"])).mean())
             for label in labels}
print("ELO and Bradley-Terry pick the same candidate on a share of questions:", agreement)

# %% [markdown]
# ## Accuracy

# %%
table = selection.accuracy_table(sets, picks, judgments=cost, seed=P["seed"], bootstrap=P["bootstrap"])
display(table[["method", "accuracy", "ci_low", "ci_high", "n", "judgments_per_question"]].round(4))

# %% [markdown]
# ## Figure

# %%
plots.setup()
fig = plots.accuracy_vs_judgments(table, title=f"{P['dataset']}: best-of-N over {len(sets)} questions")
figures = plots.savefig(fig, run.figures / "accuracy_vs_judgments")
plots.show(figures, close=fig)
print("figures:", plots.where(figures))

# %% [markdown]
# ## Save the run
#
# `results.parquet`: each method's pick per question and whether it is correct;
# `ratings.parquet`: every candidate's Elo and Bradley-Terry rating.

# %%
by_id = {s.id: s for s in sets}
results = pd.DataFrame([(q, method, int(i), bool(by_id[q].correct[int(i)]))
                        for method, p in picks.items() for q, i in sorted(p.items())],
                       columns=["question", "method", "pick", "correct"])
run.write_results(results)
run.write_results(pd.concat(rating_tables, ignore_index=True), "ratings.parquet")
M = {
    "questions": len(sets),
    "methods": {row["method"]: {k: (None if pd.isna(row[k]) else float(row[k]))
                                for k in ("accuracy", "ci_low", "ci_high", "judgments_per_question")}
                | {"n": int(row["n"])} for _, row in table.iterrows()},
    "elo_bt_agreement": agreement,
    "ratings": {"elo_k": P["elo_k"], "initial": P["elo_initial"], "scale": P["elo_scale"], "base": P["elo_base"],
                "elo_order": P["elo_order"], "order_seed": P["order_seed"], "bt_prior": P["bt_prior"]},
}
run.write_metrics(M)
run.write_meta(completions={"generated": 0, "reused": 0}, judge=None, sources=sources,
               labels=labels, figures=[str(f) for f in figures])
print("wrote", run.path)
