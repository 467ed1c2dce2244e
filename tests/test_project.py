"""Packaging and repository hygiene."""
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_wraps_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = env["dependencies"]
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python"))
    version = python.split("=")[-1]
    assert project["requires-python"] == ">=3.10" and tuple(map(int, version.split("."))) >= (3, 10)
    assert "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert pip == ["-e .[notebook,dev]"]
    extras = set(project["optional-dependencies"])
    assert {"notebook", "dev"} <= extras and "gpu" in extras
    # No package pinned in both places: the environment must not drift from pyproject.
    assert not [d for d in deps if isinstance(d, str) and d not in ("pip", python)]


def test_torch_requirement_admits_the_local_cpu_wheel():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch = next(d for d in project["dependencies"] if d.startswith("torch"))
    from packaging.specifiers import SpecifierSet

    assert "2.13.0" in SpecifierSet(torch[len("torch"):])
    assert "vllm" not in " ".join(project["dependencies"])


def test_import_is_light():
    code = ("import sys, rrmlib, rrmlib.judge, rrmlib.metrics, rrmlib.data, rrmlib.backends; "
            "print(sorted(m for m in ('vllm', 'torch', 'transformers', 'openai') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_console_script_lists_parameters():
    out = subprocess.run([sys.executable, "-m", "rrmlib.cli", "params", "pairwise"], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert "round" in out and "max_new_tokens" in out


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make demo" in readme
    assert [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))] == ["make test"]


def test_make_lab_passes_allow_root_as_root():
    import os
    import shutil

    if shutil.which("make") is None:
        import pytest

        pytest.skip("needs make")
    out = subprocess.run(["make", "-n", "lab", "LAB_STAMP=Makefile"], cwd=ROOT, capture_output=True, text=True).stdout
    line = next(l for l in out.splitlines() if "jupyter lab" in l)
    assert ("--allow-root" in line) == (os.geteuid() == 0)


# The layers of docs/architecture.md, top to bottom: a module imports only from its own layer or above.
LAYERS = [
    {"params", "paths", "seeding", "faults", "redact", "votes", "paper"},
    {"data"},
    {"prompts", "protocols", "backends", "models", "store", "cache", "judge"},
    {"metrics", "budgets", "tournament", "bestofn", "ratings", "selection", "candidates"},
    {"results", "runs", "report", "plots", "sweeps"},
    {"cli", "notebook_files"},
]


def rrmlib_imports() -> dict[str, set[str]]:
    """Module -> the rrmlib modules it imports, anywhere in it (inside functions too)."""
    import ast

    root = ROOT / "rrmlib"
    names = {".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): f
             for f in root.rglob("*.py")}
    graph = {}
    for name, f in names.items():
        found = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        graph[name] = {t for t in found if t in names and t != name}
    return graph


def test_rrmlib_has_no_import_circle_and_keeps_its_layers():
    graph = rrmlib_imports()
    # no circle: every module can be placed after all it imports
    placed, todo = set(), set(graph)
    while todo:
        ready = {m for m in todo if graph[m] <= placed | {m}}
        assert ready, f"an import circle among {sorted(todo)}"
        placed |= ready
        todo -= ready

    def layer(module):
        part = module.split(".")[1] if "." in module else module
        return next(i for i, names in enumerate(LAYERS) if part in names)

    against = [(m, t) for m, targets in graph.items() if m != "rrmlib" for t in targets - {"rrmlib"} if layer(t) > layer(m)]
    assert against == [], "imports against the flow of docs/architecture.md"
