"""Typed run results (issue 22, item 1): a metrics dict missing a field its readers need is refused
when the run writes it, naming the field; the report and rrm read numbers only through the types."""
import json

import pytest

from rrmlib import report, results
from rrmlib.runs import RunDir

PAIRWISE = {"score": 0.6, "score_ci": [0.5, 0.7], "score_name": "accuracy (mean over pairs)", "accuracy": 0.6,
            "ci_low": 0.5, "ci_high": 0.7, "n": 10, "unparseable": 0.1, "cut_off": 0.0, "policy": "tie",
            "subsets": {"math": {"accuracy": 0.6, "ci_low": 0.5, "ci_high": 0.7, "n": 10, "unparseable": 0.1,
                                 "cut_off": 0.0}},
            "voting_curve": {"1": 0.5, "3": 0.6}}


def test_a_complete_pairwise_result_reads_as_its_type():
    r = results.read("pairwise", PAIRWISE)
    assert r.score == results.Estimate(0.6, 0.5, 0.7) and r.overall.n == 10 and r.subsets["math"].accuracy.value == 0.6
    assert r.voting_curve == {1: 0.5, 3: 0.6} and r.sections is None and r.score.text() == "0.600 [0.500, 0.700]"


@pytest.mark.parametrize("notebook, metrics, missing", [
    ("pairwise", {k: v for k, v in PAIRWISE.items() if k != "score_name"}, "'score_name'"),
    ("pairwise", {**PAIRWISE, "subsets": {"math": {"accuracy": 0.6}}}, "subset math: no 'n'"),
    ("pairwise", {**PAIRWISE, "score_ci": [0.5]}, "an interval must be [low, high]"),
    ("elo_accuracy", {"questions": 3, "methods": {"ELO (round robin)": {"acc": 0.5}}, "elo_bt_agreement": {}},
     "method ELO (round robin): no 'accuracy'"),
    ("knockout", {"questions": 3, "matches": 9, "judgments": 9, "format": "knockout"}, "no 'accuracy'"),
    ("knockout", {"questions": 3, "matches": 9, "judgments": 9, "format": "knockout", "accuracy": None}, None),
    ("elo_rival", {"questions": 3, "judgments": 9}, "no 'matches'"),
])
def test_a_run_cannot_write_metrics_its_readers_could_not_read(notebook, metrics, missing, tmp_path):
    run = RunDir(tmp_path / "run", notebook, {})
    if missing is None:  # optional fields may be absent
        run.write_metrics(metrics)
        assert (tmp_path / "run" / "metrics.json").exists()
        return
    with pytest.raises(results.ResultError, match=missing.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        run.write_metrics(metrics)
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_the_report_names_the_file_of_a_result_it_cannot_read(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps({k: v for k, v in PAIRWISE.items() if k != "subsets"}))
    (folder / "meta.json").write_text(json.dumps({"notebook": "pairwise", "run_id": "old", "params": {},
                                                  "judge": {"model": "m"}}))
    found, _ = report.collect([folder])
    with pytest.raises(results.ResultError, match=rf"{folder / 'metrics.json'}: no 'subsets'"):
        report.cells(found)
