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


# --- A key handed back in another form ("Secrets: forms") -------------------------------------
# A server may quote the key it refuses in another form than it was sent. What must not survive,
# anywhere the message goes, is a stretch of PART or more consecutive characters of the key that
# a reader gets back by ignoring case, undoing URL-, JSON-, HTML- or backslash-escapes, or
# decoding hex or base64 (at any alignment: the key inside `user:<key>` or `Bearer <key>`).
# `recoverable` is that reader, written here apart from rrmlib.redact.

PART = 10


def _decodings(text: str) -> list[str]:
    import base64
    import binascii
    import html
    import re
    from urllib.parse import unquote, unquote_plus

    unescaped = re.sub(r"\\+u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    unescaped = re.sub(r"\\+x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), unescaped)
    unescaped = re.sub(r"\\+(.)", r"\1", unescaped)
    out = [text, unquote(text), unquote_plus(text), html.unescape(text), unescaped, unquote(unescaped)]
    for run in re.findall(r"[0-9a-fA-F]{2,}", text):
        out += [bytes.fromhex(run[i:i + (len(run) - i) // 2 * 2]).decode("latin-1") for i in (0, 1)]
    for run in re.findall(r"[A-Za-z0-9+/_-]{4,}", text):
        run = run.replace("-", "+").replace("_", "/")
        for i in range(4):
            tail = run[i:] + "=" * (-len(run[i:]) % 4)  # an unpadded end decoded too
            try:
                out.append(base64.b64decode(tail, validate=True).decode("latin-1"))
            except (binascii.Error, ValueError):
                pass
    return out


def recoverable(key: str, text: str) -> list[str]:
    """The stretches of ``key`` (PART characters or more, any case) that ``text`` gives back."""
    width = min(PART, len(key))
    pieces = {key.lower()[i:i + width] for i in range(len(key) - width + 1)}
    found = set()
    for decoded in _decodings(text):
        low = decoded.lower()
        found |= {p for p in pieces if p in low}
    return sorted(found)


def forms(key: str) -> dict[str, str]:
    """The key as servers have been seen to hand it back, or might."""
    import base64
    from urllib.parse import quote, quote_plus

    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    return {
        "as sent": key, "upper-cased": key.upper(), "case swapped": key.swapcase(), "title-cased": key.title(),
        "URL-encoded": quote(key, safe=""), "URL-encoded, lower-case escapes": quote(key, safe="").lower(),
        "form-encoded Bearer": quote_plus(f"Bearer {key}"), "every byte percent-encoded":
            "".join(f"%{b:02X}" for b in key.encode()),
        "JSON-escaped slashes": key.replace("/", "\\/"),
        "JSON unicode escapes": "".join(f"\\u{ord(c):04x}" for c in key),
        "escaped twice (a JSON string inside JSON)": key.replace("/", "\\\\/"), "HTML entities":
            "".join(f"&#x{ord(c):x};" for c in key),
        "base64": b64(key), "base64 of Bearer <key>": b64(f"Bearer {key}"), "base64 of user:<key>": b64(f"user:{key}"),
        "base64 of :<key>": b64(f":{key}"), "URL-safe base64 of apikey:<key>":
            base64.urlsafe_b64encode(f"apikey:{key}".encode()).decode().rstrip("="),
        "hex": key.encode().hex(), "HEX": key.encode().hex().upper(),
        "random part only": key.split("-", 2)[-1], "first 24 characters": key[:24], "last 16 characters": key[-16:],
    }


def fresh_key() -> str:
    """A key with the characters that escaping and encoding change (/, +, =)."""
    return f"sk-test-{secrets.token_hex(6)}/{secrets.token_urlsafe(12)}+{secrets.token_hex(5)}=="


def echo_all(header: str) -> str:
    """A gateway that quotes what it got in every form at once (each form of the whole header's value)."""
    value = header.removeprefix("Bearer ")
    return " | ".join(f"{name}: {form}" for name, form in forms(value).items())


def test_the_reader_finds_every_form():
    """The oracle first: each form, unscrubbed, gives the key back (else the other tests prove nothing)."""
    key = fresh_key()
    for name, form in forms(key).items():
        assert recoverable(key, f"error: {form} refused"), name


@pytest.mark.parametrize("key", [fresh_key(), f"sk-test-{secrets.token_hex(16)}", "AbCdEf%41\\x2f%zz-9876543210",
                                 "s3cr3t!"], ids=["base64-ish", "hex", "with-escapes", "short"])
def test_the_scrub_leaves_no_form_of_the_key_and_keeps_the_message(key):
    from rrmlib.redact import scrub

    for name, form in forms(key).items():
        said = scrub(f'{{"error": "Incorrect API key provided: {form}. Check your key."}}', key)
        assert not recoverable(key, said), f"{name}: {said}"
        assert said.startswith('{"error": "Incorrect API key provided: ') and said.endswith('. Check your key."}')
    together = scrub(echo_all(f"Bearer {key}"), key)
    assert not recoverable(key, together)


def test_the_scrub_leaves_ordinary_text_alone():
    from rrmlib.redact import scrub

    key = fresh_key()
    text = ("HTTP 500 at http://127.0.0.1:8000/v1/chat/completions: model 'Qwen/Qwen2.5-7B-Instruct' "
            "ran out of memory (base64 aGVsbG8gd29ybGQ=, hex deadbeef, 100% of 80 GiB)")
    assert scrub(text, key) == text
    assert scrub(text, None) == text and scrub(text, "EMPTY") == text


def test_a_gateway_that_echoes_the_key_in_every_form_leaves_it_in_no_error(monkeypatch, faults_gateway, caplog):
    """A real HTTP gateway (no model behind it: it refuses every request) whose 401 quotes the key
    it got in every form at once."""
    caplog.set_level(logging.DEBUG)
    key = fresh_key()
    monkeypatch.setenv(KEY_ENV, key)
    proxy = faults_gateway(require_key="another key", echo=echo_all)
    backend = backend_for("tiny-judge", proxy.url, max_retries=0)
    request = Request(as_messages([{"role": "user", "content": "hello"}]), Sampling(max_new_tokens=4))
    with pytest.raises(RequestFailed, match=r"HTTP 401: .*Incorrect API key provided: .*upper-cased: \*\*\*") as e:
        backend.generate([request])
    assert [s["fault"] for s in proxy.seen] == ["401"]
    for name, text in {**exception_texts(e.value), "log": caplog.text}.items():
        assert not recoverable(key, text), f"{name}: {text}"


def test_rrm_run_against_a_gateway_that_echoes_the_key_leaves_it_nowhere(faults_gateway, tmp_path):
    """``rrm run`` as a user runs it: the gateway's refusal reaches stderr, the FAILED marker and
    the executed notebook's traceback; the key, in no form, reaches any of them, or the store."""
    import os
    import subprocess
    import sys

    key = fresh_key()
    proxy = faults_gateway(require_key="another key", echo=echo_all)
    argv = [sys.executable, "-m", "rrmlib.cli", "run", "pairwise"]
    for k, v in dict(backend="openai", base_url=proxy.url, model="tiny-judge", api_key_env=KEY_ENV,
                     reasoning="false", limit=2, max_new_tokens=4, temperature=0.0).items():
        argv += ["-p", k, str(v)]
    env = {**os.environ, KEY_ENV: key, "RRM_ROOT": str(tmp_path)}
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr[-3000:]
    assert proxy.seen and all(s["fault"] == "401" for s in proxy.seen)
    failed = list(tmp_path.glob("runs/pairwise-*/FAILED"))
    assert len(failed) == 1 and "HTTP 401" in failed[0].read_text()  # the server's message did get there
    notebook = failed[0].parent / "pairwise.ipynb"
    assert "Incorrect API key provided" in notebook.read_text() and "Incorrect API key provided" in done.stderr
    places = {"stdout": done.stdout, "stderr": done.stderr,
              **{str(f): f.read_bytes().decode("latin-1") for f in sorted(tmp_path.rglob("*")) if f.is_file()}}
    assert any(p.endswith("judgments.sqlite") for p in places)
    for name, text in places.items():
        assert not recoverable(key, text), f"the key is in {name}"


# --- Key-shaped values in a URL ("Secrets: URLs") ---------------------------------------------

HEX32 = "0f3a9c2be4d15a6f7081923a4b5c6d7e"


@pytest.mark.parametrize("url", [
    f"http://127.0.0.1:8000/v1?k={HEX32}", f"http://127.0.0.1:8000/v1?k={HEX32.upper()}",
    f"http://127.0.0.1:8000/v1?{HEX32}", f"http://127.0.0.1:8000/v1#{HEX32}",
    "http://h:8000/v1?x=" + "q7w8e9r0t1y2u3i4o5p6a7s8d9f0g1h2",  # a long lower-case letters-and-digits run
    "http://h:8000/v1?x=123e4567-e89b-12d3-a456-426614174000",  # a UUID
    "http://h:8000/v1?x=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA",  # mixed case and digits
    "http://h:8000/v1?deployment=a&sess=abc",
    f"http://h:8000/v1,http://g:8000/v1?k={HEX32}",
])
def test_a_key_shaped_value_in_a_urls_query_is_refused(url):
    from rrmlib.params import ParameterError, check

    with pytest.raises(ParameterError, match="base_url must not carry credentials") as e:
        check("pairwise", {"backend": "openai", "model": "m", "base_url": url})
    assert HEX32 not in str(e.value).lower()  # the refusal does not repeat the value


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/v1", "http://localhost:30000/v1", "http://[::1]:8000/v1",
    "https://my-resource.openai.azure.com/openai/deployments/gpt-4o?api-version=2024-02-15-preview",
    "http://h:8000/v1?model=DeepSeek-R1-Distill-Qwen-7B&revision=main",
    "http://h:8000/v1?model=meta-llama/Meta-Llama-3.1-70B-Instruct",
    f"https://gateway.ai.cloudflare.com/v1/{HEX32}/my-gateway/openai",  # an account id in the path, not a key
    "http://GpuNode01.Cluster.local:8000/v1?timeout=600&priority=10",
])
def test_ordinary_urls_are_not_taken_for_keys(url):
    from rrmlib.params import check

    check("pairwise", {"backend": "openai", "model": "m", "base_url": url})


@pytest.mark.parametrize("value, shaped", [
    (HEX32, True), (HEX32.upper(), True), ("123e4567-e89b-12d3-a456-426614174000", True),
    ("xZ9kQ2mN8pL4rT6vB1cD3fG5", True), ("sk-abc", True), ("q7w8e9r0t1y2u3i4o5p6a7s8d9f0g1h2", True),
    ("DeepSeek-R1-Distill-Qwen-7B", False), ("Meta-Llama-3.1-70B-Instruct", False), ("8000", False),
    ("2024-02-15-preview", False), ("OPENAI_API_KEY", False), ("HF_TOKEN", False), ("main", False),
    ("hD8_kq3Z-Lp0xW2v_aQ7nR", True),  # URL-safe base64 cut into short runs by its - and _
    ("12345678901234567890123456789012", False),  # digits only: a number, not a key
    ("Qwen2.5-Math-PRM-7B", False), ("sfairXC/FsfairX-LLaMA3-RM-v0.1", False), ("My_Secret_Key_Value_2024", False),
    ("HuggingFaceTB/SmolLM2-1.7B-Instruct", False), ("Qwen3-235B-A22B-Instruct-2507-FP8", False),
])
def test_looks_like_token_both_sides(value, shaped):
    from rrmlib.params import looks_like_token

    assert looks_like_token(value) is shaped
