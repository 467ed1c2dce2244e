# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Knockout best-of-N
#
# The paper's cheaper alternative to a round robin: the N candidates of a question meet in a
# single-elimination bracket (adjacent entrants in round 1, winners of adjacent matches next;
# an odd one out gets a bye), and the last one standing is the pick. With 32 candidates the
# bracket is the paper's own (`PPEdataset/knockout-mmlu-pro/tournament.json`: 3-7, 29-20, 19-5,
# ...); other sizes play the candidates' order (`bracket="order"` always does). N - 1 judgments per
# question instead of N(N-1)/2. All questions are played together, one judge call per round.
# `format="swiss"` plays a fixed number of Swiss rounds instead (each round pairs candidates
# with equal scores, no rematches) and picks the leader.
#
# With a scalar reward model as the judge (`backend="classifier"`) each match is two scores
# compared, and the highest-scored candidate is a pick of its own, "scalar judge": N forward
# passes per question.
#
# **Replay mode** (`records=` the folder of the paper's knockout voting results): no judge runs;
# the recorded winners decide the matches of the paper's bracket, so the notebook checks that
# the records form a complete knockout and scores the paper's own picks. The judge parameters
# are then unused.

# %%
import rrmlib.params

_names_before = rrmlib.params.fresh("knockout", globals())

# %% tags=["parameters"]
# Parameters. Each has a default (`rrm params knockout` lists them, with what they mean); the cell
# below prints the values this run uses. To change one, assign it here, for example
#     dataset = "demo"; limit = 3
# papermill and `rrm run knockout -p NAME VALUE` set them the same way, so both routes agree.

# %%
P = rrmlib.params.in_notebook("knockout", globals(), _names_before)
REPLAY = P["records"] is not None
if REPLAY and P["format"] != "knockout":
    raise rrmlib.params.ParameterError("records= replays the paper's knockout: format must be 'knockout'")

import pandas as pd
from IPython.display import display

from rrmlib import bestofn, plots, selection
from rrmlib.data.hub import HubUnavailable
from rrmlib.data.rrm_records import load_rrm_bracket, load_rrm_knockout_records
from rrmlib.runs import RunDir
from rrmlib.tournament import Knockout, replay

run = RunDir.start("knockout", P)
print("run folder:", run.path, "| mode:", "replay of recorded matches" if REPLAY else f"judge plays {P['format']}")

# %% [markdown]
# ## Candidate sets (and, in replay mode, the records)
#
# In replay mode the candidate sets are needed only to score the picks: where they cannot be
# loaded (the PPE sets live on the Hugging Face hub) or do not match the records, the replay
# still runs and accuracy is skipped, saying why.

# %%
sets, no_accuracy = None, None
if REPLAY:
    paper_bracket = load_rrm_bracket(P["records"])
    recorded, undecided = load_rrm_knockout_records(P["records"], P["records_model"], undecided=True)
    questions = sorted(recorded)[: P["limit"]] if P["limit"] is not None else sorted(recorded)
    if not questions:  # an empty run would look like a successful one
        raise ValueError(f"no questions to replay: {P['records']!r} ({P['records_model']}) with limit={P['limit']} "
                         "selects none")
    undecided = {q: m for q, m in undecided.items() if q in set(questions)}
    print(f"records: {P['records_model']} over {len(recorded)} questions, bracket of {len(paper_bracket)}; "
          f"replaying {len(questions)}; matches recorded without a verdict (the original's coin decided them): "
          f"{sum(map(len, undecided.values()))}")
    try:
        sets = bestofn.load_sets(P["dataset"], P["data_path"])
        sets = bestofn.restrict(sets, [str(q) for q in questions])
        bestofn.check_entrants(sets, pd.DataFrame({"question": [str(q) for q in questions],
                                                   "a": max(paper_bracket), "b": min(paper_bracket)}))
    except (HubUnavailable, KeyError, IndexError) as e:
        sets, no_accuracy = None, f"{type(e).__name__}: {e}"
        print(f"accuracy will be skipped: the candidate sets of {P['dataset']!r} are not usable here ({no_accuracy})")
else:
    sets = bestofn.load_sets(P["dataset"], P["data_path"], P["limit"])
    if not sets:  # an empty run would look like a successful one
        raise ValueError(f"no candidate sets to play: {P['dataset']!r} with limit={P['limit']} selects none")
    print(f"{len(sets)} candidate sets from {P['dataset']!r}; candidates per set: "
          f"{min(len(s.candidates) for s in sets)}-{max(len(s.candidates) for s in sets)}")

# %% [markdown]
# ## Judge

# %%
if REPLAY:
    judge = None
    print("replay mode: the recorded winners decide every match; the judge parameters (model, backend, "
          "sampling, store, ...) are unused")
else:
    from rrmlib.judge import Judge

    judge = Judge.from_params(P)
    print("judge:", judge.backend.summary(), "| reasoning judge:", judge.reasoning)

# %% [markdown]
# ## The tournaments
#
# A match is shown with its bracket-earlier candidate first, as the paper did. An unparseable
# verdict is decided at once by a seeded coin, as the paper decided it (a knockout needs a
# winner; Swiss may record a draw instead); `max_retries` re-asks it as a new sample first.
# In replay mode a match recorded without a verdict takes its recorded winner (the original's
# coin, whose pick went on to the next round) and counts as unparseable and coin-decided.

# %%
if REPLAY:
    tournaments = {str(q): Knockout(paper_bracket) for q in questions}
    # a match missing from the records raises
    driver = replay(tournaments, {str(q): recorded[q] for q in questions}, {str(q): m for q, m in undecided.items()})
    judgments = bestofn.replay_judgments(tournaments, driver)
else:
    if P["format"] == "knockout":
        tournaments = bestofn.knockout(sets, bracket=P["bracket"], shuffle_seed=P["shuffle_seed"])
    else:
        tournaments = bestofn.swiss(sets, rounds=P["swiss_rounds"], seed=P["seed"])
    tournaments, judgments, driver = bestofn.play(
        # Knockout as the paper (bracket order shown); Swiss pairs the leader first every round, so
        # a seeded shown order keeps a position bias from compounding.
        judge, sets, tournaments, order="scheduled" if P["format"] == "knockout" else "shuffle", max_retries=P["max_retries"], unparseable=P["unparseable"],
        seed=P["seed"], desc=f"judging {P['format']} matches")
    print("completions:", judge.counts)
matches = bestofn.matches_table(tournaments, driver, judgments, format=P["format"])
picks = selection.pick_winners(tournaments)
print(f"judge calls (one per round, and one per round of re-asks): {driver.steps}; matches: {len(matches)}; "
      f"judgments: {len(judgments)}")

# %% [markdown]
# ## Structure: matches per round, and where the picks come from
#
# With the bracket in the candidates' order, the share of picks per starting position shows
# whether the bracket itself favours some positions (a judge with a position bias favours the
# first-shown, i.e. the bracket-earlier, candidate).

# %%
n_questions = len(tournaments)
display(matches.groupby("round").agg(matches=("a", "size"), coin=("coin", "sum"))
        .assign(per_question=lambda t: t["matches"] / n_questions))
display(pd.Series(picks).value_counts(normalize=True).rename("share of picks").rename_axis("candidate")
        .sort_index().to_frame().T.round(3))
M = {"mode": "replay" if REPLAY else "judge", "format": P["format"],
     **bestofn.judgment_metrics(judgments, matches, driver, n_questions)}

# %% [markdown]
# ## Accuracy of the pick, beside the baselines

# %%
figures, scores = [], None
if sets is None:
    M["accuracy"], M["accuracy_skipped"] = None, no_accuracy
    print("accuracy skipped:", no_accuracy)
else:
    method = "knockout winner" if P["format"] == "knockout" else "Swiss leader"
    methods, cost = {method: picks}, {method: len(judgments)}
    scores = judge.score_candidates(sets) if judge else None  # a scalar reward model: every candidate's score
    if scores is not None:  # its own pick: the highest-scored candidate, one forward pass each
        methods["scalar judge"] = selection.pick_highest_scored(scores)
        cost["scalar judge"] = int(scores["score"].notna().sum())
    table = selection.accuracy_table(sets, methods, judgments=cost, seed=P["seed"], bootstrap=1000)
    display(table[["method", "accuracy", "ci_low", "ci_high", "n", "judgments_per_question"]].round(4))
    row = table.iloc[0]
    M.update(accuracy=float(row["accuracy"]), ci_low=float(row["ci_low"]), ci_high=float(row["ci_high"]),
             baselines={r["method"]: float(r["accuracy"]) for _, r in table.iterrows() if r["method"] not in methods})
    if scores is not None:
        r = table.set_index("method").loc["scalar judge"]
        M["scalar_judge"] = {k: float(r[k]) for k in ("accuracy", "ci_low", "ci_high", "judgments_per_question")}
    plots.setup()
    fig = plots.accuracy_vs_judgments(table, title=f"{P['dataset']}: {method} over {len(sets)} questions")
    figures = plots.savefig(fig, run.figures / "accuracy_vs_judgments")
    plots.show(figures, close=fig)
    print("figures:", plots.where(figures))

# %% [markdown]
# ## Save the run
#
# `results.parquet`: one row per judgment; `matches.parquet`: one row per match;
# `picks.parquet`: the pick per question (`elo_accuracy` reads it beside the matches).

# %%
run.write_results(judgments)
run.write_results(matches, "matches.parquet")
run.write_results(pd.DataFrame({"question": pd.array(list(picks), dtype="string"),
                                "pick": pd.array(list(picks.values()), dtype="int64")}), "picks.parquet")
if scores is not None:  # the scalar judge's score of every candidate (elo_accuracy picks from it too)
    run.write_results(scores, "scores.parquet")
run.write_metrics(M)
run.write_meta(**(judge.provenance() if judge else {"completions": {"generated": 0, "reused": 0}}), figures=[str(f) for f in figures],
               replay={"records": P["records"], "model": P["records_model"]} if REPLAY else None)
print("wrote", run.path)
