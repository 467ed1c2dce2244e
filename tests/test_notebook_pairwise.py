"""The pairwise notebook executed by papermill, as a user runs it, on a tiny random model."""
import json
from pathlib import Path

import jupytext
import papermill
import pytest

from rrmlib.cli import notebook_source

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run(tmp_path, name, **params):
    out_dir = tmp_path / name
    out_dir.mkdir(parents=True, exist_ok=True)
    nb = notebook_source("pairwise")
    papermill.execute_notebook(nb, str(out_dir / "pairwise.ipynb"), parameters={"out_dir": str(out_dir), **params},
                               kernel_name="python3", cwd=str(tmp_path), progress_bar=False)
    return out_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir):
    tmp = tmp_path_factory.mktemp("nb")
    params = dict(model=str(tiny_model_dir), limit=6, max_new_tokens=8, store=str(tmp / "j.sqlite"), batch_size=4)
    first = run(tmp, "first", **params)
    second = run(tmp, "second", **params)
    return first, second


def test_run_folder_holds_what_the_issue_lists(runs):
    first, _ = runs
    import pandas as pd

    res = pd.read_parquet(first / "results.parquet")
    assert len(res) == 6
    assert {"pair_id", "order", "key", "verdict", "correct"} <= set(res.columns)
    m = json.loads((first / "metrics.json").read_text())
    assert {"accuracy", "n", "unparseable"} <= set(m) and m["n"] == 6
    meta = json.loads((first / "meta.json").read_text())
    assert meta["completions"] == {"generated": 6, "reused": 0}
    assert meta["params"]["limit"] == 6 and meta["seed"] == 0 and "transformers" in meta["versions"]
    assert "git_revision" in meta
    figs = [Path(f) for f in meta["figures"]]
    assert {f.suffix for f in figs} >= {".png", ".pdf"}
    assert all((first.parent / f).exists() for f in figs)
    # The progress bar reaches the saved notebook as text, with generated and reused counts.
    nb = json.loads((first / "pairwise.ipynb").read_text())
    streams = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", [])
                      if o.get("name") == "stderr")
    assert "judging" in streams and "6/6" in streams and "generated=6" in streams


def test_rerun_reuses_store_and_writes_identical_bytes(runs):
    first, second = runs
    meta = json.loads((second / "meta.json").read_text())
    assert meta["completions"] == {"generated": 0, "reused": 6}
    for name in ("results.parquet", "metrics.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_unknown_parameter_fails_the_run(tmp_path, tiny_model_dir):
    with pytest.raises(papermill.PapermillExecutionError, match="unknown parameter.*temprature"):
        run(tmp_path, "bad", model=str(tiny_model_dir), limit=1, temprature=0.0)


def test_committed_ipynb_matches_py_and_is_stripped():
    ipynb = jupytext.read(ROOT / "notebooks" / "pairwise.ipynb")
    py = notebook_source("pairwise")
    assert [(c.cell_type, c.source) for c in ipynb.cells] == [(c.cell_type, c.source) for c in py.cells]
    assert all(not c.get("outputs") and not c.get("execution_count") for c in ipynb.cells if c.cell_type == "code")
    tagged = [c for c in ipynb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert ipynb.metadata["kernelspec"]["name"] == "python3"


# --- the paper's protocol, as the design card's command runs it (issue 9) -------------------------

@pytest.fixture
def offline(monkeypatch):
    # The kernel inherits the environment: where `datasets` is installed the hub is not tried.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def test_design_card_command_offline_names_the_data_path_parameter(tmp_path, tiny_model_dir, offline):
    with pytest.raises(papermill.PapermillExecutionError) as e:
        run(tmp_path, "gpqa", dataset="GPQA", round=4, model=str(tiny_model_dir))
    assert "-p data_path" in str(e.value) and "lmarena-ai/PPE-GPQA-Best-of-K" in str(e.value)


def test_design_card_command_with_a_local_copy_judges_the_papers_round(tmp_path, tiny_model_dir):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from test_data_ppe import hub_copy_for_the_papers_pairs

    paper, rows, correct = hub_copy_for_the_papers_pairs("gpqa")
    copy = tmp_path / "ppe-gpqa.parquet"
    pq.write_table(pa.Table.from_pylist(rows), copy)
    out = run(tmp_path, "gpqa", dataset="GPQA", round=4, data_path=str(copy), model=str(tiny_model_dir), limit=5,
              max_new_tokens=4, store=str(tmp_path / "j.sqlite"))
    res = pd.read_parquet(out / "results.parquet")
    assert res["pair_id"].tolist() == [f"{r}-r4" for r in range(5)]
    meta = json.loads((out / "meta.json").read_text())
    # Everything the paper's protocol fixes is the paper's; the tiny budget is named as a departure.
    assert meta["protocol"]["deviations"] == {"max_new_tokens": 4} and meta["verdict_rule"] == "paper"
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["verdict_rules"]) == {"paper", "lenient"} and m["score"] == m["accuracy"]


def test_rewardbench_run_reports_the_overall_as_its_score(tmp_path, tiny_model_dir):
    """A local copy of RewardBench in the hub's columns, two subsets per section; the tiny
    model's verdicts are noise, so the test checks the arithmetic from results.parquet."""
    import pandas as pd

    from rrmlib.rewardbench import EXAMPLE_COUNTS, SECTIONS

    subsets = [s for sec in SECTIONS.values() for s in sec[:2]]
    rows = [{"id": f"{s}-{i}", "subset": s, "prompt": f"Say {i} in {s}.", "chosen": f"{i}", "rejected": f"not {i}"}
            for s in subsets for i in range(2)]
    copy = tmp_path / "reward-bench.jsonl"
    copy.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = run(tmp_path, "rb", dataset="rewardbench", data_path=str(copy), model=str(tiny_model_dir),
              max_new_tokens=4, store=str(tmp_path / "j.sqlite"), verdict_rule="lenient")
    res = pd.read_parquet(out / "results.parquet")
    score = res["picked"].map({"chosen": 1.0, "rejected": 0.0}).fillna(0.5)  # unparseable: 0.5
    per_subset = score.groupby(res["subset"]).mean()
    sections = {sec: sum(per_subset[s] * EXAMPLE_COUNTS[s] for s in subs[:2]) / sum(EXAMPLE_COUNTS[s] for s in subs[:2])
                for sec, subs in SECTIONS.items()}
    m = json.loads((out / "metrics.json").read_text())
    assert m["score"] == pytest.approx(sum(sections.values()) / 4) and "Overall" in m["score_name"]
    assert m["accuracy"] == pytest.approx(score.mean())
    meta = json.loads((out / "meta.json").read_text())
    assert meta["protocol"]["deviations"] == {"max_new_tokens": 4, "verdict_rule": "lenient"}
    # The paper's rule is shown beside the lenient one, from the same completions.
    assert set(m["verdict_rules"]) == {"paper", "lenient"}
    assert m["verdict_rules"]["lenient"]["score"] == pytest.approx(m["score"])
