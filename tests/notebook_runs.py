"""A notebook run as the tests make it: papermill executes the notebook (generated from its .py)
into ``tmp/name/``, which is also its run folder (``out_dir``), with ``tmp`` as working folder."""
from __future__ import annotations

import json

import papermill

from rrmlib.cli import notebook_source


def run(tmp, notebook, name, **params):
    out_dir = tmp / name
    out_dir.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(notebook_source(notebook), str(out_dir / f"{notebook}.ipynb"),
                               parameters={"out_dir": str(out_dir), **params}, kernel_name="python3", cwd=str(tmp),
                               progress_bar=False)
    return out_dir


def read(out_dir):
    """``(metrics, meta)`` of a run folder."""
    return json.loads((out_dir / "metrics.json").read_text()), json.loads((out_dir / "meta.json").read_text())
