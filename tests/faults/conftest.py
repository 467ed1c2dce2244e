"""Shared by the fault suite's server tests: a real ``transformers serve`` on the tiny model, and a
real HTTP proxy in front of it that injects faults on chosen requests.

Fixture names start with ``faults_`` so they do not clash with other tests' fixtures.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from servers import Server


# Hop-by-hop headers a proxy does not pass on (RFC 9110 7.6.1), and those it sets itself.
_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
        "content-length", "host"}

FAULTS = ("429", "500", "401", "malformed", "empty_choices", "slow", "trickle", "cut", "length")


class FaultProxy:
    """A real HTTP/1.1 proxy (``http.server`` on 127.0.0.1, one thread per connection) in front of
    an upstream server. It forwards every request as it comes, except the chat-completion requests
    that ``plan`` names by their number (1, 2, ... in order of arrival), which get a fault:

    - ``"429"``: HTTP 429 with ``Retry-After: <retry_after>``, not forwarded;
    - ``"500"``: HTTP 500, not forwarded;
    - ``"401"``: HTTP 401 whose message echoes the ``Authorization`` header it got (as some
      providers quote the key they refuse), not forwarded;
    - ``"malformed"``: forwarded, and the server's JSON cut in half (still ``application/json``);
    - ``"empty_choices"``: forwarded, and the reply's ``choices`` emptied;
    - ``"slow"``: held ``slow_seconds`` before it is forwarded (longer than the client's timeout);
    - ``"trickle"``: forwarded, then the reply sent one byte every ``trickle_seconds``;
    - ``"cut"``: forwarded, the headers and half the body sent, then the connection closed;
    - ``"length"``: forwarded, and the completion cut to half its text with ``finish_reason``
      ``"length"``, as a server that reaches its context limit (vLLM's ``max_model_len``) before
      ``max_tokens`` says: a legitimate cut-off completion, not a fault to retry.

    ``plan`` is a dict ``{request number: fault}``; ``seen`` records each chat request's number,
    arrival time, fault and JSON body (never its headers). With ``require_key``, the proxy is a
    gateway that wants ``Authorization: Bearer <require_key>`` and answers anything else with a
    401 that quotes what it got; ``echo`` (a function of the ``Authorization`` header) says how it
    quotes it (as it came, by default: some servers upper-case, escape or encode it first).
    """

    def __init__(self, upstream_port: int, plan: dict | None = None, *, retry_after: str = "0",
                 slow_seconds: float = 5.0, trickle_seconds: float = 0.2, require_key: str | None = None,
                 echo=None):
        self.upstream_port, self.plan, self.require_key = upstream_port, dict(plan or {}), require_key
        self.echo = echo or (lambda said: said)
        self.retry_after, self.slow_seconds, self.trickle_seconds = retry_after, slow_seconds, trickle_seconds
        self.seen: list[dict] = []
        self._lock, self._closing = threading.Lock(), threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects

            def do_GET(self):
                proxy._handle(self, None)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy._handle(self, body)

            def log_message(self, *args):  # quiet; and a proxy's log is no place for what it carries
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"

    # -- the proxy ---------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, body: bytes | None) -> None:
        fault = None
        if self.require_key is not None and h.headers.get("Authorization") != f"Bearer {self.require_key}":
            fault = "401"
        if h.command == "POST" and h.path.rstrip("/").endswith("/chat/completions"):
            with self._lock:
                n = len(self.seen) + 1
                fault = fault or self.plan.get(n)
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = None
                self.seen.append({"n": n, "t": time.monotonic(), "fault": fault, "body": payload})
        try:
            if fault == "429":
                return self._send_json(h, 429, {"error": {"message": "rate limited", "type": "rate_limit"}},
                                       {"Retry-After": self.retry_after})
            if fault == "500":
                return self._send_json(h, 500, {"error": {"message": "internal error", "type": "server_error"}})
            if fault == "401":
                said = self.echo(h.headers.get("Authorization", ""))
                return self._send_json(h, 401, {"error": {"message": f"Incorrect API key provided: {said}",
                                                          "type": "invalid_request_error"}})
            if fault == "slow" and self._closing.wait(self.slow_seconds):
                return
            status, headers, data = self._forward(h, body)
            if fault == "malformed":
                data = data[: len(data) // 2]
            elif fault in ("empty_choices", "length") and status == 200:
                reply = json.loads(data)
                if fault == "empty_choices":
                    reply["choices"] = []
                else:
                    choice = reply["choices"][0]
                    text = choice["message"]["content"]
                    choice["message"]["content"] = text[: len(text) // 2]
                    choice["finish_reason"] = "length"
                    reply["usage"]["completion_tokens"] //= 2
                data = json.dumps(reply).encode()
            h.send_response(status)
            for k, v in headers:
                if k.lower() not in _HOP:
                    h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            if fault == "cut":
                h.wfile.write(data[: len(data) // 2])
                h.wfile.flush()
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
            elif fault == "trickle":
                for i in range(len(data)):
                    h.wfile.write(data[i:i + 1])
                    h.wfile.flush()
                    if self._closing.wait(self.trickle_seconds):
                        break
            else:
                h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, OSError):
            h.close_connection = True  # the client gave up (a timeout): nothing to answer

    def _forward(self, h: BaseHTTPRequestHandler, body: bytes | None):
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=120)
        try:
            headers = {k: v for k, v in h.headers.items() if k.lower() not in _HOP}
            conn.request(h.command, h.path, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, r.getheaders(), r.read()
        finally:
            conn.close()

    @staticmethod
    def _send_json(h, status: int, payload: dict, extra: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    # -- for the tests -------------------------------------------------------------------------
    def faulted(self, fault: str | None = None) -> list[dict]:
        return [s for s in self.seen if s["fault"] is not None and (fault is None or s["fault"] == fault)]

    def close(self) -> None:
        self._closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def faults_model_dir(tmp_path_factory, tiny_model_dir):
    """The tiny random Llama of tests/conftest.py, initialised with larger weights so its greedy text
    depends on the prompt: the conftest's model writes the same words for every prompt (its
    weights are near zero), so a completion stored under the wrong key would go unseen."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("faults-model") / "tiny-llama"
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = LlamaConfig.from_pretrained(tiny_model_dir)
    config.initializer_range = 0.5
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def faults_server(faults_model_dir, tmp_path_factory):
    """One real ``transformers serve`` (on ``faults_model_dir``) for the whole fault suite."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    server = Server(faults_model_dir, tmp_path_factory.mktemp("faults-server-logs")).start().wait()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def faults_proxy(faults_server):
    """``faults_proxy(plan, **options)``: a :class:`FaultProxy` in front of ``faults_server``."""
    made = []

    def make(plan=None, **options) -> FaultProxy:
        made.append(FaultProxy(faults_server.port, plan, **options))
        return made[-1]

    yield make
    for p in made:
        p.close()


@pytest.fixture
def faults_gateway():
    """``faults_gateway(**options)``: a :class:`FaultProxy` with no server behind it, for a gateway
    that refuses every request (``require_key`` set to another key): no model needed."""
    made = []

    def make(**options) -> FaultProxy:
        made.append(FaultProxy(1, **options))  # port 1: nothing is ever forwarded
        return made[-1]

    yield make
    for p in made:
        p.close()


# --- Kills and two writers (test_kills.py, test_two_writers.py): `rrm` as a user runs it --------

class FaultsRrm:
    """``rrm`` (``python -m rrmlib.cli``) in a subprocess, in a working folder of its own that is
    also its project root (``RRM_ROOT``), so its default store (``runs/judgments.sqlite``) and
    run folders (``runs/<run-id>``) are that folder's. The suite's small runs: the tiny model, a few pairs or candidate sets, batches
    of 2 so a run commits several times."""

    EXPECTED_ROWS = {"pairwise": 6, "knockout": 9}  # 6 pairs, one order; 3 sets x 3 knockout matches

    def __init__(self, model_dir: Path, tmp_factory):
        self.model_dir, self.tmp_factory = model_dir, tmp_factory
        self._references: dict[str, Path] = {}

    def params(self, notebook: str) -> dict:
        common = {"model": str(self.model_dir), "max_new_tokens": 8, "batch_size": 2}
        if notebook == "pairwise":
            return {**common, "limit": 6}
        return {**common, "limit": 3, "reasoning": False}  # knockout on the demo candidate sets

    def argv(self, command: str, notebook: str, **extra) -> list[str]:
        if command == "sweep":
            return [sys.executable, "-m", "rrmlib.cli", "sweep", notebook]  # notebook: the sweep file here
        argv = [sys.executable, "-m", "rrmlib.cli", "run", notebook]
        for k, v in {**self.params(notebook), **extra}.items():
            argv += ["-p", k, str(v)]
        return argv

    def env(self, kill_at: str | None = None, scope: str | None = None) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RRM_TEST_KILL")}
        env["TOKENIZERS_PARALLELISM"] = "false"
        if kill_at:
            env["RRM_TEST_KILL_AT"] = kill_at
        if scope:
            env["RRM_TEST_KILL_SCOPE"] = scope
        return env

    def run(self, argv: list[str], cwd: Path, kill_at: str | None = None, timeout: float = 300):
        return self.run_many([(argv, cwd, kill_at)], timeout)[0]

    def run_many(self, jobs: list[tuple], timeout: float = 300) -> list[subprocess.CompletedProcess]:
        """``(argv, cwd, kill_at)`` jobs run at once, each in its own process; their results in order."""
        import tempfile

        started = []
        for argv, cwd, kill_at in jobs:
            out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
            proc = subprocess.Popen(argv, cwd=cwd, env={**self.env(kill_at), "RRM_ROOT": str(cwd)}, stdout=out,
                                    stderr=err)
            started.append((argv, proc, out, err))
        done = []
        deadline = time.monotonic() + timeout
        for argv, proc, out, err in started:
            try:
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            texts = []
            for f in (out, err):
                f.seek(0)
                texts.append(f.read().decode(errors="replace"))
                f.close()
            done.append(subprocess.CompletedProcess(argv, proc.returncode, *texts))
        return done

    def popen(self, argv: list[str], cwd: Path, log: Path):
        out = open(log, "wb")
        proc = subprocess.Popen(argv, cwd=cwd, env={**self.env(), "RRM_ROOT": str(cwd)}, stdout=out,
                                stderr=subprocess.STDOUT)
        out.close()
        return proc

    def sweep_file(self, cwd: Path, notebook: str, **extra) -> Path:
        import yaml

        f = cwd / f"{notebook}-sweep.yaml"
        f.write_text(yaml.safe_dump({"notebook": notebook, "parameters": {**self.params(notebook), **extra}}))
        return f

    @staticmethod
    def folder(cwd: Path, notebook: str) -> Path:
        """The one run folder of ``notebook`` under ``cwd/runs``."""
        found = sorted((cwd / "runs").glob(f"{notebook}-*"))
        assert len(found) == 1, found
        return found[0]

    def references(self, *notebooks: str) -> dict[str, Path]:
        """Uninterrupted ``rrm run``s of the suite's parameters, each in a fresh folder with its own
        fresh store; made once per session (those still missing, at once)."""
        missing = [nb for nb in notebooks if nb not in self._references]
        cwds = {nb: self.tmp_factory.mktemp(f"reference-{nb}") for nb in missing}
        for nb, done in zip(missing, self.run_many([(self.argv("run", nb), cwds[nb], None) for nb in missing])):
            assert done.returncode == 0, done.stderr[-3000:]
            self._references[nb] = self.folder(cwds[nb], nb)
        return {nb: self._references[nb] for nb in notebooks}

    @staticmethod
    def store_check(path: Path) -> tuple[int, list[str]]:
        """``(rows, problems)`` of a store file: ``PRAGMA integrity_check`` and duplicate keys."""
        import sqlite3

        if not Path(path).exists():
            return 0, []
        db = sqlite3.connect(path)
        try:
            problems = [r[0] for r in db.execute("PRAGMA integrity_check") if r[0] != "ok"]
            problems += [f"key {k} x{n}" for k, n in
                         db.execute("SELECT key, COUNT(*) FROM completions GROUP BY key HAVING COUNT(*) > 1")]
            return db.execute("SELECT COUNT(*) FROM completions").fetchone()[0], problems
        finally:
            db.close()

    @staticmethod
    def texts(path: Path) -> dict:
        import sqlite3

        db = sqlite3.connect(path)
        try:
            return dict(db.execute("SELECT key, text FROM completions"))
        finally:
            db.close()


@pytest.fixture(scope="session")
def faults_rrm(tiny_model_dir, tmp_path_factory) -> FaultsRrm:
    """``rrm`` in subprocesses, and one uninterrupted reference run per notebook (``.reference``)."""
    return FaultsRrm(tiny_model_dir, tmp_path_factory)
