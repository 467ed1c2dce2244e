"""Candidate sets in Qwen's math-evaluation format: one file of 8 samples per problem, or
per-seed files with one sample each, joined on idx."""
import json
from pathlib import Path

import pytest

from rrmlib.data import DataError, load_candidates
from rrmlib.data.files import SHIPPED

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
COT = SHIPPED / "qwen25-math" / "math_cot_100.jsonl"  # byte-identical to ../shared/data's

needs_cot = pytest.mark.skipif(not COT.exists(), reason=f"{COT} absent: Qwen's math_cot_100 lives in "
                               "../shared/data beside the project")


def split_per_seed(tmp_path, n=8, problems=None):
    """Write math_cot_100 as n per-seed files, sample k of every problem in file k."""
    rows = [json.loads(line) for line in COT.read_text().splitlines()][:problems]
    paths = []
    for k in range(n):
        path = tmp_path / f"test_qwen25-math-cot_-1_seed{k}_t0.6.jsonl"
        with open(path, "w") as f:
            for r in rows:
                one = {**r, "code": r["code"][k:k + 1], "pred": r["pred"][k:k + 1], "score": r["score"][k:k + 1],
                       "pred_score": r["pred_score"][k:k + 1]}
                f.write(json.dumps(one) + "\n")
        paths.append(path)
    return rows, paths


@needs_cot
def test_math_cot_100_is_100_by_8_with_728_correct():
    sets = load_candidates(COT)
    assert len(sets) == 100
    assert all(len(s.candidates) == 8 for s in sets)
    assert sum(sum(s.correct) for s in sets) == 728
    rows = [json.loads(line) for line in COT.read_text().splitlines()]
    for s, r in zip(sets, rows):
        assert s.id == str(r["idx"]) and s.prompt == r["question"]
        assert s.candidates == r["code"] and s.correct == r["score"] and s.answers == r["pred"]
        assert s.scores == [x[0] for x in r["pred_score"]]  # [[3.5], ...] flattened
        assert s.extra["gt"] == r["gt"]
    assert load_candidates("qwen-math", path=COT) == sets


@needs_cot
def test_per_seed_files_join_on_idx(tmp_path):
    _, paths = split_per_seed(tmp_path)
    whole = load_candidates(COT)
    assert load_candidates("qwen-math", path=paths) == whole
    # a glob keeps the seeds in numeric order
    assert load_candidates("qwen-math", path=str(tmp_path / "*_seed*_t0.6.jsonl")) == whole


def test_glob_orders_seed_numbers_numerically(tmp_path):
    from rrmlib.data.qwen_math import expand_paths
    for k in (10, 2, 1):
        (tmp_path / f"seed{k}.jsonl").write_text("")
    assert [p.name for p in expand_paths(str(tmp_path / "seed*.jsonl"))] == ["seed1.jsonl", "seed2.jsonl",
                                                                              "seed10.jsonl"]


@needs_cot
def test_per_seed_file_missing_a_problem(tmp_path):
    _, paths = split_per_seed(tmp_path, n=3, problems=5)
    lines = paths[2].read_text().splitlines()
    paths[2].write_text("\n".join(lines[:3] + lines[4:]) + "\n")  # drop the 4th problem
    with pytest.raises(DataError) as e:
        load_candidates("qwen-math", path=paths)
    assert str(paths[2]) in str(e.value) and "'idx'" in str(e.value) and "missing" in str(e.value)


@needs_cot
def test_per_seed_file_with_a_different_question(tmp_path):
    _, paths = split_per_seed(tmp_path, n=2, problems=3)
    lines = paths[1].read_text().splitlines()
    rec = json.loads(lines[1])
    rec["question"] += " (changed)"
    lines[1] = json.dumps(rec)
    paths[1].write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as e:
        load_candidates("qwen-math", path=paths)
    assert str(paths[1]) in str(e.value) and "line 2" in str(e.value) and "'question'" in str(e.value)


def test_scores_must_match_the_samples(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"idx": 0, "question": "1+1?", "gt": "2", "code": ["\\boxed{2}", "\\boxed{3}"],
                                "pred": ["2", "3"], "score": [True]}) + "\n")
    with pytest.raises(DataError) as e:
        load_candidates(path)
    assert str(path) in str(e.value) and "line 1" in str(e.value) and "'score'" in str(e.value)
