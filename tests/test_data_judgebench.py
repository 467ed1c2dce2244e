"""JudgeBench: its records read as pairs (the B>A rows the right way round), loaded from a file,
a copy in the data folder or the hub, and scored by the authors' rule (ScalerLab/JudgeBench,
utils/metrics.py compute_final_metrics; run_judge.py for the per-source report). Every file is
written here in the records' format."""
import sys

import numpy as np
import pandas as pd
import pytest
from data_files import write_jsonl
from notebook_runs import read
from notebook_runs import run as run_notebook

from rrmlib import metrics
from rrmlib.backends import Sampling, make_backend
from rrmlib.backends.base import Completion
from rrmlib.data import DataError, load_pairs
from rrmlib.data.judgebench import judgebench_score
from rrmlib.judge import Judge
from rrmlib.store import JudgmentStore

SOURCES = ["mmlu-pro-law", "mmlu-pro-computer science", "livebench-reasoning", "livebench-math", "livecodebench"]


def judgebench_rows(per_source: int = 2) -> list[dict]:
    """Records as the repository's data/*.jsonl and the hub hold them; half the labels B>A. The
    right response says RIGHT, so a judge can be made that always names it without the loader."""
    rows = []
    for s, source in enumerate(SOURCES):
        for k in range(per_source):
            right, wrong = f"The answer is {s}{k}. RIGHT", f"The answer is {s}{k}1. WRONG"
            label = "A>B" if (s + k) % 2 == 0 else "B>A"
            a, b = (right, wrong) if label == "A>B" else (wrong, right)
            rows.append({"pair_id": f"0000-{s}-{k}", "original_id": None if k else str(100 + s), "source": source,
                         "question": f"Question {s}.{k}: what is the answer?", "response_model": "gpt-4o-2024-05-13",
                         "response_A": a, "response_B": b, "label": label})
    return rows


# --- loading ------------------------------------------------------------------------------------

def test_a_judgebench_file_is_read_as_it_is(tmp_path):
    rows = judgebench_rows()
    pairs = load_pairs(write_jsonl(tmp_path / "dataset=judgebench,response_model=gpt-4o-2024-05-13.jsonl", rows))
    assert pairs.scoring == "judgebench" and len(pairs) == len(rows)
    for p, r in zip(pairs, rows):
        assert p.id == r["pair_id"] and p.subset == r["source"] and p.prompt == r["question"]
        assert "RIGHT" in p.chosen and "WRONG" in p.rejected  # B>A rows included
    assert pairs.loaded["labels"] == {"A>B": 5, "B>A": 5} and pairs.loaded["format"] == "judgebench"


def test_the_named_source_reads_a_local_copy_and_filters_sources(tmp_path):
    path = write_jsonl(tmp_path / "jb.jsonl", judgebench_rows())
    assert load_pairs("judgebench", path=path) == load_pairs(path)
    assert load_pairs("judgebench-claude", path=path).loaded["split"] == "claude"
    assert {p.subset for p in load_pairs("JudgeBench", path=path, subset="mmlu-pro")} == set(SOURCES[:2])
    assert len(load_pairs("judgebench", path=path, subset="livebench", limit=3)) == 3


def test_a_label_outside_a_b_is_an_error_or_a_counted_tie(tmp_path):
    rows = judgebench_rows()
    rows[3]["label"] = "A=B"
    path = write_jsonl(tmp_path / "jb.jsonl", rows)
    with pytest.raises(DataError, match=r"jb.jsonl, row 3 \(line 4\), field 'label': 'A=B' is not a mapped label"):
        load_pairs(path)
    pairs = load_pairs("judgebench", path=path, other_labels="tie")
    assert [p.tie for p in pairs].count(True) == 1 and pairs.loaded["unmapped_labels"] == {"A=B": 1}


def test_a_record_missing_its_label_names_the_row(tmp_path):
    rows = judgebench_rows()
    del rows[2]["label"]
    path = write_jsonl(tmp_path / "jb.jsonl", rows)
    with pytest.raises(DataError, match=r"row 2 \(line 3\), field 'label': missing"):
        load_pairs(path)


def test_offline_it_names_data_path_and_finds_a_copy_in_the_data_folder(tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rrmlib.data.hub import HubUnavailable

    monkeypatch.setenv("RRM_DATA", str(tmp_path))
    monkeypatch.setitem(sys.modules, "datasets", None)  # no hub here, as offline
    with pytest.raises(HubUnavailable, match="-p data_path") as e:
        load_pairs("judgebench")
    assert "ScalerLab/JudgeBench" in str(e.value) and str(tmp_path / "judgebench-gpt.parquet") in str(e.value)
    pq.write_table(pa.Table.from_pylist(judgebench_rows()), tmp_path / "judgebench-gpt.parquet")
    assert load_pairs("judgebench") == load_pairs(write_jsonl(tmp_path / "jb.jsonl", judgebench_rows()))
    with pytest.raises(HubUnavailable, match="judgebench-claude.parquet"):
        load_pairs("judgebench-claude")


# --- the authors' rule --------------------------------------------------------------------------

def flip(decision):
    return {"A>B": "B>A", "B>A": "A>B"}.get(decision, decision)


def authors_score(records, include=lambda r: True) -> float:
    """compute_final_metrics(pairs, reverse_order=True, include_fn) of ScalerLab/JudgeBench
    utils/metrics.py (commit e2c52c2), restated: the second judgment saw the responses swapped,
    so its decision is flipped back; +1 per decision equal to the label, -1 per decision equal
    to the flipped label; a pair is correct when the sum is positive; percent of pairs."""
    records = [r for r in records if include(r)]
    correct = 0
    for r in records:
        d1, d2 = r["decisions"][0], flip(r["decisions"][1])
        counter = sum(1 if d == r["label"] else -1 if d == flip(r["label"]) else 0 for d in (d1, d2))
        correct += counter > 0
    return 100 * correct / len(records)


def results_frame(rows) -> pd.DataFrame:
    """Judgment rows with the columns the metrics read, as results.parquet has them."""
    df = pd.DataFrame(rows)
    df["sample"] = df.get("sample", 0)
    for col, value in (("tie", False), ("cut_off", False), ("fit", "whole")):
        if col not in df:
            df[col] = value
    return df.astype({"pair_id": "string", "subset": "string", "order": "string", "picked": "string",
                      "tie": "bool", "cut_off": "bool", "sample": "int64"})


def judged(records) -> pd.DataFrame:
    """Our judgment rows for the authors' records: judgment 1 showed A then B, judgment 2 B then
    A; a decision names a slot ("A>B": the one shown first), or none ("A=B", None)."""
    rows = []
    for r in records:
        chosen_is_a = r["label"] == "A>B"
        for shown_swapped, decision in zip((False, True), r["decisions"]):
            slot = {"A>B": 1, "B>A": 2}.get(decision)
            a_first = not shown_swapped
            picked = None if slot is None else ("A" if (slot == 1) == a_first else "B")
            rows.append({"pair_id": r["pair_id"], "subset": r["source"],
                         "order": "chosen_first" if chosen_is_a == a_first else "rejected_first",
                         "picked": None if picked is None else ("chosen" if (picked == "A") == chosen_is_a else "rejected")})
    return results_frame(rows)


def random_records(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    choices = ["A>B", "B>A", "A=B", None]
    return [{"pair_id": f"p{i}", "source": SOURCES[i % len(SOURCES)], "label": ["A>B", "B>A"][int(rng.integers(2))],
             "decisions": [choices[int(rng.integers(4))], choices[int(rng.integers(4))]]} for i in range(n)]


@pytest.mark.parametrize("seed", range(5))
def test_score_is_the_authors_overall_and_per_source(seed):
    records = random_records(200, seed)
    got = judgebench_score(judged(records), seed=0)
    assert 100 * got["score"] == pytest.approx(authors_score(records))
    for prefix in ("mmlu-pro", "livebench-reasoning", "livebench-math", "livecodebench"):
        want = authors_score(records, lambda r: r["source"].startswith(prefix))
        assert 100 * got["judgebench"]["sources"][prefix]["accuracy"] == pytest.approx(want)
    assert set(got["judgebench"]["sources"]) == {"mmlu-pro", "livebench-reasoning", "livebench-math", "livecodebench"}


def test_hand_counted_cases():
    records = [
        {"pair_id": "both-right", "source": "livecodebench", "label": "B>A", "decisions": ["B>A", "A>B"]},
        {"pair_id": "one-right-one-none", "source": "livecodebench", "label": "A>B", "decisions": ["A>B", None]},
        {"pair_id": "one-right-one-tie", "source": "livecodebench", "label": "B>A", "decisions": ["A=B", "A>B"]},
        {"pair_id": "inconsistent", "source": "livecodebench", "label": "A>B", "decisions": ["A>B", "A>B"]},
        {"pair_id": "both-wrong", "source": "livecodebench", "label": "A>B", "decisions": ["B>A", "A>B"]},
        {"pair_id": "none", "source": "livecodebench", "label": "B>A", "decisions": [None, None]},
    ]
    jb = judgebench_score(judged(records), seed=0)["judgebench"]
    # right: both-right, one-right-one-none, one-right-one-tie; wrong: both-wrong; ties: inconsistent, none
    assert jb["overall"] == {**jb["overall"], "accuracy": 0.5, "pairs": 6, "correct": 3, "incorrect": 1, "tie": 2}
    assert jb["orders"] == "both"
    # The authors count a decision that is None as null; RRM has no tie verdict, so their A=B is
    # a missing decision here too: one-right-one-tie is a null pair beside one-right-one-none and none.
    assert jb["consistency"] == {"pairs": 6, "all_correct": 1, "all_incorrect": 2, "some_correct": 3,
                                 "inconsistent": 3, "nulls": 3}


def test_metrics_puts_the_authors_score_in_the_headline_and_warns_on_one_order():
    records = random_records(40, 1)
    res = judged(records)
    m = metrics.metrics(res, "tie", seed=0, scoring="judgebench")
    assert m["score"] == pytest.approx(authors_score(records) / 100) and "JudgeBench" in m["score_name"]
    assert m["accuracy"] != m["score"]  # the pair mean, under the run's policy, stays beside it
    plain = metrics.metrics(res, "tie", seed=0)
    assert "judgebench" not in plain and plain["score"] == plain["accuracy"]  # unchanged without scoring
    one = metrics.metrics(res[res["order"] == "chosen_first"], "tie", seed=0, scoring="judgebench")
    assert one["judgebench"]["orders"] == "one" and any("both orders" in w for w in one["warnings"])


# --- the pairwise notebook, parameters only -----------------------------------------------------

# An openai-compatible server that is never contacted (port 9: discard); the store answers all.
KNOWN = dict(backend="openai", model="known-judge", base_url="http://127.0.0.1:9/v1", reasoning=False)


def fill_store(path, shown) -> None:
    """Store the known judge's completion for each ``(question, first, second, slot)`` shown."""
    judge = Judge(make_backend("openai", model=KNOWN["model"], base_url=KNOWN["base_url"]), JudgmentStore(path),
                  Sampling(temperature=0.6, top_p=1.0, max_new_tokens=8192, seed=0), reasoning=False)
    judge.remember([(judge.request(q, a, b, 0), Completion(f"\\boxed{{Assistant {slot}}}", 900, 12, "stop"))
                    for q, a, b, slot in shown])


def run(tmp, name, **params):
    out = run_notebook(tmp, "pairwise", name, **{**KNOWN, **params})
    return (out, *read(out))


def always_right(question, x, y):
    """Both showings of a pair, each answered with the slot that holds the RIGHT response."""
    return [(question, x, y, 1 if "RIGHT" in x else 2), (question, y, x, 1 if "RIGHT" in y else 2)]


@pytest.mark.slow
def test_notebook_scores_a_judge_that_is_always_right_1_on_a_judgebench_file(tmp_path):
    rows = judgebench_rows()
    path = write_jsonl(tmp_path / "judgebench.jsonl", rows)
    fill_store(tmp_path / "j.sqlite", [s for r in rows for s in always_right(r["question"], r["response_A"],
                                                                             r["response_B"])])
    out, m, meta = run(tmp_path, "jb", dataset=str(path), order="both", store=str(tmp_path / "j.sqlite"))
    res = pd.read_parquet(out / "results.parquet")
    assert len(res) == 2 * len(rows) and (res["picked"] == "chosen").all()
    assert m["score"] == 1.0 and m["accuracy"] == 1.0 and "JudgeBench" in m["score_name"]
    jb = m["judgebench"]
    assert jb["overall"]["accuracy"] == 1.0 and jb["orders"] == "both"
    assert {k: v["accuracy"] for k, v in jb["sources"].items()} == \
        {"mmlu-pro": 1.0, "livebench-reasoning": 1.0, "livebench-math": 1.0, "livecodebench": 1.0}
    assert jb["consistency"]["all_correct"] == len(rows)
    assert meta["completions"] == {"generated": 0, "reused": 2 * len(rows)}
    data = meta["data"]
    assert data["format"] == "judgebench" and data["scoring"] == "judgebench" and data["labels"] == {"A>B": 5, "B>A": 5}
    assert data["selection"]["pairs"] == len(rows) and data["rows"] == len(rows)


@pytest.mark.slow
def test_notebook_reads_another_files_columns_with_the_mapping_parameters(tmp_path):
    """The same pairs with other column names, integer labels and one tie, judged through
    fields, labels, other_labels, sample and scoring alone."""
    rows = judgebench_rows()
    own = [{"q": r["question"], "ans1": r["response_A"], "ans2": r["response_B"], "winner": 1 if r["label"] == "A>B" else 2,
            "where": r["source"]} for r in rows]
    own.append({"q": "Which is nicer?", "ans1": "Red. RIGHT", "ans2": "Blue. RIGHT", "winner": 0, "where": "livecodebench"})
    path = write_jsonl(tmp_path / "mine.jsonl", own)
    fill_store(tmp_path / "j.sqlite", [s for r in own for s in always_right(r["q"], r["ans1"], r["ans2"])])
    out, m, meta = run(tmp_path, "own", dataset=str(path), order="both", store=str(tmp_path / "j.sqlite"),
                       fields="prompt=q,first=ans1,second=ans2,label=winner,subset=where", labels="1=first,2=second",
                       other_labels="tie", sample=6, scoring="judgebench")
    res = pd.read_parquet(out / "results.parquet")
    judged_ids = set(res["pair_id"])
    assert len(judged_ids) == 6 and len(res) == 12
    assert (res.loc[~res["tie"], "picked"] == "chosen").all()
    assert m["score"] == 1.0 and m["judgebench"]["overall"]["pairs"] == len(judged_ids - {"10"})
    data = meta["data"]
    assert data["labels"] == {"0": 1, "1": 5, "2": 5} and data["unmapped_labels"] == {"0": 1} and data["ties"] == 1
    assert data["selection"]["sample"] == 6 and data["selection"]["sample_seed"] == 0
    assert meta["params"]["fields"] == "prompt=q,first=ans1,second=ans2,label=winner,subset=where"
