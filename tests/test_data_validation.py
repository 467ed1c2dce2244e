"""Bad data fails loudly: one test per kind of error, each message naming the file, the line or
row, and the field."""
import json

from data_files import error_of

from rrmlib.data import load_candidates, load_pairs

GOOD = {"input": "Say hi.", "output_1": "Hi!", "output_2": "No.", "label": 1}


def llmbar_file(tmp_path, *records):
    path = tmp_path / "set.json"
    path.write_text(json.dumps([GOOD, *records]))
    return path


def test_malformed_line(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n{\"prompt\": \"p\",\n")
    msg = error_of(load_pairs, path)
    assert str(path) in msg and "line 2" in msg and "not valid JSON" in msg  # no field to name: the line is broken


def test_missing_field(tmp_path):
    path = llmbar_file(tmp_path, {"input": "x", "output_1": "a", "label": 2})
    msg = error_of(load_pairs, "llmbar", path=path)
    assert str(path) in msg and "row 1" in msg and "'output_2'" in msg and "missing" in msg


def test_wrong_type(tmp_path):
    path = llmbar_file(tmp_path, {**GOOD, "output_1": ["a list"]})
    msg = error_of(load_pairs, "llmbar", path=path)
    assert str(path) in msg and "row 1" in msg and "'output_1'" in msg and "expected str" in msg


def test_label_of_wrong_type(tmp_path):
    path = llmbar_file(tmp_path, {**GOOD, "label": "1"})
    msg = error_of(load_pairs, "llmbar", path=path)
    assert str(path) in msg and "row 1" in msg and "'label'" in msg and "expected int" in msg


def test_empty_response(tmp_path):
    path = llmbar_file(tmp_path, GOOD, {**GOOD, "output_2": "   "})
    msg = error_of(load_pairs, "llmbar", path=path)
    assert str(path) in msg and "row 2" in msg and "'output_2'" in msg and "empty" in msg


def test_bad_label(tmp_path):
    path = llmbar_file(tmp_path, {**GOOD, "label": 3})
    msg = error_of(load_pairs, "llmbar", path=path)
    assert str(path) in msg and "row 1" in msg and "'label'" in msg and "1 or 2" in msg


def test_bad_annotator_label(tmp_path):
    path = tmp_path / "pandalm.json"
    rec = {"idx": 0, "instruction": "Do.", "input": "", "response1": "a", "response2": "b",
           "annotator1": 1, "annotator2": 5, "annotator3": 1}
    path.write_text(json.dumps([rec]))
    msg = error_of(load_pairs, "pandalm", path=path)
    assert str(path) in msg and "row 0" in msg and "'annotator2'" in msg


def test_out_of_range_pair_index(tmp_path):
    from rrmlib.data.ppe import read_conflict_pairs
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps([[[0, 1]] * 5, [[0, 1], [2, 3], [4, 32], [5, 6], [7, 8]]]))
    msg = error_of(read_conflict_pairs, path)
    assert str(path) in msg and "row 1" in msg and "'round 3'" in msg and "out of range" in msg


def test_pair_index_that_is_not_an_integer(tmp_path):
    from rrmlib.data.ppe import read_conflict_pairs
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps([[[0, 1], [2, "3"], [4, 5], [5, 6], [7, 8]]]))
    msg = error_of(read_conflict_pairs, path)
    assert str(path) in msg and "row 0" in msg and "'round 2'" in msg


def test_duplicate_id(tmp_path):
    path = tmp_path / "pairs.jsonl"
    rec = {"id": 7, "prompt": "p", "chosen": "a", "rejected": "b"}
    path.write_text(json.dumps(rec) + "\n" + json.dumps(rec) + "\n")
    msg = error_of(load_pairs, path)
    assert str(path) in msg and "line 2" in msg and "'id'" in msg and "duplicate" in msg


def test_candidate_labels_of_wrong_length(tmp_path):
    path = tmp_path / "cands.jsonl"
    path.write_text(json.dumps({"id": "q", "prompt": "p", "candidates": ["a", "b"], "correct": [True]}) + "\n")
    msg = error_of(load_candidates, path)
    assert str(path) in msg and "line 1" in msg and "'correct'" in msg


def test_mapped_fields_are_named_by_the_files_own_names(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"question": "q", "good": "a", "bad": ""}) + "\n")
    msg = error_of(load_pairs, path, fields={"prompt": "question", "chosen": "good", "rejected": "bad"})
    assert str(path) in msg and "line 1" in msg and "'bad'" in msg and "empty" in msg


def test_a_slice_of_pairs_says_how_they_were_loaded_and_owns_what_it_says():
    from rrmlib.data import Pair, Pairs

    pairs = Pairs([Pair(str(i), "q", "a", "b") for i in range(5)], scoring="judgebench",
                  loaded={"source": "f.jsonl", "selection": {"pairs": 5}})
    head = pairs[:2]
    assert isinstance(head, Pairs) and len(head) == 2 and head.scoring == "judgebench"
    assert head.loaded == pairs.loaded
    head.loaded["selection"]["pairs"] = 2  # the slice's own record: the list it came from is untouched
    assert pairs.loaded["selection"]["pairs"] == 5
    assert isinstance(pairs[0], Pair)
