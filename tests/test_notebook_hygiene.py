"""Working on a notebook in JupyterLab leaves git clean unless a cell changed (issue 12).

In a clone of this repository, with the git filter `make` installs, a session is replayed on
the files as JupyterLab and jupytext leave them: the notebook gains outputs, execution counts,
the kernel's language_info and display name, cell timing metadata, and jupytext rewrites the
paired .py on save. `git status` must stay clean; an edited cell must show. (The real browser
session is `make test-lab`.)
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def clone(tmp_path):
    if shutil.which("git") is None or shutil.which("make") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git, make and this project as a git checkout")
    dest = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--local", str(ROOT), str(dest)], check=True)
    # The very recipe `make` runs on a fresh clone, with this interpreter for the filter.
    subprocess.run(["make", "-s", "-C", str(dest), "git-filters", f"PY={sys.executable}"], check=True)
    assert "nbstripout" in git("config", "--get", "filter.nbstripout.clean", cwd=dest)
    return dest


def lab_session(path: Path, edit: str | None = None) -> None:
    """What running every cell and saving does to the .ipynb, then jupytext's paired .py."""
    nb = json.loads(path.read_text())
    nb["metadata"]["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb["metadata"]["language_info"] = {"codemirror_mode": {"name": "ipython", "version": 3}, "name": "python",
                                       "version": sys.version.split()[0]}
    nb["metadata"]["jupytext"] = {"formats": "ipynb,py:percent"}
    for n, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        cell["execution_count"] = n + 1
        cell["outputs"] = [{"name": "stdout", "output_type": "stream", "text": [f"output of cell {n}\n"]}]
        cell["metadata"]["execution"] = {"iopub.execute_input": "2026-11-28T10:00:00.000000Z"}
    if edit is not None:
        code = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
        code["source"] = code["source"] + ["\n", edit]
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", str(path)], cwd=path.parent.parent,
                   check=True)


@pytest.mark.parametrize("name", ["pairwise", "knockout", "report"])
def test_open_run_save_leaves_git_clean(clone, name):
    lab_session(clone / "notebooks" / f"{name}.ipynb")
    assert git("status", "--porcelain", cwd=clone) == ""


def test_an_edited_parameters_cell_shows_in_both_files(clone):
    lab_session(clone / "notebooks" / "pairwise.ipynb", edit="limit = 8")
    changed = set(git("status", "--porcelain", cwd=clone).split())
    assert {"notebooks/pairwise.ipynb", "notebooks/pairwise.py"} <= changed
    assert "+limit = 8" in git("diff", "notebooks/pairwise.py", cwd=clone)


def test_committed_notebooks_are_what_the_filter_keeps():
    import re

    keys = re.search(r"NBSTRIPOUT_KEYS = (.*?)\n\n", (ROOT / "Makefile").read_text(), re.S).group(1)
    keys = " ".join(keys.replace("\\", " ").split())
    for f in sorted((ROOT / "notebooks").glob("*.ipynb")):
        committed = subprocess.run(["git", "show", f"HEAD:notebooks/{f.name}"], cwd=ROOT, capture_output=True,
                                   text=True)
        if committed.returncode != 0:
            pytest.skip("not a git checkout with committed notebooks")
        cleaned = subprocess.run([sys.executable, "-m", "nbstripout", "--extra-keys", keys], input=committed.stdout,
                                 capture_output=True, text=True, check=True).stdout
        assert cleaned == committed.stdout, f"{f.name} is committed with what the filter strips"
