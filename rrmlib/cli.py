"""``rrm``: run the notebooks headless.

    rrm run pairwise -f params/demo.yaml -p round 4
    rrm sweep params/sweeps/paper.yaml -f params/judges/rrm-7b.yaml   # every configuration not yet complete
    rrm report params/sweeps/paper.yaml       # the paper's tables from its runs
    rrm runs [--clean]            # the run folders: finished, failed, unfinished, running
    rrm params pairwise           # list a notebook's parameters
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import json
import logging
import shutil
import signal
import sys
from pathlib import Path

from rrmlib import data, paper
from rrmlib import judge as judge_mod
from rrmlib import params as params_mod
from rrmlib import results
from rrmlib import runs as runs_mod
from rrmlib.metrics import tie_lines
from rrmlib.paths import CHECKOUT, project_root
from rrmlib.sweeps import folder_of, parse_value, record_sweep, sweep_configs


def notebooks_dir() -> Path:
    """``notebooks/`` under the working directory, else beside the installed package (an
    editable install from a clone), so rrm also runs from another folder."""
    here = Path("notebooks")
    return here if here.is_dir() else CHECKOUT / "notebooks"


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


class _Flushing:
    """A stream that flushes every write: the notebook's output reaches the terminal as it comes."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        self.stream.write(text)
        self.stream.flush()

    def flush(self):
        self.stream.flush()


class _KnownParameters(logging.Filter):
    """papermill warns about every parameter its parameters cell does not assign (ours assigns
    none: the defaults live in rrmlib.params); rrm has checked every name itself, strictly."""

    def filter(self, record):
        return not record.getMessage().startswith("Passed unknown parameter")


# The kernel's own log (not the notebook's output): only its errors reach the terminal. (It warns
# at every start that it talks over local TCP without encryption, as every Jupyter kernel does.)
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the run is, so that it ends as an interrupt (Ctrl-C) does:
    its kernel shut down, its folder marked FAILED."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stopped(e: KeyboardInterrupt) -> tuple[str, int]:
    """What stopped a run, said, and the exit status a shell gives it (128 + the signal)."""
    if isinstance(e, Terminated):
        return f"terminated ({e})", 128 + e.signum
    return "interrupted", 128 + signal.SIGINT


@contextlib.contextmanager
def _signals_as_interrupts():
    def stop(signum, frame):
        raise Terminated(signum)

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
    if out_dir is None:
        out_dir = str(folder_of(notebook, p))
    # Every value is passed (a value left out would be whatever the notebook's parameters cell
    # says, which JupyterLab may have changed), and is what the run must record, its paths
    # resolved as the notebook resolves them (`ran_as_asked`). The notebook prints those that
    # differ from its own defaults as the parameters given.
    p = {**p, "out_dir": out_dir}
    asked = params_mod.resolve_paths(p, project_root())
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
                log = logging.getLogger("papermill")
                if not any(isinstance(f, _KnownParameters) for f in log.filters):
                    log.addFilter(_KnownParameters())
                # What the notebook prints (its progress bars included) reaches the terminal as it
                # comes; what it displays (tables, figures) is the notebook's alone.
                streams = {"stdout_file": _Flushing(sys.stdout), "stderr_file": _Flushing(sys.stderr)} \
                    if progress else {}
                _execute_notebook(notebook, output, p, streams)
                ran_as_asked(folder, asked)
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


# A kernel that dies while starting, before it runs any cell, is started again: jupyter_client
# picks its ports as free and frees them again for the kernel to bind, so two kernels starting
# at once (two runs side by side) can pick the same port, and one dies ("Address already in use").
KERNEL_STARTS = 3


def _execute_notebook(notebook: str, output: Path, p: dict, streams: dict) -> None:
    """papermill's run of ``notebook``, its kernel started again where it died while starting
    (papermill's RuntimeError "Kernel died before replying to kernel_info": no cell had run)."""
    import papermill

    for start in range(1, KERNEL_STARTS + 1):
        try:
            papermill.execute_notebook(notebook_source(notebook), str(output), parameters=p, kernel_name="python3",
                                       progress_bar=False, log_output=False, extra_arguments=KERNEL_ARGUMENTS,
                                       **streams)
            return
        except RuntimeError as e:
            if "Kernel died before replying to kernel_info" not in str(e) or start == KERNEL_STARTS:
                raise
            print(f"rrm: the notebook's kernel died while starting ({e}); starting another "
                  f"({start + 1} of {KERNEL_STARTS})", file=sys.stderr)


def ran_as_asked(folder: Path, asked: dict) -> None:
    """Refuse a finished run whose ``meta.json`` records a parameter other than the one asked
    for: a value lost or changed between the command line and the notebook (the judge named, a
    seed, a value of the parameters cell) would otherwise give a finished run of something else,
    in a folder named for what was asked. Its ``meta.json`` is removed, so the folder does not
    pass for a finished run."""
    meta_file = folder / runs_mod.META
    if not meta_file.exists():
        return
    ran = json.loads(meta_file.read_text()).get("params", {})
    asked = json.loads(runs_mod.dump(asked))  # as meta.json holds values (lists, not tuples)
    differ = {k: (v, ran[k]) for k, v in asked.items() if k in ran and ran[k] != v}
    if differ:
        meta_file.unlink()
        raise RuntimeError("the notebook ran with other parameters than asked: " + "; ".join(
            f"{k}={was!r} where {want!r} was asked" for k, (want, was) in sorted(differ.items())))


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
    makes); the judge's parameters fit together (``judge.check_params``); the run folder is new,
    empty or a run folder."""
    try:
        if notebook == "pairwise":
            data.check_source(p["dataset"], "pair", **data.pair_options(p))
        elif notebook in ("elo_rival", "knockout", "elo_accuracy"):
            data.check_source(p["dataset"], "candidate", **({"path": p["data_path"]} if p["data_path"] else {}))
    except (ValueError, TypeError) as e:
        raise params_mod.ParameterError(f"{notebook}: {e}") from None
    if paper.judges(notebook, p):
        try:
            judge_mod.check_params(p)
        except params_mod.ParameterError as e:
            raise params_mod.ParameterError(f"{notebook}: {e}") from None
    for name, value in params_mod.input_paths(p):
        path = Path(value)
        if not path.exists() and not glob.glob(value) and not any(path.is_relative_to(m) for m in made):
            raise params_mod.ParameterError(f"{notebook}: {name}: {params_mod.short(value)}: no such file or folder")
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
    labels = [f"[{n}/{len(configs)}] {nb} {folder}" for n, ((nb, _), folder) in enumerate(zip(configs, folders), 1)]
    later: list[int] = []
    for n, (notebook, p) in enumerate(configs, 1):
        label = labels[n - 1]
        if runs_mod.is_complete(folders[n - 1]):  # meta.json, written last, and no FAILED marker
            counts["complete"] += 1
            print(f"{label}: complete, skipped")
            continue
        if _uses(p, [folders[k - 1] for k in later]):
            later.append(n)
            print(f"{label}: uses the folder of a configuration another process is running; after it", flush=True)
            continue
        claim = runs_mod.Claim(folders[n - 1])
        if not claim.acquire(wait=False):
            later.append(n)
            print(f"{label}: being run by {claim.holder()}; coming back to it at the end", flush=True)
            continue
        counts[_sweep_one(label, notebook, p, folders[n - 1], claim)] += 1
    for n in later:
        (notebook, p), label = configs[n - 1], labels[n - 1]
        claim = runs_mod.Claim(folders[n - 1])
        if not claim.acquire(wait=False):
            print(f"{label}: waiting for {claim.holder()} to finish it", flush=True)
            claim.acquire(wait=True)
        counts[_sweep_one(label, notebook, p, folders[n - 1], claim)] += 1
    if counts["complete"] == len(configs):
        print(f"sweep: nothing to run: all {len(configs)} configurations are complete")
    else:
        other = f", {counts['by_other']} completed by another process" if counts["by_other"] else ""
        print(f"sweep: {counts['run']} run, {counts['complete']} already complete{other}, {counts['failed']} failed")
    return 1 if counts["failed"] else 0


def _uses(p: dict, folders: list[Path]) -> bool:
    """Whether a configuration names a file or folder inside one of ``folders`` (a later step
    reading an earlier step's run folder, ``{run:NAME}``)."""
    return any(Path(value).is_relative_to(f) for _, value in params_mod.input_paths(p) for f in folders)


def _sweep_one(label: str, notebook: str, p: dict, out_dir: Path, claim: runs_mod.Claim) -> str:
    """Run one claimed configuration of a sweep, saying how it ended: "run", "failed", or
    "by_other" where another process finished it before this one held the claim."""
    import papermill

    if runs_mod.is_complete(out_dir):  # finished by the process that held the claim a moment ago
        claim.release()
        print(f"{label}: completed by the other process, skipped", flush=True)
        return "by_other"
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


def _result(notebook: str, folder):
    path = Path(folder) / "metrics.json"
    return results.read(notebook, json.loads(path.read_text()), where=str(path))


def headline(notebook: str, folder) -> str:
    """One line of a finished run's numbers, for the sweep's log."""
    r = _result(notebook, folder)
    if notebook == "pairwise":
        unparseable = "n/a" if r.overall.unparseable is None else f"{r.overall.unparseable:.2f}"
        return f"score {r.score.text()} ({r.score_name}), unparseable {unparseable}"
    if notebook == "elo_accuracy":
        elo = {k: v for k, v in r.methods.items() if k.startswith("ELO (")}
        return ", ".join(f"{k} {v.accuracy.text()}" for k, v in elo.items()) + f" over {r.questions} questions"
    if notebook == "knockout":
        per_question = "n/a" if r.judgments_per_question is None else f"{r.judgments_per_question:.1f}"
        return f"{r.format} accuracy {r.accuracy.text()}, {per_question} judgments per question"
    if notebook == "elo_rival":
        unparseable = "n/a" if r.unparseable is None else f"{r.unparseable:.2f}"
        return f"{r.matches} matches, {r.judgments} judgments, unparseable {unparseable}"
    return f"{len(r.cells)} cells"


def print_summary(out_dir: Path) -> None:
    m = json.loads((out_dir / "metrics.json").read_text())
    r = results.read("pairwise", m, where=str(out_dir / "metrics.json"))
    meta = json.loads((out_dir / "meta.json").read_text())
    print(f"\n{'subset':<16}{'accuracy':>9}{'95% CI':>16}{'n':>6}{'unparseable':>13}{'cut off':>9}")
    for name, row in [("all", r.overall)] + sorted(r.subsets.items()):
        a = row.accuracy
        acc = "-" if a.value is None else f"{a.value:.3f}"
        ci = "-" if a.ci_low is None else f"[{a.ci_low:.2f}, {a.ci_high:.2f}]"
        rate = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
        print(f"{name:<16}{acc:>9}{ci:>16}{row.n:>6}{rate(row.unparseable):>13}{rate(row.cut_off):>9}")
    for line in tie_lines(m):  # ties are not judged: a subset of ties only has no row above
        print(line)
    if r.sections is not None:
        print("\nRewardBench " + "  ".join(f"{k} {v.value:.3f}" for k, v in r.sections.items()))
    if r.score.value is not None:
        print(f"\nscore {r.score.text(4)}: {r.score_name}")
    for rule, row in sorted(r.verdict_rules.items(), key=lambda kv: kv[0] != "paper"):  # the paper's first
        if row.get("score") is not None:
            print(f"  read by the {rule} verdict rule: {row['score']:.4f} (unparseable {row['unparseable']:.2f})")
    protocol = meta.get("protocol", {})
    if protocol.get("deviations"):
        print("departs from the paper's protocol in:", ", ".join(f"{k}={v!r}" for k, v in protocol["deviations"].items()))
    c = meta["completions"]
    print(f"\ncompletions: {c['generated']} generated, {c['reused']} reused from the store")
    if r.warnings:  # each was printed in full while the notebook ran
        print(f"{len(r.warnings)} warning(s) above, also in metrics.json")


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
    ls = sub.add_parser("runs", help="list the run folders under runs/: finished, failed or unfinished")
    ls.add_argument("--clean", action="store_true",
                    help="remove the folders of failed and unfinished runs (not one another process is running; the "
                         "judgment store keeps every completion they made)")
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

    if args.command == "runs":
        return list_runs(clean=args.clean)

    if args.command == "sweep":
        try:
            return sweep(args.file, args.parameters_file, args.parameter)
        except params_mod.ParameterError as e:
            print(f"rrm: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt as e:  # the run in progress is marked FAILED; the next sweep resumes
            said, status = _stopped(e)
            print(f"rrm: sweep {said}", file=sys.stderr)
            return status

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
        said, status = _stopped(e)
        print(f"rrm: {said} ({_marker_note(folder)})", file=sys.stderr)
        return status
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


def list_runs(*, clean: bool = False) -> int:
    """``rrm runs``: each run folder under runs/ with its state (finished, FAILED and why,
    unfinished, running), and with ``clean``, the failed and unfinished ones removed."""
    root = runs_mod.runs_dir()
    folders = sorted(f for f in root.iterdir() if f.is_dir() and f.name != "sweeps") if root.is_dir() else []
    removed = 0
    for f in folders:
        if not runs_mod.is_run_folder(f) or not any(f.iterdir()):
            continue
        claim = runs_mod.Claim(f)
        if runs_mod.is_complete(f):
            meta = json.loads((f / runs_mod.META).read_text())
            try:
                state = f"finished {meta.get('started', '')[:16]}: {headline(meta['notebook'], f)}"
            except (OSError, KeyError, ValueError, TypeError):
                state = f"finished {meta.get('started', '')[:16]}"
        elif claim.busy():
            print(f"{f.name}  running ({claim.holder()})")
            continue
        else:
            failed = f / runs_mod.FAILED
            state = failed.read_text().splitlines()[0] if failed.exists() else "unfinished (killed, or never ended)"
            # removed holding its claim, looked at again: a run that started meanwhile is left be
            if clean and claim.acquire(wait=False):
                try:
                    if not runs_mod.is_complete(f) and not runs_mod.kernel_alive(f):
                        shutil.rmtree(f)
                        removed += 1
                        state = f"removed: {state}"
                finally:
                    claim.release()
        print(f"{f.name}  {state}")
    if not folders:
        print(f"no run folders in {root}")
    if clean:
        print(f"{removed} failed or unfinished run folder(s) removed from {root}; the judgment store is untouched")
    return 0


def print_bestofn_summary(notebook: str, folder: Path) -> None:
    """The headline numbers of an elo_rival, elo_accuracy or knockout run."""
    r = _result(notebook, folder)
    print()
    if notebook == "elo_accuracy":
        print(f"{'method':<34}{'accuracy':>9}{'95% CI':>18}{'n':>6}{'judgments/q':>13}")
        for name, row in r.methods.items():
            a = row.accuracy
            ci = "-" if a.ci_low is None else f"[{a.ci_low:.3f}, {a.ci_high:.3f}]"
            jpq = "-" if row.judgments_per_question is None else f"{row.judgments_per_question:.1f}"
            acc = "-" if a.value is None else f"{a.value:.3f}"
            print(f"{name:<34}{acc:>9}{ci:>18}{row.n if row.n is not None else '-':>6}{jpq:>13}")
        print(f"\n{r.questions} questions; ELO and Bradley-Terry agree on the pick for {r.elo_bt_agreement}")
        return
    print(headline(notebook, folder))
    spent = {"questions": r.questions, "matches": r.matches, "judgments": r.judgments, **r.spent,
             "unparseable": r.unparseable}
    print("  ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in spent.items()))
    for name, value in getattr(r, "baselines", {}).items():
        print(f"  baseline {name}: {value:.3f}")


if __name__ == "__main__":
    sys.exit(main())
