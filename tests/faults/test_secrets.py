"""Secrets (fault suite): the API key, read from the environment variable that ``api_key_env``
names, reaches the server and nothing else: not the store, not the run folder (results.parquet,
metrics.json, meta.json, figures, the executed notebook), not the logs, not the output, not the
errors raised when the server refuses it or fails.

The server is a real ``transformers serve`` on a tiny random Llama (127.0.0.1 only). In front of
it runs a real HTTP proxy written in the test (``FaultProxy`` in tests/faults/conftest.py:
``http.server`` on 127.0.0.1) acting as a gateway that wants ``Authorization: Bearer <key>`` and
refuses anything else with a 401 that quotes the header it got, as some providers quote the key
they refuse: a run that succeeds has sent the key, and a refusal hands the key back to the client.
The key is a fresh random ``sk-test-...`` value in each test.
"""
from __future__ import annotations

import json
import logging
import secrets
import traceback
from pathlib import Path

import pytest

from rrmlib.backends import Request, Sampling, make_backend
from rrmlib.backends.base import as_messages
from rrmlib.backends.openai_backend import RequestFailed
from rrmlib.data import load_pairs
from rrmlib.judge import Judge
from rrmlib.store import JudgmentStore

ROOT = Path(__file__).resolve().parents[2]
KEY_ENV = "RRM_FAULTS_SECRET_KEY"
pytestmark = pytest.mark.slow


@pytest.fixture
def key(monkeypatch):
    value = f"sk-test-{secrets.token_hex(16)}"
    monkeypatch.setenv(KEY_ENV, value)
    return value


def needles(key: str) -> list[bytes]:
    """The key, and its random part alone (a copy that lost or changed its prefix is a leak too)."""
    return [key.encode(), key.removeprefix("sk-test-").encode()]


def assert_nowhere(key: str, **places) -> None:
    """No place (bytes, text, or a file's path) holds the key; every place must hold something."""
    for name, what in places.items():
        data = what.read_bytes() if isinstance(what, Path) else what.encode() if isinstance(what, str) else what
        assert data, f"{name} is empty: nothing was searched"
        assert not any(n in data for n in needles(key)), f"the key is in {name}"


def files_under(*folders: Path) -> dict[str, Path]:
    return {str(f): f for d in folders for f in sorted(d.rglob("*")) if f.is_file() and f.stat().st_size}


def backend_for(model_dir, url, **options):
    return make_backend("openai", model=str(model_dir), base_url=url, api_key_env=KEY_ENV, reasoning=False,
                        **options)


def test_a_judge_run_sends_the_key_and_leaves_it_nowhere(key, faults_proxy, faults_server, faults_model_dir,
                                                          tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)  # the client libraries' debug logs too (openai, httpx)
    proxy = faults_proxy(require_key=key)
    store = JudgmentStore(tmp_path / "store" / "judgments.sqlite")
    backend = backend_for(faults_model_dir, proxy.url, concurrency=2)
    judge = Judge(backend, store, Sampling(temperature=0.0, max_new_tokens=8), progress=True)
    results = judge.judge_pairs(load_pairs("demo", limit=3), order="both")
    assert judge.counts == {"generated": 6, "reused": 0}
    assert len(proxy.seen) == 6 and not proxy.faulted()  # the gateway took the key every time

    wal = {f"{name} (open)": data for name, data in
           ((str(p), p.read_bytes()) for p in (tmp_path / "store").iterdir()) if data}
    store.close()
    out, err = capfd.readouterr()
    assert "judging" in err  # the progress bar, on stderr
    assert_nowhere(key, **wal, **files_under(tmp_path / "store"), stdout=out or "-", stderr=err, log=caplog.text,
                   server_log=faults_server.log, results=results.to_csv(),
                   provenance=json.dumps(judge.provenance()), backend=repr(vars(backend)))
    assert KEY_ENV in json.dumps(judge.provenance())  # the variable's name is recorded, not its value


def exception_texts(e: BaseException) -> dict[str, str]:
    """Everything an exception shows: message, repr, formatted traceback, the exceptions chained to
    it, and the local variables of every frame it passed (as ``--showlocals`` or a debugger shows)."""
    texts = {"str": str(e), "repr": repr(e), "traceback": "".join(traceback.format_exception(e)),
             "args": repr(e.args)}
    chained, seen = e.__cause__ or e.__context__, 0
    while chained is not None and seen < 10:
        texts[f"chained {seen}"] = f"{chained!s} {chained!r} {vars(chained)!r}"
        chained, seen = chained.__cause__ or chained.__context__, seen + 1
    for n, (frame, _) in enumerate(traceback.walk_tb(e.__traceback__)):
        if frame.f_code.co_filename != __file__:  # the test's own frame holds the key, of course
            local = " ".join(f"{k}={v!r}" for k, v in frame.f_locals.items())
            texts[f"frame {n} {frame.f_code.co_name}"] = local or "-"
    assert any(name.startswith("frame") for name in texts)
    return texts


@pytest.mark.parametrize("plan, said", [
    ({1: "401"}, r"HTTP 401: .*Incorrect API key provided: Bearer \*\*\*.*Check the key in \$RRM_FAULTS_SECRET_KEY"),
    ({n: "500" for n in range(1, 4)}, r"failed 3 times .*HTTP 500"),
    ({n: "cut" for n in range(1, 4)}, r"failed 3 times .*connection failed"),
])
def test_errors_of_a_refusing_or_failing_server_do_not_carry_the_key(key, plan, said, faults_proxy, faults_model_dir,
                                                                      caplog):
    caplog.set_level(logging.DEBUG)
    proxy = faults_proxy(plan, require_key=key)  # the 401 quotes the header it got: the key itself
    backend = backend_for(faults_model_dir, proxy.url, max_retries=2, backoff=0.01)
    request = Request(as_messages([{"role": "user", "content": "hello"}]), Sampling(max_new_tokens=4))
    with pytest.raises(RequestFailed, match=said) as failure:
        backend.generate([request])
    assert [s["fault"] for s in proxy.seen] == list(plan.values())
    assert_nowhere(key, **exception_texts(failure.value), log=caplog.text)


def test_the_pairwise_notebook_run_leaves_the_key_nowhere(key, faults_proxy, faults_server, faults_model_dir,
                                                          tmp_path, caplog, capfd):
    """The notebook as a user runs it (papermill, the openai backend); the kernel inherits the
    environment, and so the key's variable."""
    papermill = pytest.importorskip("papermill")
    from rrmlib.cli import notebook_source
    caplog.set_level(logging.DEBUG)
    proxy = faults_proxy(require_key=key)
    out_dir, store = tmp_path / "run", tmp_path / "store" / "judgments.sqlite"
    out_dir.mkdir()
    params = dict(backend="openai", base_url=proxy.url, model=str(faults_model_dir), api_key_env=KEY_ENV,
                  reasoning=False, limit=4, max_new_tokens=8, temperature=0.0, store=str(store), out_dir=str(out_dir))
    papermill.execute_notebook(notebook_source("pairwise"), str(out_dir / "pairwise.ipynb"),
                               parameters=params, kernel_name="python3", cwd=str(tmp_path), progress_bar=False,
                               log_output=True)  # the cells' output goes to the log too
    meta = json.loads((out_dir / "meta.json").read_text())
    assert meta["completions"] == {"generated": 4, "reused": 0} and len(proxy.seen) == 4 and not proxy.faulted()
    assert meta["params"]["api_key_env"] == KEY_ENV  # the name is there; the value must not be

    files = files_under(tmp_path)  # the run folder, the store, anything else the run wrote
    assert {"results.parquet", "metrics.json", "meta.json", "pairwise.ipynb", "judgments.sqlite"} <= {
        Path(f).name for f in files}
    out, err = capfd.readouterr()
    assert_nowhere(key, **files, log=caplog.text, stdout=out or "-", stderr=err or "-", server_log=faults_server.log)
