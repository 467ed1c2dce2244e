"""``rrm``: run the notebooks headless.

    rrm run pairwise -f params/demo.yaml -p round 4
    rrm sweep params/sweeps/paper.yaml -f params/judges/rrm-7b.yaml   # every configuration not yet complete
    rrm report params/sweeps/paper.yaml       # the paper's tables from its runs
    rrm params pairwise           # list a notebook's parameters
"""
from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from pathlib import Path

from rrmlib import params as params_mod
from rrmlib import runs as runs_mod
from rrmlib.sweeps import folder_of, parse_value, record_sweep, sweep_configs, sweep_index  # noqa: F401 (API)

def notebooks_dir() -> Path:
    """``notebooks/`` under the working directory, else beside the installed package (an
    editable install from a clone), so rrm also runs from another folder."""
    here = Path("notebooks")
    return here if here.is_dir() else Path(__file__).resolve().parents[1] / "notebooks"


def merged_params(notebook: str, files: list[str], pairs: list[tuple[str, str]]) -> dict:
    """Parameters from YAML files in order, then ``-p`` pairs; later sources win."""
    given: dict = {}
    for f in files:
        given.update(params_mod.load_file(f))
    given.update({k: parse_value(v) for k, v in pairs})
    params_mod.check_names(notebook, given)
    # Paths typed here mean the shell's folder; defaults (the store) stay the project's, resolved
    # in the notebook against its root, so `rrm run` and `rrm sweep` share one store wherever run.
    return params_mod.check(notebook, params_mod.resolve_paths(given, Path.cwd()))


def notebook_source(notebook: str):
    """The notebook to execute, read from its paired ``.py`` (the reviewed source of truth)."""
    import jupytext

    py = notebooks_dir() / f"{notebook}.py"
    if not py.exists():
        raise SystemExit(f"no notebook {py}; run rrm from the project root")
    nb = jupytext.read(py)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _stream_output() -> None:
    """Show what the notebook prints while it runs (its progress bars included), on stderr:
    papermill logs each output as it arrives under the "papermill" logger."""
    import logging

    class Cells(logging.Filter):
        """Papermill's "Executing Cell 7-----" as a short marker; its "Ending Cell" lines dropped."""

        def filter(self, record):
            text = record.getMessage()
            if text.startswith("Ending Cell"):
                return False
            if text.startswith("Executing Cell"):
                record.msg, record.args = f"[cell {text.split()[2].rstrip('-')}]", ()
            return True

    log = logging.getLogger("papermill")
    if not any(getattr(h, "_rrm", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(Cells())
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._rrm = True
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the run is, so that it ends as an interrupt (Ctrl-C) does:
    its kernel shut down, its folder marked FAILED."""


@contextlib.contextmanager
def _signals_as_interrupts():
    def stop(signum, frame):
        raise Terminated(signal.Signals(signum).name)

    try:
        old = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    except ValueError:  # not the main thread: signals stay as they are
        yield
        return
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def execute(notebook: str, p: dict, *, out_dir: str | None = None, progress: bool = False,
            claim: runs_mod.Claim | None = None) -> Path:
    """Execute ``notebook`` with checked parameters into its run folder; the executed notebook's path.

    The folder is claimed first (``runs.Claim``; pass one already held, else this waits while
    another process runs the same folder), and must be new, empty or a run folder
    (``runs.check_folder``). Starting removes the folder's ``meta.json`` and ``FAILED`` marker:
    the folder is complete only once this run writes its own ``meta.json`` (last). A run that
    fails (an error in a cell, a dead kernel, Ctrl-C, SIGTERM, SIGHUP) keeps its executed
    notebook, traceback included, for debugging, and leaves a ``FAILED`` file saying what
    happened, so neither a person nor ``rrm sweep`` takes the folder for a finished run; the
    error is raised again."""
    import papermill

    if out_dir is None:
        out_dir = str(folder_of(notebook, p))
    p = {**p, "out_dir": out_dir}
    folder = Path(out_dir)
    output = folder / f"{notebook}.ipynb"
    own = claim is None
    if own:
        claim = runs_mod.Claim(folder)
        if not claim.acquire(wait=False):
            print(f"rrm: {folder} is being run by {claim.holder()}; waiting for it to finish", file=sys.stderr)
            claim.acquire(wait=True)
    try:
        for stale in (runs_mod.META, runs_mod.FAILED):
            (folder / stale).unlink(missing_ok=True)
        with _signals_as_interrupts():
            try:
                if progress:
                    _stream_output()
                papermill.execute_notebook(notebook_source(notebook), str(output), parameters=p,
                                           kernel_name="python3", progress_bar=False, log_output=progress)
            except BaseException as e:
                try:
                    runs_mod.atomic_write(folder / runs_mod.FAILED, failure_text(notebook, output, e))
                except OSError as marker_error:  # the run's own error matters more; say why there is no marker
                    print(f"rrm: could not mark {folder} as FAILED ({marker_error}); its meta.json is gone, so it "
                          f"does not pass for finished either", file=sys.stderr)
                raise
    finally:
        if own:
            claim.release()
    return output


def failure_text(notebook: str, output: Path, e: BaseException) -> str:
    """What the ``FAILED`` marker says: the error, and where the executed notebook is."""
    import papermill

    if isinstance(e, papermill.PapermillExecutionError):
        what = f"the notebook failed in cell {e.exec_count}: {e.ename}: {e.evalue}"
    elif isinstance(e, Terminated):
        what = f"terminated ({e})"
    elif isinstance(e, KeyboardInterrupt):
        what = "interrupted"
    else:
        what = f"{type(e).__name__}: {e}".strip()
    return (f"{notebook} run FAILED: {what}\nexecuted notebook (with the traceback, if the kernel lived to write it): "
            f"{output}\nthis folder is not a finished run; rrm sweep runs it again\n")


def _marker_note(folder: Path) -> str:
    """Where a failed run's FAILED marker is, or that there is none (a full disk)."""
    marker = folder / runs_mod.FAILED
    return f"see {marker}" if marker.exists() else f"no {runs_mod.FAILED} marker could be written in {folder}"


def preflight(notebook: str, p: dict, made: set = frozenset()) -> None:
    """What can be checked before a kernel starts, so that a run that cannot work fails in a
    second, leaving nothing behind: the dataset names a source this notebook reads, and takes
    the options the run gives (``round`` only for a dataset with rounds); every file or folder a
    parameter names exists, except inside ``made`` (the folders an earlier step of a sweep
    makes); the run folder is new, empty or a run folder."""
    import glob

    from rrmlib import data

    try:
        if notebook == "pairwise":
            data.check_source(p["dataset"], "pair", **data.pair_options(p))
        elif notebook in ("elo_rival", "knockout", "elo_accuracy"):
            data.check_source(p["dataset"], "candidate", **({"path": p["data_path"]} if p["data_path"] else {}))
    except (ValueError, TypeError) as e:
        raise params_mod.ParameterError(f"{notebook}: {e}") from None
    for name in sorted(params_mod.PATH_PARAMS - {"out_dir", "store"}):
        values = p.get(name)
        for value in ([values] if isinstance(values, str) else values or []):
            path = Path(value)
            if not path.exists() and not glob.glob(value) and not any(path.is_relative_to(m) for m in made):
                raise params_mod.ParameterError(f"{notebook}: {name}: {params_mod.short(value)}: no such file or "
                                                f"folder")
    try:
        runs_mod.check_folder(folder_of(notebook, p))
    except runs_mod.RunFolderError as e:
        raise params_mod.ParameterError(str(e)) from None


def sweep(path, files: list[str] = (), pairs: list[tuple[str, str]] = ()) -> int:
    """Run each configuration of a sweep whose run folder is not complete; 0 when all succeed.

    Every configuration is checked (``preflight``) before the first one runs. A configuration
    another process is running (another sweep of the same file) is left for later, as is any
    that refers to its folder; at the end this sweep waits for each, and runs it only if the
    other process did not finish it."""
    configs = sweep_configs(path, files, pairs)
    folders = [folder_of(nb, p) for nb, p in configs]
    for n, (notebook, p) in enumerate(configs):
        try:
            preflight(notebook, p, made=set(folders[:n]))
        except params_mod.ParameterError as e:
            raise params_mod.ParameterError(f"{path}: configuration {n + 1} of {len(configs)}: {e}") from None
    record_sweep(path, folders)
    counts = dict.fromkeys(("run", "complete", "failed", "by_other"), 0)
    later: list[tuple[int, runs_mod.Claim]] = []
    for n, (notebook, p) in enumerate(configs, 1):
        label = f"[{n}/{len(configs)}] {notebook} {folders[n - 1]}"
        if runs_mod.is_complete(folders[n - 1]):  # meta.json, written last, and no FAILED marker
            counts["complete"] += 1
            print(f"{label}: complete, skipped")
            continue
        claim = runs_mod.Claim(folders[n - 1])
        waits_on = [str(folders[k - 1]) for k, _ in later]
        if any(w in json.dumps(p) for w in waits_on):
            later.append((n, claim))
            print(f"{label}: uses the folder of a configuration another process is running; after it", flush=True)
            continue
        if not claim.acquire(wait=False):
            later.append((n, claim))
            print(f"{label}: being run by {claim.holder()}; coming back to it at the end", flush=True)
            continue
        counts[_sweep_one(label, notebook, p, folders[n - 1], claim)] += 1
    for n, claim in later:
        notebook, p = configs[n - 1]
        label = f"[{n}/{len(configs)}] {notebook} {folders[n - 1]}"
        if not claim.acquire(wait=False):
            print(f"{label}: waiting for {claim.holder()} to finish it", flush=True)
            claim.acquire(wait=True)
        if runs_mod.is_complete(folders[n - 1]):
            claim.release()
            counts["by_other"] += 1
            print(f"{label}: completed by the other process, skipped", flush=True)
            continue
        counts[_sweep_one(label, notebook, p, folders[n - 1], claim)] += 1
    if counts["complete"] + counts["by_other"] == len(configs) and not counts["by_other"]:
        print(f"sweep: nothing to run: all {len(configs)} configurations are complete")
    else:
        other = f", {counts['by_other']} completed by another process" if counts["by_other"] else ""
        print(f"sweep: {counts['run']} run, {counts['complete']} already complete{other}, {counts['failed']} failed")
    return 1 if counts["failed"] else 0


def _sweep_one(label: str, notebook: str, p: dict, out_dir: Path, claim: runs_mod.Claim) -> str:
    """Run one claimed configuration of a sweep, saying how it ended; "run" or "failed"."""
    import papermill

    print(f"{label}: running", flush=True)
    try:
        execute(notebook, p, out_dir=str(out_dir), progress=True, claim=claim)
    except papermill.PapermillExecutionError as e:
        print(f"{label}: FAILED in cell {e.exec_count}: {e.ename}: {e.evalue} ({_marker_note(out_dir)})",
              file=sys.stderr)
        return "failed"
    except Exception as e:  # noqa: BLE001 - a dead kernel or a timeout fails this run, not the sweep
        print(f"{label}: FAILED: {type(e).__name__}: {e} ({_marker_note(out_dir)})", file=sys.stderr)
        return "failed"
    finally:
        claim.release()
    print(f"{label}: done: {headline(notebook, out_dir)}", flush=True)
    return "run"


def headline(notebook: str, folder) -> str:
    """One line of a finished run's numbers, for the sweep's log."""
    m = json.loads((Path(folder) / "metrics.json").read_text())
    if notebook == "pairwise":
        lo, hi = m["score_ci"] if m.get("score") is not None else (None, None)
        score = "n/a" if m.get("score") is None else f"{m['score']:.3f} [{lo:.3f}, {hi:.3f}]"
        return f"score {score} ({m['score_name']}), unparseable {m['unparseable']:.2f}"
    if notebook == "elo_accuracy":
        elo = {k: v for k, v in m["methods"].items() if k.startswith("ELO (")}
        return ", ".join(f"{k} {v['accuracy']:.3f}" for k, v in elo.items()) + f" over {m['questions']} questions"
    if notebook == "knockout":
        acc = "n/a" if m.get("accuracy") is None else f"{m['accuracy']:.3f}"
        return f"{m['format']} accuracy {acc}, {m['judgments_per_question']:.1f} judgments per question"
    if notebook == "elo_rival":
        return f"{m['matches']} matches, {m['judgments']} judgments, unparseable {m['unparseable']:.2f}"
    return f"{len(m.get('cells', []))} cells"


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
    sw.add_argument("-f", "--parameters-file", action="append", default=[], metavar="YAML",
                    help="parameters for every step that takes them (a judge: params/judges/*.yaml)")
    sw.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    rep = sub.add_parser("report", help="the paper's tables from a sweep's runs or from run folders")
    rep.add_argument("sources", nargs="*", metavar="SWEEP_OR_RUN",
                     help="sweep files (.yaml) and run folders (or folders of runs); none: runs/")
    rep.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
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
            return sweep(args.file, args.parameters_file, args.parameter)
        except params_mod.ParameterError as e:
            print(f"rrm: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt as e:  # the run in progress is marked FAILED; the next sweep resumes
            print(f"rrm: sweep {'terminated (' + str(e) + ')' if isinstance(e, Terminated) else 'interrupted'}",
                  file=sys.stderr)
            return 143 if isinstance(e, Terminated) else 130

    if args.command == "report":
        sweeps = [x for x in args.sources if x.endswith((".yaml", ".yml"))]
        folders = [x for x in args.sources if not x.endswith((".yaml", ".yml"))]
        if len(sweeps) > 1:
            print("rrm: report takes one sweep file (and any number of run folders)", file=sys.stderr)
            return 2
        args.notebook, args.parameters_file = "report", []
        args.parameter = ([("sweep", sweeps[0])] if sweeps else []) + list(args.parameter)
        given_runs = folders or None
    else:
        given_runs = None

    try:
        p = merged_params(args.notebook, args.parameters_file, args.parameter)
        if given_runs is not None:  # folders typed here mean the shell's folder
            p = params_mod.check("report", {**p, "runs": [str(Path(f).resolve()) for f in given_runs]})
        preflight(args.notebook, p)
    except params_mod.ParameterError as e:
        print(f"rrm: {e}", file=sys.stderr)
        return 2
    import papermill

    folder = folder_of(args.notebook, p)
    try:
        output = execute(args.notebook, p, progress=True)
    except papermill.PapermillExecutionError as e:
        print(f"rrm: the notebook failed in cell {e.exec_count}: {e.ename}: {e.evalue}", file=sys.stderr)
        print(f"rrm: the executed notebook, with the traceback: {folder / (args.notebook + '.ipynb')} "
              f"({_marker_note(folder)})", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        print(f"rrm: {'terminated (' + str(e) + ')' if isinstance(e, Terminated) else 'interrupted'} "
              f"({_marker_note(folder)})", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    except Exception as e:  # noqa: BLE001 - a dead kernel, a timeout: said in one line, marked FAILED
        print(f"rrm: the run failed: {type(e).__name__}: {e} ({_marker_note(folder)})", file=sys.stderr)
        return 1
    if args.notebook == "pairwise":
        print_summary(output.parent)
    elif args.notebook == "report":
        print("\n" + (output.parent / "table.md").read_text())
        print(f"LaTeX: {output.parent / 'table.tex'}  CSV: {output.parent / 'table.csv'}")
    else:
        print_bestofn_summary(args.notebook, output.parent)
    print(f"\nexecuted notebook: {output}")
    return 0


def print_bestofn_summary(notebook: str, folder: Path) -> None:
    """The headline numbers of an elo_rival, elo_accuracy or knockout run."""
    m = json.loads((folder / "metrics.json").read_text())
    print()
    if notebook == "elo_accuracy":
        print(f"{'method':<34}{'accuracy':>9}{'95% CI':>18}{'n':>6}{'judgments/q':>13}")
        for name, r in m["methods"].items():
            ci = "-" if r["ci_low"] is None else f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
            jpq = "-" if r["judgments_per_question"] is None else f"{r['judgments_per_question']:.1f}"
            print(f"{name:<34}{r['accuracy']:>9.3f}{ci:>18}{r['n']:>6}{jpq:>13}")
        print(f"\n{m['questions']} questions; ELO and Bradley-Terry agree on the pick for {m['elo_bt_agreement']}")
    else:
        print(headline(notebook, folder))
        keys = ("questions", "matches", "judgments", "judge_calls", "reasks", "unparseable", "cut_off", "coin_flips",
                "draws", "slot1_share")
        print("  ".join(f"{k} {m[k]:.3g}" if isinstance(m.get(k), float) else f"{k} {m.get(k)}" for k in keys if k in m))
        for name, value in (m.get("baselines") or {}).items():
            print(f"  baseline {name}: {value:.3f}")


if __name__ == "__main__":
    sys.exit(main())
