"""Pairwise runs with ``backend vllm`` on the real engine, end to end: the notebook under papermill,
its store and metrics; a rerun the store answers in full; a run killed mid-way (SIGKILL, the
fault suite's hook) and resumed.

Each run starts its own engine in its own process (the notebook's kernel). Two fresh engines that
get the same calls in the same order give the same texts (seeded sampling repeats across
processes); a resumed run's new completions are made in other batches, after other calls, so they
need not be the uninterrupted run's (vLLM's CPU engine is not batch invariant: test_engine.py).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pandas as pd
import pytest

from rrmlib.store import JudgmentStore
from notebook_runs import read, run
from vllm_tier_settings import MAX_MODEL_LEN

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

# 4 demo pairs in both orders (8 judgments); vllm_call_size 2: four generate calls, four commits.
PARAMS = {"dataset": "demo", "backend": "vllm", "limit": 4, "order": "both", "max_new_tokens": 32,
          "temperature": 0.6, "seed": 5, "reasoning": False, "vllm_call_size": 2, "max_model_len": MAX_MODEL_LEN,
          "progress": False}
FILES = ("results.parquet", "metrics.json")


def texts(store_path) -> dict:
    store = JudgmentStore(store_path)
    try:
        return dict(store.db.execute("SELECT key, text FROM completions"))
    finally:
        store.close()


@pytest.fixture(scope="module")
def reference(vllm_ready, tmp_path_factory):
    """An uninterrupted notebook run, then its rerun in the same folder."""
    tmp = tmp_path_factory.mktemp("vllm-runs")
    store = tmp / "store.sqlite"
    first = run(tmp, "pairwise", "run", store=str(store), **PARAMS)
    saved = {name: (first / name).read_bytes() for name in FILES}
    metrics1, meta1 = read(first)
    again = run(tmp, "pairwise", "run", store=str(store), **PARAMS)
    return {"dir": first, "store": store, "bytes": saved, "first": (metrics1, meta1), "again": read(again)}


def test_pairwise_notebook_on_the_real_engine_then_a_rerun_that_reuses_everything(reference):
    metrics, meta = reference["first"]
    assert meta["completions"] == {"generated": 8, "reused": 0}
    judge = meta["judge"]
    assert judge["backend"] == "vllm" and judge["vllm_version"] == "0.32.0"
    assert judge["enable_chunked_prefill"] is False and judge["enforce_eager"] is True and judge["call_size"] == 2
    assert metrics["judgments"] == 8 and 0 <= metrics["accuracy"] <= 1
    assert len(texts(reference["store"])) == 8
    metrics2, meta2 = reference["again"]
    assert meta2["completions"] == {"generated": 0, "reused": 8}
    assert metrics2 == metrics
    for name in FILES:  # byte for byte
        assert (reference["dir"] / name).read_bytes() == reference["bytes"][name], name


def rrm(args, cwd, kill_at=None):
    # Without VLLM_CPU_KVCACHE_SPACE (the tier's conftest sets it): the backend's own default, as a user gets it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RRM_TEST_KILL") and k != "VLLM_CPU_KVCACHE_SPACE"}
    if kill_at:
        env["RRM_TEST_KILL_AT"] = kill_at
    argv = [sys.executable, "-m", "rrmlib.cli", "run", "pairwise"]
    for k, v in args.items():
        argv += ["-p", k, str(v)]
    # Its own process group, and its output in files, not pipes: a SIGKILLed kernel leaves vLLM's
    # engine core behind (a child of the kernel, holding any pipe open); the group is ended once
    # the run has returned, which takes it down.
    log_out, log_err = cwd / f"rrm-{len(list(cwd.glob('rrm-*')))}.out", cwd / "rrm.err"
    with open(log_out, "w") as out, open(log_err, "w") as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err, text=True, start_new_session=True)
        try:
            proc.wait(timeout=600)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    out, err = log_out.read_text(), log_err.read_text()
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def test_a_run_killed_mid_way_resumes_and_its_first_calls_repeat_across_processes(reference, tmp_path):
    """`rrm run` SIGKILLed right after its second commit (two calls of 2: 4 judgments stored), then
    run again: it generates the other 4 only and completes the run; a rerun then reuses all 8 and
    writes the same files again. The killed run's 4 texts are the uninterrupted run's: another
    process, another engine, the same first two calls."""
    store, out = tmp_path / "store.sqlite", tmp_path / "run"
    args = {**PARAMS, "store": store, "out_dir": out}
    killed = rrm(args, tmp_path, kill_at="after_commit:2")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    kept = texts(store)
    assert len(kept) == 4 and not (out / "meta.json").exists()
    reference_texts = texts(reference["store"])
    assert kept == {k: reference_texts[k] for k in kept}  # same keys, same texts: seeded, across processes

    resumed = rrm(args, tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["completions"] == {"generated": 4, "reused": 4}
    assert meta["judge"]["kv_cache_memory_bytes"] == 2**32  # the backend's CPU default: the engine started with it
    now = texts(store)
    assert set(now) == set(reference_texts) and {k: now[k] for k in kept} == kept
    same = sum(now[k] == reference_texts[k] for k in set(now) - set(kept))
    print(f"resumed: {same} of 4 new texts equal the uninterrupted run's")
    res, ref = pd.read_parquet(out / "results.parquet"), pd.read_parquet(reference["dir"] / "results.parquet")
    assert list(res["key"]) == list(ref["key"]) and list(res.columns) == list(ref.columns)
    saved = {name: (out / name).read_bytes() for name in FILES}
    again = rrm(args, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((out / "meta.json").read_text())["completions"] == {"generated": 0, "reused": 8}
    assert {name: (out / name).read_bytes() for name in FILES} == saved
