"""Own data as a newcomer brings it (issue 21, item 4): a held-out pairwise benchmark whose
labels are 0 / 1 / 2 = first / second / tie, whose column names hold spaces, whose subsets are
named ``writing_email``, ``coding_python``, ..., with one subset of ties only, and with one empty
answer in row 569 of 1,392. Every expectation here is worked out from how the file is built."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from data_files import write_jsonl

from rrmlib import metrics
from rrmlib.data import DataError, check_source, load_pairs, pair_options, select_pairs
from rrmlib.judge import results_frame
from rrmlib.params import ParameterError, check

ROOT = Path(__file__).resolve().parents[1]
SUBSETS = ["writing_email", "writing_story", "coding_python", "math_algebra"]
FIELDS = "prompt=user prompt,first=response A,second=response B,label=winner label,subset=task category"
LABELS = "0=first,1=second,2=tie"
ROWS = 1392
TIES_ONLY = 6  # the subset "chitchat": six rows, all labelled 2 (a tie), after the 1,392


def benchmark_rows(*, bad_row: int | None = 569):
    """Row i: subset SUBSETS[i % 4], label (i // 4) % 3, so each subset has 348 rows, 116 of each
    label; then six ties of "chitchat"; ``bad_row``'s second answer empty."""
    rows = [{"user prompt": f"Task {i}: write or solve it ({SUBSETS[i % 4]})", "response A": f"answer A to {i}",
             "response B": f"answer B to {i}", "winner label": (i // 4) % 3, "task category": SUBSETS[i % 4]}
            for i in range(ROWS)]
    rows += [{"user prompt": f"Hello {k}!", "response A": "Hi.", "response B": "Hello.", "winner label": 2,
              "task category": "chitchat"} for k in range(TIES_ONLY)]
    if bad_row is not None:
        rows[bad_row]["response B"] = ""
    return rows


@pytest.fixture
def heldout(tmp_path):
    return write_jsonl(tmp_path / "heldout.jsonl", benchmark_rows())


# --- one bad row ------------------------------------------------------------------------------

def test_the_empty_answer_stops_a_strict_run_naming_its_row_and_line(heldout):
    assert benchmark_rows()[569]["task category"] == "writing_story"  # 569 % 4 == 1
    with pytest.raises(DataError) as e:
        load_pairs(heldout, fields=FIELDS, labels=LABELS)
    assert (e.value.where, e.value.field) == ("row 569 (line 570)", "response B")
    assert e.value.problem.startswith("empty") and "bad_rows skip" in e.value.problem  # the way round it, named


def test_subsets_that_leave_the_bad_row_out_read_the_file_strictly(heldout):
    """`subsets` is applied before the answers are read: a bad row of another subset stops nothing."""
    pairs = load_pairs(heldout, fields=FIELDS, labels=LABELS, subsets="coding_python")
    assert len(pairs) == 348 and {p.subset for p in pairs} == {"coding_python"}
    assert pairs.loaded["rows"] == ROWS + TIES_ONLY and pairs.loaded["rows_of_other_subsets"] == ROWS + TIES_ONLY - 348
    assert pairs.loaded["skipped_rows"] == [] and pairs.loaded["bad_rows"] == "strict"
    # ... which is what a run's parameters give the loader
    p = check("pairwise", {"dataset": str(heldout), "fields": FIELDS, "labels": LABELS, "subsets": "coding_python"})
    assert pair_options(p)["subsets"] == "coding_python"
    chosen = select_pairs(load_pairs(heldout, **pair_options(p)), subsets=p["subsets"])
    assert len(chosen) == 232 and chosen.loaded["selection"]["ties_left_out"] == 116
    # the bad row's own subset still stops a strict run
    with pytest.raises(DataError, match=r"row 569 \(line 570\), field 'response B': empty"):
        load_pairs(heldout, fields=FIELDS, labels=LABELS, subsets="writing_story")


def test_a_row_whose_subset_cannot_be_read_is_a_bad_row_whatever_subsets_say(tmp_path):
    rows = benchmark_rows(bad_row=None)
    del rows[9]["task category"]  # a writing_story row: whether it is coding_python cannot be told
    path = write_jsonl(tmp_path / "h.jsonl", rows)
    with pytest.raises(DataError, match=r"row 9 \(line 10\), field 'task category': missing"):
        load_pairs(path, fields=FIELDS, labels=LABELS, subsets="coding_python")
    pairs = load_pairs(path, fields=FIELDS, labels=LABELS, subsets="coding_python", bad_rows="skip")
    assert [s["row"] for s in pairs.loaded["skipped_rows"]] == [9] and len(pairs) == 348


def defective_rows():
    """60 rows of which six are bad in six ways, and the (row, field, problem) of each."""
    rows = [{"user prompt": f"q{i}", "response A": f"a{i}", "response B": f"b{i}", "winner label": i % 2,
             "task category": SUBSETS[i % 4]} for i in range(60)]
    rows[3]["response B"] = "   "
    del rows[5]["user prompt"]
    rows[7]["winner label"] = 7
    rows[9]["user prompt"] = 42
    rows[13]["winner label"] = None
    want = [(3, "response B", "empty"), (5, "user prompt", "missing"),
            (7, "winner label", "'7' is not a mapped label value"), (9, "user prompt", "expected str, got int 42"),
            (11, None, "not valid JSON"), (13, "winner label", "missing")]
    return rows, want


def write_defective(path):
    rows, want = defective_rows()
    lines = [json.dumps(r) for r in rows]
    lines[11] = lines[11][:-7]  # a line cut short: not JSON
    path.write_text("\n".join(lines) + "\n")
    return path, want


def test_bad_rows_skip_lists_every_skipped_row_with_its_reason(tmp_path):
    path, want = write_defective(tmp_path / "d.jsonl")
    # strict: the first defect met, and lines are parsed before fields are checked
    with pytest.raises(DataError, match=r"row 11 \(line 12\): not valid JSON"):
        load_pairs(path, fields=FIELDS, labels=LABELS)
    pairs = load_pairs(path, fields=FIELDS, labels=LABELS, bad_rows="skip")
    skipped = pairs.loaded["skipped_rows"]
    assert [(s["row"], s["field"]) for s in skipped] == [(r, f) for r, f, _ in want]
    assert all(problem in s["problem"] for s, (_, _, problem) in zip(skipped, want))
    assert [s["where"] for s in skipped] == [f"row {r} (line {r + 1})" for r, _, _ in want]
    # the other 54 pairs, each numbered by its row
    assert [p.id for p in pairs] == [str(i) for i in range(60) if i not in {r for r, _, _ in want}]
    warning, = pairs.loaded["warnings"]
    assert warning.startswith("6 of 60 rows skipped (bad_rows skip)")
    assert "row 3 (line 4), field 'response B': empty" in warning and "and 3 more" in warning


def test_other_bad_rows_a_newcomer_meets(tmp_path):
    """A repeated id, and every row bad: listed, and said as such before anything is judged."""
    from rrmlib.data.select import nothing_to_judge

    rows = [{"key": k, "q": f"q{n}", "a": "x", "b": "y", "label": "A>B"} for n, k in enumerate([1, 2, 2, 3])]
    path = write_jsonl(tmp_path / "ids.jsonl", rows)
    with pytest.raises(DataError, match=r"row 2 \(line 3\), field 'key': duplicate id '2' \(first at row 1"):
        load_pairs(path, fields="id=key,prompt=q,first=a,second=b")
    pairs = load_pairs(path, fields="id=key,prompt=q,first=a,second=b", bad_rows="skip")
    assert [p.id for p in pairs] == ["1", "2", "3"] and [s["row"] for s in pairs.loaded["skipped_rows"]] == [2]
    empty = [{"q": "", "a": "x", "b": "y", "label": "A>B"}] * 3
    none = select_pairs(load_pairs(write_jsonl(tmp_path / "e.jsonl", empty), fields="prompt=q,first=a,second=b",
                                   bad_rows="skip"))
    assert len(none) == 0
    assert nothing_to_judge("e.jsonl", none.loaded) == (
        "no pairs to judge in 'e.jsonl': every row read was skipped (bad_rows skip: 3 of 3 rows, listed in "
        "meta.json); the first, row 0 (line 1), field 'q': empty")


def test_a_0_1_2_column_pandas_made_float_reads_as_its_digits(tmp_path):
    """A label column with one missing value is a float column in pandas (0.0, 1.0, 2.0, NaN)."""
    frame = pd.DataFrame({"q": ["a", "b", "c", "d"], "x": ["1", "2", "3", "4"], "y": ["5", "6", "7", "8"],
                          "label": [0, 1, 2, None], "group": ["g7", "g7", "g8", "g8"]})
    assert frame["label"].dtype == float
    frame.to_parquet(tmp_path / "f.parquet")
    options = dict(fields="prompt=q,first=x,second=y,subset=group", labels=LABELS)
    with pytest.raises(DataError, match="row 3, field 'label': missing"):
        load_pairs(tmp_path / "f.parquet", **options)
    pairs = load_pairs(tmp_path / "f.parquet", **options, bad_rows="skip")
    assert [(p.chosen, p.tie, p.subset) for p in pairs] == [("1", False, "g7"), ("6", False, "g7"), ("3", True, "g8")]
    assert pairs.loaded["labels"] == {"0": 1, "1": 1, "2": 1}
    with pytest.raises(DataError, match="expected a label"):
        load_pairs(write_jsonl(tmp_path / "h.jsonl", [{"q": "a", "x": "1", "y": "2", "label": 0.5}]), **{
            **options, "fields": "prompt=q,first=x,second=y"})


def test_bad_rows_is_a_parameter_strict_by_default(tmp_path, heldout):
    assert check("pairwise", {})["bad_rows"] == "strict"
    with pytest.raises(ParameterError, match="bad_rows"):
        check("pairwise", {"bad_rows": "lenient"})
    strict = check("pairwise", {"dataset": str(heldout), "fields": FIELDS, "labels": LABELS})
    assert "bad_rows" not in pair_options(strict)  # the default is not offered to datasets that don't take it
    skip = check("pairwise", {"dataset": str(heldout), "fields": FIELDS, "labels": LABELS, "bad_rows": "skip"})
    pairs = load_pairs(skip["dataset"], **pair_options(skip))
    assert len(pairs) == ROWS + TIES_ONLY - 1 and pairs.loaded["skipped_rows"][0]["row"] == 569
    with pytest.raises(TypeError, match="bad_rows"):  # a built-in set has no rows to skip: refused before a run
        check_source("demo", "pair", **pair_options(check("pairwise", {"bad_rows": "skip"})))


def test_bad_rows_skip_is_refused_for_a_format_read_by_its_own_reader(tmp_path):
    path = write_jsonl(tmp_path / "llmbar.jsonl", [{"input": "q", "output_1": "a", "output_2": "b", "label": 1}])
    with pytest.raises(ValueError, match="bad_rows skip reads a file through the pair-file mapping"):
        load_pairs(path, bad_rows="skip")


# --- ties -------------------------------------------------------------------------------------

def test_ties_are_left_out_before_sample_and_limit_and_counted(tmp_path):
    from rrmlib.data.select import describe, nothing_to_judge

    path = write_jsonl(tmp_path / "h.jsonl", benchmark_rows(bad_row=None))
    pairs = load_pairs(path, fields=FIELDS, labels=LABELS)
    assert sum(p.tie for p in pairs) == 4 * 116 + TIES_ONLY
    everything = select_pairs(pairs)
    assert len(everything) == 4 * 232 and not any(p.tie for p in everything)
    sel = everything.loaded["selection"]
    assert sel["ties_left_out"] == 4 * 116 + TIES_ONLY
    assert sel["ties_per_subset"] == {**{s: 116 for s in SUBSETS}, "chitchat": TIES_ONLY}
    assert "chitchat" not in sel["per_subset"]
    for chosen in (select_pairs(pairs, limit=10), select_pairs(pairs, sample=30, seed=1)):
        assert not any(p.tie for p in chosen)  # N pairs asked for, N pairs judged
    assert len(select_pairs(pairs, limit=10)) == 10 and len(select_pairs(pairs, sample=30, seed=1)) == 30
    lines = describe(everything.loaded)
    assert f"pairs labelled a tie, left out (not judged, not in the accuracy): {4 * 116 + TIES_ONLY}" in "\n".join(lines)
    assert "subset chitchat: 0 pairs scored: all 6 are ties" in lines
    only = select_pairs(pairs, subsets="chitchat")
    assert len(only) == 0 and only.loaded["selection"]["ties_per_subset"] == {"chitchat": TIES_ONLY}
    assert "all 6 selected pairs are ties" in nothing_to_judge("heldout", only.loaded)


def judged(pairs_by_subset: dict, tie_subsets=()) -> pd.DataFrame:
    """Results of pairs judged once each, every verdict for the chosen answer; pairs of
    ``tie_subsets`` labelled a tie (as a run before ties were left out judged them)."""
    rows = []
    for subset, n in pairs_by_subset.items():
        for k in range(n):
            rows.append({"pair_id": f"{subset}-{k}", "subset": subset, "tie": subset in tie_subsets,
                         "order": "chosen_first", "sample": 0, "key": f"{subset}-{k}", "verdict": 1,
                         "picked": "chosen", "correct": True, "prompt_tokens": 10, "completion_tokens": 4,
                         "think_tokens": 0, "cut_off": False, "fit": "whole", "budget": 4})
    return results_frame(rows)


def test_a_subset_of_ties_only_is_reported_as_such_not_as_n_0(tmp_path, capsys):
    from rrmlib.cli import print_summary

    m = metrics.metrics(judged({"coding_python": 3, "writing_email": 2}), "tie",
                        ties={"coding_python": 2, "chitchat": TIES_ONLY})
    assert set(m["subsets"]) == {"coding_python", "writing_email"}  # no row of n 0 for chitchat
    assert m["tie_only_subsets"] == {"chitchat": TIES_ONLY} and m["human_ties_excluded"] == 2 + TIES_ONLY
    assert m["subsets"]["coding_python"]["ties"] == 2 and m["subsets"]["writing_email"]["ties"] == 0
    assert m["n"] == 5 and m["accuracy"] == 1.0
    table = metrics.subset_table(m)
    assert list(table.index) == ["coding_python", "writing_email", "all"] and table.loc["all", "ties"] == 8
    (tmp_path / "metrics.json").write_text(json.dumps(m))
    (tmp_path / "meta.json").write_text(json.dumps({"completions": {"generated": 5, "reused": 0}}))
    print_summary(tmp_path)
    out = capsys.readouterr().out
    assert "8 pair(s) labelled a tie left out" in out
    assert "subset chitchat: 0 pairs scored: all 6 are ties" in out
    assert not re.search(r"^chitchat\s", out, re.M)  # no table row for it

    # results that still hold judged ties (a run before ties were left out) read the same way
    old = metrics.metrics(judged({"coding_python": 3, "chitchat": 4}, tie_subsets={"chitchat"}), "tie")
    assert set(old["subsets"]) == {"coding_python"} and old["tie_only_subsets"] == {"chitchat": 4}


# --- labels outside the mapping ---------------------------------------------------------------

def test_the_readme_mapping_once_given_warns_on_a_0_1_2_file(tmp_path):
    """`labels '1=first,2=second'` with `other_labels tie` on a 0/1/2 file scores the 1s and 2s
    backwards and keeps the 0s (a third) as ties: that must not pass with one printed line."""
    path = write_jsonl(tmp_path / "h.jsonl", benchmark_rows(bad_row=None))
    pairs = load_pairs(path, fields=FIELDS, labels="1=first,2=second", other_labels="tie")
    zeros = 4 * 116  # label 0, outside that mapping
    warning, = pairs.loaded["warnings"]
    assert f"{zeros} of {ROWS + TIES_ONLY} rows" in warning and "'0'" in warning and "33.2%" in warning
    assert "kept as ties" in warning and "'0' (464), '1' (464), '2' (470)" in warning
    right = load_pairs(path, fields=FIELDS, labels=LABELS)
    assert "warnings" not in right.loaded and right.loaded["unmapped_labels"] == {}


@pytest.mark.parametrize("outside, warns", [(2, False), (3, True)])
def test_more_than_two_percent_outside_the_labels_warns(tmp_path, outside, warns):
    rows = [{"prompt": f"q{i}", "first": "a", "second": "b", "label": "?" if i < outside else "A>B"} for i in range(100)]
    pairs = load_pairs(write_jsonl(tmp_path / "l.jsonl", rows), fields="prompt=prompt,first=first,second=second",
                       other_labels="tie")
    assert pairs.loaded["unmapped_labels"] == {"?": outside}
    assert bool(pairs.loaded.get("warnings")) == warns


def readme_runs() -> list[dict]:
    """The parameters of each `rrm run pairwise` in docs/data.md's "Your own data" that maps a file
    with `fields`."""
    import shlex

    section = ROOT.joinpath("docs", "data.md").read_text().split("## Your own data", 1)[1].split("\n## ", 1)[0]
    runs = []
    for line in section.replace("\\\n", " ").splitlines():
        if line.startswith("rrm run pairwise"):
            argv = shlex.split(line)
            params = {argv[i + 1]: argv[i + 2] for i, a in enumerate(argv) if a == "-p"}
            if "fields" in params:
                runs.append(params)
    return runs


def test_the_readme_examples_read_a_file_as_they_say(tmp_path):
    """Each example, on a file with the columns and label values it names: every pair the right
    way round, no warning, and a 0/1/2 (first / second / tie) file among them."""
    from rrmlib.data.own import parse_fields, parse_labels

    runs = readme_runs()
    assert len(runs) == 3
    assert any(parse_labels(r.get("labels")) == {"0": "first", "1": "second", "2": "tie"} for r in runs)
    for n, params in enumerate(runs):
        columns = parse_fields(params["fields"])
        label_map = parse_labels(params.get("labels")) if "first" in columns else {}
        values = [int(v) if v.isdigit() else v for v in label_map] or [None]
        rows = []
        for i in range(6):
            text = {"prompt": f"q{i}", "chosen": f"A{i}", "first": f"A{i}", "rejected": f"B{i}", "second": f"B{i}",
                    "label": values[i % len(values)], "subset": "s", "id": f"id{i}"}
            rows.append({column: text[role] for role, column in columns.items()})
        path = tmp_path / f"{n}-{params['dataset']}"
        if path.suffix == ".parquet":
            pd.DataFrame(rows).to_parquet(path)
        else:
            write_jsonl(path, rows)
        p = check("pairwise", {**params, "dataset": str(path)})
        pairs = load_pairs(path, **pair_options(p))
        assert len(pairs) == 6 and "warnings" not in pairs.loaded and pairs.loaded["skipped_rows"] == []
        for i, pair in enumerate(pairs):
            target = label_map.get(str(values[i % len(values)]), "first")
            assert pair.tie == (target == "tie")
            assert pair.chosen == (f"B{i}" if target == "second" else f"A{i}")


# --- subsets by name or pattern ---------------------------------------------------------------

def test_subsets_take_patterns_and_a_bare_prefix_says_which_pattern(tmp_path):
    path = write_jsonl(tmp_path / "h.jsonl", benchmark_rows(bad_row=None))
    pairs = load_pairs(path, fields=FIELDS, labels=LABELS)
    subsets = lambda name: {p.subset for p in select_pairs(pairs, subsets=name)}  # noqa: E731
    assert subsets("writing*") == subsets("writing_*") == {"writing_email", "writing_story"}
    assert subsets("*_python,math_algebra") == {"coding_python", "math_algebra"}
    assert subsets("writing_email") == {"writing_email"}
    with pytest.raises(ValueError) as e:
        select_pairs(pairs, subsets="writing")
    assert "chitchat, coding_python, math_algebra, writing_email, writing_story" in str(e.value)
    assert "'writing*'" in str(e.value)
    with pytest.raises(ValueError, match="names match case and all: 'writing_email' is there"):
        select_pairs(pairs, subsets="Writing_Email")
    with pytest.raises(ValueError, match="'essay\\*' selects none"):
        select_pairs(pairs, subsets="essay*")
    # the loader (which reads no more of other subsets' rows) matches the same way
    assert {p.subset for p in load_pairs(path, fields=FIELDS, labels=LABELS, subsets="writing*")} == \
        {"writing_email", "writing_story"}


# --- one numbering --------------------------------------------------------------------------

def test_rows_count_from_0_in_every_format_and_a_pair_without_id_is_its_row(tmp_path):
    rows = benchmark_rows(bad_row=None)[:8]
    rows[4]["response A"] = ""
    (tmp_path / "h.json").write_text(json.dumps(rows))
    pd.DataFrame(rows).to_parquet(tmp_path / "h.parquet")
    files = [("row 4 (line 5)", write_jsonl(tmp_path / "h.jsonl", rows)),
             ("row 4 (line 6)", write_jsonl(tmp_path / "blank.jsonl", rows, blank_after=1)),
             ("row 4", tmp_path / "h.json"), ("row 4", tmp_path / "h.parquet")]
    for where, path in files:
        with pytest.raises(DataError) as e:
            load_pairs(path, fields=FIELDS, labels=LABELS)
        assert e.value.where == where and e.value.field == "response A"
        pairs = load_pairs(path, fields=FIELDS, labels=LABELS, bad_rows="skip")
        assert [p.id for p in pairs] == ["0", "1", "2", "3", "5", "6", "7"]
        assert pairs.loaded["skipped_rows"][0]["row"] == 4
    clean = load_pairs(write_jsonl(tmp_path / "clean.jsonl", benchmark_rows(bad_row=None)[:5]), fields=FIELDS,
                       labels=LABELS)
    assert [p.id for p in clean] == ["0", "1", "2", "3", "4"]  # unchanged: ids seed the shown order and samples


# --- the whole path, as `rrm run` shows it ----------------------------------------------------

def small_benchmark():
    """21 rows: six of each of writing_email, writing_story, coding_python (row 3k + 0, 1, 2) and
    three of chitchat (all ties); labels k % 3 within a subset; row 4 (writing_story, k = 1) has an
    empty answer, and so has row 5 (coding_python), outside the run's subsets."""
    rows = []
    for k in range(6):
        for s in ("writing_email", "writing_story", "coding_python"):
            rows.append({"user prompt": f"{s} task {k}", "response A": f"A {s} {k}", "response B": f"B {s} {k}",
                         "winner label": k % 3, "task category": s})
    rows += [{"user prompt": f"hi {k}", "response A": "hi", "response B": "hello", "winner label": 2,
              "task category": "chitchat"} for k in range(3)]
    rows[4]["response A"] = ""
    rows[5]["response B"] = ""
    return rows


def rrm_run(tmp_path, name, model, **params):
    out = tmp_path / name
    argv = [sys.executable, "-m", "rrmlib.cli", "run", "pairwise", "-p", "model", str(model), "-p", "max_new_tokens",
            "4", "-p", "store", str(tmp_path / "j.sqlite"), "-p", "out_dir", str(out)]
    for k, v in params.items():
        argv += ["-p", k, str(v)]
    import os

    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "RRM_ROOT": str(tmp_path), "TOKENIZERS_PARALLELISM": "false"})
    return done, out


def notebook_text(folder) -> dict:
    nb = json.loads((folder / "pairwise.ipynb").read_text())
    outs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    return {"stdout": "".join("".join(o.get("text", "")) for o in outs if o.get("name") == "stdout"),
            "stderr": "".join("".join(o.get("text", "")) for o in outs if o.get("name") == "stderr"),
            "markdown": "".join("".join(o.get("data", {}).get("text/markdown", "")) for o in outs)}


@pytest.mark.slow
def test_rrm_run_on_the_newcomers_file(tmp_path, tiny_model_dir):
    rows = small_benchmark()
    data = write_jsonl(tmp_path / "heldout.jsonl", rows)
    done, out = rrm_run(tmp_path, "run", tiny_model_dir, dataset=data, fields=FIELDS, labels=LABELS,
                        bad_rows="skip", subsets="writing*,chitchat")
    assert done.returncode == 0, done.stderr[-3000:]
    # worked out from the file: writing_* rows 0,1,3,4,... labels k % 3; row 4 (writing_story, k=1) skipped
    writing = [(i, r) for i, r in enumerate(rows) if r["task category"].startswith("writing")]
    judged_ids = sorted(str(i) for i, r in writing if i != 4 and r["winner label"] != 2)
    tie_count = {"writing_email": 2, "writing_story": 2, "chitchat": 3}
    assert len(judged_ids) == 7
    res = pd.read_parquet(out / "results.parquet")
    assert sorted(res["pair_id"]) == judged_ids and not res["tie"].any()  # ties are not judged
    meta = json.loads((out / "meta.json").read_text())
    assert meta["completions"] == {"generated": 7, "reused": 0}
    assert [(s["row"], s["field"], s["problem"]) for s in meta["data"]["skipped_rows"]] == [(4, "response A", "empty")]
    assert meta["data"]["rows_of_other_subsets"] == 6  # coding_python, its bad row 5 among them: not read
    assert meta["data"]["selection"]["ties_per_subset"] == tie_count
    m = json.loads((out / "metrics.json").read_text())
    assert m["human_ties_excluded"] == 7 and m["tie_only_subsets"] == {"chitchat": 3}
    assert set(m["subsets"]) == {"writing_email", "writing_story"}
    assert any(w.startswith("1 of 21 rows skipped") for w in m["warnings"])
    # the terminal: ties, the tie-only subset, the skipped row with its reason
    assert "7 pair(s) labelled a tie left out" in done.stdout
    assert "subset chitchat: 0 pairs scored: all 3 are ties" in done.stdout
    assert "WARNING: 1 of 21 rows skipped" in done.stderr and "row 4 (line 5), field 'response A': empty" in done.stderr
    assert not re.search(r"^chitchat\s", done.stdout, re.M)  # no table row of n 0 for it
    # the notebook says the same
    nb = notebook_text(out)
    assert "pairs labelled a tie, left out (not judged, not in the accuracy): 7" in nb["stdout"]
    assert "subset chitchat: 0 pairs scored: all 3 are ties" in nb["stdout"]
    assert "**Warning:** 1 of 21 rows skipped" in nb["markdown"]

    # The mapping the README once gave, on this 0/1/2 file: a loud warning, everywhere.
    done, out = rrm_run(tmp_path, "wrong", tiny_model_dir, dataset=data, fields=FIELDS, labels="1=first,2=second",
                        other_labels="tie", subsets="writing_email", limit=2)
    assert done.returncode == 0, done.stderr[-3000:]
    warning = "2 of 6 rows (33.3%, more than 2%) hold a label value outside labels ('0')"
    assert warning in done.stderr and f"**Warning:** {warning}" in notebook_text(out)["markdown"]
    assert any(w.startswith(warning) for w in json.loads((out / "metrics.json").read_text())["warnings"])
