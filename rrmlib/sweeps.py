"""Sweep files: every configuration they list, where each one's run folder is, and which run
folders each sweep has made (so a report finds every judge's runs).

A sweep file is one step (``notebook``, ``files``, ``parameters``, ``grid``, ``runs``) or a
list of ``steps``; see ``sweep_configs``. Running them is ``rrmlib.cli``'s; reading their runs
is ``rrmlib.report``'s; both come here for the configurations.
"""
from __future__ import annotations

import fcntl
import hashlib
import itertools
import math
import os
import re
from collections import Counter
from pathlib import Path

from rrmlib import params as params_mod
from rrmlib import runs as runs_mod
from rrmlib.paths import CHECKOUT, project_root
from rrmlib.runs import folder_of


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


STEP_KEYS = {"notebook", "name", "files", "parameters", "grid", "runs"}
_REF = re.compile(r"\{run:([A-Za-z0-9_.-]+)\}")


def _own_file(name, sweep_path) -> Path:
    """A parameter file a sweep file names (``files:``): absolute as given; relative, the first
    that exists of: beside the sweep file, under the project root, in this rrmlib's checkout
    (where ``params/`` lives when ``$RRM_ROOT`` puts runs and data elsewhere)."""
    p = Path(name).expanduser()
    if p.is_absolute():
        return p
    tried = [Path(sweep_path).resolve().parent / p, project_root() / p, CHECKOUT / p]
    for candidate in tried:
        if candidate.exists():
            return candidate
    raise params_mod.ParameterError(f"{sweep_path}: files: {name} not found (looked in "
                                    f"{', '.join(str(t.parent) for t in dict.fromkeys(tried))})")


MAX_CONFIGS = 10_000  # configurations in one sweep file: a grid's product is bounded before it is built


def _files(step: dict, where: str) -> list[str]:
    """A step's ``files``: a list of parameter files (one file may be given as a plain string)."""
    files = step.get("files")
    if files is None:
        return []
    if isinstance(files, str):
        return [files]
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise params_mod.ParameterError(f"{where}: 'files' must be a list of parameter files, got "
                                        f"{params_mod.short(files)}")
    return files


def _mapping(step: dict, key: str, where: str) -> dict:
    value = step.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise params_mod.ParameterError(f"{where}: '{key}' must be a mapping of names to values, got "
                                        f"{params_mod.short(value)}")
    return value


def _variants(step: dict, where: str) -> list[dict]:
    """Every combination of the step's ``grid`` lists, then its ``runs``; ``[{}]`` for a step
    with neither (one run of its parameters). A grid or run list that is given but empty is an
    error: it selects no configuration, and running the defaults instead would be a silent guess."""
    grid = _mapping(step, "grid", where)
    runs = step.get("runs")
    if runs is not None and (not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs)):
        raise params_mod.ParameterError(f"{where}: 'runs' must be a list of mappings (one per run), got "
                                        f"{params_mod.short(runs)}")
    scalar = [k for k, v in grid.items() if not isinstance(v, list)]
    if scalar:
        raise params_mod.ParameterError(f"{where}: grid values must be lists; {scalar} are not (put fixed values "
                                        f"under `parameters`)")
    empty = [k for k, v in grid.items() if not v] + (["runs"] if runs == [] else [])
    if empty:
        raise params_mod.ParameterError(f"{where}: {', '.join(empty)}: an empty list selects no configuration "
                                        f"(leave it out to run the step's parameters once)")
    count = math.prod(len(v) for v in grid.values()) if grid else 0
    if count + len(runs or []) > MAX_CONFIGS:
        raise params_mod.ParameterError(f"{where}: {count + len(runs or []):,} configurations (at most "
                                        f"{MAX_CONFIGS:,} in one sweep file)")
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())] if grid else []
    return combos + list(runs or []) or [{}]


def _expand(value, named: dict, where: str):
    """``${VAR}`` from the environment, and ``{run:NAME}`` as the run folder of the step NAME."""
    if not isinstance(value, str):
        return [_expand(v, named, where) for v in value] if isinstance(value, list) else value
    value = os.path.expandvars(value)

    def folder(m):
        if m.group(1) not in named:
            raise params_mod.ParameterError(f"{where}: {{run:{m.group(1)}}} names no earlier step (named steps: "
                                            f"{sorted(named) or 'none'})")
        return str(named[m.group(1)])

    return _REF.sub(folder, value)


def sweep_configs(path, files: list[str] = (), pairs: list[tuple[str, str]] = ()) -> list[tuple[str, dict]]:
    """``(notebook, parameters)`` for every configuration a sweep file lists, in order.

    A sweep file is either one step (``notebook``, optional base parameter ``files`` and
    ``parameters``, then a ``grid``, every combination of its lists, and/or ``runs``, a list of
    mappings) or ``steps``: a list of such steps, with shared ``files`` and ``parameters`` at the
    top. Shared parameters, and ``files``/``pairs`` given on the command line (which win over
    everything), reach each step whose notebook declares them (the judge's parameters go to
    every notebook that runs a judge, not to ``elo_accuracy`` or ``report``); a name no step
    takes is refused. A step with a ``name`` can be referred to in a later step's values as
    ``{run:NAME}`` (its run folder: ``matches: "{run:elo}/matches.parquet"``); ``${VAR}`` takes
    an environment variable (``data_path: ${RRM_DATA}/qwen25-math/math_cot_100.jsonl``)."""
    spec = params_mod.load_file(path)
    multi = "steps" in spec
    allowed = {"files", "parameters", "steps"} if multi else STEP_KEYS - {"name"}
    unknown = set(spec) - allowed
    if unknown:
        raise params_mod.ParameterError(f"{path}: unknown key(s) {sorted(unknown)}")
    steps = spec["steps"] if multi else [spec]
    if not isinstance(steps, list) or not steps:
        raise params_mod.ParameterError(f"{path}: 'steps' must be a non-empty list")
    shared = {}
    for f in _files(spec, str(path)) if multi else []:
        shared.update(params_mod.load_file(_own_file(f, path)))
    shared.update(_mapping(spec, "parameters", str(path)) if multi else {})
    overrides = {}
    for f in files:
        overrides.update(params_mod.load_file(f))
    overrides.update({k: parse_value(v) for k, v in pairs})
    overrides = params_mod.resolve_paths(overrides, Path.cwd())  # typed in the shell: its folder
    named: dict[str, Path] = {}
    configs = []
    for s_no, step in enumerate(steps, 1):
        where = f"{path}: step {s_no}" if multi else str(path)
        if not isinstance(step, dict):
            raise params_mod.ParameterError(f"{where}: a step is a mapping with 'notebook'")
        bad = set(step) - STEP_KEYS
        if bad:
            raise params_mod.ParameterError(f"{where}: unknown key(s) {sorted(bad)}")
        notebook = step.get("notebook")
        if notebook not in params_mod.SPECS:
            raise params_mod.ParameterError(f"{where}: 'notebook' must be one of {sorted(params_mod.SPECS)}, got "
                                            f"{params_mod.short(notebook)}")
        declared = params_mod.SPECS[notebook]
        base = {k: v for k, v in shared.items() if k in declared}
        for f in _files(step, where):
            base.update(params_mod.load_file(_own_file(f, path)))
        base.update(_mapping(step, "parameters", where))
        variants = _variants(step, where)
        mine = {k: v for k, v in overrides.items() if k in declared}
        step_configs = []
        for n, variant in enumerate(variants):
            given = {k: _expand(v, named, where) for k, v in {**base, **variant, **mine}.items()}
            try:
                params_mod.check_names(notebook, given)
                # The sweep file's own paths are the project's (it lives there).
                step_configs.append((notebook, params_mod.check(notebook, given, base=project_root())))
            except params_mod.ParameterError as e:
                raise params_mod.ParameterError(f"{where}: configuration {n + 1} ({variant}): {e}") from None
        if "name" in step:
            if not isinstance(step["name"], str) or not _REF.fullmatch(f"{{run:{step['name']}}}"):
                raise params_mod.ParameterError(f"{where}: 'name' must be a word (letters, digits, _ . -), got "
                                                f"{params_mod.short(step['name'])}")
            if step["name"] in named:
                raise params_mod.ParameterError(f"{where}: the step name {step['name']!r} is used twice; "
                                                f"{{run:{step['name']}}} must name one step")
            if len(step_configs) != 1:
                raise params_mod.ParameterError(f"{where}: a named step ({step['name']!r}) must have exactly one "
                                                f"configuration, to be referred to as {{run:{step['name']}}}")
            named[step["name"]] = folder_of(*step_configs[0])
        configs += step_configs
    declared_any = set().union(*(params_mod.SPECS[nb] for nb, _ in configs))
    stray = sorted((set(shared) | set(overrides)) - declared_any)
    if stray:
        raise params_mod.ParameterError(f"{path}: no step takes parameter(s) {', '.join(stray)}")
    folders = [folder_of(nb, p) for nb, p in configs]
    if len(set(folders)) < len(folders):
        twice = sorted(str(f) for f, n in Counter(folders).items() if n > 1)
        raise params_mod.ParameterError(
            f"{path}: several configurations would share one run folder ({', '.join(twice)}): two identical "
            f"configurations, or out_dir set for several (leave it out: each run gets runs/<run-id>)")
    return configs


def sweep_index(path) -> Path:
    """Where a sweep file's run folders are listed: every invocation adds its own (another judge
    given with -f adds its runs), so ``rrm report SWEEP`` finds the runs of every judge swept."""
    tag = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:8]  # two sweeps of one name differ
    return runs_mod.runs_dir() / "sweeps" / f"{Path(path).stem}-{tag}.txt"


def record_sweep(path, folders) -> None:
    """Add ``folders`` to the sweep's index, under an exclusive lock on it: two sweeps of one file
    (another judge given with -f) each add their own, and neither loses the other's."""
    index = sweep_index(path)
    index.parent.mkdir(parents=True, exist_ok=True)
    with open(index, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file closes
        fh.seek(0)
        known = set(fh.read().splitlines())
        new = [str(f) for f in dict.fromkeys(folders) if str(f) not in known]
        fh.write("".join(f + "\n" for f in new))
        fh.flush()
        os.fsync(fh.fileno())
