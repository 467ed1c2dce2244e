"""The report notebook on real runs (issue 11): every cell of its table checked against the
runs' own metrics files, the published rows against the paper's numbers.

The runs are made here with the tiny random model (its verdicts are noise: the report's
arithmetic is what is checked, not the judge): the demo set and LLMBar Natural (local data),
RewardBench and PPE GPQA (two rounds) from local copies in the hub's layout written here, and
best-of-N on the demo candidate sets (round robin, ratings, knockout).
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rrmlib import report
from rrmlib.paper import PUBLISHED
from notebook_runs import run

ROOT = Path(__file__).resolve().parents[1]
LLMBAR = ROOT.parent / "shared" / "data" / "llmbar" / "Natural.json"
pytestmark = pytest.mark.slow


def metrics_of(folder):
    return json.loads((Path(folder) / "metrics.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir):
    from test_data_ppe import hub_copy_for_the_papers_pairs

    from rrmlib.data.rewardbench import SECTIONS

    tmp = tmp_path_factory.mktemp("report")
    judge = dict(model=str(tiny_model_dir), max_new_tokens=4, store=str(tmp / "j.sqlite"), reasoning=False)
    folders = {"demo": run(tmp, "pairwise", "demo", dataset="demo", limit=8, think_budgets="2,4", verdict_tokens=2,
                           **judge)}
    if LLMBAR.exists():
        folders["llmbar"] = run(tmp, "pairwise", "llmbar", dataset="llmbar", data_path=str(LLMBAR), limit=8, **judge)
    rb_rows = [{"id": f"{s}-{i}", "subset": s, "prompt": f"Say {i} in {s}.", "chosen": f"{i}", "rejected": f"not {i}"}
               for sec in SECTIONS.values() for s in sec[:2] for i in range(3)]
    rb = tmp / "reward-bench.jsonl"
    rb.write_text("".join(json.dumps(r) + "\n" for r in rb_rows))
    folders["rb"] = run(tmp, "pairwise", "rb", dataset="rewardbench", data_path=str(rb), **judge)
    _, rows, _ = hub_copy_for_the_papers_pairs("gpqa")
    gpqa = tmp / "ppe-gpqa.parquet"
    pq.write_table(pa.Table.from_pylist(rows), gpqa)
    for k in (1, 2):
        folders[f"gpqa{k}"] = run(tmp, "pairwise", f"gpqa{k}", dataset="GPQA", round=k, data_path=str(gpqa),
                                  limit=6, **judge)
    folders["rival"] = run(tmp, "elo_rival", "rival", dataset="demo", limit=3, batch_size=24, **judge)
    folders["elo"] = run(tmp, "elo_accuracy", "elo", matches=str(folders["rival"] / "matches.parquet"),
                         dataset="demo", bootstrap=100)
    folders["knockout"] = run(tmp, "knockout", "knockout", dataset="demo", limit=3, batch_size=24, **judge)
    folders["report"] = run(tmp, "report", "report", runs=[str(f) for k, f in folders.items()], bootstrap=200)
    return folders


def cells(folders):
    return pd.read_csv(folders["report"] / "cells.csv")


def test_every_cell_is_its_runs_own_number(runs):
    c = cells(runs).set_index("column")
    demo = metrics_of(runs["demo"])
    assert c.loc["demo", "value"] == pytest.approx(demo["score"])
    assert [c.loc["demo", "ci_low"], c.loc["demo", "ci_high"]] == pytest.approx(demo["score_ci"])
    if "llmbar" in runs:
        assert c.loc["llmbar", "value"] == pytest.approx(metrics_of(runs["llmbar"])["score"])
    rb = metrics_of(runs["rb"])
    for section in ("Chat", "Chat Hard", "Safety", "Reasoning", "Overall"):
        assert c.loc[f"RewardBench {section}", "value"] == pytest.approx(rb["sections"][section])
        assert [c.loc[f"RewardBench {section}", "ci_low"], c.loc[f"RewardBench {section}", "ci_high"]] == \
            pytest.approx(rb["sections_ci"][section])
    assert c.loc["RewardBench Overall", "value"] == pytest.approx(rb["score"])
    rounds = [metrics_of(runs[f"gpqa{k}"])["score"] for k in (1, 2)]
    assert c.loc["PPE GPQA", "value"] == pytest.approx(np.mean(rounds))
    assert c.loc["PPE GPQA", "sd"] == pytest.approx(np.std(rounds, ddof=1))
    assert c.loc["PPE GPQA", "rounds"] == 2
    lo, hi = c.loc["PPE GPQA", ["ci_low", "ci_high"]]
    assert 0 <= lo <= c.loc["PPE GPQA", "value"] <= hi <= 1
    elo = metrics_of(runs["elo"])["methods"]["ELO (round robin)"]
    assert c.loc["best-of-N ELO (round robin), demo", "value"] == pytest.approx(elo["accuracy"])
    assert c.loc["best-of-N ELO (round robin), demo", "judgments_per_question"] == pytest.approx(
        elo["judgments_per_question"])
    ko = metrics_of(runs["knockout"])
    assert c.loc["best-of-N knockout, demo", "value"] == pytest.approx(ko["accuracy"])
    assert c.loc["best-of-N knockout, demo", "judgments_per_question"] == pytest.approx(ko["judgments_per_question"])
    # One judge, the tiny model, named by its folder; the ELO cell inherits it from its records.
    assert cells(runs)["judge"].nunique() == 1


def test_flags_follow_the_runs(runs):
    c = cells(runs).set_index("column")
    demo = metrics_of(runs["demo"])
    # max_new_tokens=4 departs from the paper: every cell is marked; unparseable beyond half: flagged.
    assert all("*" in f for f in c["flags"])
    assert ("†" in c.loc["demo", "flags"]) == (demo["unparseable"] > 0.5)
    table = (runs["report"] / "table.md").read_text()
    assert "max_new_tokens=4" in table


def test_published_rows_are_the_papers_numbers(runs):
    t = pd.read_csv(runs["report"] / "table.csv", index_col="judge", keep_default_na=False)
    assert t.loc["RRM-7B (published)", "RewardBench Overall"] == "82.2"
    assert t.loc["RRM-32B (published)", "RewardBench Chat Hard"] == "81.1"
    assert t.loc["RRM-7B (published, one round)", "PPE GPQA"] == "57.2"
    assert t.loc["RRM-32B (published, one round)", "PPE GPQA"] == "67.8"
    # Independently of rrmlib.paper: the list of the paper's numbers.
    expected = {"RRM-7B": (87.7, 70.4, 80.7, 90.0, 82.2, 69.3, 89.7, 57.2),
                "RRM-32B": (94.7, 81.1, 90.7, 98.3, 91.2, 80.9, 94.5, 67.8)}
    for model, values in expected.items():
        got = [*PUBLISHED[model]["rewardbench"].values(), *PUBLISHED[model]["ppe_one_round"].values()]
        assert [round(100 * v, 1) for v in got] == list(values)


def test_outputs_markdown_latex_csv_and_figures(runs):
    folder = runs["report"]
    tex = (folder / "table.tex").read_text()
    assert tex.startswith("\\begin{tabular}") and "\\toprule" in tex and "\\bottomrule" in tex
    assert "%" not in tex.split("\\end{tabular}")[0].replace("\\%", "")  # escaped inside the table
    md = (folder / "table.md").read_text()
    assert md.startswith("| judge |") and "RRM-7B (published)" in md
    meta = json.loads((folder / "meta.json").read_text())
    names = {Path(f).stem for f in meta["figures"]}
    assert {"accuracy", "ppe_rounds", "bestofn", "thinking_tokens", "think_budgets"} <= names
    assert all((folder.parent / f).exists() or Path(f).exists() for f in meta["figures"])


def test_a_difference_row_for_the_papers_own_models():
    measured = [report.Cell("Reward-Reasoning/RRM-7B @abcdef12", "RewardBench Overall", 0.80),
                report.Cell("Reward-Reasoning/RRM-7B @abcdef12", "PPE GPQA", 0.65, sd=0.01, rounds=5, first_round=0.60)]
    t = report.table(measured)
    row = t.loc["Reward-Reasoning/RRM-7B @abcdef12: difference to published (PPE: round 1)"]
    # By hand: 80.0 - 82.2; PPE against round 1 (the paper published one round), 60.0 - 57.2.
    assert row["RewardBench Overall"] == "-2.2" and row["PPE GPQA"] == "+2.8"
    no_round_one = report.table([report.Cell("Reward-Reasoning/RRM-7B", "PPE GPQA", 0.65, rounds=2)])
    assert not any("difference" in j for j in no_round_one.index)
    other = report.table([report.Cell("some/other-judge", "RewardBench Overall", 0.80)])
    assert not any("difference" in j for j in other.index)


def test_a_ppe_cell_averages_rounds_not_runs(runs, tmp_path):
    """A second round-1 run with other settings (another seed) must not be averaged in as if it
    were a round, nor dropped: it is a row of its own, named by its seed; a round run twice with
    the same settings is left out of the mean and named under the table."""
    import shutil

    twin, again = tmp_path / "gpqa1-other-seed", tmp_path / "gpqa1-again"
    shutil.copytree(runs["gpqa1"], twin)
    shutil.copytree(runs["gpqa1"], again)
    meta = json.loads((twin / "meta.json").read_text())
    meta["params"]["seed"] = 7
    (twin / "meta.json").write_text(json.dumps(meta))
    (twin / "metrics.json").write_text(json.dumps({**metrics_of(runs["gpqa1"]), "score": 0.123}))
    found, _ = report.collect([runs["gpqa1"], runs["gpqa2"], twin, again])
    ppe = {c.judge: c for c in report.cells(found, n_boot=50) if c.column == "PPE GPQA"}
    [main] = [c for j, c in ppe.items() if j.endswith("seed=0")]
    [other] = [c for j, c in ppe.items() if j.endswith("seed=7")]
    assert len(ppe) == 2 and main.rounds == 2 and str(twin) not in main.sources and str(again) in main.note
    assert main.first_round == pytest.approx(metrics_of(runs["gpqa1"])["score"])
    assert other.rounds == 1 and other.sources == [str(twin)] and other.value == pytest.approx(0.123)


def test_judges_side_by_side_one_row_each(runs, tmp_path):
    """One model read through another protocol, and a scalar reward model, are other judges: each
    gets its own row, with its own run's number (issue 13). The variants are copies of the demo
    run with their meta.json changed as such a run would write it, and a score set here."""
    import shutil

    base = metrics_of(runs["demo"])
    variants = {}
    for name, change, score in (("plain", {"judge_protocol": "plain"}, 0.25),
                                ("scalar", {"judge": {"backend": "classifier", "model": "tiny-rm"}}, 0.75)):
        folder = tmp_path / name
        shutil.copytree(runs["demo"], folder)
        meta = json.loads((folder / "meta.json").read_text())
        for key, value in change.items():
            meta[key] = {**meta[key], **value} if isinstance(value, dict) else value
        (folder / "meta.json").write_text(json.dumps(meta))
        (folder / "metrics.json").write_text(json.dumps({**base, "score": score, "accuracy": score}))
        variants[name] = folder
    found, _ = report.collect([runs["demo"], *variants.values()])
    demo = {c.judge: c.value for c in report.cells(found, n_boot=50) if c.value is not None and "demo" in c.column}
    model = json.loads((runs["demo"] / "meta.json").read_text())["judge"]["model"]
    assert [v for j, v in demo.items() if j.startswith("tiny-rm") and j.endswith("(scalar reward model)")] == \
        [pytest.approx(0.75)]
    assert [v for j, v in demo.items() if j.startswith(model) and j.endswith("(plain protocol)")] == [pytest.approx(0.25)]
    rrm_rows = [j for j in demo if j.startswith(model) and "protocol" not in j]
    assert len(rrm_rows) == 1 and demo[rrm_rows[0]] == pytest.approx(base["score"])


def test_rounds_that_differ_only_in_how_they_ran_are_one_group(runs, tmp_path):
    """Round 2 run with another batch size and by a version that wrote no `batching` parameter
    (a run from before it existed) is still round 2 of the same settings: batching changes no
    number, and a parameter a run lacks counts as its default."""
    import shutil

    twin = tmp_path / "gpqa2-other-batching"
    shutil.copytree(runs["gpqa2"], twin)
    meta = json.loads((twin / "meta.json").read_text())
    meta["params"]["batch_size"] = meta["params"].get("batch_size", 16) + 5
    meta["params"].pop("batching", None)
    (twin / "meta.json").write_text(json.dumps(meta))
    found, _ = report.collect([runs["gpqa1"], twin])
    [cell] = [c for c in report.cells(found, n_boot=50) if c.column == "PPE GPQA"]
    assert cell.rounds == 2 and cell.note == "" and str(twin) in cell.sources
