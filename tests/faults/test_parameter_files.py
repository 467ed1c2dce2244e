"""Parameter files and values from outside (fault suite, issue 20 items 2, 3 and 7).

- **Injection.** papermill writes a parameter value of a type other than JSON's (a tuple from
  YAML's ``!!pairs``, a set, bytes) into the notebook's code as ``str(value)`` between quotes,
  which a crafted value breaks out of. Each payload here would run ``os.system`` on an unguarded
  notebook (it does on papermill alone: ``test_the_payloads_do_break_out_of_papermills_code``);
  through ``rrm run -f``, ``rrm sweep`` and ``papermill -f`` it must not, and the error names the
  file and line (rrm) or the injected cell (papermill).
- **Files that hang or mislead.** Nested aliases, syntax errors, empty grids, duplicate names
  and keys, ``files:`` as a string, a grid too large to expand.
- **Checks that come late.** Values a run cannot use are refused before a kernel starts: no run
  folder appears, and the message is short.
"""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from rrmlib import cli
from rrmlib.cli import notebook_source, sweep_configs
from rrmlib.params import ParameterError, load_file

# Each payload is YAML whose value papermill turns into code that runs `touch MARKER`.
PAYLOADS = {
    "pairs in a list": 'subsets: !!pairs [{a: \'x"]; import os; os.system("touch MARKER"); y = ["\'}]',
    "set": 'subsets: !!set {\'x"; import os; os.system("touch MARKER"); y = "\': null}',
    "pairs in a mapping": 'fields: {prompt: !!pairs [{a: \'x"]}; import os; os.system("touch MARKER"); y = {"k": ["\'}]}',
    "binary in a list": "subsets: [!!binary {b64}]",
}


def payload(name: str, marker: Path) -> str:
    import base64

    text = PAYLOADS[name].replace("MARKER", str(marker))
    if "{b64}" in text:
        raw = f'x"]; import os; os.system("touch {marker}"); y = ["'.encode()
        text = text.replace("{b64}", base64.b64encode(raw).decode())
    return "dataset: demo\n" + text + "\n"


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A project root of its own: a run that starts would make runs/ here."""
    monkeypatch.setenv("RRM_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", PAYLOADS)
def test_the_payloads_do_break_out_of_papermills_code(name, tmp_path):
    """The threat is real: papermill's own translation of each payload's value is code that runs
    `touch` (checked by running that code here, not in a notebook)."""
    from papermill.translators import PythonTranslator

    marker = tmp_path / "pwned"
    values = yaml.safe_load(payload(name, marker))
    code = PythonTranslator.codify(values)
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, timeout=60)
    assert marker.exists(), code


@pytest.mark.parametrize("name", PAYLOADS)
def test_rrm_run_refuses_tagged_yaml_naming_the_line(name, root, capsys):
    marker = root / "pwned"
    f = root / "evil.yaml"
    f.write_text(payload(name, marker))
    assert cli.main(["run", "pairwise", "-f", str(f)]) == 2
    err = capsys.readouterr().err
    assert f"{f}:2:" in err and "plain JSON" in err and len(err.splitlines()) == 1
    assert not marker.exists() and not (root / "runs").exists()


@pytest.mark.parametrize("name", PAYLOADS)
def test_rrm_sweep_refuses_tagged_yaml_in_its_files_and_in_itself(name, root, capsys):
    marker = root / "pwned"
    evil = root / "evil.yaml"
    evil.write_text(payload(name, marker))
    by_file = root / "by-file.yaml"
    by_file.write_text(f"notebook: pairwise\nfiles: [{evil}]\n")
    inline = root / "inline.yaml"
    inline.write_text("notebook: pairwise\nparameters:\n" + textwrap.indent(payload(name, marker), "  "))
    for sweep in (by_file, inline):
        assert cli.main(["sweep", str(sweep)]) == 2
        err = capsys.readouterr().err
        assert "plain JSON" in err and len(err.splitlines()) == 1, err
    assert not marker.exists() and not (root / "runs").exists()


@pytest.mark.parametrize("name", ["pairs in a list", "pairs in a mapping"])  # papermill refuses sets and bytes
def test_papermill_alone_never_runs_the_injected_code(name, tmp_path):
    """`papermill -f evil.yaml`: papermill reads and injects the file itself; the notebook's
    first cell (before the injected one) guards the injected cell, which raises instead of running."""
    import jupytext

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.yaml"
    evil.write_text(payload(name, marker))
    notebook = tmp_path / "pairwise.ipynb"
    jupytext.write(notebook_source("pairwise"), notebook)
    done = subprocess.run([sys.executable, "-m", "papermill", "-k", "python3", str(notebook), str(tmp_path / "out.ipynb"),
                           "-f", str(evil), "-p", "out_dir", str(tmp_path / "run")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and not marker.exists()
    assert "the injected parameters cell holds something other than a plain value" in done.stderr, done.stderr[-2000:]


def test_the_guard_passes_what_papermill_writes_for_plain_values():
    from papermill.translators import PythonTranslator

    from rrmlib.params import check_injected

    values = {"dataset": 'a "quoted" \\ name\nwith a newline', "limit": 3, "temperature": -0.5, "x": None,
              "flag": True, "subsets": ["a", "b"], "fields": {"prompt": "q", "first": "x"}, "nan": float("nan"),
              "inf": float("-inf"), "nested": [{"k": [1, 2.5, None]}]}
    check_injected(PythonTranslator.codify(values))  # no error
    for code in ("x = 1\nimport os\n", "x = [1, f()]\n", "x = {1: 2}\n", "x = (1, 2)\n", "x = 1 + 1\n", "x: int = 1\n",
                 "x = float('nan'); os.system('x')\n", "x = __import__('os')\n"):
        with pytest.raises(ParameterError, match="plain value"):
            check_injected("# Parameters\n" + code)


# -- files that hang or mislead ----------------------------------------------------------------------

BILLION_LAUGHS = "\n".join(["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                           + [f"{c}: &{c} [{', '.join(['*' + p] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")]
                           + ["subsets: *i"]) + "\n"


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_nested_aliases_are_refused_at_once(command, tmp_path):
    """A 1 KB file that expands to 9^9 values: refused while reading (the subprocess's timeout
    only stops a hang from hanging the suite; nothing here measures time)."""
    assert len(BILLION_LAUGHS) < 1200
    f = tmp_path / "laughs.yaml"
    f.write_text(BILLION_LAUGHS if command == "run" else "notebook: pairwise\nparameters:\n"
                 + textwrap.indent(BILLION_LAUGHS, "  "))
    argv = [sys.executable, "-m", "rrmlib.cli", command] + (["pairwise", "-f", str(f)] if command == "run" else [str(f)])
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "RRM_ROOT": str(tmp_path)})
    assert done.returncode == 2 and "aliases" in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr


def test_a_yaml_syntax_error_names_file_line_and_column_in_one_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("dataset: demo\nlimit: 4\norder: [both\n")
    done = subprocess.run([sys.executable, "-m", "rrmlib.cli", "run", "pairwise", "-f", str(f)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "RRM_ROOT": str(tmp_path)})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"rrm: {f}:4:1: ") and len(done.stderr.splitlines()) == 1, done.stderr


@pytest.mark.parametrize("text, message", [
    ("notebook: pairwise\ngrid: {seed: []}\n", "seed: an empty list selects no configuration"),
    ("notebook: pairwise\nruns: []\n", "runs: an empty list selects no configuration"),
    ("steps:\n- {notebook: pairwise, name: a}\n- {notebook: pairwise, name: a, parameters: {seed: 1}}\n",
     "step name 'a' is used twice"),
    ("notebook: pairwise\nparameters: {limit: 2}\nparameters: {limit: 3}\n", "key 'parameters' is given twice"),
    ("notebook: pairwise\nparameters: {limit: 2, seed: 1, limit: 3}\n", "key 'limit' is given twice"),
    ("notebook: pairwise\ngrid: {seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], limit: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "
     "votes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], temperature: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}\n",
     "11,000 configurations"),
    ("notebook: pairwise\nparameters: {limit: !foo 3}\n", "!foo"),
    ("notebook: pairwise\nparameters: {subsets: {1: a}}\n", "keys must be text"),
    ("notebook: pairwise\ngrid: 3\n", "'grid' must be a mapping"),
    ("notebook: pairwise\nfiles: {a: b}\n", "'files' must be a list"),
    ("- notebook: pairwise\n", "expected a mapping"),
])
def test_sweep_files_that_would_mislead_are_refused(text, message, tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(text)
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace("[", r"\[")):
        sweep_configs(f)


def test_a_duplicate_key_error_names_both_lines(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("dataset: demo\nlimit: 2\nseed: 1\nlimit: 3\n")
    with pytest.raises(ParameterError, match=rf"^{f}:4:1: .*key 'limit' is given twice \(first on line 2\)"):
        load_file(f)


def test_files_as_one_string_is_that_file(tmp_path):
    (tmp_path / "p.yaml").write_text("limit: 3\n")
    f = tmp_path / "s.yaml"
    f.write_text("notebook: pairwise\nfiles: p.yaml\n")
    [(_, p)] = sweep_configs(f)
    assert p["limit"] == 3


def test_dates_stay_text_as_papermill_reads_them(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("dataset: 2024-01-01\n")
    assert load_file(f) == {"dataset": "2024-01-01"}


# -- checks that come late -----------------------------------------------------------------------------

@pytest.mark.parametrize("pairs, message", [
    ([("seed", "-1")], "'seed' must be >= 0"),
    ([("top_p", "-3")], "'top_p' must be > 0 and <= 1"),
    ([("top_p", "0")], "'top_p' must be > 0 and <= 1"),
    ([("top_p", "1.5")], "'top_p' must be > 0 and <= 1"),
    ([("gpu_memory_utilization", "7")], "'gpu_memory_utilization' must be > 0 and <= 1"),
    ([("temperature", "nan")], "must be a finite number"),
    ([("round", "7")], "'round' must be >= 1 and <= 5"),
    ([("round", "2")], "'demo' has a single round; drop `round` or set it to 1"),
    ([("dataset", "nosuch")], "unknown pair source 'nosuch'"),
    ([("dataset", "x" * 1_000_000)], "a text of 1,000,000 characters"),
    ([("dataset", "gpqa"), ("data_path", "/no/such/copy.parquet")], "data_path: '/no/such/copy.parquet': no such"),
    ([("pairs_file", "nope.json"), ("dataset", "gpqa")], "pairs_file: "),
    ([("x" * 100_000, "1")], "unknown parameter(s) "),
    ([("backend", "openai"), ("base_url", "http://127.0.0.1:1/v1"), ("model", "m")],
     "the openai backend cannot tell whether 'm' thinks in <think> tags: pass reasoning=True"),
    ([("think_budgets", "[64]"), ("protocol", "plain")], "think_budgets works with the rrm protocol only"),
    ([("think_budgets", "[64]"), ("too_long", "shorten")], "think_budgets cannot be combined with too_long shorten"),
])
def test_rrm_run_refuses_before_a_kernel_starts(pairs, message, root, capsys):
    argv = ["run", "pairwise"]
    for name, value in pairs:
        argv += ["-p", name, value]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err) < 2000 and len(err.splitlines()) == 1, err[:3000]
    assert not (root / "runs").exists()  # no run folder, no FAILED marker, no store


@pytest.mark.parametrize("argv, message", [
    (["elo_rival", "-p", "dataset", "nosuch"], "unknown candidate source 'nosuch'"),
    (["elo_accuracy", "-p", "matches", "no/such/matches.parquet"], "matches: "),
    (["knockout", "-p", "records", "/no/records"], "records: '/no/records': no such"),
    (["elo_accuracy", "-p", "elo_base", "1"], "'elo_base' must be > 1"),
    (["knockout", "-p", "backend", "openai", "-p", "base_url", "http://127.0.0.1:1/v1", "-p", "model", "m"],
     "knockout: the openai backend cannot tell whether 'm' thinks"),
])
def test_other_notebooks_refuse_before_a_kernel_starts(argv, message, root, capsys):
    assert cli.main(["run", *argv]) == 2
    assert message in capsys.readouterr().err and not (root / "runs").exists()


def test_rrm_report_on_a_path_that_does_not_exist_is_an_error(root, capsys):
    assert cli.main(["report", str(root / "nope")]) == 2
    assert f"runs: '{root / 'nope'}': no such file or folder" in capsys.readouterr().err
    assert not (root / "runs").exists()


def test_a_sweep_checks_every_configuration_before_it_runs_any(root, capsys):
    f = root / "s.yaml"
    f.write_text("notebook: pairwise\nruns: [{dataset: demo, limit: 2}, {dataset: nosuch}]\n")
    assert cli.main(["sweep", str(f)]) == 2
    assert "configuration 2 of 2: pairwise: unknown pair source 'nosuch'" in capsys.readouterr().err
    assert not (root / "runs").exists()


def test_nested_values_are_type_checked(tmp_path):
    from rrmlib.params import check

    with pytest.raises(ParameterError, match=r"'subsets': \[1\] must be str, got int 3"):
        check("pairwise", {"subsets": ["a", 3]})
    with pytest.raises(ParameterError, match=r"'fields': \['prompt'\] must be str, got list"):
        check("pairwise", {"fields": {"prompt": ["q"]}})
    with pytest.raises(ParameterError, match=r"'think_budgets': \[0\] must be int"):
        check("pairwise", {"think_budgets": ["512"]})
    assert check("pairwise", {"subsets": ["a", "b"], "think_budgets": [8, 16]})["think_budgets"] == [8, 16]
