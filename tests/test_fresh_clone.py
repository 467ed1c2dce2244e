"""A newcomer's path (issue 21, item 1): the documented CPU sweep runs from a fresh clone, with
no ../shared beside it and no $RRM_DATA, on the data the project ships.

The clone is what a clone of this working tree would hold (the files git tracks or would track,
none it ignores) in a temporary folder, which has no ../shared; its own rrmlib is imported and
its own folder is the project root. The sweep runs as the README says, with the tiny random
model in place of SmolLM2 and two items per run, so that it takes seconds per step."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def fresh_clone(dest: Path) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and this project as a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not in a clone of it
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def newcomer_env(clone: Path, **extra) -> dict:
    """The environment of someone who cloned the project and read only its README: no RRM_DATA,
    no RRM_ROOT (the checkout is the project root), the clone's rrmlib on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("RRM_DATA", "RRM_ROOT", "PYTHONPATH")}
    return {**env, "PYTHONPATH": str(clone), "TOKENIZERS_PARALLELISM": "false", **extra}


@pytest.mark.slow
def test_the_cpu_sweep_runs_from_a_fresh_clone_without_shared_data(tmp_path, tiny_model_dir):
    import json

    clone = fresh_clone(tmp_path / "clone")
    assert not (clone.parent / "shared").exists() and not (clone / "data").exists()
    sweep = ["sweep", "params/sweeps/paper-cpu.yaml"]
    rrm = [sys.executable, "-m", "rrmlib.cli"]
    where = subprocess.run([sys.executable, "-c", "import rrmlib; print(rrmlib.__file__)"], cwd=clone,
                           env=newcomer_env(clone), capture_output=True, text=True, check=True).stdout
    assert Path(where.strip()).is_relative_to(clone)  # the clone's own library, with its own data

    # A data folder without the sets is refused before anything is judged, naming what is missing.
    empty = tmp_path / "empty-data"
    empty.mkdir()
    refused = subprocess.run(rrm + sweep, cwd=clone, env=newcomer_env(clone, RRM_DATA=str(empty)),
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "llmbar" in refused.stderr and str(empty) in refused.stderr
    assert not (clone / "runs").exists()  # no run folder, no store: nothing started

    judge = ["-p", "model", str(tiny_model_dir), "-p", "max_new_tokens", "4", "-p", "limit", "2"]
    ran = subprocess.run(rrm + sweep + judge, cwd=clone, env=newcomer_env(clone), capture_output=True, text=True,
                         timeout=900)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert ran.stdout.count(": done: ") == 5 and "sweep: 5 run, 0 already complete, 0 failed" in ran.stdout
    metas = [json.loads(p.read_text()) for p in (clone / "runs").glob("*/meta.json")]
    assert sorted(m["notebook"] for m in metas) == ["elo_accuracy", "elo_rival", "knockout", "pairwise", "pairwise"]
    [llmbar] = [m for m in metas if m["params"].get("dataset") == "llmbar"]
    assert llmbar["data"]["source"] == [str(clone / "rrmlib" / "data" / "shipped" / "llmbar" / "Natural.json")]
    assert all(m["params"].get("data_path") is None for m in metas)
