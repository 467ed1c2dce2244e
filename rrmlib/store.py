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
the store holds (see ``CachedBackend.complete``), so every run reports the text all later runs reuse.

What the store serves is what was stored, or an error. The file carries a schema version
(``PRAGMA user_version``) and the judgment store's mark (``PRAGMA application_id``); the table is
written and read by column name and checked at open against the shape this code writes;
``PRAGMA integrity_check`` runs at open; and each row holds a checksum of all its values,
verified whenever it is read. A file that is not a store of this version (another table layout,
a newer version, another program's database, damage) is refused with a ``StoreError`` naming its
path and what is wrong, before anything is written to it; a row that fails its checksum raises
``StoreCorrupt`` naming the store and the key. A store written before schema versions existed is
adopted in place, once (``_adopt``).
"""
from __future__ import annotations

import hashlib
import json
import operator
import random
import sqlite3
import time
from pathlib import Path

from rrmlib.backends.base import Completion
from rrmlib.faults import kill_point

# -- the file's shape ------------------------------------------------------------------------------
# The table as this code writes and reads it, always by column name: (name, declared type, NOT NULL,
# primary key). A store is checked against it when it is opened; nothing is read from or written to
# a table of another shape (a column in another place, missing, added or of another type, or a key
# that is not the primary key, so not unique).
COLUMNS = (("key", "TEXT", 0, 1), ("backend", "TEXT", 1, 0), ("model", "TEXT", 1, 0), ("revision", "TEXT", 1, 0),
           ("prompt", "TEXT", 1, 0), ("sampling", "TEXT", 1, 0), ("sample", "INTEGER", 1, 0), ("text", "TEXT", 1, 0),
           ("prompt_tokens", "INTEGER", 0, 0), ("completion_tokens", "INTEGER", 0, 0), ("finish_reason", "TEXT", 0, 0),
           ("created", "REAL", 1, 0), ("checksum", "TEXT", 1, 0))
DATA = tuple(c[0] for c in COLUMNS[:-1])  # what a row's checksum covers: every column but the checksum
LEGACY = COLUMNS[:-1]  # schema version 0: the stores written before versions and checksums (adopted, see _adopt)
VERSION = 1  # PRAGMA user_version of a store this code writes
APPLICATION_ID = int.from_bytes(b"RRMj", "big")  # PRAGMA application_id: the file is a judgment store
SCHEMA = "CREATE TABLE completions ({})".format(", ".join(
    f"{name} {kind}{' PRIMARY KEY' if pk else ''}{' NOT NULL' if notnull else ''}"
    for name, kind, notnull, pk in COLUMNS))


def row_checksum(values) -> str:
    """sha256 of a row's values (``DATA``'s columns, in order), types kept: ``10``, ``"10"`` and
    ``10.0`` differ, so a value SQLite hands back changed in any way fails the check."""
    payload = json.dumps(["rrm-judgment-v1", *values], default=_blob, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def _blob(value):
    if isinstance(value, bytes):  # a text or number that damage turned into a blob
        return {"blob": value.hex()}
    raise TypeError(f"{type(value).__name__} is not a stored type")


class StoreError(sqlite3.DatabaseError):
    """A judgment store that cannot be used as it is; the message names its path and what is wrong."""


class StoreCorrupt(StoreError):
    """A store whose bytes are not what this code wrote: a failed integrity check, or rows that fail
    their checksum (``keys``). Never served: a run stops rather than read wrong text."""

    def __init__(self, message: str, keys: list[str] = ()):
        super().__init__(message)
        self.keys = list(keys)


class StoreBusy(StoreError, sqlite3.OperationalError):
    """The store stayed locked by other processes for longer than the store's retry budget."""


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


def _busy(e: sqlite3.Error) -> bool:
    """Whether SQLite refused because another connection holds a lock (SQLITE_BUSY, SQLITE_LOCKED)."""
    if not isinstance(e, sqlite3.OperationalError):
        return False
    code = getattr(e, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    text = str(e).lower()
    return "locked" in text or "busy" in text


_SQLITE_CORRUPT, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 11, 14, 26  # sqlite3.h (the module names them from 3.11)


def _describe(columns) -> str:
    return ", ".join(f"{name} {kind}" for name, kind, *_ in columns)


class JudgmentStore:
    """SQLite-backed map from completion key to completion. Safe to share between processes.

    Opening checks the file (``_setup``): a store of this code's schema version and table shape
    that passes ``PRAGMA integrity_check``; a store from before schema versions is adopted once
    (``_adopt``); anything else is refused with a ``StoreError``. Every row carries a checksum of
    its values, verified whenever it is read (``get_many``). Every error names the store's path.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0, retry_seconds: float = 300.0):
        self.path = Path(path)
        self.retry_seconds = retry_seconds
        self.retries = 0  # busy or locked refusals retried (for tests and diagnostics)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Autocommit mode: this class opens and ends every transaction itself.
            self.db = sqlite3.connect(str(path), timeout=busy_timeout, isolation_level=None)
        except sqlite3.Error as e:
            raise self._error("open", e) from e
        try:
            self._retrying("open", self._setup)
        except BaseException:
            self.db.close()
            raise

    # -- errors ----------------------------------------------------------------------------
    def _error(self, what: str, e: sqlite3.Error) -> StoreError:
        """``e`` (an error of SQLite's) as a StoreError that names this store and what it was doing."""
        code = (getattr(e, "sqlite_errorcode", None) or 0) & 0xFF  # Python 3.11+; else the message says it
        if code == _SQLITE_NOTADB or "file is not a database" in str(e):
            return StoreError(f"judgment store {self.path} is not an SQLite database ({e}); give `store` the path "
                              f"of a judgment store, or of a file that does not exist yet")
        if code == _SQLITE_CORRUPT or "malformed" in str(e):
            return StoreCorrupt(f"judgment store {self.path} is damaged ({what}: {e}); nothing more is read from "
                                f"it. Restore it from a backup, or move it aside and start a new store")
        if code == _SQLITE_CANTOPEN or "unable to open database file" in str(e):
            return StoreError(f"judgment store {self.path} could not be opened ({e}): is it a directory, or in a "
                              f"folder this process may not write?")
        return StoreError(f"judgment store {self.path}: {what} failed: {type(e).__name__}: {e}")

    def _retrying(self, what: str, fn):
        """``fn()``, retried with bounded, jittered exponential backoff while the store is busy; any
        other error of SQLite's is raised as a StoreError naming the store."""
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.05
        while True:
            try:
                return fn()
            except StoreError:
                raise
            except sqlite3.Error as e:
                if not _busy(e):
                    raise self._error(what, e) from e
                if time.monotonic() + delay > deadline:
                    raise StoreBusy(f"judgment store {self.path}: {what} still refused ({e}) after {self.retries} "
                                    f"retries over {self.retry_seconds:.0f} s; another process holds it locked") from e
                self.retries += 1
                time.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 2.0)

    def _transaction(self, fn, *, write: bool = True):
        """``fn()`` inside one transaction: a write transaction (the write lock taken at its start,
        committed), or with ``write=False`` a read one (one consistent look, rolled back)."""
        # BEGIN IMMEDIATE: the write lock now, or wait for it: no upgrade deadlock
        self.db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            out = fn()
            self.db.execute("COMMIT" if write else "ROLLBACK")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        return out

    # -- opening: the file's version and shape ----------------------------------------------
    def _inspect(self) -> tuple[int, int, list[str]]:
        """(schema version, application id, tables) from the file, reading only."""
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        app = self.db.execute("PRAGMA application_id").fetchone()[0]
        tables = [r[0] for r in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "ORDER BY name")]
        return version, app, tables

    def _refuse(self, why: str) -> StoreError:
        return StoreError(f"judgment store {self.path}: {why}; it is left as it is. Give `store` the path of a "
                          f"judgment store, or of a file that does not exist yet")

    def _check_header(self, version: int, app: int, tables: list[str]) -> None:
        """Refuse what this code does not know, before anything is written."""
        if version > VERSION:
            raise self._refuse(f"schema version {version}, written by a newer rrmlib (this one knows versions 0 to "
                               f"{VERSION}; or the file's header is damaged): use that rrmlib, or upgrade this one")
        if version < 0:
            raise self._refuse(f"unknown schema version {version} (this rrmlib knows versions 0 to {VERSION})")
        if app not in (0, APPLICATION_ID):
            raise self._refuse(f"not a judgment store: its header says application_id {app} (another program's file)")
        if (version == VERSION) != (app == APPLICATION_ID):
            raise self._refuse(f"not a judgment store: schema version {version} with application_id {app} (a judgment "
                               f"store of version {VERSION} has application_id {APPLICATION_ID})")
        if tables and tables != ["completions"]:
            raise self._refuse(f"not a judgment store: it holds the table(s) {', '.join(tables)} "
                               f"(a judgment store holds the table completions alone)")
        if version == VERSION and not tables:
            raise self._refuse(f"schema version {version}, and no table completions")

    def _check_shape(self, want) -> None:
        got = [(name, kind.upper(), notnull, pk) for _, name, kind, notnull, _, pk in
               self.db.execute("PRAGMA table_info(completions)")]
        version = VERSION if want is COLUMNS else 0
        if len(got) != len(want):
            raise self._refuse(f"its table completions has {len(got)} columns ({_describe(got)}); a judgment store "
                               f"of schema version {version} has {len(want)} ({_describe(want)})")
        for i, (g, w) in enumerate(zip(got, want), 1):
            if g[0] != w[0]:
                raise self._refuse(f"column {i} of its table completions is {g[0]!r} where {w[0]!r} belongs "
                                   f"(columns: {_describe(got)}; expected: {_describe(want)})")
            if g[1] != w[1]:
                raise self._refuse(f"column {g[0]!r} of its table completions is {g[1]} where {w[1]} belongs")
            if g[3] != w[3]:
                raise self._refuse(f"column {g[0]!r} of its table completions is "
                                   f"{'not its primary key (keys would not be unique)' if w[3] else 'its primary key'}")
            if g[2] != w[2]:
                raise self._refuse(f"column {g[0]!r} of its table completions "
                                   f"{'allows' if w[2] else 'does not allow'} missing values (NULL)")
        unique = [r for r in self.db.execute("PRAGMA index_list(completions)") if r[2] and r[3] == "pk"]
        if not unique:
            raise self._refuse("its table completions has no unique index on its key")

    def _check_integrity(self) -> None:
        problems = [r[0] for r in self.db.execute("PRAGMA integrity_check(10)") if r[0] != "ok"]
        if problems:
            raise StoreCorrupt(f"judgment store {self.path} is damaged: PRAGMA integrity_check says: "
                               f"{'; '.join(problems[:5])}; nothing is read from it. Restore it from a backup, or "
                               f"move it aside and start a new store")

    def _setup(self) -> None:
        # Reading only, until the file is known to be a judgment store (or a new file), and in one
        # read transaction: one consistent look, even while another process creates or upgrades it.
        version = self._transaction(self._look, write=False)
        # WAL: readers never block the writer, and a killed writer loses only its open transaction.
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk when put_many returns (a batch takes far longer than an fsync).
        self.db.execute("PRAGMA synchronous=FULL")
        if version != VERSION:
            self._transaction(self._adopt)
            self._check_shape(COLUMNS)

    def _look(self) -> int:
        """The file checked, reading only; its schema version."""
        version, app, tables = self._inspect()
        self._check_header(version, app, tables)
        if tables:
            self._check_shape(COLUMNS if version == VERSION else LEGACY)
            # Every open reads the whole file once (about 0.5 s per 700 MB here, warm cache), for
            # damage the row checksums cannot see: b-tree pages, an index out of step with its table.
            self._check_integrity()
        return version

    def _adopt(self) -> None:
        """Under the write lock: a new file becomes an empty store; a store from before schema
        versions (the exact table this code's predecessor made) becomes a current one, in place:
        after an integrity check, each row gets the checksum of what it holds now (its rows are
        trusted this once: they cannot be checked against anything older), then the version."""
        version, app, tables = self._inspect()  # again: another process may have done it meanwhile
        self._check_header(version, app, tables)
        if version == VERSION:
            return
        if not tables:
            self.db.execute(SCHEMA)
        else:
            self._check_shape(LEGACY)
            self._check_integrity()  # again: an older rrmlib may have written since the first look
            self.db.execute("ALTER TABLE completions ADD COLUMN checksum TEXT NOT NULL DEFAULT ''")
            self.db.create_function("rrm_row_checksum", len(DATA), lambda *v: row_checksum(v), deterministic=True)
            self.db.execute(f"UPDATE completions SET checksum = rrm_row_checksum({', '.join(DATA)})")
        self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        self.db.execute(f"PRAGMA user_version = {VERSION}")

    # -- reading and writing -----------------------------------------------------------------
    def get_many(self, keys: list[str]) -> dict[str, dict]:
        """The stored completions of those ``keys`` the store holds, each checked against its
        checksum; a row that fails raises StoreCorrupt (naming the store and the keys)."""
        unique = list(dict.fromkeys(keys))
        wanted = set(unique)

        def read():
            found, bad = {}, []
            for i in range(0, len(unique), 500):  # stay under SQLite's bound-parameter limit
                chunk = unique[i:i + 500]
                rows = self.db.execute(f"SELECT {', '.join(DATA)}, checksum FROM completions "
                                       f"WHERE key IN ({','.join('?' * len(chunk))})", chunk)
                for row in rows:
                    *values, checksum = row
                    key = values[0]
                    if key not in wanted or key in found or row_checksum(values) != checksum:
                        bad.append(str(key))
                        continue
                    named = dict(zip(DATA, values))
                    found[key] = {"text": named["text"], "prompt_tokens": named["prompt_tokens"],
                                  "completion_tokens": named["completion_tokens"],
                                  "finish_reason": named["finish_reason"]}
            if bad:
                raise self._corrupt(bad)
            return found

        return self._retrying("read", read)

    def _corrupt(self, keys: list[str]) -> StoreCorrupt:
        shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        return StoreCorrupt(
            f"judgment store {self.path}: {len(keys)} stored completion(s) fail their checksum (changed outside "
            f"rrmlib, or damaged on disk): {shown}. They are not used. Check the disk and the whole store "
            f"(JudgmentStore(path).integrity()); to generate them again, remove them (JudgmentStore(path)"
            f".forget(keys)) and rerun", keys)

    def _values(self, key: str, m: dict, c: Completion, now: float) -> tuple:
        """A row's values, each of the type its column keeps (so the checksum is of what is read back)."""
        values = (key, m.get("backend", ""), m["model"], m["revision"], m["prompt"],
                  json.dumps(m["sampling"], sort_keys=True), m["sample"], c.text, c.prompt_tokens,
                  c.completion_tokens, c.finish_reason, now)
        out = []
        for (name, kind, _, _), v in zip(COLUMNS, values):
            if v is not None:
                if kind == "INTEGER":
                    v = operator.index(v)
                elif kind == "REAL":
                    v = float(v)
                elif not isinstance(v, str):
                    raise TypeError(f"judgment store {self.path}: {name} must be text, got {type(v).__name__} {v!r}")
            out.append(v)
        return (*out, row_checksum(out))

    def put_many(self, rows: list[tuple[str, dict, Completion]]) -> int:
        """Store ``(key, meta, completion)`` rows in one transaction; ``meta`` holds backend, model,
        revision, prompt, sampling and sample. An existing key is kept (first write wins: read back
        with ``get_many``). Returns how many rows were new; when it returns, they are committed."""
        now = time.time()
        values = [self._values(key, m, c, now) for key, m, c in rows]
        insert = (f"INSERT OR IGNORE INTO completions ({', '.join(DATA)}, checksum) "
                  f"VALUES ({', '.join('?' * (len(DATA) + 1))})")

        def write():
            before = self.db.total_changes
            self.db.executemany(insert, values)
            return self.db.total_changes - before

        inserted = self._retrying("write", lambda: self._transaction(write)) if values else 0
        kill_point("after_commit")
        return inserted

    def forget(self, keys: list[str]) -> int:
        """Remove the rows of ``keys`` (those a StoreCorrupt named), so a rerun generates them again;
        how many were removed."""
        keys = list(dict.fromkeys(keys))

        def delete():
            before = self.db.total_changes
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                self.db.execute(f"DELETE FROM completions WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            return self.db.total_changes - before

        return self._retrying("write", lambda: self._transaction(delete)) if keys else 0

    def __len__(self) -> int:
        return self._retrying("read", lambda: self.db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def __contains__(self, key: str) -> bool:
        return self._retrying(
            "read", lambda: self.db.execute("SELECT 1 FROM completions WHERE key=?", (key,)).fetchone() is not None)

    def integrity(self) -> list[str]:
        """Problems found: ``PRAGMA integrity_check`` lines other than ``ok``, duplicate keys, and
        rows that fail their checksum (this reads every row). A file SQLite cannot read at all
        raises StoreCorrupt instead."""
        def check():
            lines = [r[0] for r in self.db.execute("PRAGMA integrity_check") if r[0] != "ok"]
            dups = self.db.execute("SELECT key, COUNT(*) FROM completions GROUP BY key HAVING COUNT(*) > 1").fetchall()
            bad = [str(row[0]) for row in self.db.execute(f"SELECT {', '.join(DATA)}, checksum FROM completions")
                   if row_checksum(row[:-1]) != row[-1]]
            return (lines + [f"key {k} stored {n} times" for k, n in dups]
                    + [f"key {k} fails its checksum" for k in bad])

        return self._retrying("integrity check", check)

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
