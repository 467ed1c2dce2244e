import re
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


# --- schema versions: stores written before them are adopted, once --------------------------------
# The table and the INSERT of rrmlib before schema versions, verbatim: existing stores look like this.
LEGACY_SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key               TEXT PRIMARY KEY,
    backend           TEXT NOT NULL,
    model             TEXT NOT NULL,
    revision          TEXT NOT NULL,
    prompt            TEXT NOT NULL,
    sampling          TEXT NOT NULL,
    sample            INTEGER NOT NULL,
    text              TEXT NOT NULL,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    finish_reason     TEXT,
    created           REAL NOT NULL
);
"""
LEGACY_INSERT = "INSERT OR IGNORE INTO completions VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"


def legacy_store(path, n=5) -> dict:
    """A store as the previous rrmlib wrote it (WAL, no version, no checksums); what it holds."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(LEGACY_SCHEMA)
    held = {}
    for i in range(n):
        tokens = (None, None) if i == 0 else (100 + i, 7 * i)
        db.execute(LEGACY_INSERT, (f"key-{i}", "hf", "m", "", f"prompt {i}", '{"seed": 0}', i % 2, f"Résumé {i} 🙂",
                                   *tokens, "length" if i == 1 else "stop", 1.7e9 + i))
        held[f"key-{i}"] = {"text": f"Résumé {i} 🙂", "prompt_tokens": tokens[0], "completion_tokens": tokens[1],
                            "finish_reason": "length" if i == 1 else "stop"}
    db.close()
    return held


def test_a_store_from_before_schema_versions_is_adopted_in_place(tmp_path):
    path = tmp_path / "s.sqlite"
    held = legacy_store(path)
    with JudgmentStore(path) as s:
        assert s.get_many(list(held)) == held  # every row served, each now checked against its checksum
        assert s.integrity() == [] and len(s) == len(held)
        s.put_many([("new", meta(), Completion("t", 1, 1, "stop"))])
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert db.execute("PRAGMA application_id").fetchone()[0] == int.from_bytes(b"RRMj", "big")
    columns = [r[1] for r in db.execute("PRAGMA table_info(completions)")]
    assert columns[-1] == "checksum" and len(columns) == 13
    sums = dict(db.execute("SELECT key, checksum FROM completions"))
    db.close()
    with JudgmentStore(path) as s:  # adopted once: a second open changes nothing
        assert s.get_many(list(held) + ["new"]) == {**held, "new": {"text": "t", "prompt_tokens": 1,
                                                                    "completion_tokens": 1, "finish_reason": "stop"}}
    assert dict(sqlite3.connect(path).execute("SELECT key, checksum FROM completions")) == sums


def test_three_connections_opening_an_old_store_at_once_all_read_it(tmp_path):
    """Threads, each its own connection (SQLite's locks are the same across processes): none is
    refused while another adopts the store, and each reads every row."""
    import threading

    path = tmp_path / "s.sqlite"
    held = legacy_store(path, n=200)
    got, errors = [], []

    def open_and_read():
        try:
            with JudgmentStore(path) as s:
                got.append(s.get_many(list(held)))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=open_and_read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and got == [held] * 3


def test_an_older_rrmlib_cannot_write_to_an_adopted_store_unseen(tmp_path):
    """An older rrmlib still running inserts by position: into a current store that fails, loudly."""
    path = tmp_path / "s.sqlite"
    legacy_store(path)
    JudgmentStore(path).close()
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.OperationalError, match="13 columns but 12 values"):
        db.execute(LEGACY_INSERT, ("k", "hf", "m", "", "p", "{}", 0, "t", 1, 1, "stop", 0.0))
    db.close()


def _damage_index(path, key: str) -> None:
    """Change ``key`` inside the key index only: the index and its table out of step, as after a
    flipped bit; a lookup of ``key`` then finds nothing (silently, for SQLite)."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_completions_1'").fetchone()[0]
    size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    data = bytearray(path.read_bytes())
    at = (root - 1) * size + data[(root - 1) * size: root * size].index(key.encode())
    data[at + len(key) - 1] ^= 0x0F
    path.write_bytes(bytes(data))


def test_a_damaged_old_store_is_not_adopted(tmp_path):
    from rrmlib.store import StoreCorrupt

    path = tmp_path / "s.sqlite"
    legacy_store(path)
    _damage_index(path, "key-3")
    assert sqlite3.connect(path).execute("SELECT text FROM completions WHERE key = 'key-3'").fetchall() == []
    before = path.read_bytes()
    with pytest.raises(StoreCorrupt, match="integrity_check says: row .* missing from index") as e:
        JudgmentStore(path)
    assert str(path) in str(e.value) and path.read_bytes() == before


def test_an_index_out_of_step_with_its_table_is_refused_at_open(tmp_path):
    """Without the check at open, the key would read as missing and be generated again, unseen."""
    from rrmlib.store import StoreCorrupt

    path = tmp_path / "s.sqlite"
    with JudgmentStore(path) as s:
        s.put_many([(f"key-{i}", meta(sample=i), Completion(f"t{i}", 1, 1, "stop")) for i in range(5)])
    _damage_index(path, "key-3")
    with pytest.raises(StoreCorrupt, match="missing from index") as e:
        JudgmentStore(path)
    assert str(path) in str(e.value)


def test_rows_that_fail_their_checksum_can_be_forgotten_and_generated_again(tmp_path):
    from rrmlib.store import StoreCorrupt

    path = tmp_path / "s.sqlite"
    with JudgmentStore(path) as s:
        s.put_many([(k, meta(), Completion(f"text of {k}", 1, 1, "stop")) for k in ("a", "b")])
        s.db.execute("UPDATE completions SET completion_tokens = 2 WHERE key = 'b'")  # behind its back
        with pytest.raises(StoreCorrupt, match=r"1 stored completion\(s\) fail their checksum.*: b\. ") as e:
            s.get_many(["a", "b"])
        assert s.integrity() == ["key b fails its checksum"]
        assert s.forget(e.value.keys) == 1
        assert s.get_many(["a", "b"]) == {"a": {"text": "text of a", "prompt_tokens": 1, "completion_tokens": 1,
                                                "finish_reason": "stop"}}
        assert s.put_many([("b", meta(), Completion("text of b", 1, 1, "stop"))]) == 1
        assert s.get_many(["b"])["b"]["text"] == "text of b" and s.integrity() == []


def test_values_are_stored_as_their_columns_keep_them(tmp_path):
    """Token counts given as numpy integers read back as ints, and pass their checksum."""
    import numpy as np

    with JudgmentStore(tmp_path / "s.sqlite") as s:
        s.put_many([("k", meta(sample=np.int64(1)), Completion("t", np.int64(10), np.int32(3), "stop"))])
        got = s.get_many(["k"])["k"]
    assert got == {"text": "t", "prompt_tokens": 10, "completion_tokens": 3, "finish_reason": "stop"}
    assert type(got["prompt_tokens"]) is int
    with JudgmentStore(tmp_path / "s.sqlite") as s, pytest.raises(TypeError, match="model must be text"):
        s.put_many([("k2", meta(model=3), Completion("t", 1, 1, "stop"))])


def test_an_error_of_a_closed_store_names_it(tmp_path):
    from rrmlib.store import StoreError

    s = JudgmentStore(tmp_path / "s.sqlite")
    s.close()
    with pytest.raises(StoreError, match=re.escape(f"judgment store {tmp_path / 's.sqlite'}: read failed")):
        s.get_many(["k"])
