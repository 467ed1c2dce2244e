"""``rrm``: run the notebooks headless.

    rrm run pairwise -f params/demo.yaml -p round 4
    rrm sweep params/sweeps/ppe-rounds.yaml   # every configuration not yet complete
    rrm params pairwise           # list a notebook's parameters
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from rrmlib import params as params_mod
from rrmlib import runs as runs_mod
from rrmlib.runs import run_id

def notebooks_dir() -> Path:
    """``notebooks/`` under the working directory, else beside the installed package (an
    editable install from a clone), so rrm also runs from another folder."""
    here = Path("notebooks")
    return here if here.is_dir() else Path(__file__).resolve().parents[1] / "notebooks"


def parse_value(text: str):
    """A ``-p`` value read as papermill reads it: True/False/None, int, float, else a string."""
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def merged_params(notebook: str, files: list[str], pairs: list[tuple[str, str]]) -> dict:
    """Parameters from YAML files in order, then ``-p`` pairs; later sources win."""
    given: dict = {}
    for f in files:
        with open(f) as fh:
            data = yaml.safe_load(fh) or {}
        if not isinstance(data, dict):
            raise params_mod.ParameterError(f"{f}: expected a mapping of parameter names to values")
        given.update(data)
    given.update({k: parse_value(v) for k, v in pairs})
    params_mod.check_names(notebook, given)
    return params_mod.check(notebook, given)


def notebook_source(notebook: str):
    """The notebook to execute, read from its paired ``.py`` (the reviewed source of truth)."""
    import jupytext

    py = notebooks_dir() / f"{notebook}.py"
    if not py.exists():
        raise SystemExit(f"no notebook {py}; run rrm from the project root")
    nb = jupytext.read(py)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def execute(notebook: str, p: dict, *, out_dir: str | None = None) -> Path:
    """Execute ``notebook`` with checked parameters into its run folder; the executed notebook's path.

    Starting removes the folder's ``meta.json`` and ``FAILED`` marker: the folder is complete only
    once this run writes its own ``meta.json`` (last). A run that fails (an error in a cell, a dead
    kernel, an interrupt) keeps its executed notebook, traceback included, for debugging, and
    leaves a ``FAILED`` file saying what happened, so neither a person nor ``rrm sweep`` takes the
    folder for a finished run; the error is raised again."""
    import papermill

    if out_dir is None:
        out_dir = p.get("out_dir") or str(Path("runs") / run_id(notebook, p))
    p = {**p, "out_dir": out_dir}
    output = Path(out_dir) / f"{notebook}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    for stale in (runs_mod.META, runs_mod.FAILED):
        (output.parent / stale).unlink(missing_ok=True)
    try:
        papermill.execute_notebook(notebook_source(notebook), str(output), parameters=p, kernel_name="python3",
                                   progress_bar=False, log_output=False)
    except BaseException as e:
        try:
            runs_mod.atomic_write(output.parent / runs_mod.FAILED, failure_text(notebook, output, e))
        except OSError as marker_error:  # the run's own error matters more; say why there is no marker
            print(f"rrm: could not mark {output.parent} as FAILED: {marker_error}", file=sys.stderr)
        raise
    return output


def failure_text(notebook: str, output: Path, e: BaseException) -> str:
    """What the ``FAILED`` marker says: the error, and where the executed notebook is."""
    import papermill

    if isinstance(e, papermill.PapermillExecutionError):
        what = f"the notebook failed in cell {e.exec_count}: {e.ename}: {e.evalue}"
    elif isinstance(e, KeyboardInterrupt):
        what = "interrupted"
    else:
        what = f"{type(e).__name__}: {e}".strip()
    return (f"{notebook} run FAILED: {what}\nexecuted notebook (with the traceback, if the kernel lived to write it): "
            f"{output}\nthis folder is not a finished run; rrm sweep runs it again\n")


def folder_of(notebook: str, p: dict) -> Path:
    """The run folder of checked parameters: ``out_dir``, else ``runs/<run-id>``."""
    return Path(p.get("out_dir") or Path("runs") / run_id(notebook, p))


def sweep_configs(path) -> list[tuple[str, dict]]:
    """``(notebook, parameters)`` for every configuration a sweep file lists.

    A sweep file names a ``notebook``, optional base parameter ``files`` and ``parameters``,
    then a ``grid`` (every combination of its lists) and/or ``runs`` (a list of mappings)."""
    import itertools

    with open(path) as fh:
        spec = yaml.safe_load(fh) or {}
    unknown = set(spec) - {"notebook", "files", "parameters", "grid", "runs"}
    if unknown:
        raise params_mod.ParameterError(f"{path}: unknown key(s) {sorted(unknown)}")
    notebook = spec.get("notebook")
    if notebook not in params_mod.SPECS:
        raise params_mod.ParameterError(f"{path}: 'notebook' must be one of {sorted(params_mod.SPECS)}, got {notebook!r}")
    base = {}
    for f in spec.get("files", []):
        with open(f) as fh:
            base.update(yaml.safe_load(fh) or {})
    base.update(spec.get("parameters") or {})
    grid = spec.get("grid") or {}
    scalar = [k for k, v in grid.items() if not isinstance(v, list)]
    if scalar:
        raise params_mod.ParameterError(f"{path}: grid values must be lists; {scalar} are not (put fixed values "
                                        f"under `parameters`)")
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())] if grid else []
    variants = combos + list(spec.get("runs") or [])
    configs = []
    for n, variant in enumerate(variants or [{}]):
        given = {**base, **variant}
        try:
            params_mod.check_names(notebook, given)
            configs.append((notebook, params_mod.check(notebook, given)))
        except params_mod.ParameterError as e:
            raise params_mod.ParameterError(f"{path}: configuration {n + 1} ({variant}): {e}") from None
    folders = [p.get("out_dir") or run_id(notebook, p) for _, p in configs]
    if len(set(folders)) < len(folders):
        raise params_mod.ParameterError(f"{path}: several configurations would share one run folder (is out_dir "
                                        f"set in `parameters`? leave it out, each run gets runs/<run-id>)")
    return configs


def sweep(path) -> int:
    """Run each configuration of a sweep whose run folder is not complete; 0 when all succeed."""
    import papermill

    configs = sweep_configs(path)
    failed = skipped = 0
    for n, (notebook, p) in enumerate(configs, 1):
        out_dir = folder_of(notebook, p)
        label = f"[{n}/{len(configs)}] {out_dir}"
        if runs_mod.is_complete(out_dir):  # meta.json, written last, and no FAILED marker
            skipped += 1
            print(f"{label}: complete, skipped")
            continue
        print(f"{label}: running", flush=True)
        try:
            execute(notebook, p, out_dir=str(out_dir))
        except papermill.PapermillExecutionError as e:
            failed += 1
            print(f"{label}: FAILED in cell {e.exec_count}: {e.ename}: {e.evalue} (see {out_dir / runs_mod.FAILED})",
                  file=sys.stderr)
        except Exception as e:  # noqa: BLE001 - a dead kernel or a timeout fails this run, not the sweep
            failed += 1
            print(f"{label}: FAILED: {type(e).__name__}: {e} (see {out_dir / runs_mod.FAILED})", file=sys.stderr)
    print(f"sweep: {len(configs) - skipped - failed} run, {skipped} already complete, {failed} failed")
    return 1 if failed else 0


def print_summary(out_dir: Path) -> None:
    m = json.loads((out_dir / "metrics.json").read_text())
    meta = json.loads((out_dir / "meta.json").read_text())
    rows = [("all", m)] + sorted(m.get("subsets", {}).items())
    print(f"\n{'subset':<16}{'accuracy':>9}{'95% CI':>16}{'n':>6}{'unparseable':>13}{'cut off':>9}")
    for name, r in rows:
        acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.3f}"
        ci = "-" if r["ci_low"] is None else f"[{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
        print(f"{name:<16}{acc:>9}{ci:>16}{r['n']:>6}{r['unparseable']:>13.2f}{r['cut_off']:>9.2f}")
    if "sections" in m:
        print("\nRewardBench " + "  ".join(f"{k} {v:.3f}" for k, v in m["sections"].items()))
    if m.get("score") is not None:
        lo, hi = m["score_ci"]
        print(f"\nscore {m['score']:.4f} [{lo:.4f}, {hi:.4f}]: {m['score_name']}")
    rules = m.get("verdict_rules", {})
    for rule, r in sorted(rules.items(), key=lambda kv: kv[0] != "paper"):  # the paper's first
        if r["score"] is not None:
            print(f"  read by the {rule} verdict rule: {r['score']:.4f} (unparseable {r['unparseable']:.2f})")
    protocol = meta.get("protocol", {})
    if protocol.get("deviations"):
        print("departs from the paper's protocol in:", ", ".join(f"{k}={v!r}" for k, v in protocol["deviations"].items()))
    c = meta["completions"]
    print(f"\ncompletions: {c['generated']} generated, {c['reused']} reused from the store")
    for w in m.get("warnings", []):
        print(f"WARNING: {w}", file=sys.stderr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="rrm", description="Run rrm-notebooks headless.")
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute a notebook with parameters")
    run.add_argument("notebook", choices=sorted(params_mod.SPECS))
    run.add_argument("-f", "--parameters-file", action="append", default=[], metavar="YAML")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    sw = sub.add_parser("sweep", help="run every configuration of a sweep file that is not yet complete")
    sw.add_argument("file")
    show = sub.add_parser("params", help="list a notebook's parameters")
    show.add_argument("notebook", choices=sorted(params_mod.SPECS))
    args = ap.parse_args(argv)

    if args.command == "params":
        spec = params_mod.SPECS[args.notebook]
        width = max(map(len, spec)) + 2
        for name, p in spec.items():
            choices = f" {list(p.choices)}" if p.choices else ""
            print(f"{name:<{width}}{p.default!r:<18}{p.help}{choices}")
        return 0

    if args.command == "sweep":
        try:
            return sweep(args.file)
        except params_mod.ParameterError as e:
            print(f"rrm: {e}", file=sys.stderr)
            return 2

    try:
        p = merged_params(args.notebook, args.parameters_file, args.parameter)
    except params_mod.ParameterError as e:
        print(f"rrm: {e}", file=sys.stderr)
        return 2
    import papermill

    try:
        output = execute(args.notebook, p)
    except papermill.PapermillExecutionError as e:
        print(f"rrm: the notebook failed in cell {e.exec_count}: {e.ename}: {e.evalue}", file=sys.stderr)
        executed = folder_of(args.notebook, p) / f"{args.notebook}.ipynb"
        print(f"rrm: the executed notebook, with the traceback: {executed} (the folder is marked {runs_mod.FAILED})",
              file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - a dead kernel, a timeout: said in one line, marked FAILED
        print(f"rrm: the run failed: {type(e).__name__}: {e} (the folder {folder_of(args.notebook, p)} is marked "
              f"{runs_mod.FAILED})", file=sys.stderr)
        return 1
    if args.notebook == "pairwise":
        print_summary(output.parent)
    else:
        metrics = json.loads((output.parent / "metrics.json").read_text())
        print()
        for key, value in metrics.items():
            if isinstance(value, (str, int, float, type(None))):
                print(f"{key:<28}{value:.4g}" if isinstance(value, float) else f"{key:<28}{value}")
    print(f"\nexecuted notebook: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
