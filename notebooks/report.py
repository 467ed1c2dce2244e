# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The paper's tables, from finished runs
#
# One table in the paper's layout, a row per judge: RewardBench Chat, Chat Hard, Safety,
# Reasoning and their plain mean (Overall); PPE MMLU-Pro, MATH and GPQA as mean ± sd over the
# rounds present (and how many); best-of-N accuracy by ELO and by knockout with the judgments
# spent per question; any other pairwise dataset by name. Beside them the paper's published
# numbers, labelled as published, and our difference to them for the paper's own models. Every
# estimate carries a 95% bootstrap interval; a number that rests mostly on unparseable verdicts
# is flagged (†), and one from a run that departs from the paper's protocol is marked (*).
# Nothing here runs a judge: it reads `metrics.json`, `meta.json` and `results.parquet` of the
# runs.

# %%
import rrmlib.params

_names_before = rrmlib.params.fresh("report", globals())

# %% tags=["parameters"]
# Parameters. Each has a default (`rrm params report` lists them, with what they mean); the cell
# below prints the values this run uses. To change one, assign it here, for example
#     runs = ["runs"]
# papermill and `rrm run report -p NAME VALUE` set them the same way, so both routes agree.

# %%
P = rrmlib.params.in_notebook("report", globals(), _names_before)

import pandas as pd
from IPython.display import Markdown, display

from rrmlib import plots, report
from rrmlib.runs import RunDir, atomic_write, runs_dir

run = RunDir.start("report", P)
print("run folder:", run.path)

# %% [markdown]
# ## The runs
#
# From a sweep file (each configuration's run folder), from run folders, or from folders that
# hold run folders (the default: `runs/`). A folder without `meta.json` (written last) is not a
# finished run and is left out, saying so.

# %%
folders = []
if P["sweep"] is not None:
    folders += [str(f) for f in report.sweep_folders(P["sweep"])]
if P["runs"] is not None:
    folders += [P["runs"]] if isinstance(P["runs"], str) else list(P["runs"])
if not folders:
    folders = [str(runs_dir())]  # the project's runs/, wherever the kernel runs
found, skipped = report.collect(folders)
for note in skipped:
    print("skipped:", note)
if not found:  # an empty table would pass for a report
    raise ValueError(f"no finished run in {', '.join(map(str, folders))}" + (f" ({len(skipped)} folder(s) skipped)"
                                                                           if skipped else ""))
display(pd.DataFrame([{"run": str(r.path), "notebook": r.notebook, "dataset": r.params.get("dataset"),
                       "round": r.params.get("round"), "follows the paper": not r.deviations} for r in found]))

# %% [markdown]
# ## The table

# %%
cells = report.cells(found, seed=P["seed"], n_boot=P["bootstrap"])
numbers = report.cells_frame(cells)
table = report.table(cells)
notes = report.footnotes(cells)
display(table)
display(Markdown("\n".join(f"- {n}" for n in notes)))

# %%
written = {"markdown": run.path / "table.md", "latex": run.path / "table.tex", "csv": run.path / "table.csv",
           "numbers": run.path / "cells.csv"}
atomic_write(written["markdown"], report.to_markdown(table, notes))
atomic_write(written["latex"], report.to_latex(table, notes))
atomic_write(written["csv"], table.to_csv())
atomic_write(written["numbers"], numbers.to_csv(index=False))
print("wrote", *map(str, written.values()))

# %% [markdown]
# ## Figures
#
# Accuracy per dataset (judge against judge); PPE accuracy per round; best-of-N accuracy against
# the judgments it spent; thinking tokens per dataset, split by right and wrong verdicts (the
# paper's adaptive-compute claim); accuracy against thinking budget where runs have budgets;
# the voting curve where runs drew several votes.

# %%
plots.setup()
figures = []
if len(numbers):
    figures += plots.savefig(plots.report_accuracy(report.figure_cells(cells), title="accuracy (95% CI) beside the "
                                                   "published numbers"), run.figures / "accuracy")
rounds = report.ppe_rounds(found)
if len(rounds):
    figures += plots.savefig(plots.ppe_rounds(rounds, title="PPE accuracy per round"), run.figures / "ppe_rounds")
if numbers["column"].str.startswith("best-of-N").any() if len(numbers) else False:
    figures += plots.savefig(plots.bestofn_vs_judgments(numbers, title="best-of-N"), run.figures / "bestofn")
tokens = report.thinking_tokens(found)
if len(tokens):
    figures += plots.savefig(plots.thinking_tokens(tokens, title="thinking tokens by verdict"),
                             run.figures / "thinking_tokens")
budget_curves = report.budget_curves(found)
if len(budget_curves):
    figures += plots.savefig(plots.report_budgets(budget_curves, title="accuracy against thinking budget"),
                             run.figures / "think_budgets")
curves = report.voting_curves(found)
if len(curves):
    figures += plots.savefig(plots.voting_curves(curves, title="accuracy against votes"), run.figures / "voting")
for i in range(0, len(figures), len(plots.FORMATS)):
    plots.show(figures[i:i + len(plots.FORMATS)])
plots.close_all()
print("figures:", plots.where(figures))

# %% [markdown]
# ## Save the report

# %%
run.write_metrics({"cells": numbers.to_dict(orient="records"), "skipped": skipped,
                   "table": {k: str(v) for k, v in written.items()}})
run.write_meta(completions={"generated": 0, "reused": 0}, judge=None, runs=[str(r.path) for r in found],
               figures=[str(f) for f in figures])
print("wrote", run.path)
