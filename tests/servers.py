"""``transformers serve`` as a real OpenAI-compatible server for tests (the openai backend's
tests and the fault suite): a free port, its own process group (a kill takes all of it), its
output in a log file."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``transformers serve`` in its own process group, so a kill takes all of it. A subclass
    names another server by its ``argv``, environment, log name and start-up time."""

    NAME, LOG, START_TIMEOUT, POLL = "transformers serve", "server", 90, 0.2

    def __init__(self, model_dir: Path, log_dir: Path):
        self.model_dir, self.log_dir, self.proc, self.starts = model_dir, log_dir, None, 0

    def argv(self) -> list[str]:
        exe = Path(sys.executable).with_name("transformers")
        exe = str(exe) if exe.exists() else shutil.which("transformers")
        if exe is None:
            pytest.skip("the `transformers` command (transformers[serving]) is not installed")
        return [exe, "serve", str(self.model_dir), "--host", "127.0.0.1", "--port", str(self.port), "--device", "cpu"]

    def env(self) -> dict:
        return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}

    def start(self) -> "Server":
        self.port, self.starts = free_port(), self.starts + 1
        argv = self.argv()
        self.log = self.log_dir / f"{self.LOG}-{self.port}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=self.env(),
                                         start_new_session=True)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def wait(self, timeout: float | None = None) -> "Server":
        timeout = self.START_TIMEOUT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.NAME} exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(self.POLL)
        self.kill()
        pytest.fail(f"{self.NAME} did not come up in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def killing_after_first_chunk(backend, server: Server):
    """``backend``, its stream made to kill ``server`` once the judge has its first chunk (it has
    committed that chunk when it asks for the next): a server dying mid-run."""
    inner = backend.stream

    def stream(reqs):
        for n, chunk in enumerate(inner(reqs)):
            yield chunk
            if n == 0:
                server.kill()

    backend.stream = stream
    return backend
