"""The pairwise notebook executed by papermill, as a user runs it, on a tiny random model."""
import json
from pathlib import Path

import jupytext
import papermill
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run(tmp_path, name, **params):
    out_dir = tmp_path / name
    out_dir.mkdir(parents=True, exist_ok=True)
    nb = jupytext.read(ROOT / "notebooks" / "pairwise.py")
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
    py = jupytext.read(ROOT / "notebooks" / "pairwise.py")
    assert [(c.cell_type, c.source) for c in ipynb.cells] == [(c.cell_type, c.source) for c in py.cells]
    assert all(not c.get("outputs") and not c.get("execution_count") for c in ipynb.cells if c.cell_type == "code")
    tagged = [c for c in ipynb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert ipynb.metadata["kernelspec"]["name"] == "python3"
