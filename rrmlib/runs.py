"""One folder per executed notebook: ``runs/<run-id>/`` with results, metrics and provenance.

The run id is derived from the notebook and its parameters, so the same parameters land in the
same folder (a rerun replaces it, and a sweep can tell a finished configuration from a new one).
"""
from __future__ import annotations

import hashlib
import json
import math
import platform
import re
import subprocess
import time
from importlib import metadata
from pathlib import Path

import pandas as pd

# Parameters that say where things go, not what is computed: left out of the run id.
_PLACEMENT = {"out_dir", "store", "progress"}
PACKAGES = ("rrm-notebooks", "torch", "transformers", "pandas", "numpy", "pyarrow", "papermill",
            "evalica", "math-verify", "openai", "vllm", "matplotlib")


def run_id(notebook: str, params: dict) -> str:
    """``<notebook>-<dataset>[-r<round>]-<hash of the parameters>``: readable and unique."""
    what = {k: v for k, v in sorted(params.items()) if k not in _PLACEMENT}
    digest = hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:8]
    dataset = re.sub(r"[^A-Za-z0-9.-]+", "_", Path(str(params.get("dataset", "run"))).stem)
    rnd = f"-r{params['round']}" if params.get("round", 1) != 1 else ""
    return f"{notebook}-{dataset}{rnd}-{digest}"


def git_revision(cwd=None) -> str | None:
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def _finite(obj):
    """NaN and infinities as None: JSON has no NaN, and a reader's parser may refuse it."""
    if hasattr(obj, "item") and getattr(obj, "ndim", None) == 0:  # a numpy scalar
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _dump(obj) -> str:
    return json.dumps(_finite(obj), indent=2, sort_keys=True, ensure_ascii=False, default=str, allow_nan=False) + "\n"


class RunDir:
    """Writes a run's artefacts. ``results.parquet`` and ``metrics.json`` hold only what the
    parameters determine (no timestamps), so an identical rerun writes identical bytes;
    provenance and timing go to ``meta.json``."""

    @classmethod
    def start(cls, notebook: str, params: dict) -> "RunDir":
        """The run folder for checked parameters: ``out_dir``, else ``runs/<run-id>``."""
        path = params.get("out_dir") or Path("runs") / run_id(notebook, params)
        return cls(path, notebook, params)

    def __init__(self, path, notebook: str, params: dict):
        self.path = Path(path)
        self.id = self.path.name
        self.figures = Path("figures") / self.id  # where this run's figures go
        self.path.mkdir(parents=True, exist_ok=True)
        self.notebook, self.params = notebook, params
        self.started = time.time()

    def write_results(self, df: pd.DataFrame, name: str = "results.parquet") -> Path:
        out = self.path / name
        df.reset_index(drop=True).to_parquet(out, index=False)
        return out

    def write_metrics(self, metrics: dict) -> Path:
        out = self.path / "metrics.json"
        out.write_text(_dump(metrics))
        return out

    def write_meta(self, **extra) -> Path:
        from rrmlib.protocol import describe

        meta = {
            "notebook": self.notebook,
            "run_id": self.path.name,
            "params": self.params,
            "protocol": describe(self.notebook, self.params),
            "seed": self.params.get("seed"),
            "versions": versions(),
            "git_revision": git_revision(Path(__file__).resolve().parent),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started)),
            "seconds": round(time.time() - self.started, 1),
            **extra,
        }
        out = self.path / "meta.json"
        out.write_text(_dump(meta))
        return out
