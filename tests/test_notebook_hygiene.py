"""Working on a notebook in JupyterLab leaves git clean unless a cell changed (issue 12).

Git tracks each notebook's .py (jupytext); `make` generates the .ipynb from it, untracked, so
outputs never reach git. In a clone of this repository, after `make notebooks`, a session is
replayed on the files as JupyterLab and jupytext leave them: the .ipynb gains outputs,
execution counts, the kernel's language_info, cell timing metadata, and jupytext rewrites the
paired .py on save. `git status` must stay clean; an edited cell must show in the .py. (The
real browser session is `make test-lab`.)
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
    assert not list((dest / "notebooks").glob("*.ipynb"))  # a fresh clone has the .py only
    # The very recipe `make` runs on a fresh clone (setup), with this interpreter.
    subprocess.run(["make", "-s", "-C", str(dest), "notebooks", f"PY={sys.executable}"], check=True)
    assert len(list((dest / "notebooks").glob("*.ipynb"))) == len(list((dest / "notebooks").glob("*.py")))
    assert git("status", "--porcelain", cwd=dest) == ""
    return dest


def lab_session(path: Path, edit: str | None = None) -> None:
    """What running every cell and saving does to the .ipynb, then jupytext's paired .py."""
    nb = json.loads(path.read_text())
    nb["metadata"]["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb["metadata"]["language_info"] = {"codemirror_mode": {"name": "ipython", "version": 3}, "name": "python",
                                       "version": sys.version.split()[0]}
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


def test_an_edited_parameters_cell_shows_in_the_tracked_py(clone):
    lab_session(clone / "notebooks" / "pairwise.ipynb", edit="limit = 8")
    assert git("status", "--porcelain", cwd=clone).split() == ["M", "notebooks/pairwise.py"]
    assert "+limit = 8" in git("diff", "notebooks/pairwise.py", cwd=clone)


def test_no_notebook_is_tracked_as_ipynb():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    assert git("ls-files", "*.ipynb", cwd=ROOT) == ""
    assert git("check-ignore", "notebooks/pairwise.ipynb", cwd=ROOT).strip() == "notebooks/pairwise.ipynb"


def test_saving_in_jupyterlab_served_on_notebooks_updates_the_tracked_py(clone):
    """`make lab` serves notebooks/ (issue 21, item 2): the server's contents manager (jupytext's,
    as JupyterLab loads it) looks for jupytext's configuration from the notebook's folder up to
    the folder it serves, no further. An edited parameters cell saved through it must reach the
    tracked .py, and nothing else may change."""
    import asyncio

    pytest.importorskip("jupyter_server")
    from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
    from jupytext import build_async_jupytext_contents_manager_class

    manager = build_async_jupytext_contents_manager_class(AsyncLargeFileManager)(root_dir=str(clone / "notebooks"))

    async def open_edit_save():
        model = await manager.get("pairwise.ipynb")
        cell = next(c for c in model["content"]["cells"] if "parameters" in c["metadata"].get("tags", []))
        cell["source"] += "\nlimit = 6"
        await manager.save(model, "pairwise.ipynb")

    asyncio.run(open_edit_save())
    assert git("status", "--porcelain", cwd=clone).split() == ["M", "notebooks/pairwise.py"]
    added = [line for line in git("diff", "notebooks/pairwise.py", cwd=clone).splitlines()
             if line.startswith("+") and not line.startswith("+++")]
    assert added == ["+limit = 6"]


def test_one_jupytext_configuration_for_the_cli_make_and_jupyterlab():
    """One file, where every reader finds it: jupytext's command line (`make notebooks`) searches
    from the notebook's folder upwards, and JupyterLab's contents manager from there up to the
    folder it serves (notebooks/ with `make lab`). A second copy elsewhere could drift."""
    import tomllib

    configs = sorted(str(p.relative_to(ROOT)) for name in ("jupytext.toml", ".jupytext.toml", "jupytext.yml",
                                                           ".jupytext.yml", ".jupytext", "jupytext.json",
                                                           "jupytext.py", ".jupytext.py")
                     for p in ROOT.rglob(name)
                     if not any(part.startswith(".venv") or part == ".git" for part in p.relative_to(ROOT).parts))
    assert configs == ["notebooks/jupytext.toml"]
    assert "jupytext" not in tomllib.loads((ROOT / "pyproject.toml").read_text()).get("tool", {})
