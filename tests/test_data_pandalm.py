"""PandaLM's test set: majority of three annotators, ties kept as Pair(tie=True)."""
import json
from pathlib import Path

import pytest

from rrmlib.data import load_pairs
from rrmlib.data.pandalm import majority

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TESTSET = SHARED / "pandalm" / "testset-v1.json"

needs_pandalm = pytest.mark.skipif(not TESTSET.exists(), reason=f"{TESTSET} absent: the PandaLM test set lives "
                                   "in ../shared/data beside the project")


@pytest.mark.parametrize("votes,label", [((1, 1, 1), 1), ((2, 1, 2), 2), ((1, 0, 1), 1), ((2, 0, 0), 0),
                                         ((0, 0, 0), 0), ((0, 1, 2), 0), ((1, 1, 0), 1)])
def test_majority(votes, label):
    assert majority(list(votes)) == label


@needs_pandalm
def test_999_pairs_with_105_ties():
    pairs = load_pairs("pandalm", root=TESTSET.parent)
    assert len(pairs) == 999
    assert sum(p.tie for p in pairs) == 105
    assert len(load_pairs("pandalm", root=TESTSET.parent, ties="drop")) == 999 - 105


@needs_pandalm
def test_pairs_equal_the_file():
    rows = json.loads(TESTSET.read_text())
    pairs = load_pairs("pandalm", root=TESTSET.parent)
    for row, pair in zip(rows, pairs):
        label = majority([row["annotator1"], row["annotator2"], row["annotator3"]])
        r1, r2 = (str(row[k]) if isinstance(row[k], bool) else row[k] for k in ("response1", "response2"))
        assert pair.id == str(row["idx"])
        assert pair.tie == (label == 0)
        assert (pair.chosen, pair.rejected) == ((r2, r1) if label == 2 else (r1, r2))
        assert row["input"] in pair.prompt and row["instruction"].strip() in pair.prompt


@needs_pandalm
def test_quirks_of_the_file_are_kept_not_dropped():
    pairs = {p.id: p for p in load_pairs(TESTSET)}  # a bare path is recognised as PandaLM
    assert len(pairs) == 999
    # idx 157: response1 is JSON `true`, read back as the string "True"
    assert "True" in (pairs["157"].chosen, pairs["157"].rejected)
    # idx 466: blank instruction, the task is all in `input`
    assert pairs["466"].prompt == "Truthfulness"
    # some models answered nothing; those responses are data
    assert any(p.chosen == "" or p.rejected == "" for p in pairs.values())


def test_a_missing_file_given_as_path_is_refused_before_a_run(tmp_path):
    """The locator `rrm`'s preflight asks (check_source) names a missing path= file, for PandaLM
    as for LLMBar, instead of passing it on to fail once the kernel loads the data."""
    from rrmlib.data import check_source

    for source in ("pandalm", "llmbar", "mt-bench-human"):
        with pytest.raises(ValueError, match=rf"{source}: no such file: .*nope.json"):
            check_source(source, path=str(tmp_path / "nope.json"))
