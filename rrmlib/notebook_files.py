"""The notebooks' .ipynb files, generated from their tracked .py (``make notebooks``).

Git tracks each notebook as a jupytext .py; the .ipynb beside it is made here, untracked, with
jupytext's pairing (``notebooks/jupytext.toml``, which JupyterLab reads too), which keeps a previous run's outputs when the .py
changed. JupyterLab writes the kernel's ``language_info`` into a notebook when its kernel
starts, and a notebook without it is then changed the moment it is opened: so it is written
here as this environment's kernel reports it, and opening leaves the notebook unchanged.

    python -m rrmlib.notebook_files [notebooks/*.py]
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from rrmlib.paths import CHECKOUT


def kernel_language_info() -> dict:
    """What this environment's Python kernel (ipykernel) reports as its language_info."""
    from ipykernel.ipkernel import IPythonKernel

    return json.loads(json.dumps(IPythonKernel.language_info))


def sync(py: Path) -> Path:
    """Write (or update) the .ipynb paired with ``py``; returns its path."""
    from jupytext.cli import jupytext

    py = Path(py)
    if jupytext(["--sync", "--quiet", str(py)]) not in (0, None):
        raise RuntimeError(f"jupytext could not sync {py}")
    ipynb = py.with_suffix(".ipynb")
    nb = json.loads(ipynb.read_text(encoding="utf-8"))
    info = kernel_language_info()
    if nb.get("metadata", {}).get("language_info") != info:
        nb.setdefault("metadata", {})["language_info"] = info
        ipynb.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.utime(py)  # the text file stays the newer one of the pair, as jupytext leaves it
    return ipynb


def main(argv=None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    if not paths:
        paths = sorted((CHECKOUT / "notebooks").glob("*.py"))
    for py in paths:
        sync(py)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
