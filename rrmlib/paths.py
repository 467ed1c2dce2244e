"""One project root for every path a run writes or reads by default, whatever the working
directory: a notebook opened in JupyterLab runs in ``notebooks/``, papermill and ``rrm`` in
the shell's folder, and all of them must find the same ``runs/``, store and ``data/``.

The root is ``$RRM_ROOT``, else the checkout this rrmlib lives in (it is installed editable:
the folder above ``rrmlib/`` holding ``pyproject.toml``), else the working directory.
"""
from __future__ import annotations

import os
from pathlib import Path


# The folder above rrmlib/: the checkout an editable install runs from (notebooks/, params/,
# PPEdataset/ live there, whatever $RRM_ROOT says of runs and data).
CHECKOUT = Path(__file__).resolve().parent.parent


def project_root() -> Path:
    env = os.environ.get("RRM_ROOT")
    if env:
        return Path(env).resolve()
    if (CHECKOUT / "pyproject.toml").exists() and (CHECKOUT / "notebooks").is_dir():
        return CHECKOUT
    return Path.cwd().resolve()


def resolve(path) -> Path:
    """``path`` as given if absolute, else under the project root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else project_root() / p


def data_dir() -> Path:
    """Local copies of datasets: ``$RRM_DATA``, else ``data/`` under the project root."""
    env = os.environ.get("RRM_DATA")
    return Path(env).expanduser().resolve() if env else project_root() / "data"
