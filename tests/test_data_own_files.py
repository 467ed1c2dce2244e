"""Your own pair files: the format, the column mapping (fields, labels, other_labels), the
subset filter and the seeded, stratified sample. Every file is written here."""
import subprocess
import sys
from collections import Counter

import pytest
from data_files import error_of, write_jsonl

from rrmlib.data import DataError, Pair, Pairs, load_pairs, select_pairs
from rrmlib.params import ParameterError, check


# --- the format and the mapping ---------------------------------------------------------------

def test_plain_pair_file_needs_no_mapping(tmp_path):
    path = write_jsonl(tmp_path / "mine.jsonl", [{"prompt": "2+2?", "chosen": "4", "rejected": "5"}])
    assert load_pairs(path) == [Pair("0", "2+2?", "4", "5", "mine")]


def test_fields_as_a_string_or_a_mapping(tmp_path):
    path = write_jsonl(tmp_path / "mine.jsonl", [{"q": "2+2?", "good": "4", "bad": "5", "key": 7, "topic": "maths"}])
    want = [Pair("7", "2+2?", "4", "5", "maths")]
    assert load_pairs(path, fields="prompt=q, chosen=good, rejected=bad, id=key, subset=topic") == want
    assert load_pairs(path, fields={"prompt": "q", "chosen": "good", "rejected": "bad", "id": "key",
                                    "subset": "topic"}) == want


LABELLED = [
    {"q": "2+2?", "x": "4", "y": "5", "verdict": "A>B"},
    {"q": "3+3?", "x": "7", "y": "6", "verdict": "B>A"},
    {"q": "1+1?", "x": "2", "y": "3", "verdict": "A>B"},
]


def test_two_answers_and_a_label_column(tmp_path):
    path = write_jsonl(tmp_path / "mine.jsonl", LABELLED)
    pairs = load_pairs(path, fields="prompt=q,first=x,second=y,label=verdict")  # labels: A>B / B>A by default
    assert [(p.chosen, p.rejected) for p in pairs] == [("4", "5"), ("6", "7"), ("2", "3")]  # B>A: the second is better
    assert pairs.loaded["labels"] == {"A>B": 2, "B>A": 1} and pairs.loaded["ties"] == 0
    swapped = load_pairs(path, fields="prompt=q,first=x,second=y,label=verdict", labels="A>B=second,B>A=first")
    assert [(p.chosen, p.rejected) for p in swapped] == [("5", "4"), ("7", "6"), ("3", "2")]


def test_integer_labels(tmp_path):
    rows = [{"instruction": "Hi?", "output_a": "Hello!", "output_b": "No.", "preferred": 1},
            {"instruction": "Bye?", "output_a": "No.", "output_b": "Goodbye!", "preferred": 2}]
    path = write_jsonl(tmp_path / "mine.jsonl", rows)
    pairs = load_pairs(path, fields="prompt=instruction,first=output_a,second=output_b,label=preferred",
                       labels="1=first,2=second")
    assert [p.chosen for p in pairs] == ["Hello!", "Goodbye!"]


def test_a_label_outside_the_mapping_is_refused_by_default_naming_the_row(tmp_path):
    path = write_jsonl(tmp_path / "mine.jsonl", [*LABELLED, {"q": "?", "x": "a", "y": "b", "verdict": "A=B"}])
    msg = error_of(load_pairs, path, fields="prompt=q,first=x,second=y,label=verdict")
    assert str(path) in msg and "line 4" in msg and "'verdict'" in msg and "'A=B'" in msg
    assert "other_labels" in msg and "labels" in msg


def test_other_labels_tie_keeps_and_counts_them(tmp_path):
    rows = [*LABELLED, {"q": "?", "x": "a", "y": "b", "verdict": "A=B"}, {"q": "!", "x": "c", "y": "d", "verdict": "??"}]
    path = write_jsonl(tmp_path / "mine.jsonl", rows)
    pairs = load_pairs(path, fields="prompt=q,first=x,second=y,label=verdict", other_labels="tie")
    assert len(pairs) == 5 and [p.tie for p in pairs] == [False, False, False, True, True]
    assert pairs.loaded["unmapped_labels"] == {"??": 1, "A=B": 1} and pairs.loaded["ties"] == 2
    # mapping one value to tie leaves the others refused
    with pytest.raises(DataError, match="line 5.*'\\?\\?'"):
        load_pairs(path, fields="prompt=q,first=x,second=y,label=verdict", labels="A>B=first,B>A=second,A=B=tie")


def test_a_label_value_mapped_to_tie(tmp_path):
    path = write_jsonl(tmp_path / "mine.jsonl", [*LABELLED, {"q": "?", "x": "a", "y": "b", "verdict": "A=B"}])
    pairs = load_pairs(path, fields="prompt=q,first=x,second=y,label=verdict", labels="A>B=first,B>A=second,A=B=tie")
    assert [p.tie for p in pairs] == [False, False, False, True] and pairs.loaded["unmapped_labels"] == {}


def test_an_unknown_format_names_the_expected_columns_and_the_mapping_parameters(tmp_path):
    path = write_jsonl(tmp_path / "mine.jsonl", [{"question": "q", "good": "a", "bad": "b"}])
    msg = error_of(load_pairs, path)
    assert str(path) in msg and "line 1" in msg and "'prompt'" in msg
    assert "question, good, bad" in msg  # what the file has
    assert "prompt, chosen, rejected" in msg and "prompt, first, second and a label" in msg  # what a pair file has
    assert "fields" in msg and "labels" in msg and "other_labels" in msg  # how to map it
    assert "prompt=question" in msg


def test_a_missing_field_in_a_later_row_is_an_ordinary_row_error(tmp_path):
    path = write_jsonl(tmp_path / "mine.jsonl", [{"prompt": "p", "chosen": "a", "rejected": "b"}, {"prompt": "p", "chosen": "a"}])
    msg = error_of(load_pairs, path)
    assert "line 2" in msg and "'rejected'" in msg and "fields" not in msg


def test_an_answer_named_by_position_mapped_to_chosen_is_refused(tmp_path):
    """The issue's trap: response_A mapped to chosen loads, and every B>A row counts backwards."""
    rows = [{"question": "q", "response_A": "a", "response_B": "b", "label": "B>A"}]
    path = write_jsonl(tmp_path / "jb.jsonl", rows)
    msg = error_of(load_pairs, path, fields="prompt=question,chosen=response_A,rejected=response_B")
    assert "'response_A'" in msg and "label" in msg and "first=" in msg


@pytest.mark.parametrize("fields, message", [
    ("prompt=q,winner=x", "'winner' is not one of"),
    ("prompt=q,chosen=x,first=y,second=z", "either chosen and rejected"),
    ("prompt=q,first=x", "both first= and second="),
    ("prompt", "NAME=VALUE"),
])
def test_a_bad_mapping_is_refused(tmp_path, fields, message):
    path = write_jsonl(tmp_path / "mine.jsonl", LABELLED)
    with pytest.raises(ValueError, match=message):
        load_pairs(path, fields=fields)


def test_labels_without_a_label_column_are_refused(tmp_path):
    path = write_jsonl(tmp_path / "mine.jsonl", [{"prompt": "p", "chosen": "a", "rejected": "b"}])
    with pytest.raises(ValueError, match="labels and other_labels read a label column"):
        load_pairs(path, labels="A>B=first,B>A=second")
    with pytest.raises(ValueError, match="must be one of"):
        load_pairs(write_jsonl(tmp_path / "l.jsonl", LABELLED), fields="prompt=q,first=x,second=y,label=verdict",
                   other_labels="coin")


def test_notebook_parameters_take_the_mapping():
    p = check("pairwise", {"fields": "prompt=q,first=x,second=y", "labels": {"A>B": "first"}, "other_labels": "tie",
                           "subsets": "a,b", "sample": 6})
    assert p["fields"] == "prompt=q,first=x,second=y" and p["sample"] == 6 and p["other_labels"] == "tie"
    assert check("pairwise", {"subsets": ["a", "b"], "fields": {"prompt": "q"}})["subsets"] == ["a", "b"]
    with pytest.raises(ParameterError, match="other_labels"):
        check("pairwise", {"other_labels": "coin"})
    with pytest.raises(ParameterError, match="'sample' must be >= 1"):
        check("pairwise", {"sample": 0})


# --- subsets, sample, limit -------------------------------------------------------------------

SIZES = {"alpha": 60, "beta": 30, "gamma": 10}


def sized_file(tmp_path):
    rows = [{"id": f"{s}-{i}", "prompt": f"{s} {i}?", "chosen": "yes", "rejected": "no", "subset": s}
            for s, n in SIZES.items() for i in range(n)]
    return write_jsonl(tmp_path / "sized.jsonl", rows)


def test_sample_is_stratified_by_subset(tmp_path):
    pairs = load_pairs(sized_file(tmp_path))
    for n, want in [(10, {"alpha": 6, "beta": 3, "gamma": 1}), (20, {"alpha": 12, "beta": 6, "gamma": 2}),
                    (7, None)]:
        got = Counter(p.subset for p in select_pairs(pairs, sample=n, seed=3))
        assert sum(got.values()) == n
        for s, size in SIZES.items():  # each subset its share, rounded down or up
            share = n * size / sum(SIZES.values())
            assert int(share) <= got[s] <= int(share) + 1
        if want:
            assert got == want


def test_sample_keeps_file_order_and_limit_comes_after(tmp_path):
    pairs = load_pairs(sized_file(tmp_path))
    sample = select_pairs(pairs, sample=10, seed=0)
    index = {p.id: n for n, p in enumerate(pairs)}
    assert [index[p.id] for p in sample] == sorted(index[p.id] for p in sample)
    limited = select_pairs(pairs, sample=10, seed=0, limit=4)
    assert [p.id for p in limited] == [p.id for p in sample][:4]
    assert limited.loaded["selection"] == {"subsets": None, "sample": 10, "sample_seed": 0, "sample_unit": "pair",
                                           "limit": 4, "pairs": 4, "per_subset": dict(Counter(p.subset for p in limited)),
                                           "ties_left_out": 0, "ties_per_subset": {}}
    assert select_pairs(pairs, sample=1000, seed=0) == pairs  # more than there are: all


def test_another_seed_draws_other_pairs(tmp_path):
    pairs = load_pairs(sized_file(tmp_path))
    ids = {seed: [p.id for p in select_pairs(pairs, sample=10, seed=seed)] for seed in range(4)}
    assert len({tuple(v) for v in ids.values()}) == 4


SAMPLE_IN_A_PROCESS = """
import sys
from rrmlib.data import load_pairs, select_pairs
print(",".join(p.id for p in select_pairs(load_pairs(sys.argv[1]), sample=10, seed=int(sys.argv[2]))))
"""


def test_the_same_seed_draws_the_same_pairs_in_another_process(tmp_path):
    path = sized_file(tmp_path)
    here = ",".join(p.id for p in select_pairs(load_pairs(path), sample=10, seed=5))
    for hash_seed in ("1", "2"):  # Python's hash() differs between these processes; the sample must not
        out = subprocess.run([sys.executable, "-c", SAMPLE_IN_A_PROCESS, str(path), "5"], capture_output=True,
                             text=True, check=True, env={"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin"})
        assert out.stdout.strip() == here
    other = subprocess.run([sys.executable, "-c", SAMPLE_IN_A_PROCESS, str(path), "6"], capture_output=True,
                           text=True, check=True).stdout.strip()
    assert other != here


def test_subsets_by_name_or_prefix_and_an_unknown_one_lists_what_there_is(tmp_path):
    rows = [{"prompt": f"{s}?", "chosen": "y", "rejected": "n", "subset": s}
            for s in ("mmlu-pro-law", "mmlu-pro-math", "livebench-math", "livecodebench")]
    pairs = load_pairs(write_jsonl(tmp_path / "s.jsonl", rows))
    assert [p.subset for p in select_pairs(pairs, subsets="mmlu-pro")] == ["mmlu-pro-law", "mmlu-pro-math"]
    assert [p.subset for p in select_pairs(pairs, subsets=["livecodebench", "mmlu-pro-law"])] == \
        ["mmlu-pro-law", "livecodebench"]
    assert [p.subset for p in select_pairs(pairs, subsets="livebench")] == ["livebench-math"]
    assert len(select_pairs(pairs, subsets="mmlu")) == 2  # a prefix before '-'
    with pytest.raises(ValueError, match="'mmlu-redux' selects none.*livebench-math, livecodebench, mmlu-pro-law"):
        select_pairs(pairs, subsets="mmlu-redux")
    with pytest.raises(ValueError, match="'livebench-m' selects none"):  # a prefix only up to a '-'
        select_pairs(pairs, subsets="livebench-m")


def test_select_keeps_how_the_pairs_were_loaded(tmp_path):
    pairs = load_pairs(write_jsonl(tmp_path / "l.jsonl", LABELLED), fields="prompt=q,first=x,second=y,label=verdict")
    picked = select_pairs(pairs, limit=2)
    assert isinstance(picked, Pairs) and picked.loaded["labels"] == {"A>B": 2, "B>A": 1}
    assert picked.loaded["rows"] == 3 and picked.loaded["selection"]["pairs"] == 2
    plain = select_pairs([Pair("a", "p", "x", "y", "s")])
    assert plain.scoring is None and plain.loaded["pairs"] == 1


def test_a_rewardbench_section_selects_its_subsets():
    from rrmlib.data import Pair
    from rrmlib.data.select import select

    pairs = [Pair(f"{s}-{i}", "q", "a", "b", s) for s in ("mt-bench-hard", "llmbar-natural", "alpacaeval-easy")
             for i in range(2)]
    kept = select(pairs, subsets="Chat Hard")
    assert [p.subset for p in kept] == ["mt-bench-hard"] * 2 + ["llmbar-natural"] * 2
