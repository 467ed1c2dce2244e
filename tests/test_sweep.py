"""`rrm sweep`: runs what is not complete, and on a second call runs nothing."""
import subprocess
import sys
from pathlib import Path

import pytest

from rrmlib.cli import sweep_configs
from rrmlib.params import ParameterError

ROOT = Path(__file__).resolve().parents[1]


def test_grid_and_runs_expand(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("notebook: pairwise\nparameters: {limit: 2}\ngrid: {order: [shuffle, both], votes: [1, 3]}\n"
                 "runs: [{dataset: llmbar}]\n")
    configs = sweep_configs(f)
    assert len(configs) == 5
    assert {(p["order"], p["votes"]) for _, p in configs[:4]} == {("shuffle", 1), ("shuffle", 3), ("both", 1), ("both", 3)}
    assert all(p["limit"] == 2 for _, p in configs) and configs[4][1]["dataset"] == "llmbar"


def test_bad_sweep_is_refused(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("notebook: pairwise\ngrid: {temprature: [0, 1]}\n")
    with pytest.raises(ParameterError, match="temprature"):
        sweep_configs(f)


def test_shared_out_dir_and_scalar_grid_are_refused(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("notebook: pairwise\nparameters: {out_dir: runs/x}\ngrid: {votes: [1, 3]}\n")
    with pytest.raises(ParameterError, match="share one run folder"):
        sweep_configs(f)
    f.write_text("notebook: pairwise\ngrid: {votes: 3}\n")
    with pytest.raises(ParameterError, match="must be lists"):
        sweep_configs(f)


def test_committed_sweeps_parse():
    sizes = {f.name: len(sweep_configs(f)) for f in (ROOT / "params" / "sweeps").glob("*.yaml")}
    assert sizes == {"demo-orders.yaml": 3, "ppe-rounds.yaml": 15}


@pytest.mark.slow
def test_sweep_runs_missing_then_nothing(tmp_path, tiny_model_dir):
    f = tmp_path / "s.yaml"
    f.write_text(f"notebook: pairwise\nparameters: {{model: {str(tiny_model_dir)!r}, limit: 2, max_new_tokens: 4, "
                 f"store: {str(tmp_path / 'j.sqlite')!r}}}\ngrid: {{order: [fixed, both]}}\n")
    rrm = [sys.executable, "-m", "rrmlib.cli", "sweep", str(f)]
    first = subprocess.run(rrm, cwd=tmp_path, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "2 run, 0 already complete, 0 failed" in first.stdout
    assert len(list((tmp_path / "runs").glob("*/meta.json"))) == 2
    second = subprocess.run(rrm, cwd=tmp_path, capture_output=True, text=True)
    assert second.returncode == 0 and "0 run, 2 already complete" in second.stdout
