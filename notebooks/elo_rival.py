# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # ELO best-of-N, step 1: the round robin
#
# For each question, every two of its N candidate answers meet once: the reward reasoning model
# reads the question and the two answers and names the better one. That is N(N-1)/2 judgments
# per question (28 for the paper's 8 candidates). This notebook only plays the matches and
# writes their records; `elo_accuracy` turns them into ratings, picks and accuracy, and can
# re-score them (or the paper's published judgments) without a GPU.
#
# All questions are played together: the round robin's matches of every question go to the
# judge in one batch. A verdict is read as `pairwise` reads it (`verdict_rule`): the original's
# ELO judgments were read by a script the PR does not include (docs/reproducing-the-paper.md,
# what still differs). An unparseable verdict is decided at once by a seeded coin, as the
# original evaluation decided it (by a coin that no run could repeat); `max_retries` re-asks it
# as a new sample first, and `unparseable="draw"` records a draw instead. Every such match is
# flagged. Each pair is shown once, in a seeded random order, so that no
# candidate always sits in the first slot (`both_orders=True` shows it both ways instead).
# Every completion goes to the judgment store: a rerun generates only what is missing.
#
# With a scalar reward model as the judge (`backend="classifier"`) each match is two scores
# compared (N forward passes per question, however many matches), and the run also writes every
# candidate's score, from which `elo_accuracy` adds the highest-scored pick, "scalar judge".

# %%
import rrmlib.params

_names_before = rrmlib.params.fresh("elo_rival", globals())

# %% tags=["parameters"]
# Parameters. Each has a default (`rrm params elo_rival` lists them, with what they mean); the cell
# below prints the values this run uses. To change one, assign it here, for example
#     dataset = "demo"; limit = 3
# papermill and `rrm run elo_rival -p NAME VALUE` set them the same way, so both routes agree.

# %%
P = rrmlib.params.in_notebook("elo_rival", globals(), _names_before)

import numpy as np
import pandas as pd
from IPython.display import display

from rrmlib import bestofn
from rrmlib.judge import Judge
from rrmlib.runs import RunDir

run = RunDir.start("elo_rival", P)
print("run folder:", run.path)

# %% [markdown]
# ## Candidate sets

# %%
sets = bestofn.load_sets(P["dataset"], P["data_path"], P["limit"])
if not sets:  # an empty run would look like a successful one
    raise ValueError(f"no candidate sets to play: {P['dataset']!r} with limit={P['limit']} selects none")
sizes = pd.Series([len(s.candidates) for s in sets])
share_correct = pd.Series([float(np.mean(s.correct)) for s in sets])
print(f"{len(sets)} candidate sets from {P['dataset']!r}; candidates per set: {sizes.min()}-{sizes.max()}")
print(f"sets with at least one correct candidate: {int((share_correct > 0).sum())}; "
      f"with correct and incorrect ones (where the judge can matter): {int(((share_correct > 0) & (share_correct < 1)).sum())}")

# %% [markdown]
# ## Judge
#
# Sampling as in the paper unless the parameters say otherwise (temperature 0.6, top-p 1, up to
# 8192 new tokens). A re-ask of a match uses the next sample index, so it is a new draw with its
# own place in the store.

# %%
judge = Judge.from_params(P)
print("judge:", judge.backend.summary(), "| reasoning judge:", judge.reasoning)

# %% [markdown]
# ## The round robin

# %%
tournaments = bestofn.round_robin(sets, both_orders=P["both_orders"])
tournaments, judgments, driver = bestofn.play(
    judge, sets, tournaments, order="scheduled" if P["both_orders"] else "shuffle",
    max_retries=P["max_retries"], unparseable=P["unparseable"], seed=P["seed"], desc="judging matches")
matches = bestofn.matches_table(tournaments, driver, judgments, format="round_robin")
print("completions:", judge.counts, "| judge calls:", driver.steps)

# %% [markdown]
# ## What the matches cost, and how often the judge gave no verdict
#
# `slot1_share` is the share of verdicts that named the first-shown answer: far from 0.5, the
# judge has a position bias (which the shuffled or doubled order keeps out of the ratings).

# %%
M = bestofn.judgment_metrics(judgments, matches, driver, len(sets))
display(pd.Series(M, name="value").to_frame())
wins = (matches.dropna(subset=["winner"]).groupby(["question", "winner"]).size().unstack(fill_value=0))
print("wins per candidate, first questions:")
display(wins.head(8))

# %% [markdown]
# ## Save the run
#
# `results.parquet`: one row per judgment; `matches.parquet`: one row per match (the input of
# `elo_accuracy`).

# %%
run.write_results(judgments)
matches_path = run.write_results(matches, "matches.parquet")
scores = judge.score_candidates(sets)  # a scalar judge: every candidate's score (stored already: no pass again)
if scores is not None:
    run.write_results(scores, "scores.parquet")
run.write_metrics(M)
run.write_meta(**judge.provenance(), figures=[], candidate_sets=len(sets),
               order="both" if P["both_orders"] else "shuffle")
print("wrote", run.path)
print(f"next: rrm run elo_accuracy -p matches {matches_path} -p dataset {P['dataset']}"
      + (f" -p data_path {P['data_path']}" if P["data_path"] else ""))
