"""The small real sets shipped with rrmlib (issue 21, item 1): LLMBar and the Qwen2.5-Math
100 x 8 sample, so that a fresh clone runs the CPU sweep and the README's examples without
../shared. They are byte-identical to ../shared/data's copies, their PROVENANCE.md records each
file's sha256, the package installs them, and a source finds them when nothing else is given:
an explicit path or root first, then the data folder ($RRM_DATA, else the project's data/), then
the shipped copy. A data folder that lacks the set is refused before a run starts."""
import hashlib
import json
import re
from pathlib import Path

import pytest

from rrmlib.data import check_source, load_candidates, load_pairs

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "rrmlib" / "data" / "shipped"  # where the issue asks for them: inside the package
SHARED = ROOT.parent / "shared" / "data"
FILES = [f"llmbar/{name}.json" for name in ("Natural", "Adversarial_Neighbor", "Adversarial_GPTInst",
                                            "Adversarial_GPTOut", "Adversarial_Manual", "MT-Bench_human")]
FILES.append("qwen25-math/math_cot_100.jsonl")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def no_data_folder(monkeypatch, tmp_path):
    """No $RRM_DATA, and a project root (so a data/ folder) that holds nothing: a fresh clone."""
    monkeypatch.delenv("RRM_DATA", raising=False)
    monkeypatch.setenv("RRM_ROOT", str(tmp_path / "project"))


def test_every_shipped_file_is_there_and_nothing_else():
    present = sorted(str(p.relative_to(SHIPPED)) for p in SHIPPED.rglob("*") if p.is_file())
    assert present == sorted(FILES + ["PROVENANCE.md"])


@pytest.mark.parametrize("name", FILES)
def test_byte_identical_to_the_shared_copy(name):
    original = SHARED / name
    if not original.exists():
        pytest.skip(f"needs the shared evaluation data at {original} (absent in a fresh clone)")
    assert (SHIPPED / name).read_bytes() == original.read_bytes()


def test_provenance_records_source_commit_licence_and_each_files_sha256():
    text = (SHIPPED / "PROVENANCE.md").read_text()
    # sha256sum's own lines, so that `sha256sum -c` checks them too
    recorded = {m.group(2): m.group(1) for m in re.finditer(r"^([0-9a-f]{64})  (\S+)$", text, re.M)}
    assert recorded == {name: sha256(SHIPPED / name) for name in FILES}
    for source in ("princeton-nlp/LLMBar", "900616bf", "QwenLM/Qwen2.5-Math", "a45202bd", "MIT",
                   "Dataset/LLMBar/Natural/dataset.json", "evaluation/data/eval_rm_maj_example/math_cot_100.jsonl"):
        assert source in text


def test_the_package_installs_them():
    """pyproject's package-data globs take every shipped file (a wheel built from it holds them)."""
    import fnmatch
    import tomllib

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["rrmlib"]
    for name in FILES + ["PROVENANCE.md"]:
        inside = f"data/shipped/{name}"
        assert any(fnmatch.fnmatch(inside, g) for g in globs), (inside, globs)


# --- where a source finds its data ------------------------------------------------------------------

def llmbar_expected(path: Path, subset: str):
    """(id, prompt, chosen, rejected, subset), read from the file here, not by rrmlib."""
    rows = json.loads(path.read_text())
    return [(f"{subset}-{n}", r["input"], *((r["output_1"], r["output_2"]) if r["label"] == 1
                                           else (r["output_2"], r["output_1"])), subset)
            for n, r in enumerate(rows)]


def as_tuples(pairs):
    return [(p.id, p.prompt, p.chosen, p.rejected, p.subset) for p in pairs]


def test_llmbar_and_mt_bench_without_any_data_folder_read_the_shipped_copy(no_data_folder):
    pairs = load_pairs("llmbar")
    assert as_tuples(pairs) == llmbar_expected(SHIPPED / "llmbar" / "Natural.json", "Natural")
    assert len(pairs) == 100
    assert len(load_pairs("llmbar", subset="all")) == 419
    assert len(load_pairs("mt-bench-human")) == 200
    # what a run records in meta.json: the file it read
    assert pairs.loaded["source"] == [str(SHIPPED / "llmbar" / "Natural.json")]
    check_source("llmbar")  # nothing missing, nothing refused


def test_qwen_math_without_a_path_reads_the_shipped_sample(no_data_folder):
    sets = load_candidates("qwen-math")
    rows = [json.loads(line) for line in (SHIPPED / "qwen25-math" / "math_cot_100.jsonl").read_text().splitlines()]
    assert [(s.id, s.prompt, s.candidates, s.correct) for s in sets] == \
        [(str(r["idx"]), r["question"], r["code"], r["score"]) for r in rows]
    assert len(sets) == 100 and sum(sum(s.correct) for s in sets) == 728
    check_source("qwen-math", "candidate")


def test_the_data_folder_and_explicit_paths_win_over_the_shipped_copy(no_data_folder, tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    (mine / "llmbar").mkdir(parents=True)
    (mine / "qwen25-math").mkdir()
    one = json.loads((SHIPPED / "llmbar" / "Natural.json").read_text())[:3]
    (mine / "llmbar" / "Natural.json").write_text(json.dumps(one))
    first = (SHIPPED / "qwen25-math" / "math_cot_100.jsonl").read_text().splitlines()[:2]
    (mine / "qwen25-math" / "math_cot_100.jsonl").write_text("\n".join(first) + "\n")
    # the project's data/ folder
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "llmbar").symlink_to(mine / "llmbar")
    (project / "data" / "qwen25-math").symlink_to(mine / "qwen25-math")
    assert len(load_pairs("llmbar")) == 3 and len(load_candidates("qwen-math")) == 2
    # $RRM_DATA, over the project's data/
    other = tmp_path / "other"
    (other / "llmbar").mkdir(parents=True)
    (other / "llmbar" / "Natural.json").write_text(json.dumps(one[:1]))
    monkeypatch.setenv("RRM_DATA", str(other))
    assert len(load_pairs("llmbar")) == 1
    # root= and path= over both
    assert len(load_pairs("llmbar", root=SHIPPED / "llmbar")) == 100
    assert len(load_pairs("llmbar", path=mine / "llmbar" / "Natural.json")) == 3
    assert len(load_candidates("qwen-math", path=SHIPPED / "qwen25-math" / "math_cot_100.jsonl")) == 100


def test_a_data_folder_without_the_set_is_refused_before_a_run(no_data_folder, tmp_path, monkeypatch):
    """$RRM_DATA wins, so a data folder without llmbar/ is not quietly replaced by the shipped copy:
    the check a sweep makes before it runs anything names the folder it looked in."""
    from rrmlib import cli, params

    empty = tmp_path / "elsewhere"
    empty.mkdir()
    monkeypatch.setenv("RRM_DATA", str(empty))
    for source, kind in (("llmbar", "pair"), ("mt-bench-human", "pair"), ("qwen-math", "candidate"),
                         ("pandalm", "pair")):
        with pytest.raises(ValueError, match=re.escape(str(empty))):
            check_source(source, kind)
    p = params.check("pairwise", {"dataset": "llmbar", "out_dir": str(tmp_path / "run")})
    with pytest.raises(params.ParameterError, match=r"llmbar.*elsewhere"):
        cli.preflight("pairwise", p)
    p = params.check("knockout", {"dataset": "qwen-math", "out_dir": str(tmp_path / "run2")})
    with pytest.raises(params.ParameterError, match=r"qwen.*elsewhere"):
        cli.preflight("knockout", p)


def test_a_source_that_ships_nothing_still_says_what_to_pass(no_data_folder):
    with pytest.raises(ValueError, match="path=.*root=.*RRM_DATA"):
        load_pairs("pandalm")
    with pytest.raises(ValueError, match="path=.*root=.*RRM_DATA"):
        check_source("pandalm")


def test_a_glob_of_per_seed_files_passes_the_check_before_a_run(tmp_path, monkeypatch):
    """The README's `-p data_path 'cands/*seed*.jsonl'`: a pattern that matches files is no
    missing file; one that matches none is refused, naming it."""
    from rrmlib import cli, params

    lines = (SHIPPED / "qwen25-math" / "math_cot_100.jsonl").read_text().splitlines()[:3]
    (tmp_path / "cands").mkdir()
    for k in range(2):
        (tmp_path / "cands" / f"t_seed{k}.jsonl").write_text("\n".join(lines) + "\n")
    pattern = str(tmp_path / "cands" / "*seed*.jsonl")
    p = params.check("elo_rival", {"dataset": "qwen-math", "data_path": pattern, "out_dir": str(tmp_path / "run")})
    cli.preflight("elo_rival", p)
    p = params.check("elo_rival", {"dataset": "qwen-math", "data_path": str(tmp_path / "none*.jsonl"),
                                   "out_dir": str(tmp_path / "run")})
    with pytest.raises(params.ParameterError, match="none"):
        cli.preflight("elo_rival", p)
