"""`rrm sweep`: runs what is not complete, and on a second call runs nothing."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rrmlib.cli import sweep_configs
from rrmlib.params import ParameterError

ROOT = Path(__file__).resolve().parents[1]


def in_root(folder) -> dict:
    """The environment of an `rrm` run whose project root (runs/, the store) is ``folder``."""
    import os

    return {**os.environ, "RRM_ROOT": str(folder)}


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


def test_committed_sweeps_parse(monkeypatch):
    monkeypatch.setenv("RRM_DATA", "/data")
    judge = [str(ROOT / "params" / "judges" / "rrm-7b.yaml")]
    sizes = {f.name: len(sweep_configs(f, judge if f.name == "paper.yaml" else ()))
             for f in (ROOT / "params" / "sweeps").glob("*.yaml")}
    # paper: RewardBench, 3 PPE sets x 5 rounds, the ELO round robin, its ratings, the knockout.
    assert sizes == {"demo-orders.yaml": 3, "paper.yaml": 1 + 15 + 3, "paper-cpu.yaml": 5}
    configs = sweep_configs(ROOT / "params" / "sweeps" / "paper.yaml", judge)
    assert {p["model"] for nb, p in configs if nb != "elo_accuracy"} == {"Reward-Reasoning/RRM-7B"}
    assert [(nb, p["dataset"], p.get("round")) for nb, p in configs[1:6]] == [("pairwise", "MMLU-Pro", k) for k in range(1, 6)]


def test_steps_share_parameters_refer_to_each_other_and_take_overrides(tmp_path, monkeypatch):
    from rrmlib.cli import folder_of

    monkeypatch.setenv("DATA_HOME", "/somewhere")
    judge = tmp_path / "judge.yaml"
    judge.write_text("model: org/judge\ntemperature: 0.6\n")
    f = tmp_path / "s.yaml"
    f.write_text("parameters: {max_new_tokens: 64}\n"
                 "steps:\n"
                 "  - {notebook: pairwise, grid: {dataset: [demo, llmbar]}}\n"
                 "  - {notebook: elo_rival, name: rr, runs: [{dataset: qwen-math, data_path: '${DATA_HOME}/q.jsonl'}]}\n"
                 "  - {notebook: elo_accuracy, runs: [{matches: '{run:rr}/matches.parquet', dataset: qwen-math}]}\n")
    configs = sweep_configs(f, [str(judge)], [("max_new_tokens", "32")])
    assert [nb for nb, _ in configs] == ["pairwise", "pairwise", "elo_rival", "elo_accuracy"]
    # The judge's parameters reach the notebooks that run a judge, not elo_accuracy; -p wins.
    assert all(p["model"] == "org/judge" and p["max_new_tokens"] == 32 for _, p in configs[:3])
    assert "model" not in configs[3][1]
    assert configs[2][1]["data_path"] == "/somewhere/q.jsonl"
    assert configs[3][1]["matches"] == f"{folder_of(*configs[2])}/matches.parquet"
    with pytest.raises(ParameterError, match="no step takes parameter.*temprature"):
        sweep_configs(f, [], [("temprature", "0")])
    f.write_text("steps:\n  - {notebook: elo_accuracy, runs: [{matches: '{run:nope}/m.parquet'}]}\n")
    with pytest.raises(ParameterError, match="names no earlier step"):
        sweep_configs(f)


@pytest.mark.slow
def test_sweep_runs_missing_then_nothing(tmp_path, tiny_model_dir):
    f = tmp_path / "s.yaml"
    f.write_text(f"notebook: pairwise\nparameters: {{model: {str(tiny_model_dir)!r}, limit: 2, max_new_tokens: 4, "
                 f"store: {str(tmp_path / 'j.sqlite')!r}}}\ngrid: {{order: [fixed, both]}}\n")
    rrm = [sys.executable, "-m", "rrmlib.cli", "sweep", str(f)]
    first = subprocess.run(rrm, cwd=tmp_path, capture_output=True, text=True, env=in_root(tmp_path))
    assert first.returncode == 0, first.stderr
    assert "2 run, 0 already complete, 0 failed" in first.stdout
    assert len(list((tmp_path / "runs").glob("*/meta.json"))) == 2
    second = subprocess.run(rrm, cwd=tmp_path, capture_output=True, text=True, env=in_root(tmp_path))
    assert second.returncode == 0 and "nothing to run: all 2 configurations are complete" in second.stdout


def run_folder(cwd: Path, notebook: str, params: dict) -> Path:
    from rrmlib.params import check
    from rrmlib.runs import run_id

    return cwd / "runs" / run_id(notebook, check(notebook, params))


@pytest.mark.slow
def test_sweep_survives_a_dead_kernel_reports_it_and_reruns_it(tmp_path, tiny_model_dir):
    """The first run's kernel is SIGKILLed from outside (as the OOM killer would) once the notebook
    is running: the sweep reports that run failed, runs the next, exits 1; the dead run's folder
    keeps its notebook, is marked FAILED, and the next sweep runs it (and only it) again."""
    import time

    import psutil

    from rrmlib.runs import is_complete

    import sqlite3

    from rrmlib.store import JudgmentStore

    f = tmp_path / "s.yaml"
    store = tmp_path / "j.sqlite"
    base = {"model": str(tiny_model_dir), "limit": 2, "max_new_tokens": 4, "store": str(store)}
    f.write_text(yaml.safe_dump({"notebook": "pairwise", "parameters": base, "grid": {"order": ["fixed", "both"]}}))
    dead, alive = (run_folder(tmp_path, "pairwise", {**base, "order": o}) for o in ("fixed", "both"))
    # The test holds the store's write lock: the first run cannot commit its first batch, so it is
    # still running, whatever the machine's speed, when its kernel is killed.
    JudgmentStore(store).close()
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    rrm = [sys.executable, "-m", "rrmlib.cli", "sweep", str(f)]
    sweep = subprocess.Popen(rrm, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=in_root(tmp_path))
    deadline, killed = time.monotonic() + 300, None  # a guard against hanging, not a measurement
    try:
        while killed is None:
            assert sweep.poll() is None and time.monotonic() < deadline, "the run ended before its kernel was killed"
            nb = dead / "pairwise.ipynb"
            # Its first cells ran (the output, not the source, names the folder): the kernel is busy.
            if nb.exists() and f"run folder: {dead}" in nb.read_text(errors="replace"):
                kernels = [c for c in psutil.Process(sweep.pid).children() if "ipykernel" in " ".join(c.cmdline())]
                if kernels:
                    kernels[0].kill()
                    killed = kernels[0].pid
            time.sleep(0.05)
        holder.execute("COMMIT")  # the next run may write
        out, err = sweep.communicate(timeout=300)
    finally:
        holder.close()
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 1, err[-3000:]
    assert f"{dead.relative_to(tmp_path)}: FAILED: DeadKernelError" in err
    assert "sweep: 1 run, 0 already complete, 1 failed" in out
    assert not is_complete(dead) and is_complete(alive)
    assert "DeadKernelError" in (dead / "FAILED").read_text() and (dead / "pairwise.ipynb").exists()
    assert not (dead / "meta.json").exists()

    again = subprocess.run(rrm, cwd=tmp_path, capture_output=True, text=True, env=in_root(tmp_path))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "sweep: 1 run, 1 already complete, 0 failed" in again.stdout
    assert is_complete(dead) and not (dead / "FAILED").exists()


@pytest.mark.slow
@pytest.mark.parametrize("notebook, message", [("pairwise", "no pairs to judge"),
                                               ("knockout", "no candidate sets to play")])
def test_limit_zero_is_an_error_and_a_failed_run_is_marked(tmp_path, tiny_model_dir, notebook, message):
    """`limit 0` (any selection of nothing) fails before judging, instead of an empty 'successful'
    run; the failed run's folder keeps the executed notebook and says FAILED, an older run's
    meta.json there no longer vouches for it, and rrm sweep counts it incomplete (runs it again)."""
    from rrmlib.runs import is_complete

    params = {"model": str(tiny_model_dir), "limit": 0, "max_new_tokens": 4, "store": str(tmp_path / "j.sqlite")}
    if notebook == "knockout":
        params["reasoning"] = False
    folder = run_folder(tmp_path, notebook, params)
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps({"notebook": notebook, "run_id": folder.name, "params": {}}))
    argv = [sys.executable, "-m", "rrmlib.cli", "run", notebook]
    for k, v in params.items():
        argv += ["-p", k, str(v)]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=in_root(tmp_path))
    assert done.returncode == 1 and message in done.stderr, done.stderr[-3000:]
    assert f"see {folder / 'FAILED'}" in done.stderr
    assert sorted(p.name for p in folder.iterdir()) == [".rrm-kernel", ".rrm-run", "FAILED", f"{notebook}.ipynb"]
    assert message in (folder / "FAILED").read_text() and not is_complete(folder)
    assert not (tmp_path / "j.sqlite").exists()  # failed before the judge opened anything

    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({"notebook": notebook, "parameters": params}))
    swept = subprocess.run([sys.executable, "-m", "rrmlib.cli", "sweep", str(f)], cwd=tmp_path, capture_output=True,
                           text=True, env=in_root(tmp_path))
    assert swept.returncode == 1 and "sweep: 0 run, 0 already complete, 1 failed" in swept.stdout, swept.stderr



@pytest.mark.slow
def test_the_cpu_paper_sweep_twice_then_its_report(tmp_path, tiny_model_dir):
    """The committed CPU sweep, as a person runs it (rrm sweep, again, then rrm report), with the
    tiny model in place of SmolLM2; the report's cells are checked against the runs' own files."""
    import json

    import pandas as pd

    # The data it runs on is shipped with rrmlib: no $RRM_DATA (tests/test_fresh_clone.py runs it
    # from a clone with no ../shared beside it).
    env = {k: v for k, v in in_root(tmp_path).items() if k != "RRM_DATA"} | {"TOKENIZERS_PARALLELISM": "false"}
    sweep_file = str(ROOT / "params" / "sweeps" / "paper-cpu.yaml")
    rrm = [sys.executable, "-m", "rrmlib.cli"]
    judge = ["-p", "model", str(tiny_model_dir), "-p", "max_new_tokens", "4"]
    first = subprocess.run(rrm + ["sweep", sweep_file, *judge], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=900)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    assert first.stdout.count(": done: ") == 5 and "sweep: 5 run, 0 already complete, 0 failed" in first.stdout
    assert "judging" in first.stderr  # the notebooks' progress reaches the terminal while they run
    again = subprocess.run(rrm + ["sweep", sweep_file, *judge], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0 and "nothing to run: all 5 configurations are complete" in again.stdout
    report = subprocess.run(rrm + ["report", sweep_file], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=600)
    assert report.returncode == 0, report.stderr[-3000:]
    assert "| judge |" in report.stdout and "RRM-7B (published)" not in report.stdout  # no RewardBench/PPE here
    [index] = (tmp_path / "runs" / "sweeps").glob("paper-cpu-*.txt")
    folders = [tmp_path / line for line in index.read_text().split()]
    metrics = {json.loads((f / "meta.json").read_text())["notebook"] + ":" + str(json.loads(
        (f / "meta.json").read_text())["params"].get("dataset")): json.loads((f / "metrics.json").read_text())
        for f in folders}
    out = tmp_path / "figures" / "paper-cpu"  # the report of a sweep: figures/<its name>
    cells = pd.read_csv(out / "cells.csv").set_index("column")
    assert cells.loc["demo", "value"] == pytest.approx(metrics["pairwise:demo"]["score"])
    assert cells.loc["llmbar", "value"] == pytest.approx(metrics["pairwise:llmbar"]["score"])
    elo = metrics["elo_accuracy:qwen-math"]["methods"]["ELO (round robin)"]
    assert cells.loc["best-of-N ELO (round robin), qwen-math", "value"] == pytest.approx(elo["accuracy"])
    assert cells.loc["best-of-N knockout, qwen-math", "value"] == pytest.approx(metrics["knockout:qwen-math"]["accuracy"])
    assert len(cells) == 4 and cells["judge"].nunique() == 1


def test_a_sweeps_own_files_are_found_beside_it_or_in_the_checkout(tmp_path, monkeypatch):
    """``files:`` names a parameter file: beside the sweep file first, then under the project root,
    then in the checkout (the committed sweeps' ``params/demo.yaml`` while $RRM_ROOT is elsewhere,
    as in this test session); one that is nowhere is an error naming the sweep and the places."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mine.yaml").write_text("seed: 7\n")
    sweep = tmp_path / "sub" / "s.yaml"
    sweep.write_text("notebook: pairwise\nfiles: [mine.yaml, params/demo.yaml]\ngrid: {order: [both]}\n")
    [(_, p)] = sweep_configs(sweep)
    demo = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text())
    assert (p["seed"], p["max_new_tokens"], p["order"]) == (7, demo["max_new_tokens"], "both")
    sweep.write_text("notebook: pairwise\nfiles: [nowhere.yaml]\n")
    with pytest.raises(ParameterError, match=r"s\.yaml: files: nowhere\.yaml not found .*sub"):
        sweep_configs(sweep)
