"""A run killed with SIGKILL midway, then restarted, ends where an uninterrupted run ends."""
import json
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent("""
    import json, os, signal, sys
    from rrmlib.backends import Sampling, make_backend
    from rrmlib.data import load_pairs
    from rrmlib.judge import Judge
    from rrmlib.store import JudgmentStore

    model, store, out, kill_after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    backend = make_backend("hf", model=model, batch_size=3)
    stream = backend.stream

    def stream_then_die(requests):
        # SIGKILL this process when asked for the chunk after `kill_after`: mid-run, with
        # chunks committed before it and generation in flight after it.
        for n, chunk in enumerate(stream(requests)):
            if kill_after and n == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
            yield chunk

    backend.stream = stream_then_die
    judge = Judge(backend, JudgmentStore(store), Sampling(temperature=0.8, max_new_tokens=6, seed=5), progress=False)
    res = judge.judge_pairs(load_pairs("demo")[:12], order="both", seed=5)
    res.to_parquet(out)
    print(json.dumps(judge.counts))
""")


def run(tmp_path, model, store, name, kill_after=0):
    script = tmp_path / "judge_demo.py"
    script.write_text(SCRIPT)
    return subprocess.run([sys.executable, str(script), str(model), str(store), str(tmp_path / name), str(kill_after)],
                          capture_output=True, text=True)


def test_killed_run_resumes_to_the_same_results(tmp_path, tiny_model_dir):
    import sqlite3

    store = tmp_path / "killed.sqlite"
    killed = run(tmp_path, tiny_model_dir, store, "killed.parquet", kill_after=3)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    committed = sqlite3.connect(store).execute("SELECT COUNT(*) FROM completions").fetchone()[0]
    assert 0 < committed < 24  # 24 judgments: 12 pairs in both orders, 3 per chunk
    from rrmlib.store import JudgmentStore

    with JudgmentStore(store) as s:
        assert s.integrity() == []  # PRAGMA integrity_check passes and no key is stored twice

    resumed = run(tmp_path, tiny_model_dir, store, "resumed.parquet")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout) == {"generated": 24 - committed, "reused": committed}

    again = run(tmp_path, tiny_model_dir, store, "again.parquet")
    assert json.loads(again.stdout) == {"generated": 0, "reused": 24}
    assert (tmp_path / "resumed.parquet").read_bytes() == (tmp_path / "again.parquet").read_bytes()

    fresh = run(tmp_path, tiny_model_dir, tmp_path / "fresh.sqlite", "fresh.parquet")
    assert json.loads(fresh.stdout) == {"generated": 24, "reused": 0}
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "resumed.parquet"), pd.read_parquet(tmp_path / "fresh.parquet"))
    texts = [dict(sqlite3.connect(s).execute("SELECT key, text FROM completions")) for s in (store, tmp_path / "fresh.sqlite")]
    assert texts[0] == texts[1]  # the resumed run regenerated exactly what an uninterrupted one wrote
