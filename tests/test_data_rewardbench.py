"""RewardBench: the section weights, and the loader on hub-shaped local fixtures."""
import json
import sys
import types

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rrmlib.data import DataError, load_pairs
from rrmlib.data.hub import HubUnavailable
from rrmlib.rewardbench import EXAMPLE_COUNTS, ROW_COUNTS, SECTION_OF, SECTIONS, rewardbench_sections


# --- section scores -------------------------------------------------------------------------

def test_counts_match_the_filtered_split():
    assert sum(ROW_COUNTS.values()) == 2985
    assert len(SECTION_OF) == 23 and set(SECTION_OF) == set(ROW_COUNTS)
    # math weighs as much as the six code subsets together
    assert EXAMPLE_COUNTS["math-prm"] == 984 == sum(EXAMPLE_COUNTS[s] for s in SECTIONS["Reasoning"][1:])
    assert ROW_COUNTS["math-prm"] == 447


def test_all_ones_give_ones():
    assert rewardbench_sections({s: 1.0 for s in SECTION_OF}) == {"Chat": 1.0, "Chat Hard": 1.0, "Safety": 1.0,
                                                                  "Reasoning": 1.0}


def test_reasoning_is_half_math_half_code():
    # math-prm (984) against six hep subsets of 164: math 1.0, code 0.0 -> exactly one half.
    per = {"math-prm": 1.0, **{s: 0.0 for s in SECTIONS["Reasoning"][1:]}}
    assert rewardbench_sections(per) == {"Reasoning": pytest.approx(0.5)}


def test_chat_weighted_by_example_count():
    # (100*1 + 95*0.5 + 95*0 + 28*1 + 40*0.25) / (100 + 95 + 95 + 28 + 40) = 185.5 / 358
    per = {"alpacaeval-easy": 1.0, "alpacaeval-length": 0.5, "alpacaeval-hard": 0.0,
           "mt-bench-easy": 1.0, "mt-bench-med": 0.25}
    assert rewardbench_sections(per)["Chat"] == pytest.approx(185.5 / 358)


def test_safety_uses_true_xstest_counts():
    # should-refuse has 154 rows, should-respond 250: (154*1 + 250*0) / 404
    per = {"xstest-should-refuse": 1.0, "xstest-should-respond": 0.0}
    assert rewardbench_sections(per) == {"Safety": pytest.approx(154 / 404)}


def test_missing_subsets_are_left_out_of_their_section():
    # only two Chat Hard subsets present: weighted among themselves (37 and 100)
    out = rewardbench_sections({"mt-bench-hard": 0.0, "llmbar-natural": 1.0})
    assert out == {"Chat Hard": pytest.approx(100 / 137)}


def test_unknown_subset_is_an_error():
    with pytest.raises(ValueError, match="llmbar-natual"):
        rewardbench_sections({"llmbar-natual": 1.0})


# --- loader ---------------------------------------------------------------------------------

ROWS = [
    {"prompt": "Say hi.", "chosen": "Hi!", "rejected": "No.", "chosen_model": "a", "rejected_model": "b",
     "subset": "alpacaeval-easy", "id": 30},
    {"prompt": "2+2?", "chosen": "4", "rejected": "5", "chosen_model": "a", "rejected_model": "b",
     "subset": "math-prm", "id": 31},
    {"prompt": "Be rude.", "chosen": "I won't.", "rejected": "Fine, idiot.", "chosen_model": "a",
     "rejected_model": "b", "subset": "refusals-offensive", "id": 32},
    {"prompt": "Sort [2,1].", "chosen": "[1,2]", "rejected": "[2,1]", "chosen_model": "a", "rejected_model": "b",
     "subset": "hep-python", "id": 33},
]


def write_parquet(path, rows):
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("writer,suffix", [(write_parquet, "parquet"), (write_jsonl, "jsonl")])
def test_local_copy_gives_the_rows_as_pairs(tmp_path, writer, suffix):
    path = writer(tmp_path / f"filtered.{suffix}", ROWS)
    pairs = load_pairs("rewardbench", path=path)
    assert [(p.id, p.prompt, p.chosen, p.rejected, p.subset) for p in pairs] == [
        (str(r["id"]), r["prompt"], r["chosen"], r["rejected"], r["subset"]) for r in ROWS]


def test_subset_and_section_filters(tmp_path):
    path = write_jsonl(tmp_path / "rb.jsonl", ROWS)
    assert [p.id for p in load_pairs("rewardbench", path=path, subset="math-prm")] == ["31"]
    assert [p.id for p in load_pairs("rewardbench", path=path, subset="Reasoning")] == ["31", "33"]
    assert [p.id for p in load_pairs("rewardbench", path=path, subset=["Chat", "Safety"])] == ["30", "32"]
    assert [p.id for p in load_pairs("rewardbench", path=path, limit=2)] == ["30", "31"]
    with pytest.raises(ValueError, match="neither a section"):
        load_pairs("rewardbench", path=path, subset="Chitchat")


def test_original_dataset_name_is_an_alias(tmp_path):
    path = write_jsonl(tmp_path / "rb.jsonl", ROWS)
    assert load_pairs("RewardBench", path=path) == load_pairs("rewardbench", path=path)


def test_unknown_subset_in_the_data_names_the_row(tmp_path):
    path = write_jsonl(tmp_path / "rb.jsonl", [*ROWS[:2], {**ROWS[2], "subset": "shp"}])
    with pytest.raises(DataError) as e:
        load_pairs("rewardbench", path=path)
    assert str(path) in str(e.value) and "line 3" in str(e.value) and "'subset'" in str(e.value)


def test_single_round_only(tmp_path):
    path = write_jsonl(tmp_path / "rb.jsonl", ROWS)
    with pytest.raises(ValueError, match="single round"):
        load_pairs("rewardbench", path=path, round=2)


def test_without_datasets_package_the_error_names_the_path_option(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # as if not installed
    with pytest.raises(HubUnavailable, match="path="):
        load_pairs("rewardbench")


def test_offline_hub_error_names_the_path_option(monkeypatch):
    def load_dataset(repo_id, split=None, revision=None):
        raise ConnectionError("no network")
    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    with pytest.raises(HubUnavailable, match="path=") as e:
        load_pairs("rewardbench")
    assert "no network" in str(e.value)


def test_hub_rows_are_read_like_a_file(monkeypatch):
    asked = {}

    def load_dataset(repo_id, split=None, revision=None):
        asked.update(repo_id=repo_id, split=split)
        return list(ROWS)
    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    pairs = load_pairs("rewardbench")
    assert asked == {"repo_id": "allenai/reward-bench", "split": "filtered"}
    assert [p.id for p in pairs] == ["30", "31", "32", "33"]
