"""RewardBench: the section weights, and the loader on hub-shaped local fixtures."""
import sys
import types

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from data_files import write_jsonl

from rrmlib.data import DataError, load_pairs
from rrmlib.data.hub import HubUnavailable
from rrmlib.data.rewardbench import EXAMPLE_COUNTS, ROW_COUNTS, SECTION_OF, SECTIONS, rewardbench_sections


# --- section scores -------------------------------------------------------------------------

def test_counts_match_the_filtered_split():
    assert sum(ROW_COUNTS.values()) == 2985
    assert len(SECTION_OF) == 23 and set(SECTION_OF) == set(ROW_COUNTS)
    # math weighs as much as the six code subsets together
    assert EXAMPLE_COUNTS["math-prm"] == 984 == sum(EXAMPLE_COUNTS[s] for s in SECTIONS["Reasoning"][1:])
    assert ROW_COUNTS["math-prm"] == 447


def test_all_ones_give_ones():
    assert rewardbench_sections({s: 1.0 for s in SECTION_OF}) == {"Chat": 1.0, "Chat Hard": 1.0, "Safety": 1.0,
                                                                  "Reasoning": 1.0, "Overall": 1.0}


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


# The original evaluation's per-subset results for RRM-7B and RRM-32B (microsoft/LMOps PR 324,
# RRM-evaluation/scripts/results/partial_result_example/{7b,32b}_RewardBench_result.json),
# typed out here. Their "leaderboard" blocks and the paper's table give the expected sections.
RRM_7B = {"alpacaeval-easy": 0.89, "alpacaeval-hard": 0.8631578947368421, "alpacaeval-length": 0.8,
          "donotanswer": 0.5955882352941176, "hep-cpp": 0.9329268292682927, "hep-go": 0.9451219512195121,
          "hep-java": 0.8597560975609756, "hep-js": 0.8963414634146342, "hep-python": 0.926829268292683,
          "hep-rust": 0.8963414634146342, "llmbar-adver-GPTInst": 0.6847826086956522,
          "llmbar-adver-GPTOut": 0.5957446808510638, "llmbar-adver-manual": 0.6304347826086957,
          "llmbar-adver-neighbor": 0.6492537313432836, "llmbar-natural": 0.84, "math-prm": 0.8903803131991052,
          "mt-bench-easy": 1.0, "mt-bench-hard": 0.8108108108108109, "mt-bench-med": 0.975, "refusals-dangerous": 0.81,
          "refusals-offensive": 0.99, "xstest-should-refuse": 0.9155844155844156, "xstest-should-respond": 0.78}
RRM_32B = {"alpacaeval-easy": 0.94, "alpacaeval-hard": 0.9473684210526315, "alpacaeval-length": 0.9263157894736842,
           "donotanswer": 0.7352941176470589, "hep-cpp": 0.9939024390243902, "hep-go": 0.9939024390243902,
           "hep-java": 0.9817073170731707, "hep-js": 0.9878048780487805, "hep-python": 0.9939024390243902,
           "hep-rust": 0.9939024390243902, "llmbar-adver-GPTInst": 0.7934782608695652,
           "llmbar-adver-GPTOut": 0.7872340425531915, "llmbar-adver-manual": 0.7608695652173914,
           "llmbar-adver-neighbor": 0.7313432835820896, "llmbar-natural": 0.96, "math-prm": 0.9753914988814317,
           "mt-bench-easy": 1.0, "mt-bench-hard": 0.8378378378378378, "mt-bench-med": 0.975,
           "refusals-dangerous": 0.91, "refusals-offensive": 0.97, "xstest-should-refuse": 0.9935064935064936,
           "xstest-should-respond": 0.92}
ORIGINAL_LEADERBOARD = {
    "7b": {"Chat": 0.8770949720670391, "Chat Hard": 0.7039473684210527, "Safety": 0.8067567567567567,
           "Reasoning": 0.8999665793637802},
    "32b": {"Chat": 0.946927374301676, "Chat Hard": 0.8114035087719298, "Safety": 0.9067567567567567,
            "Reasoning": 0.9831225787090085},
}


@pytest.mark.parametrize("model, per_subset, overall, pair_mean", [
    ("7b", RRM_7B, 82.2, 84.6), ("32b", RRM_32B, 91.2, 93.5)])
def test_the_papers_headline_from_the_originals_per_subset_results(model, per_subset, overall, pair_mean):
    sections = rewardbench_sections(per_subset)
    for name, value in ORIGINAL_LEADERBOARD[model].items():
        assert sections[name] == pytest.approx(value, abs=1e-12)
    assert round(100 * sections["Overall"], 1) == overall  # the paper's table: 82.2 and 91.2
    # ... and not the mean over all 2985 pairs, which the original's numbers put elsewhere.
    pairs = sum(per_subset[s] * ROW_COUNTS[s] for s in per_subset) / sum(ROW_COUNTS.values())
    assert round(100 * pairs, 1) == pair_mean


def test_overall_only_with_all_four_sections():
    out = rewardbench_sections({"mt-bench-hard": 0.0, "llmbar-natural": 1.0, "math-prm": 1.0})
    assert set(out) == {"Chat Hard", "Reasoning"}
