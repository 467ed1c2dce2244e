"""Kills (fault suite): a run SIGKILLed anywhere ends, once rerun, exactly where an uninterrupted run ends.

The runs are real: ``rrm run`` / ``rrm sweep`` in a subprocess, executing the pairwise and the
knockout notebooks with papermill on the tiny random model (tests/conftest.py). The kill comes
from the library's test hook, ``rrmlib.faults.kill_point``: with ``RRM_TEST_KILL_AT=<point>[:<n>]``
in the environment, the kernel SIGKILLs the process that started it (rrm) and then itself the
n-th time it reaches ``<point>``, so the whole run dies at once and no cleanup runs anywhere:

- ``model_load``: the judge's model is loaded, nothing is stored yet;
- ``mid_batch:2``: the second batch is generated and not committed (as a kill anywhere inside
  its generation: the first batch is in the store, the second only in memory);
- ``after_commit:2``: the second commit of the run has just returned;
- ``write_results:1``: half of ``results.parquet``'s bytes are written;
- ``write_meta``: half of ``meta.json``'s bytes are written.

Each notebook is killed at the five points in turn, in one working folder with one store: the
first attempt is ``rrm run``, every rerun ``rrm sweep`` of the same parameters (which must see the
half-written folder as incomplete and run it: it prints ``running`` before it is killed again),
and the last rerun, undisturbed, must write ``results.parquet`` and ``metrics.json`` byte for byte
as an uninterrupted run in another folder with its own fresh store. After every kill the store
passes ``PRAGMA integrity_check``, holds no key twice, and holds exactly the batches committed
before the kill (a kill loses the batch in flight, nothing else); no file of the run exists
half-written under its real name.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from rrmlib.runs import atomic_write, is_complete

# (kill point, store rows after the kill) for each notebook: pairwise judges 6 pairs in 3 batches
# of 2; knockout plays 6 first-round matches (3 batches) then 3 finals (2 batches).
CHAIN = {
    "pairwise": [("model_load", 0), ("mid_batch:2", 2), ("after_commit:2", 6), ("write_results:1", 6),
                 ("write_meta", 6)],
    "knockout": [("model_load", 0), ("mid_batch:2", 2), ("after_commit:2", 6), ("write_results:1", 9),
                 ("write_meta", 9)],
}
FILES = {"pairwise": ["results.parquet", "metrics.json"],
         "knockout": ["results.parquet", "matches.parquet", "picks.parquet", "metrics.json"]}


def visible_files(folder):
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


@pytest.mark.slow
def test_killed_at_each_point_then_rerun_equals_an_uninterrupted_run(faults_rrm, tmp_path_factory):
    notebooks = list(CHAIN)
    references = faults_rrm.references(*notebooks)
    cwd = {nb: tmp_path_factory.mktemp(f"killed-{nb}") for nb in notebooks}
    sweep = {nb: faults_rrm.sweep_file(cwd[nb], nb) for nb in notebooks}
    folder = {nb: cwd[nb] / "runs" / references[nb].name for nb in notebooks}  # same parameters, same run id
    store = {nb: cwd[nb] / "runs" / "judgments.sqlite" for nb in notebooks}

    def attempt(nb, n):
        return faults_rrm.argv("run", nb) if n == 0 else faults_rrm.argv("sweep", str(sweep[nb]))

    # The two notebooks' chains run side by side (each in its own folder, with its own store).
    for n in range(len(CHAIN["pairwise"])):
        jobs = [(attempt(nb, n), cwd[nb], CHAIN[nb][n][0]) for nb in notebooks]
        for nb, killed in zip(notebooks, faults_rrm.run_many(jobs)):
            point, rows_after = CHAIN[nb][n]
            where = f"{nb} killed at {point}"
            assert killed.returncode == -signal.SIGKILL, f"{where}: rc {killed.returncode}\n{killed.stderr[-3000:]}"
            if n:  # rrm sweep saw the half-written folder as incomplete and ran it
                assert f"{folder[nb].relative_to(cwd[nb])}: running" in killed.stdout, (where, killed.stdout)
            rows, problems = faults_rrm.store_check(store[nb])
            assert problems == [], (where, problems)
            assert rows == rows_after, (where, rows)
            assert not is_complete(folder[nb]) and not (folder[nb] / "meta.json").exists(), where
            if point.startswith("write_results"):
                assert "results.parquet" not in visible_files(folder[nb]), where  # only the hidden temporary file
                assert any(p.name.startswith(".results.parquet.") for p in folder[nb].iterdir()), where
            if point == "write_meta":
                assert {"results.parquet", "metrics.json"} <= set(visible_files(folder[nb])), where
                assert any(p.name.startswith(".meta.json.") for p in folder[nb].iterdir()), where

    finals = faults_rrm.run_many([(faults_rrm.argv("sweep", str(sweep[nb])), cwd[nb], None) for nb in notebooks])
    for nb, final in zip(notebooks, finals):
        total, f, reference = faults_rrm.EXPECTED_ROWS[nb], folder[nb], references[nb]
        assert final.returncode == 0, final.stderr[-3000:]
        assert "sweep: 1 run, 0 already complete, 0 failed" in final.stdout
        assert is_complete(f) and not any(p.name.endswith(".rrm-tmp") for p in f.iterdir())  # temp files gone
        for name in FILES[nb]:
            assert (f / name).read_bytes() == (reference / name).read_bytes(), (nb, name)
        meta, ref_meta = (json.loads((x / "meta.json").read_text()) for x in (f, reference))
        assert ref_meta["completions"] == {"generated": total, "reused": 0}
        assert meta["completions"] == {"generated": 0, "reused": total}  # all stored by the killed attempts
        rows, problems = faults_rrm.store_check(store[nb])
        assert problems == [] and rows == total
        # The killed and resumed attempts stored the very texts an uninterrupted run generates.
        assert faults_rrm.texts(store[nb]) == faults_rrm.texts(reference.parent / "judgments.sqlite")
        keys = pd.read_parquet(f / "results.parquet")["key"].dropna()
        assert set(keys) == set(faults_rrm.texts(store[nb]))

    # A rerun of the finished pairwise run, killed while rewriting results.parquet: the old file
    # stays whole (the rename never happened), and the folder no longer claims to be complete
    # (the old meta.json would vouch for files this run had started to replace).
    again = faults_rrm.run(faults_rrm.argv("run", "pairwise"), cwd["pairwise"], kill_at="write_results:1")
    assert again.returncode == -signal.SIGKILL, again.stderr[-3000:]
    assert not is_complete(folder["pairwise"]) and not (folder["pairwise"] / "meta.json").exists()
    kept = (folder["pairwise"] / "results.parquet").read_bytes()
    assert kept == (references["pairwise"] / "results.parquet").read_bytes()


# -- the mechanisms, each on its own ------------------------------------------------------------

KILL_SCRIPT = textwrap.dedent("""
    import sys
    from rrmlib.runs import atomic_write
    atomic_write(sys.argv[1], sys.argv[2] * 1000, "write_meta")
    print("survived")
""")


@pytest.mark.parametrize("old", [None, "old complete contents"])
def test_a_kill_while_writing_leaves_the_old_file_or_none(tmp_path, old):
    target = tmp_path / "meta.json"
    if old is not None:
        target.write_text(old)
    env = {**os.environ, "RRM_TEST_KILL_AT": "write_meta"}
    done = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(target), "new"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL and "survived" not in done.stdout
    if old is None:
        assert not target.exists()
    else:
        assert target.read_text() == old
    (tmp,) = [p for p in tmp_path.iterdir() if p != target]  # the half-written temporary file, hidden
    assert tmp.name.startswith(".meta.json.") and tmp.read_text() == "new" * 500
    # Without the hook, the same write goes through whole.
    env.pop("RRM_TEST_KILL_AT")
    done = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(target), "new"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and target.read_text() == "new" * 1000


def test_kill_point_fires_on_the_nth_time_only(tmp_path):
    script = "from rrmlib.faults import kill_point\nfor i in range(5):\n    kill_point('x')\n    print(i, flush=True)\n"
    env = {**os.environ, "RRM_TEST_KILL_AT": "x:3"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL and done.stdout.split() == ["0", "1"]
    env["RRM_TEST_KILL_AT"] = "y"
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.split() == ["0", "1", "2", "3", "4"]


def test_is_complete_wants_a_readable_meta_and_no_failed_marker(tmp_path):
    assert not is_complete(tmp_path)
    (tmp_path / "meta.json").write_text('{"notebook": "pairwise", "par')  # a half file (written without care)
    assert not is_complete(tmp_path)
    atomic_write(tmp_path / "meta.json", json.dumps({"notebook": "pairwise"}))
    assert is_complete(tmp_path)
    (tmp_path / "FAILED").write_text("pairwise run FAILED: DeadKernelError")
    assert not is_complete(tmp_path)
