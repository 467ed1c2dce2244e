"""One folder per executed notebook: ``runs/<run-id>/`` with results, metrics and provenance.

The run id is derived from the notebook and its parameters, so the same parameters land in the
same folder (a rerun replaces it, and a sweep can tell a finished configuration from a new one).

A run folder is complete when it holds ``meta.json`` and no ``FAILED`` marker (``is_complete``).
Every file is written atomically (a temporary file in the same folder, fsynced, then renamed
over the name), so a run killed while writing never leaves a half file under a real name;
``meta.json`` is written last, and a run starting in a folder removes the old one first, so a
folder looks complete only once every file of the run that wrote it is in place.
"""
from __future__ import annotations

import fcntl
import hashlib
import io
import json
import math
import os
import platform
import re
import subprocess
import time
from importlib import metadata
from pathlib import Path

import pandas as pd

from rrmlib import results
from rrmlib.faults import kill_point
from rrmlib.paper import describe
from rrmlib.params import names
from rrmlib.paths import CHECKOUT, project_root

PACKAGES = ("rrm-notebooks", "torch", "transformers", "pandas", "numpy", "pyarrow", "papermill",
            "evalica", "math-verify", "openai", "vllm", "matplotlib")


FAILED = "FAILED"  # marker file: the run in this folder failed (its text says how); see rrmlib.cli.execute
META = "meta.json"  # written last: its presence marks a finished run
CLAIM = ".rrm-run"  # marker file: this folder is a run folder of this project (and the lock of whoever runs it)
KERNEL = ".rrm-kernel"  # the pid of the process (a notebook's kernel) running in the folder, and when it started
_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.rrm-tmp$")  # atomic_write's temporary files, and only those


class RunFolderError(ValueError):
    """A folder a run may not use: it holds files this project did not write."""


def is_run_folder(folder) -> bool:
    """Whether ``folder`` is empty, missing, or a run folder of this project: it holds the
    ``CLAIM`` marker every run writes first, or (a folder from before the marker) this project's
    ``meta.json`` or ``FAILED`` marker. A run deletes and replaces files in its folder, so it
    refuses any other folder (``check_folder``)."""
    folder = Path(folder)
    if not folder.exists():
        return True
    if not folder.is_dir():
        return False
    names = {x.name for x in folder.iterdir()}
    if not names or CLAIM in names or any(_TMP.match(n) for n in names):
        return True
    for name in sorted(n for n in names if n.endswith(".ipynb")):
        # papermill writes the executed notebook before its first cell runs: one sent here is ours
        try:
            given = json.loads((folder / name).read_text())["metadata"]["papermill"]["parameters"]["out_dir"]
            if Path(given).resolve() == folder.resolve():
                return True
        except (OSError, ValueError, KeyError, TypeError):
            pass
    try:
        meta = json.loads((folder / META).read_text())
        if isinstance(meta, dict) and {"notebook", "run_id", "params"} <= set(meta):
            return True
    except (OSError, ValueError):
        pass
    try:
        return bool(re.match(r"^\w+ run FAILED: ", (folder / FAILED).read_text(errors="replace")))
    except OSError:
        return False


def check_folder(folder) -> None:
    """Refuse a folder that is neither new, empty, nor a run folder (``is_run_folder``)."""
    if not is_run_folder(folder):
        folder = Path(folder)
        held = sorted(x.name for x in folder.iterdir())[:6] if folder.is_dir() else []
        what = f"it holds {', '.join(held)}{', ...' if len(held) == 6 else ''}" if folder.is_dir() else "it is a file"
        raise RunFolderError(f"out_dir {folder} is not a run folder of this project ({what}): a run deletes and "
                             f"replaces files in its folder, so it needs a new or empty folder, or one a run made")


def mark_folder(folder) -> None:
    """Make ``folder`` (checked by ``check_folder``) a run folder: create it and its ``CLAIM`` marker."""
    folder = Path(folder)
    check_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CLAIM).touch()


class Claim:
    """The right to run in a folder, held by one process at a time: an exclusive ``flock`` on the
    folder's ``CLAIM`` marker, which the operating system releases when the process ends however
    it ends (a killed sweep leaves no stale lock to clean). Its text names the holder.

        with Claim(folder) as claim:      # claim.acquire(wait=False) -> False while another holds it
            ...
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self._fh = None

    def holder(self) -> str:
        try:
            return (self.folder / CLAIM).read_text().strip() or "another process"
        except OSError:
            return "another process"

    def busy(self) -> bool:
        """Whether a run is going on in the folder now: another process holds the claim (``rrm``),
        or the kernel that started its run is alive (a run from JupyterLab or papermill alone,
        which claims nothing: ``RunDir`` names its kernel in ``KERNEL``). The claim is probed
        with a shared lock held for an instant, nothing written."""
        try:
            with open(self.folder / CLAIM) as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    return True
        except OSError:
            pass
        return kernel_alive(self.folder)

    def acquire(self, wait: bool = True) -> bool:
        mark_folder(self.folder)
        fh = open(self.folder / CLAIM, "r+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            fh.close()
            return False
        except BaseException:  # Ctrl-C while waiting, a file system without locks: no handle left open
            fh.close()
            raise
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {platform.node()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        fh.flush()
        self._fh = fh
        return True

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing the file releases the lock
            self._fh = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


def kernel_alive(folder) -> bool:
    """Whether the kernel ``RunDir`` named in ``folder`` (``KERNEL``) is still running."""
    try:
        pid, written = (Path(folder) / KERNEL).read_text().split()
        return alive(pid, float(written))
    except (OSError, ValueError):
        return False


def is_complete(folder) -> bool:
    """Whether ``folder`` holds a finished run: ``meta.json`` present and readable, no ``FAILED``
    marker. ``rrm sweep`` reruns every configuration whose folder is not complete."""
    folder = Path(folder)
    if (folder / FAILED).exists():
        return False
    try:
        return isinstance(json.loads((folder / META).read_text()), dict)
    except (OSError, ValueError):
        return False


def atomic_write(path, data: bytes | str, point: str | None = None) -> Path:
    """Write ``data`` to ``path`` so that a crash at any moment leaves either the old file or the
    new one, never a part: write a temporary file beside it, fsync, rename it over ``path``
    (``os.replace``, atomic on POSIX), fsync the folder. ``point`` names the fault suite's kill
    point (``kill_point``), reached with half the bytes written."""
    path = Path(path)
    data = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.rrm-tmp")
    try:
        with open(tmp, "wb") as fh:
            half = len(data) // 2
            fh.write(data[:half])
            if point:
                fh.flush()
                kill_point(point)
            fh.write(data[half:])
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # the rename itself reaches the disk with the folder's entry
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return path
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
    return path


def alive(pid: str, written: float | None = None) -> bool:
    """Whether the process ``pid`` that wrote a temporary file (last written at ``written``) may
    still be writing it. Not when it is gone; nor, where /proc tells, when it is a zombie (killed
    and not yet reaped: an orphan waits for init, which in a container may take its time), or
    when it started after the file was written (the pid was reused)."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        pass
    try:
        # Fields after the command name (which may hold spaces and parentheses): state, ..., starttime (22nd).
        fields = Path(f"/proc/{int(pid)}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return True  # no /proc to ask: it exists, so it may be the writer
    if fields[0] in ("Z", "X"):
        return False
    return written is None or started <= written + 2  # btime has whole seconds


def runs_dir() -> Path:
    """``runs/`` under the project root: every run folder, the store and the sweeps' indexes."""
    return project_root() / "runs"


def folder_of(notebook: str, params: dict) -> Path:
    """Where a run of checked parameters writes: ``out_dir``; else a report's tables and figures
    go to ``figures/<sweep name>`` (``figures/report-<hash>`` from run folders), the place for
    what a paper takes, and every other run to ``runs/<run-id>``."""
    if params.get("out_dir"):
        return Path(params["out_dir"])
    if notebook == "report":
        if params.get("sweep") and not params.get("runs"):
            return project_root() / "figures" / Path(params["sweep"]).stem
        return project_root() / "figures" / f"report-{_digest(params)}"
    return runs_dir() / run_id(notebook, params)


def _digest(params: dict) -> str:
    """8 hex digits of the parameters that can change what a run computes (not where it writes)."""
    placement = names(role="placement")
    what = {k: v for k, v in sorted(params.items()) if k not in placement}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:8]


def run_id(notebook: str, params: dict) -> str:
    """``<notebook>-<dataset>[-r<round>]-<hash of the parameters>``: readable and unique."""
    digest = _digest(params)
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


def dump(obj) -> str:
    """The JSON text of a run's files (meta.json, metrics.json): sorted, finite, plain."""
    return json.dumps(_finite(obj), indent=2, sort_keys=True, ensure_ascii=False, default=str, allow_nan=False) + "\n"


class RunDir:
    """Writes a run's artefacts. ``results.parquet`` and ``metrics.json`` hold only what the
    parameters determine (no timestamps), so an identical rerun writes identical bytes;
    provenance and timing go to ``meta.json``."""

    @classmethod
    def start(cls, notebook: str, params: dict) -> "RunDir":
        """The run folder for checked parameters: ``out_dir``, else ``runs/<run-id>`` under the
        project root (the same folder whether the notebook runs in JupyterLab, papermill or rrm)."""
        return cls(folder_of(notebook, params), notebook, params)

    def __init__(self, path, notebook: str, params: dict):
        self.path = Path(path)
        self.id = self.path.name
        self.figures = self.path / "figures"  # a run's figures live with the run
        mark_folder(self.path)  # a folder of someone else's files is refused before anything in it changes
        atomic_write(self.path / KERNEL, f"{os.getpid()} {time.time():.3f}\n")  # so rrm runs --clean leaves it be
        # This run now owns the folder: until its own meta.json lands, the folder is not complete
        # (an older run's meta.json beside this run's half-done files would vouch for them).
        (self.path / META).unlink(missing_ok=True)
        for stale in self.path.iterdir():  # temporary files of a killed run (not of a live one), by name
            found = _TMP.match(stale.name)
            try:
                if found and not alive(found["pid"], stale.stat().st_mtime):
                    stale.unlink(missing_ok=True)
            except FileNotFoundError:  # another process cleared it first
                pass
        self.notebook, self.params = notebook, params
        self.started = time.time()

    def write_results(self, df: pd.DataFrame, name: str = "results.parquet") -> Path:
        buf = io.BytesIO()
        df.reset_index(drop=True).to_parquet(buf, index=False)
        return atomic_write(self.path / name, buf.getvalue(), "write_results")

    def write_metrics(self, metrics: dict) -> Path:
        """``metrics.json``, once it reads as this notebook's results (``rrmlib.results``): a
        field its readers need and the notebook did not write fails here, not in a report."""
        text = dump(metrics)
        results.read(self.notebook, json.loads(text), where=f"{self.notebook} metrics for {self.path}")
        return atomic_write(self.path / "metrics.json", text, "write_metrics")

    def write_meta(self, **extra) -> Path:
        meta = {
            "notebook": self.notebook,
            "run_id": self.path.name,
            "params": self.params,
            "protocol": describe(self.notebook, self.params, extra),
            "seed": self.params.get("seed"),
            "versions": versions(),
            "git_revision": git_revision(CHECKOUT),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started)),
            "seconds": round(time.time() - self.started, 1),
            **extra,
        }
        # Last, and atomic: its presence says every other file of this run is in place.
        return atomic_write(self.path / META, dump(meta), "write_meta")
