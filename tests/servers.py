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
    """``transformers serve`` in its own process group, so a kill takes all of it."""

    def __init__(self, model_dir: Path, log_dir: Path):
        self.model_dir, self.log_dir, self.proc, self.starts = model_dir, log_dir, None, 0

    def start(self) -> "Server":
        exe = Path(sys.executable).with_name("transformers")
        exe = str(exe) if exe.exists() else shutil.which("transformers")
        if exe is None:
            pytest.skip("the `transformers` command (transformers[serving]) is not installed")
        self.port, self.starts = free_port(), self.starts + 1
        self.log = self.log_dir / f"server-{self.port}.log"
        env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [exe, "serve", str(self.model_dir), "--host", "127.0.0.1", "--port", str(self.port), "--device", "cpu"],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def wait(self, timeout: float = 90) -> "Server":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"transformers serve exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.kill()
        pytest.fail(f"transformers serve did not come up in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
