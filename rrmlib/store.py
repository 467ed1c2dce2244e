"""The judgment store: every completion ever generated, in one SQLite file.

A completion is keyed by a hash of everything that produced it (model and revision, the prompt
as the model saw it, the sampling settings, the sample index), so any run that asks the same
question again reuses it, and a crashed run loses at most the batch in flight.
"""
from __future__ import annotations

import hashlib
import json
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


def completion_key(model: str, revision: str, prompt: str, sampling: dict, sample: int, backend: str = "",
                   numerics: str = "") -> str:
    """The key of a completion. ``backend`` is part of it: two backends sample differently from the
    same seed, so a vllm run must not reuse an hf run's texts (it would not reproduce). So is
    ``numerics`` (device class and dtype, e.g. ``cpu:float32``, ``cuda:bfloat16``): the same seed
    gives other texts in another precision, so a bf16 GPU run must not reuse float32 CPU texts."""
    payload = json.dumps({"backend": backend, "model": model, "revision": revision, "prompt": prompt,
                          "sampling": sampling, "sample": sample, "numerics": numerics},
                         sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class JudgmentStore:
    """SQLite-backed map from completion key to completion. Safe to share between processes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), timeout=60)
        # WAL: readers never block the writer, and a killed writer loses only its open transaction.
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def get_many(self, keys: list[str]) -> dict[str, dict]:
        found = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), 500):  # stay under SQLite's bound-parameter limit
            chunk = unique[i:i + 500]
            rows = self.db.execute(
                f"SELECT key, text, prompt_tokens, completion_tokens, finish_reason FROM completions "
                f"WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            for key, text, pt, ct, fr in rows:
                found[key] = {"text": text, "prompt_tokens": pt, "completion_tokens": ct, "finish_reason": fr}
        return found

    def put_many(self, rows: list[tuple[str, dict, Completion]]) -> None:
        """Store ``(key, meta, completion)`` rows in one transaction; ``meta`` holds backend, model,
        revision, prompt, sampling and sample. An existing key is kept (first write wins)."""
        now = time.time()
        with self.db:
            self.db.executemany(
                "INSERT OR IGNORE INTO completions VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(key, m.get("backend", ""), m["model"], m["revision"], m["prompt"], json.dumps(m["sampling"], sort_keys=True),
                  m["sample"], c.text, c.prompt_tokens, c.completion_tokens, c.finish_reason, now)
                 for key, m, c in rows])

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM completions").fetchone()[0]

    def __contains__(self, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM completions WHERE key=?", (key,)).fetchone() is not None

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
