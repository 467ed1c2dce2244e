"""Two writers (fault suite): runs in several processes share one judgment store at once.

Nothing is lost, no process sees "database is locked", every key is stored once, and each run's
results are those it would have had alone. Where two processes generate the same key, the
first commit wins and the other process reports the stored text (read back), because that is
the text every later run reuses.
"""
import json
import subprocess
import sys
import textwrap

import pytest

STORE_SCRIPT = textwrap.dedent("""
    import json, sys, threading, time
    from rrmlib.backends.base import Completion
    from rrmlib.store import JudgmentStore

    path, who, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    # A 1 ms busy timeout: nearly every lock conflict reaches the store's own retries.
    store = JudgmentStore(path, busy_timeout=0.001)
    print("ready", flush=True)
    sys.stdin.readline()  # start together: the test holds the write lock until then

    def tell_when_waiting():  # the first retry of the first write means: waiting on the lock
        while store.retries == 0:
            time.sleep(0.001)
        print("waiting", flush=True)

    threading.Thread(target=tell_when_waiting, daemon=True).start()
    meta = {"backend": "b", "model": "m", "revision": "r", "prompt": "p", "sampling": {}, "sample": 0}
    inserted, seen = 0, {}
    for i in range(n):
        keys = [f"k{i}", f"k{i + 1}"]  # each key written by both processes, in overlapping batches
        inserted += store.put_many([(k, meta, Completion(f"{who}:{k}", 1, 1, "stop")) for k in keys])
        seen.update({k: v["text"] for k, v in store.get_many(keys).items()})
    print(json.dumps({"inserted": inserted, "retries": store.retries, "seen": seen}))
""")


def test_two_processes_hammering_one_store_lose_nothing(tmp_path):
    import sqlite3

    from rrmlib.store import JudgmentStore

    path, n = tmp_path / "s.sqlite", 150
    JudgmentStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # hold the write lock while both start
    procs = [subprocess.Popen([sys.executable, "-c", STORE_SCRIPT, str(path), who, str(n)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for who in ("a", "b")]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in procs:  # both wait on the held lock (each says so at its first retry), then it goes
            assert p.stdout.readline().strip() == "waiting", p.stderr.read()
        holder.execute("COMMIT")
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        holder.close()
        for p in procs:
            p.kill() if p.poll() is None else None
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and "locked" not in err, err
    a, b = (json.loads(out.splitlines()[-1]) for out, _ in outs)
    assert a["retries"] > 0 and b["retries"] > 0  # the lock was met, and waited out
    assert a["inserted"] + b["inserted"] == n + 1  # every key stored exactly once
    with JudgmentStore(path) as s:
        assert s.integrity() == [] and len(s) == n + 1
        stored = {k: v["text"] for k, v in s.get_many([f"k{i}" for i in range(n + 1)]).items()}
    assert a["seen"] == b["seen"] == stored  # both processes read back the text the store kept


# -- the store read back after another process wrote first --------------------------------------

READBACK_SCRIPT = textwrap.dedent("""
    import json, os, sys, time
    from rrmlib.backends.base import Backend, Completion
    from rrmlib.backends import Sampling
    from rrmlib.data import load_pairs
    from rrmlib.judge import Judge, showing
    from rrmlib.store import JudgmentStore

    store, who, flags = sys.argv[1], sys.argv[2], sys.argv[3]

    def wait_for(name):
        deadline = time.monotonic() + 120
        while not os.path.exists(os.path.join(flags, name)):
            assert time.monotonic() < deadline, f"{who}: no {name}"
            time.sleep(0.02)

    class Stub(Backend):
        # Each process writes its own text for the same request: the store key is the same.
        name, model_id, revision = "stub", "stub-model", "r1"

        def stream(self, requests):
            if who == "late":
                open(os.path.join(flags, "late-generating"), "w").close()  # its lookup found nothing
                wait_for("first-committed")  # and it commits only after the first process did
            else:
                wait_for("late-generating")
            yield [(i, Completion(f"\\\\boxed{{Assistant 1}} says {who}", 5, 3, "stop")) for i in range(len(requests))]

    judge = Judge(Stub(), JudgmentStore(store), Sampling(temperature=0.0, max_new_tokens=8), reasoning=False,
                  progress=False)
    judgments = judge.judge([showing(p, False, 0) for p in load_pairs("demo")[:3]])
    if who == "first":
        open(os.path.join(flags, "first-committed"), "w").close()
    print(json.dumps({"texts": [j.text for j in judgments], "counts": judge.counts}))
""")


def test_a_run_reports_the_text_another_process_stored_first(tmp_path):
    store, flags = tmp_path / "s.sqlite", tmp_path / "flags"
    flags.mkdir()
    procs = {who: subprocess.Popen([sys.executable, "-c", READBACK_SCRIPT, str(store), who, str(flags)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for who in ("late", "first")}
    outs = {who: p.communicate(timeout=300) for who, p in procs.items()}
    for who, p in procs.items():
        assert p.returncode == 0, outs[who][1][-3000:]
    first, late = (json.loads(outs[who][0]) for who in ("first", "late"))
    assert first["texts"] == ["\\boxed{Assistant 1} says first"] * 3
    # The late process generated its own texts, but the store kept the first's: it reports those,
    # and counts them as reused (it stored nothing).
    assert late["texts"] == first["texts"]
    assert first["counts"] == {"generated": 3, "reused": 0}
    assert late["counts"] == {"generated": 0, "reused": 3}
    from rrmlib.store import JudgmentStore

    with JudgmentStore(store) as s:
        assert len(s) == 3 and s.integrity() == []


# -- real runs: the notebooks through rrm ---------------------------------------------------------

@pytest.mark.slow
def test_runs_at_once_on_one_store_equal_runs_alone(faults_rrm, tmp_path):
    """Three ``rrm run``s at once on one store: two pairwise runs with the same parameters (the
    same keys, generated by both at once; the second run in its own folder) and a knockout run
    (other parameters, other keys). Each writes what a run alone writes (the references: each
    alone, in a fresh folder with a fresh store)."""
    references = faults_rrm.references("pairwise", "knockout")
    twin = tmp_path / "runs" / "twin-of-pairwise"
    runs = {"pairwise": faults_rrm.argv("run", "pairwise"),
            "twin": faults_rrm.argv("run", "pairwise", out_dir="runs/twin-of-pairwise"),
            "knockout": faults_rrm.argv("run", "knockout")}
    procs = {name: faults_rrm.popen(argv, tmp_path, tmp_path / f"{name}.log") for name, argv in runs.items()}
    for name, p in procs.items():
        p.wait(timeout=600)
    logs = {name: (tmp_path / f"{name}.log").read_text() for name in procs}
    for name, p in procs.items():
        assert p.returncode == 0, logs[name][-3000:]
        assert "locked" not in logs[name].lower(), logs[name][-3000:]
    folders = {"pairwise": faults_rrm.folder(tmp_path, "pairwise"), "twin": twin,
               "knockout": faults_rrm.folder(tmp_path, "knockout")}
    for name, folder in folders.items():
        ref = references["knockout" if name == "knockout" else "pairwise"]
        for f in ("results.parquet", "metrics.json"):
            assert (folder / f).read_bytes() == (ref / f).read_bytes(), (name, f)
    counts = {name: json.loads((f / "meta.json").read_text())["completions"] for name, f in folders.items()}
    pairs, sets = faults_rrm.EXPECTED_ROWS["pairwise"], faults_rrm.EXPECTED_ROWS["knockout"]
    assert counts["knockout"] == {"generated": sets, "reused": 0}
    assert all(counts[n]["generated"] + counts[n]["reused"] == pairs for n in ("pairwise", "twin"))
    assert counts["pairwise"]["generated"] + counts["twin"]["generated"] == pairs  # each key generated-and-kept once
    store = tmp_path / "runs" / "judgments.sqlite"
    rows, problems = faults_rrm.store_check(store)
    assert problems == [] and rows == pairs + sets
    alone = {**faults_rrm.texts(references["pairwise"].parent / "judgments.sqlite"),
             **faults_rrm.texts(references["knockout"].parent / "judgments.sqlite")}
    assert faults_rrm.texts(store) == alone
