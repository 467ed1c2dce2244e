import sqlite3

import pytest

from rrmlib.backends.base import Completion
from rrmlib.store import JudgmentStore, completion_key

BASE = dict(backend="hf", model="m", revision="r", prompt="p", sampling={"temperature": 0.6, "top_p": 1.0,
            "max_new_tokens": 8, "seed": 0}, sample=0)


def meta(**kw):
    return {**BASE, **kw}


@pytest.mark.parametrize("change", [
    {"backend": "vllm"}, {"model": "m2"}, {"revision": "r2"}, {"prompt": "p2"}, {"sample": 1},
    {"sampling": {**BASE["sampling"], "temperature": 0.0}},
    {"sampling": {**BASE["sampling"], "seed": 1}},
    {"sampling": {**BASE["sampling"], "max_new_tokens": 9}},
])
def test_key_depends_on_everything_that_produced_the_completion(change):
    assert completion_key(**BASE) != completion_key(**meta(**change))


def test_key_is_stable():
    assert completion_key(**BASE) == completion_key(**meta())
    assert len(completion_key(**BASE)) == 64


def test_put_get_persist_and_first_write_wins(tmp_path):
    path = tmp_path / "s.sqlite"
    k = completion_key(**BASE)
    with JudgmentStore(path) as s:
        assert s.get_many([k]) == {}
        s.put_many([(k, meta(), Completion("first", 10, 3, "stop"))])
        s.put_many([(k, meta(), Completion("second", 10, 3, "length"))])
        assert len(s) == 1 and k in s
    with JudgmentStore(path) as s:  # a new connection (another process) sees the committed row
        got = s.get_many([k, "missing"])
    assert got == {k: {"text": "first", "prompt_tokens": 10, "completion_tokens": 3, "finish_reason": "stop"}}


def test_many_keys_beyond_sqlite_parameter_limit(tmp_path):
    with JudgmentStore(tmp_path / "s.sqlite") as s:
        rows = [(f"k{i}", meta(sample=i), Completion(str(i), 1, 1, "stop")) for i in range(1500)]
        s.put_many(rows)
        got = s.get_many([f"k{i}" for i in range(1500)] + ["nope"])
    assert len(got) == 1500 and got["k1499"]["text"] == "1499"


def test_rows_hold_provenance(tmp_path):
    path = tmp_path / "s.sqlite"
    with JudgmentStore(path) as s:
        s.put_many([("k", meta(), Completion("t", 1, 1, "stop"))])
    row = sqlite3.connect(path).execute("SELECT backend, model, revision, prompt, sampling, sample FROM completions").fetchone()
    assert row == ("hf", "m", "r", "p", '{"max_new_tokens": 8, "seed": 0, "temperature": 0.6, "top_p": 1.0}', 0)


def test_put_many_counts_only_new_rows_and_readback_gives_the_kept_text(tmp_path):
    path = tmp_path / "s.sqlite"
    with JudgmentStore(path) as s, JudgmentStore(path) as other:  # two connections, as two processes
        assert s.put_many([("a", meta(), Completion("first a", 1, 1, "stop"))]) == 1
        rows = [(k, meta(), Completion(f"second {k}", 1, 1, "stop")) for k in ("a", "b")]
        assert other.put_many(rows) == 1  # "a" was there: kept, not counted
        assert {k: v["text"] for k, v in other.get_many(["a", "b"]).items()} == {"a": "first a", "b": "second b"}
        assert s.put_many([]) == 0 and s.integrity() == []


def test_a_locked_store_is_waited_for_then_written(tmp_path):
    import threading

    path = tmp_path / "s.sqlite"
    JudgmentStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of its write
    threading.Timer(0.4, lambda: holder.execute("COMMIT")).start()
    with JudgmentStore(path, busy_timeout=0.01, retry_seconds=30) as s:  # SQLite's own wait is short: the store retries
        assert s.put_many([("k", meta(), Completion("t", 1, 1, "stop"))]) == 1
        assert s.retries > 0  # it met the lock, retried, and wrote once the holder committed
        assert "k" in s
    holder.close()


def test_a_store_locked_too_long_raises_a_clear_error(tmp_path):
    from rrmlib.store import StoreBusy

    path = tmp_path / "s.sqlite"
    JudgmentStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with JudgmentStore(path, busy_timeout=0.01, retry_seconds=0.3) as s:
            with pytest.raises(StoreBusy, match="another process holds it locked"):
                s.put_many([("k", meta(), Completion("t", 1, 1, "stop"))])
            assert not s.db.in_transaction
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_store_is_in_wal_mode_with_full_sync(tmp_path):
    with JudgmentStore(tmp_path / "s.sqlite") as s:
        assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
