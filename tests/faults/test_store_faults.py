"""The judgment store's own file, damaged or foreign (fault suite, "Store bytes" and "Store shapes").

Byte flips: a store is written by ``JudgmentStore`` (rows of several sizes, some spilling into
overflow pages), closed, and then copies of its file are damaged one byte at a time: every byte
of the 100-byte database header, the first bytes of every page (the b-tree page headers and cell
pointers), and seeded random positions over the whole file (each byte XORed with a random
non-zero mask). Each damaged copy is opened and every key is read. The oracle, per copy, is one
of two outcomes:
- a ``StoreError`` whose message names the store's path;
- or a read that returns exactly what was stored (a flip in unused space, or in a header field
  SQLite does not need to read the rows).
Anything else fails: another exception, an error that does not name the file, a key silently
missing, a text, token count or finish reason that differs from what was stored.

Shapes: a file at the store's path that is not a store this code wrote: another table layout
(columns in another order, no primary key, a column missing or added, another type), a schema
version from a newer or unknown rrmlib, another program's database, a file that is not a
database at all, a directory, rows changed behind the store's back. Each must be refused with a
``StoreError`` naming the path and what is wrong, before anything is read or written.
"""
from __future__ import annotations

import random
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from rrmlib.backends.base import Completion
from rrmlib.store import JudgmentStore, StoreCorrupt, StoreError, completion_key

pytestmark = pytest.mark.slow

N_RANDOM = 600  # seeded random positions, besides the header and the page starts
PAGE_HEAD = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)  # b-tree page header and the first cell pointers


def rows(n: int = 36) -> list[tuple[str, dict, Completion]]:
    """Rows of every size class: a few bytes, a page's worth, several pages (overflow chains),
    non-ASCII text, missing token counts; keys as the judge makes them."""
    rnd = random.Random(7)
    out = []
    for i in range(n):
        size = [12, 300, 3000, 9000][i % 4]
        text = "".join(rnd.choice("abcdefghij klmnop\u00e9\u6f22\U0001f642\n") for _ in range(size))
        meta = {"backend": "hf", "model": f"m{i % 3}", "revision": "r", "prompt": f"prompt {i} " * (1 + i % 5),
                "sampling": {"temperature": 0.6, "seed": i}, "sample": i % 2}
        key = completion_key(meta["model"], meta["revision"], meta["prompt"], meta["sampling"], meta["sample"],
                             backend=meta["backend"])
        tokens = (None, None) if i % 7 == 0 else (10 + i, size // 3)
        out.append((key, meta, Completion(text, *tokens, "length" if i % 5 == 0 else "stop")))
    return out


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[bytes, dict]:
    """The bytes of a closed store file, and what reading every key must give."""
    path = tmp_path_factory.mktemp("pristine") / "judgments.sqlite"
    data = rows()
    with JudgmentStore(path) as s:
        for i in range(0, len(data), 8):  # several commits, as a run makes them
            s.put_many(data[i:i + 8])
    assert not Path(f"{path}-wal").exists()  # the last close checkpointed the log into the file
    expected = {k: {"text": c.text, "prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens,
                    "finish_reason": c.finish_reason} for k, _, c in data}
    return path.read_bytes(), expected


def positions(size: int, page: int = 4096) -> list[int]:
    rnd = random.Random(20)
    head = list(range(100))  # the database header
    starts = [p + o for p in range(0, size, page) for o in PAGE_HEAD if p + o < size and p + o >= 100]
    starts += [100 + o for o in PAGE_HEAD]  # page 1's b-tree header follows the database header
    return sorted(set(head + starts + rnd.sample(range(size), min(N_RANDOM, size))))


def outcome(path: Path, expected: dict) -> str:
    """What reading a damaged store gives: "raised" (a StoreError naming the store), "identical",
    or a failure description."""
    try:
        with JudgmentStore(path, busy_timeout=0.05, retry_seconds=0.2) as s:
            got = s.get_many(list(expected))
    except StoreError as e:
        return "raised" if str(path) in str(e) else f"an error not naming the store: {e}"
    except Exception as e:  # noqa: BLE001 - the oracle: anything but a StoreError is a finding
        return f"{type(e).__name__}: {e}"
    if got == expected:
        return "identical"
    missing = sorted(set(expected) - set(got))
    changed = sorted(k for k in got if got[k] != expected.get(k))
    return f"silently wrong: {len(missing)} keys missing, {len(changed)} changed"


def test_every_one_byte_flip_raises_naming_the_store_or_reads_back_identical(pristine, tmp_path):
    data, expected = pristine
    rnd = random.Random(1)
    seen, findings = Counter(), []
    for pos in positions(len(data)):
        damaged = bytearray(data)
        damaged[pos] ^= rnd.randrange(1, 256)
        path = tmp_path / f"flip-{pos}" / "judgments.sqlite"
        path.parent.mkdir()
        path.write_bytes(bytes(damaged))
        got = outcome(path, expected)
        seen[got if got in ("raised", "identical") else "finding"] += 1
        if got not in ("raised", "identical"):
            findings.append(f"byte {pos}: {got}")
        for f in path.parent.iterdir():
            f.unlink()
        path.parent.rmdir()
    print(f"\n{sum(seen.values())} one-byte flips of a {len(data)}-byte store: {seen['raised']} raised naming the "
          f"store, {seen['identical']} read back identical, {seen['finding']} otherwise")
    assert not findings, "\n".join(findings[:20])
    assert seen["raised"] > 0 and seen["identical"] > 0  # both outcomes happen: the flips reach the rows


def test_a_row_changed_behind_the_stores_back_raises_naming_the_store_and_the_key(pristine, tmp_path):
    data, expected = pristine
    path = tmp_path / "judgments.sqlite"
    path.write_bytes(data)
    key = list(expected)[3]
    db = sqlite3.connect(path)
    db.execute("UPDATE completions SET text = ? WHERE key = ?", ("Assistant 1 wins", key))  # same shape, other text
    db.commit()
    db.close()
    with JudgmentStore(path) as s:
        with pytest.raises(StoreCorrupt) as e:
            s.get_many(list(expected))
        assert str(path) in str(e.value) and key in str(e.value) and e.value.keys == [key]
        others = [k for k in expected if k != key]
        assert s.get_many(others) == {k: expected[k] for k in others}  # the other rows are still served


def _legacy(db, columns: str) -> None:
    db.execute(f"CREATE TABLE completions ({columns})")


LEGACY = ("key TEXT PRIMARY KEY, backend TEXT NOT NULL, model TEXT NOT NULL, revision TEXT NOT NULL, "
          "prompt TEXT NOT NULL, sampling TEXT NOT NULL, sample INTEGER NOT NULL, text TEXT NOT NULL, "
          "prompt_tokens INTEGER, completion_tokens INTEGER, finish_reason TEXT, created REAL NOT NULL")


@pytest.mark.parametrize("make, said", [
    (lambda db: _legacy(db, LEGACY.replace("prompt TEXT NOT NULL, ", "").replace(
        "text TEXT NOT NULL", "text TEXT NOT NULL, prompt TEXT NOT NULL")),
     r"column 5 of its table completions is 'sampling' where 'prompt' belongs"),
    (lambda db: _legacy(db, LEGACY.replace("key TEXT PRIMARY KEY", "key TEXT")), r"'key'.*primary key"),
    (lambda db: _legacy(db, LEGACY.replace(", finish_reason TEXT", "")), r"11 columns.*finish_reason"),
    (lambda db: _legacy(db, LEGACY + ", note TEXT"), r"13 columns"),
    (lambda db: _legacy(db, LEGACY.replace("sample INTEGER", "sample TEXT")), r"'sample'.*TEXT.*INTEGER"),
    (lambda db: db.execute("CREATE TABLE users (name TEXT)"), r"not a judgment store.*users"),
    (lambda db: db.execute("PRAGMA application_id = 1234"), r"application_id 1234"),
    (lambda db: db.execute("PRAGMA user_version = 99"), r"schema version 99.*newer"),
    (lambda db: (_legacy(db, LEGACY), db.execute("PRAGMA user_version = -3")), r"schema version -3"),
    (lambda db: (db.execute(f"PRAGMA application_id = {int.from_bytes(b'RRMj', 'big')}"),
                 db.execute("PRAGMA user_version = 1")), r"schema version 1, and no table completions"),
    (lambda db: (_legacy(db, LEGACY), db.execute("PRAGMA user_version = 1")), r"schema version 1 with application_id 0"),
], ids=["columns-reordered", "no-primary-key", "column-missing", "column-added", "column-type", "other-program",
        "other-application-id", "newer-version", "unknown-version", "current-version-without-table",
        "current-version-without-mark"])
def test_a_store_of_another_shape_or_version_is_refused_naming_the_path(make, said, tmp_path):
    path = tmp_path / "judgments.sqlite"
    db = sqlite3.connect(path)
    make(db)
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match=said) as e:
        JudgmentStore(path)
    assert str(path) in str(e.value)
    assert path.read_bytes() == before  # refused before anything was written to it


def test_a_current_store_of_the_wrong_shape_is_refused(tmp_path):
    """The version stamp of this code on a table that is not this code's (no checksum column)."""
    path = tmp_path / "judgments.sqlite"
    JudgmentStore(path).close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE completions DROP COLUMN checksum")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=r"12 columns.*checksum") as e:
        JudgmentStore(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("make, said", [
    (lambda p: p.write_text("key,text\nk,hello\n" * 50), "not an SQLite database"),
    (lambda p: p.mkdir(), "could not be opened"),
    (lambda p: p.write_bytes(b"SQLite format 3\x00" + bytes(200)), "not an SQLite database|damaged"),
], ids=["text-file", "directory", "truncated-header"])
def test_a_path_that_holds_no_database_is_refused_naming_it(make, said, tmp_path):
    path = tmp_path / "judgments.sqlite"
    make(path)
    with pytest.raises(StoreError, match=said) as e:
        JudgmentStore(path)
    assert str(path) in str(e.value)


def test_a_row_stored_without_its_checksum_is_not_served(tmp_path):
    """A row another tool inserted (it knows the columns, not the checksum): refused when read."""
    path = tmp_path / "judgments.sqlite"
    JudgmentStore(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO completions (key, backend, model, revision, prompt, sampling, sample, text, created, "
               "checksum) VALUES ('k', 'hf', 'm', 'r', 'p', '{}', 0, 'Assistant 2', 0.0, '')")
    db.commit()
    db.close()
    with JudgmentStore(path) as s, pytest.raises(StoreCorrupt, match="checksum") as e:
        s.get_many(["k"])
    assert str(path) in str(e.value) and e.value.keys == ["k"]


def test_rrm_run_on_a_store_of_another_layout_fails_naming_it_and_leaves_it_untouched(tmp_path):
    """The issue's case end to end: a store whose table lists ``text`` before ``prompt`` (and holds
    a row) once gave an accuracy from prompts read as completions, exit 0."""
    import os
    import subprocess
    import sys

    store = tmp_path / "judgments.sqlite"
    db = sqlite3.connect(store)
    db.execute("CREATE TABLE completions (key TEXT PRIMARY KEY, backend TEXT NOT NULL, model TEXT NOT NULL, "
               "revision TEXT NOT NULL, text TEXT NOT NULL, prompt TEXT NOT NULL, sampling TEXT NOT NULL, "
               "sample INTEGER NOT NULL, prompt_tokens INTEGER, completion_tokens INTEGER, finish_reason TEXT, "
               "created REAL NOT NULL)")
    db.execute("INSERT INTO completions VALUES ('k', 'openai', 'm', '', 'The answer: \\boxed{Assistant 1}', 'p', "
               "'{}', 0, 1, 1, 'stop', 0.0)")
    db.commit()
    db.close()
    before = store.read_bytes()
    argv = [sys.executable, "-m", "rrmlib.cli", "run", "pairwise"]
    for k, v in dict(backend="openai", base_url="http://127.0.0.1:9/v1", model="m", reasoning="false", limit=2,
                     store=str(store)).items():
        argv += ["-p", k, str(v)]
    done = subprocess.run(argv, cwd=tmp_path, env={**os.environ, "RRM_ROOT": str(tmp_path)}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 1
    assert f"judgment store {store}: column 5 of its table completions is 'text' where 'prompt' belongs" in done.stderr
    assert store.read_bytes() == before and not list(tmp_path.glob("runs/*/meta.json"))
    assert len(list(tmp_path.glob("runs/pairwise-*/FAILED"))) == 1
