"""Pairwise runs with ``backend vllm`` on the real engine, end to end: the notebook under papermill,
its store and metrics; a rerun the store answers in full; a run killed mid-way (SIGKILL, the
fault suite's hook) and resumed.

Each run starts its own engine in its own process (the notebook's kernel). What repeats is what
the store holds: a rerun gives the same files byte for byte, a resumed run keeps what the killed
one committed. Seeded texts themselves do not repeat bit for bit across processes on vLLM's CPU
engine: two fresh engines given the very same calls gave another text for 1 to 3 of 16 requests
(measured; MKL_CBWR=COMPATIBLE and PYTHONHASHSEED=0 did not change that), and a request's text
also depends on its batch (test_engine.py). The test prints how many texts agree; it asserts
what the store guarantees.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid

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
    # As a user runs it, without VLLM_CPU_KVCACHE_SPACE (the tier's conftest sets it): the
    # backend's own KV cache default, the same as the `rrm run`s below (the KV cache's size is an
    # engine setting that can change texts, as the batch does).
    kv = os.environ.pop("VLLM_CPU_KVCACHE_SPACE", None)
    try:
        first = run(tmp, "pairwise", "run", store=str(store), **PARAMS)
        saved = {name: (first / name).read_bytes() for name in FILES}
        metrics1, meta1 = read(first)
        again = run(tmp, "pairwise", "run", store=str(store), **PARAMS)
    finally:
        if kv is not None:
            os.environ["VLLM_CPU_KVCACHE_SPACE"] = kv
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
    """``rrm run pairwise`` with ``args``, as a user runs it, to its end (or its kill)."""
    # Without VLLM_CPU_KVCACHE_SPACE (the tier's conftest sets it): the backend's own default, as a user gets it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RRM_TEST_KILL") and k != "VLLM_CPU_KVCACHE_SPACE"}
    env["RRM_TIER_RUN"] = tag = uuid.uuid4().hex
    if kill_at:
        env["RRM_TEST_KILL_AT"] = kill_at
    argv = [sys.executable, "-m", "rrmlib.cli", "run", "pairwise"]
    for k, v in args.items():
        argv += ["-p", k, str(v)]
    # Output to files, not pipes: a SIGKILLed kernel leaves vLLM's engine core behind (its child,
    # in the kernel's own session, holding any pipe open), which is then ended here: every
    # process that carries this run's tag.
    log_out, log_err = cwd / f"rrm-{tag}.out", cwd / f"rrm-{tag}.err"
    with open(log_out, "w") as out, open(log_err, "w") as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        try:
            proc.wait(timeout=600)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            left = end_tagged(tag, cwd)
    if kill_at:
        print(f"ended {left} process(es) the killed run left behind (vLLM's engine core and its worker)")
    return subprocess.CompletedProcess(argv, proc.returncode, log_out.read_text(), log_err.read_text())


def end_tagged(tag: str, cwd) -> int:
    """SIGKILL every process of this run: those whose environment carries ``RRM_TIER_RUN=tag``, and
    those working in the run's own folder ``cwd`` (vLLM names its processes with setproctitle,
    which overwrites what /proc shows of their environment); how many there were."""
    import psutil

    here = os.path.realpath(cwd)
    found = []
    for p in psutil.process_iter():
        try:
            if p.pid != os.getpid() and (p.environ().get("RRM_TIER_RUN") == tag or p.cwd() == here):
                found.append(p)
        except (psutil.Error, OSError):
            continue
    for p in found:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(found, timeout=30)
    return len(found)


def test_a_run_killed_mid_way_resumes_keeping_what_it_committed(reference, tmp_path):
    """`rrm run` SIGKILLed right after its second commit (two calls of 2: 4 judgments stored), then
    run again: it generates the other 4 only, keeps the 4 it had, and completes the run with the
    uninterrupted run's keys (a rerun from the store: the first test)."""
    store, out = tmp_path / "store.sqlite", tmp_path / "run"
    args = {**PARAMS, "store": store, "out_dir": out}
    killed = rrm(args, tmp_path, kill_at="after_commit:2")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    kept = texts(store)
    assert len(kept) == 4 and not (out / "meta.json").exists()
    reference_texts = texts(reference["store"])
    assert set(kept) < set(reference_texts)  # the first two calls' keys
    same = sum(kept[k] == reference_texts[k] for k in kept)
    print(f"across processes, the same first two calls: {same} of 4 texts equal the uninterrupted run's")

    resumed = rrm(args, tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["completions"] == {"generated": 4, "reused": 4}
    assert meta["judge"]["kv_cache_memory_bytes"] == 2**32  # the backend's CPU default: the engine started with it
    now = texts(store)
    assert set(now) == set(reference_texts) and {k: now[k] for k in kept} == kept
    same = sum(now[k] == reference_texts[k] for k in set(now) - set(kept))
    print(f"resumed (other batches, another process): {same} of 4 new texts equal the uninterrupted run's")
    res, ref = pd.read_parquet(out / "results.parquet"), pd.read_parquet(reference["dir"] / "results.parquet")
    assert list(res["key"]) == list(ref["key"]) and list(res.columns) == list(ref.columns)
