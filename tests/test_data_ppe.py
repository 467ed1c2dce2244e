"""PPE Best-of-K: conflict pairs per round, candidate sets, and the seeded builder."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from data_files import write_jsonl

from rrmlib.data import DataError, load_candidates, load_pairs
from rrmlib.data.ppe import draw_conflict_pairs, read_conflict_pairs
from rrmlib.data.ppe import build_conflict_pairs

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
K = 32

# How each set's prompt wraps its question, with the marker the RRM evaluation cut at.
WRAPPERS = {
    "math": ("Solve the problem; end with \\boxed{{}}.\n<problem>\n{q}", "<problem>"),
    "mmlu-pro": ("The following is a multiple choice question. Think step by step.\n\nQuestion: {q}\nOptions: A. 1 B. 2",
                 "Question:"),
    "gpqa": ("Answer the following multiple choice question.\n\nQuestion\n{q}\n(A) x (B) y", "Question"),
}


def ppe_rows(dataset, n=4):
    template, _ = WRAPPERS[dataset]
    rows = []
    for r in range(n):
        # row r: responses k with (k + r) % 3 == 0 are correct; always some of each
        scores = [(k + r) % 3 == 0 for k in range(K)]
        row = {"question_id": f"q{r}", "prompt": template.format(q=f"What is {r} + 1?"), "scores": scores}
        row.update({f"response_{k + 1}": f"row {r} response {k}: {'right' if scores[k] else 'wrong'}"
                    for k in range(K)})
        rows.append(row)
    return rows


def write_pairs(path, rows):
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


@pytest.fixture
def math_file(tmp_path):
    return write_jsonl(tmp_path / "ppe-math.jsonl", ppe_rows("math"))


# A conflict-pair file in the paper's shape for 4 prompts: [i, j] with either order.
PAIRS = [[[0, 1], [4, 3], [6, 2], [5, 9], [12, 13]],
         [[2, 1], [0, 5], [8, 9], [3, 11], [14, 15]],
         [[1, 0], [3, 4], [6, 10], [9, 7], [13, 14]],
         [[0, 1], [1, 3], [3, 5], [7, 6], [9, 11]]]


def correct_index(row, i, j):
    good = [x for x in (i, j) if (x + row) % 3 == 0]
    assert len(good) == 1, "fixture pairs must be conflict pairs"
    return good[0], (j if good[0] == i else i)


@pytest.mark.parametrize("round", [1, 2, 3, 4, 5])
def test_round_k_uses_pair_k_minus_1_with_the_correct_one_chosen(tmp_path, math_file, round):
    pairs_file = write_pairs(tmp_path / "MATH.json", PAIRS)
    pairs = load_pairs("math", path=math_file, pairs_file=pairs_file, round=round)
    assert len(pairs) == 4
    for r, p in enumerate(pairs):
        good, bad = correct_index(r, *PAIRS[r][round - 1])
        assert p.id == f"{r}-r{round}" and p.subset == "MATH"
        assert p.prompt == f"What is {r} + 1?"
        assert p.chosen == f"row {r} response {good}: right"
        assert p.rejected == f"row {r} response {bad}: wrong"


@pytest.mark.parametrize("dataset", ["math", "mmlu-pro", "gpqa"])
def test_question_is_cut_after_the_marker(tmp_path, dataset):
    path = write_jsonl(tmp_path / "ppe.jsonl", ppe_rows(dataset, n=2))
    template, marker = WRAPPERS[dataset]
    pairs = load_pairs(dataset, path=path, round=1, seed=0)
    for r, p in enumerate(pairs):
        assert p.prompt == template.format(q=f"What is {r} + 1?").split(marker, 1)[1].strip()
    assert pairs[0].prompt.startswith("What is 0 + 1?")


@pytest.mark.parametrize("name,dataset", [("MATH", "math"), ("MMLU", "mmlu-pro"), ("GPQA", "gpqa"),
                                          ("mmlu_pro", "mmlu-pro"), ("ppe-gpqa", "gpqa")])
def test_original_dataset_names_are_aliases(tmp_path, name, dataset):
    path = write_jsonl(tmp_path / "ppe.jsonl", ppe_rows(dataset, n=2))
    assert load_pairs(name, path=path, round=2, seed=0) == load_pairs(dataset, path=path, round=2, seed=0)


def test_parquet_copy_reads_like_jsonl(tmp_path):
    rows = ppe_rows("math")
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "ppe.parquet")
    jsonl = write_jsonl(tmp_path / "ppe.jsonl", rows)
    assert (load_pairs("math", path=tmp_path / "ppe.parquet", round=3, seed=0)
            == load_pairs("math", path=jsonl, round=3, seed=0))
    assert load_candidates("math", path=tmp_path / "ppe.parquet") == load_candidates("math", path=jsonl)


def test_scores_as_numbers(tmp_path):
    rows = ppe_rows("mmlu-pro")
    for row in rows:
        row["scores"] = [int(s) for s in row["scores"]]
    as_numbers = write_jsonl(tmp_path / "numbers.jsonl", rows)
    as_bools = write_jsonl(tmp_path / "bools.jsonl", ppe_rows("mmlu-pro"))
    assert load_pairs("mmlu-pro", path=as_numbers, seed=0) == load_pairs("mmlu-pro", path=as_bools, seed=0)


def test_candidates_are_all_32_responses_with_correctness(math_file):
    sets = load_candidates("math", path=math_file)
    assert len(sets) == 4
    for r, s in enumerate(sets):
        assert s.id == str(r) and s.prompt == f"What is {r} + 1?"
        assert s.candidates == [f"row {r} response {k}: {'right' if (k + r) % 3 == 0 else 'wrong'}"
                                for k in range(K)]
        assert s.correct == [(k + r) % 3 == 0 for k in range(K)]
        assert s.extra["question_id"] == f"q{r}" and s.extra["dataset"] == "MATH"
    assert len(load_candidates("MATH", path=math_file, limit=2)) == 2


def test_drawn_pairs_without_a_file_are_conflicts_and_seeded(math_file):
    a = load_pairs("math", path=math_file, round=1, seed=7)
    assert a == load_pairs("math", path=math_file, round=1, seed=7)
    assert all(p.chosen.endswith("right") and p.rejected.endswith("wrong") for p in a)
    rounds = [load_pairs("math", path=math_file, round=k, seed=7) for k in range(1, 6)]
    for r in range(4):  # five distinct pairs per prompt
        assert len({(rd[r].chosen, rd[r].rejected) for rd in rounds}) == 5
    assert [load_pairs("math", path=math_file, round=k, seed=8) for k in range(1, 6)] != rounds


def test_limit_does_not_change_drawn_pairs(math_file):
    assert (load_pairs("math", path=math_file, round=4, limit=2, seed=0)
            == load_pairs("math", path=math_file, round=4, seed=0)[:2])


def test_round_out_of_range(math_file):
    for bad in (0, 6):
        with pytest.raises(ValueError, match="round must be 1..5"):
            load_pairs("math", path=math_file, round=bad)


def test_pair_of_two_correct_responses_is_an_error(tmp_path, math_file):
    rows = [list(map(list, r)) for r in PAIRS]
    rows[2][0] = [1, 4]  # row 2: (1 + 2) % 3 == 0 and (4 + 2) % 3 == 0 -> both correct
    pairs_file = write_pairs(tmp_path / "MATH.json", rows)
    with pytest.raises(DataError) as e:
        load_pairs("math", path=math_file, pairs_file=pairs_file, round=1)
    msg = str(e.value)
    assert str(pairs_file) in msg and "row 2" in msg and "'round 1'" in msg and "both responses are correct" in msg


def test_pairs_file_for_another_dataset_size(tmp_path, math_file):
    pairs_file = write_pairs(tmp_path / "MATH.json", PAIRS[:3])
    with pytest.raises(DataError, match="3 rows, but .* has 4 prompts"):
        load_pairs("math", path=math_file, pairs_file=pairs_file)


def test_missing_marker_names_row_and_prompt(tmp_path):
    rows = ppe_rows("math")
    rows[1]["prompt"] = "What is 1 + 1?"
    path = write_jsonl(tmp_path / "ppe.jsonl", rows)
    with pytest.raises(DataError) as e:
        load_pairs("math", path=path)
    assert str(path) in str(e.value) and "line 2" in str(e.value) and "'prompt'" in str(e.value)


def test_bad_score_value(tmp_path):
    rows = ppe_rows("gpqa")
    rows[0]["scores"][5] = 0.5
    path = write_jsonl(tmp_path / "ppe.jsonl", rows)
    with pytest.raises(DataError) as e:
        load_candidates("gpqa", path=path)
    assert "line 1" in str(e.value) and "'scores[5]'" in str(e.value)


def test_empty_response_used_by_a_pair(tmp_path, math_file):
    rows = ppe_rows("math")
    rows[0]["response_2"] = " "  # PAIRS row 0, round 1 is [0, 1]: response_2 is index 1
    path = write_jsonl(tmp_path / "ppe.jsonl", rows)
    with pytest.raises(DataError) as e:
        load_pairs("math", path=path, pairs_file=write_pairs(tmp_path / "p.json", PAIRS), round=1)
    assert "line 1" in str(e.value) and "'response_2'" in str(e.value) and "empty" in str(e.value)


def test_bare_path_to_a_ppe_file_says_which_source_to_use(math_file):
    with pytest.raises(DataError, match="load_pairs\\('mmlu-pro' \\| 'gpqa' \\| 'math'"):
        load_pairs(math_file)
    with pytest.raises(DataError, match="load_candidates"):
        load_candidates(math_file)


# --- the paper's conflict-pair files ---------------------------------------------------------

PAPER_NAMES = {"math": "MATH", "mmlu-pro": "MMLU-Pro", "gpqa": "GPQA"}


def hub_copy_for_the_papers_pairs(dataset, seed=0):
    """A synthetic local copy of a PPE set in the hub's column layout (prompt, response_1..32,
    scores, question_id), 512 rows, whose scores make every pair of the paper's file a conflict
    pair: each row's pairs are 2-coloured (correct / incorrect, which side is which at random).
    Returns the rows and, per row, the set of correct indices."""
    template, _ = WRAPPERS[dataset]
    paper = json.loads((ROOT / "PPEdataset" / "conflict-pairs" / f"{PAPER_NAMES[dataset]}.json").read_text())
    rng = np.random.default_rng(seed)
    rows, correct_sets = [], []
    for r, pairs in enumerate(paper):
        adj = {}
        for i, j in pairs:
            adj.setdefault(i, []).append(j)
            adj.setdefault(j, []).append(i)
        colour = {}
        for start in adj:
            if start in colour:
                continue
            colour[start] = bool(rng.integers(2))
            stack = [start]
            while stack:
                u = stack.pop()
                for v in adj[u]:
                    if v not in colour:
                        colour[v] = not colour[u]
                        stack.append(v)
        scores = [colour.get(k, bool(k % 2)) for k in range(K)]
        row = {"question_id": f"q{r}", "prompt": template.format(q=f"Question number {r}?"), "scores": scores}
        row.update({f"response_{k + 1}": f"row {r} response {k}" for k in range(K)})
        rows.append(row)
        correct_sets.append({k for k in range(K) if scores[k]})
    return paper, rows, correct_sets


@pytest.mark.parametrize("dataset", ["gpqa", "math", "mmlu-pro"])
def test_default_pairs_are_the_papers_row_by_row(tmp_path, dataset):
    paper, rows, correct = hub_copy_for_the_papers_pairs(dataset)
    path = tmp_path / f"ppe-{dataset}.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    pairs = load_pairs(dataset, path=path, round=4)  # no pairs_file, no seed: the paper's
    assert len(pairs) == 512
    for r, p in enumerate(pairs):
        i, j = paper[r][3]  # round 4 is the 4th pair
        good, bad = (i, j) if i in correct[r] else (j, i)
        template, marker = WRAPPERS[dataset]  # the original cut the question after the marker
        assert p.prompt == template.format(q=f"Question number {r}?").split(marker, 1)[1].strip()
        assert p.chosen == f"row {r} response {good}" and p.rejected == f"row {r} response {bad}"
        assert p.id == f"{r}-r4"


def test_the_papers_repeated_pairs_are_kept(tmp_path):
    # The paper drew its five pairs per prompt with replacement: 48 exact repeats in MATH.
    paper, rows, _ = hub_copy_for_the_papers_pairs("math")
    path = tmp_path / "ppe-math.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    rounds = [load_pairs("math", path=path, round=k) for k in range(1, 6)]
    repeats = sum(5 - len({(rd[r].chosen, rd[r].rejected) for rd in rounds}) for r in range(512))
    assert repeats == 48


def test_pairs_file_and_seed_together_are_refused(tmp_path, math_file):
    with pytest.raises(ValueError, match="not both"):
        load_pairs("math", path=math_file, pairs_file=write_pairs(tmp_path / "p.json", PAIRS), seed=0)


@pytest.mark.parametrize("name, repeats", [("MATH", 48), ("MMLU-Pro", 18), ("GPQA", 26)])
def test_shipped_files_are_the_papers_bytes(name, repeats):
    shipped = ROOT / "PPEdataset" / "conflict-pairs" / f"{name}.json"
    rows = json.loads(shipped.read_text())
    assert len(rows) == 512 and all(len(r) == 5 for r in rows)
    assert sum(5 - len({tuple(p) for p in row}) for row in rows) == repeats  # README's counts
    original = SHARED / "rrm" / "conflict-pairs" / f"{name}.json"
    if not original.exists():
        pytest.skip(f"{original} absent: cannot compare bytes with the shared copy")
    assert shipped.read_bytes() == original.read_bytes()


def test_shipped_bracket_is_the_papers_bytes():
    shipped = ROOT / "PPEdataset" / "knockout-mmlu-pro" / "tournament.json"
    original = SHARED / "rrm" / "knockout-mmlu-pro" / "tournament.json"
    if not original.exists():
        pytest.skip(f"{original} absent: cannot compare bytes with the shared copy")
    assert shipped.read_bytes() == original.read_bytes()


@pytest.mark.parametrize("name", ["MATH", "MMLU-Pro", "GPQA"])
def test_rrm_conflict_pair_files_are_512_by_5(name):
    path = SHARED / "rrm" / "conflict-pairs" / f"{name}.json"
    if not path.exists():
        pytest.skip(f"{path} absent: the RRM conflict-pair files live in ../shared/data beside the project")
    rows = read_conflict_pairs(path)
    assert len(rows) == 512 and all(len(r) == 5 for r in rows)
    assert all(0 <= i < 32 and 0 <= j < 32 and i != j for r in rows for i, j in r)
    assert rows[0][0] == tuple(json.loads(path.read_text())[0][0])


# --- the builder ------------------------------------------------------------------------------

def test_draw_is_deterministic_distinct_and_correct_first():
    correct = [(k % 5) == 0 for k in range(K)]
    pairs = draw_conflict_pairs(correct, seed=3, row=11)
    assert pairs == draw_conflict_pairs(correct, seed=3, row=11)
    assert len(set(pairs)) == 5
    assert all(correct[i] and not correct[j] for i, j in pairs)
    assert pairs != draw_conflict_pairs(correct, seed=4, row=11)
    assert pairs != draw_conflict_pairs(correct, seed=3, row=12)


def test_draw_refuses_a_prompt_without_conflicts():
    with pytest.raises(ValueError, match="fewer than 5"):
        draw_conflict_pairs([True] * K, seed=0, row=0)


def test_builder_file_is_identical_for_a_seed_and_read_back(tmp_path, math_file):
    a = build_conflict_pairs("math", tmp_path / "a.json", seed=5, path=math_file)
    b = build_conflict_pairs("math", tmp_path / "b.json", seed=5, path=math_file)
    c = build_conflict_pairs("math", tmp_path / "c.json", seed=6, path=math_file)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    doc = json.loads(a.read_text())
    assert doc["seed"] == 5 and doc["dataset"] == "MATH" and doc["source"] == math_file.name
    rows = read_conflict_pairs(a)
    for r, row in enumerate(rows):
        assert len(set(row)) == 5
        assert all((i + r) % 3 == 0 and (j + r) % 3 != 0 for i, j in row)  # (correct, incorrect)
    # the file and the in-memory draw give the same pairs
    for k in range(1, 6):
        assert load_pairs("math", path=math_file, pairs_file=a, round=k) == load_pairs("math", path=math_file,
                                                                                       round=k, seed=5)


def test_build_script_writes_the_file(tmp_path, math_file):
    out = tmp_path / "MATH-seed2.json"
    done = subprocess.run([sys.executable, str(ROOT / "PPEdataset" / "build.py"), "--dataset", "math",
                           "--seed", "2", "--path", str(math_file), "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == build_conflict_pairs("math", tmp_path / "again.json", seed=2,
                                                    path=math_file).read_bytes()


def test_a_copy_in_the_data_folder_is_found_without_naming_it(tmp_path, monkeypatch):
    # The README's download commands write data/ppe-GPQA.parquet; a run then needs no data_path.
    from rrmlib.data.hub import HubUnavailable

    _, rows, _ = hub_copy_for_the_papers_pairs("gpqa")
    monkeypatch.setenv("RRM_DATA", str(tmp_path))
    monkeypatch.setitem(sys.modules, "datasets", None)  # no hub here, as offline
    with pytest.raises(HubUnavailable, match=f"put it at {tmp_path / 'ppe-GPQA.parquet'}"):
        load_pairs("GPQA", round=2)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "ppe-GPQA.parquet")
    assert load_pairs("GPQA", round=2) == load_pairs("gpqa", round=2, path=tmp_path / "ppe-GPQA.parquet")
