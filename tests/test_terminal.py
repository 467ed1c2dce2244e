"""What a run prints in a terminal (issue 21, item 3): what runs, its progress, the headline and
where the results are; not a warning per parameter, not reprs of displayed objects, not widget or
kernel warnings. Runs are real `rrm run` subprocesses on the tiny random model."""
import json
import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

NOISE = ("Passed unknown parameter", "<IPython.core.display", "TqdmWarning", "IProgress", "[IPKernelApp]",
         "without encryption", "Loading weights", "Executing Cell", "Input Notebook", "<Figure size")


def rrm(tmp_path, *argv):
    return subprocess.run([sys.executable, "-m", "rrmlib.cli", *argv], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "RRM_ROOT": str(tmp_path)})


def judge(tmp_path, model):
    return ["-p", "model", str(model), "-p", "max_new_tokens", "4", "-p", "reasoning", "false",
            "-p", "store", str(tmp_path / "j.sqlite")]


def test_a_pairwise_run_prints_what_a_person_needs(tmp_path, tiny_model_dir):
    done = rrm(tmp_path, "run", "pairwise", "-p", "limit", "4", *judge(tmp_path, tiny_model_dir))
    assert done.returncode == 0, done.stderr[-3000:]
    text = done.stdout + done.stderr
    assert not [n for n in NOISE if n in text], ([n for n in NOISE if n in text], text)
    # progress comes from the judge's bar (on stderr, redrawn in place: \r, read here as new lines)
    assert "judging:" in done.stderr and "| 4/4 [" in done.stderr
    out = done.stdout.splitlines()
    # before the judge starts: the parameters given, the run folder, the pairs, the judge
    before = out[:next(i for i, line in enumerate(out) if line.startswith("judge: "))]
    assert len(before) <= 4, before
    assert before[0].startswith("pairwise parameters given: limit=4, ") and "store=" in before[0]
    assert any(line.startswith("run folder: ") for line in before)
    # the judge given is the judge that ran (not the embedded default in its place)
    folder = next(line.split(": ", 1)[1] for line in before if line.startswith("run folder: "))
    meta = json.loads((tmp_path / folder / "meta.json").read_text())  # an absolute folder stays itself
    assert meta["params"]["model"] == str(tiny_model_dir) and meta["judge"]["backend"] == "hf"
    assert "4 pairs to judge from 'demo'" in before
    assert re.search(r"^score \d\.\d{4} \[", done.stdout, re.M)  # the headline
    assert out[-1].startswith("executed notebook: ") and out[-1].endswith("pairwise.ipynb")
    assert len(out) <= 25, done.stdout


def test_the_best_of_n_notebooks_and_the_report_are_as_quiet(tmp_path, tiny_model_dir):
    rival = rrm(tmp_path, "run", "elo_rival", "-p", "limit", "2", "-p", "batch_size", "24",
                *judge(tmp_path, tiny_model_dir))
    assert rival.returncode == 0, rival.stderr[-3000:]
    knockout = rrm(tmp_path, "run", "knockout", "-p", "limit", "2", "-p", "batch_size", "24",
                   *judge(tmp_path, tiny_model_dir))
    assert knockout.returncode == 0, knockout.stderr[-3000:]
    report = rrm(tmp_path, "report")
    assert report.returncode == 0, report.stderr[-3000:]
    for done in (rival, knockout, report):
        text = done.stdout + done.stderr
        assert not [n for n in NOISE if n in text], ([n for n in NOISE if n in text], text)
        assert done.stdout.splitlines()[-1].startswith("executed notebook: ")
