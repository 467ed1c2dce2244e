"""The judgment store: every completion ever generated, in one SQLite file.

A completion is keyed by a hash of everything that produced it (model and revision, the prompt
as the model saw it, the sampling settings, the sample index), so any run that asks the same
question again reuses it, and a crashed run loses at most the batch in flight.

Several processes may share one store at once (two notebooks, a sweep beside a single run):
the file is in WAL mode (readers never block the writer), every write takes the write lock at
its start (``BEGIN IMMEDIATE``, so two writers never deadlock upgrading a read lock), SQLite
waits up to ``busy_timeout`` seconds for a lock, and a write or read still refused as busy or
locked is retried with bounded exponential backoff for up to ``retry_seconds`` more. A key is
written once: ``INSERT OR IGNORE`` keeps the first process's text, and callers read back what
the store holds (see ``Judge.complete``), so every run reports the text all later runs reuse.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import time
from pathlib import Path

from rrmlib.backends.base import Completion

SCHEMA = """
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

# -- the fault suite's kill hook -----------------------------------------------------------------
KILL_AT = "RRM_TEST_KILL_AT"
KILL_SCOPE = "RRM_TEST_KILL_SCOPE"
_reached: dict[str, int] = {}


def kill_point(name: str) -> None:
    """A test hook: SIGKILL at a named point of a run, for the fault suite (tests/faults/test_kills.py).

    Does nothing unless the environment sets ``RRM_TEST_KILL_AT=<point>[:<n>]``; then the n-th
    time (default 1) this process reaches ``<point>`` it is killed with SIGKILL, on the spot.
    With ``RRM_TEST_KILL_SCOPE=run`` (the default) the process that started this notebook kernel
    (``JPY_PARENT_PID``: papermill, ``rrm run``, ``rrm sweep``) is killed first, so the whole run
    dies at once and no cleanup code runs anywhere, as after ``kill -9`` or a power cut;
    ``RRM_TEST_KILL_SCOPE=process`` kills this process alone (a kernel dies, its parent lives).

    The points: ``model_load`` (the judge's model loaded, nothing stored yet: ``Judge.from_params``),
    ``mid_batch`` (a batch generated and not yet committed: ``Judge.complete``; the same state as a
    kill anywhere inside that batch's generation), ``after_commit`` (a batch just committed:
    ``JudgmentStore.put_many``), ``write_results`` / ``write_metrics`` / ``write_meta`` (half of the
    file's bytes written to its temporary file: ``rrmlib.runs``).
    """
    spec = os.environ.get(KILL_AT)
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] != int(nth or 1):
        return
    if os.environ.get(KILL_SCOPE, "run") == "run" and os.environ.get("JPY_PARENT_PID"):
        os.kill(int(os.environ["JPY_PARENT_PID"]), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def completion_key(model: str, revision: str, prompt: str, sampling: dict, sample: int, backend: str = "",
                   numerics: str = "", continuation=None) -> str:
    """The key of a completion. ``backend`` is part of it: two backends sample differently from the
    same seed, so a vllm run must not reuse an hf run's texts (it would not reproduce). So is
    ``numerics`` (device class and dtype, e.g. ``cpu:float32``, ``cuda:bfloat16``): the same seed
    gives other texts in another precision, so a bf16 GPU run must not reuse float32 CPU texts."""
    fields = {"backend": backend, "model": model, "revision": revision, "prompt": prompt, "sampling": sampling,
              "sample": sample, "numerics": numerics}
    if continuation:  # token ids the answer was started with (a forced verdict): another completion
        fields["continuation"] = [int(t) for t in continuation]
    payload = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def _busy(e: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused because another connection holds a lock (SQLITE_BUSY, SQLITE_LOCKED)."""
    code = getattr(e, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    text = str(e).lower()
    return "locked" in text or "busy" in text


class StoreBusy(sqlite3.OperationalError):
    """The store stayed locked by other processes for longer than the store's retry budget."""


class JudgmentStore:
    """SQLite-backed map from completion key to completion. Safe to share between processes."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0, retry_seconds: float = 300.0):
        self.path = Path(path)
        self.retry_seconds = retry_seconds
        self.retries = 0  # busy or locked refusals retried (for tests and diagnostics)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: this class opens and ends every transaction itself.
        self.db = sqlite3.connect(str(path), timeout=busy_timeout, isolation_level=None)
        self._retrying("open", self._setup)

    def _setup(self) -> None:
        # WAL: readers never block the writer, and a killed writer loses only its open transaction.
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk when put_many returns (a batch takes far longer than an fsync).
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(SCHEMA)

    def _retrying(self, what: str, fn):
        """``fn()``, retried with bounded, jittered exponential backoff while the store is busy."""
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.05
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as e:
                if not _busy(e):
                    raise
                if time.monotonic() + delay > deadline:
                    raise StoreBusy(f"judgment store {self.path}: {what} still refused ({e}) after {self.retries} "
                                    f"retries over {self.retry_seconds:.0f} s; another process holds it locked") from e
                self.retries += 1
                time.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 2.0)

    def get_many(self, keys: list[str]) -> dict[str, dict]:
        unique = list(dict.fromkeys(keys))

        def read():
            found = {}
            for i in range(0, len(unique), 500):  # stay under SQLite's bound-parameter limit
                chunk = unique[i:i + 500]
                rows = self.db.execute(
                    f"SELECT key, text, prompt_tokens, completion_tokens, finish_reason FROM completions "
                    f"WHERE key IN ({','.join('?' * len(chunk))})", chunk)
                for key, text, pt, ct, fr in rows:
                    found[key] = {"text": text, "prompt_tokens": pt, "completion_tokens": ct, "finish_reason": fr}
            return found

        return self._retrying("read", read)

    def put_many(self, rows: list[tuple[str, dict, Completion]]) -> int:
        """Store ``(key, meta, completion)`` rows in one transaction; ``meta`` holds backend, model,
        revision, prompt, sampling and sample. An existing key is kept (first write wins: read back
        with ``get_many``). Returns how many rows were new; when it returns, they are committed."""
        now = time.time()
        values = [(key, m.get("backend", ""), m["model"], m["revision"], m["prompt"],
                   json.dumps(m["sampling"], sort_keys=True), m["sample"], c.text, c.prompt_tokens,
                   c.completion_tokens, c.finish_reason, now) for key, m, c in rows]

        def write():
            self.db.execute("BEGIN IMMEDIATE")  # the write lock now, or wait for it: no upgrade deadlock
            try:
                before = self.db.total_changes
                self.db.executemany("INSERT OR IGNORE INTO completions VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", values)
                inserted = self.db.total_changes - before
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
            return inserted

        inserted = self._retrying("write", write) if values else 0
        kill_point("after_commit")
        return inserted

    def __len__(self) -> int:
        return self._retrying("read", lambda: self.db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def __contains__(self, key: str) -> bool:
        return self._retrying(
            "read", lambda: self.db.execute("SELECT 1 FROM completions WHERE key=?", (key,)).fetchone() is not None)

    def integrity(self) -> list[str]:
        """Problems found: ``PRAGMA integrity_check`` lines other than ``ok``, and duplicate keys."""
        check = [r[0] for r in self.db.execute("PRAGMA integrity_check")]
        dups = self.db.execute("SELECT key, COUNT(*) FROM completions GROUP BY key HAVING COUNT(*) > 1").fetchall()
        return [line for line in check if line != "ok"] + [f"key {k} stored {n} times" for k, n in dups]

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
