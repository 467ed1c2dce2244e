"""The best-of-N notebooks (elo_rival, elo_accuracy, knockout) executed by papermill.

The demo run generates with a tiny random model (its verdicts are noise, so the unparseable
policy decides). The runs on Qwen's MATH candidates use a judgment store filled beforehand with
known completions (the judge prefers a correct answer, then the shorter one) behind an
``openai`` backend whose server is never contacted: every completion is already stored, so the
notebooks run without a model and their picks are known.
"""
import json
from itertools import combinations, permutations
from pathlib import Path

import jupytext
import numpy as np
import pandas as pd
import pytest
from original_rrm import original_picks

from rrmlib import ratings
from rrmlib.backends import Sampling, make_backend
from rrmlib.backends.base import Completion
from rrmlib.data import load_candidates
from rrmlib.data.files import SHIPPED
from rrmlib.judge import Judge
from rrmlib.store import JudgmentStore
from rrmlib.data.rrm_records import load_elo_merged_results
from rrmlib.cli import notebook_source
from notebook_runs import read, run

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
MATH = SHIPPED / "qwen25-math" / "math_cot_100.jsonl"  # byte-identical to ../shared/data's
RECORDS = SHARED_DATA / "rrm" / "knockout-mmlu-pro"
NOTEBOOKS = ("elo_rival", "elo_accuracy", "knockout")
pytestmark = pytest.mark.slow

# An openai-compatible server that is never contacted (port 9: discard); the store answers all.
KNOWN = dict(backend="openai", model="known-judge", base_url="http://127.0.0.1:9/v1", reasoning=False)
MATH_SETS = 20


def needs(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs the shared evaluation data at {path} (absent in a fresh clone)")
    return path


# --- the demo sets, with a tiny model generating -----------------------------------------------

@pytest.fixture(scope="module")
def rival_demo(tmp_path_factory, tiny_model_dir):
    tmp = tmp_path_factory.mktemp("rival-demo")
    return run(tmp, "elo_rival", "run", model=str(tiny_model_dir), limit=3, max_new_tokens=4, batch_size=24,
               reasoning=False, store=str(tmp / "j.sqlite"))


def test_elo_rival_demo_writes_match_records(rival_demo):
    m, meta = read(rival_demo)
    judgments = pd.read_parquet(rival_demo / "results.parquet")
    matches = pd.read_parquet(rival_demo / "matches.parquet")
    assert len(matches) == 3 * 6 and matches["question"].nunique() == 3  # 4 candidates: 6 pairs each
    assert {"question", "a", "b", "winner", "coin", "decided_by", "judgments"} <= set(matches.columns)
    assert matches["winner"].notna().all()  # coin policy: every match has a winner
    assert {"question", "a", "b", "first", "attempt", "key", "verdict", "winner", "cut_off"} <= set(judgments.columns)
    assert m["matches"] == 18 and m["judgments"] == len(judgments) == int(matches["judgments"].sum())
    assert m["coin_flips"] == int(matches["coin"].sum())
    assert m["reasks"] == int((judgments["attempt"] == 1).sum()) and judgments["attempt"].max() <= 1
    assert m["judge_calls"] == (2 if m["reasks"] else 1)
    # every judgment a separate completion (a re-ask is a new sample), all generated this run
    assert judgments["key"].is_unique and meta["completions"] == {"generated": len(judgments), "reused": 0}
    assert meta["params"]["limit"] == 3 and meta["order"] == "shuffle"


# --- MATH candidates, known completions ------------------------------------------------------------

def known_verdict(s, i, j, attempt):
    """Prefers a correct answer, then the shorter; question 0 (all answers correct) gives no
    verdict on first asks, and none ever for candidates 0 vs 1 (the coin decides that one)."""
    if s.id == "0" and (attempt == 0 or {i, j} == {0, 1}):
        return None
    ci, cj = s.correct[i], s.correct[j]
    if ci != cj:
        return 1 if ci else 2
    return 1 if len(s.candidates[i]) <= len(s.candidates[j]) else 2


@pytest.fixture(scope="module")
def math_store(tmp_path_factory):
    needs(MATH)
    tmp = tmp_path_factory.mktemp("math")
    sets = load_candidates("qwen-math", path=str(MATH))[:MATH_SETS]
    assert all(sets[0].correct)  # question 0 is all-correct: the coin cannot change its accuracy
    judge = Judge(make_backend("openai", model=KNOWN["model"], base_url=KNOWN["base_url"]),
                  JudgmentStore(tmp / "known.sqlite"), Sampling(temperature=0.6, top_p=1.0, max_new_tokens=8192, seed=0),
                  reasoning=False)
    text = {1: "Both are fine, but \\boxed{Assistant 1}", 2: "\\boxed{Assistant 2}", None: "Hard to say."}
    done = []
    for s in sets:
        for i, j in permutations(range(len(s.candidates)), 2):
            for attempt in ((0, 1) if s.id == "0" else (0,)):
                req = judge.request(s.prompt, s.candidates[i], s.candidates[j], attempt)
                done.append((req, Completion(text[known_verdict(s, i, j, attempt)], 900, 12, "stop")))
    judge.remember(done)
    return tmp, sets


@pytest.fixture(scope="module")
def rival_math(math_store):
    tmp, _ = math_store
    return run(tmp, "elo_rival", "rival", dataset="qwen-math", data_path=str(MATH), limit=MATH_SETS,
               store=str(tmp / "known.sqlite"), max_retries=1, **KNOWN)


@pytest.fixture(scope="module")
def knockout_math(math_store):
    tmp, _ = math_store
    return run(tmp, "knockout", "knockout", dataset="qwen-math", data_path=str(MATH), limit=MATH_SETS,
               store=str(tmp / "known.sqlite"), max_retries=1, **KNOWN)


def test_elo_rival_on_math_reuses_known_completions(rival_math):
    m, meta = read(rival_math)
    assert m["questions"] == MATH_SETS and m["matches"] == MATH_SETS * 28
    assert m["reasks"] == 28 and m["coin_flips"] == 1 and m["judgments"] == MATH_SETS * 28 + 28
    judgments = pd.read_parquet(rival_math / "results.parquet")
    # counted per completion: some questions hold identical candidates, whose matches share one
    assert meta["completions"] == {"generated": 0, "reused": judgments["key"].nunique()}
    matches = pd.read_parquet(rival_math / "matches.parquet")
    coin = matches[matches["coin"]]
    assert coin[["question", "a", "b"]].values.tolist() == [["0", 0, 1]]
    # both shown orders occur, so no candidate always sits in slot 1
    assert 0.3 < (judgments["first"] == judgments["a"]).mean() < 0.7


def test_knockout_on_math_picks_a_correct_answer_wherever_there_is_one(knockout_math, math_store):
    m, meta = read(knockout_math)
    assert m["mode"] == "judge" and m["matches"] == MATH_SETS * 7 and m["judge_calls"] == 6  # 3 rounds, each re-asked
    assert m["reasks"] == 7 and m["coin_flips"] == 1
    assert meta["completions"]["generated"] == 0
    assert m["accuracy"] == m["baselines"]["oracle (any correct)"]
    picks = pd.read_parquet(knockout_math / "picks.parquet")
    _, sets = math_store
    assert len(picks) == MATH_SETS and all(any(s.correct) <= s.correct[p] for s, p in zip(sets, picks["pick"]))
    assert all(Path(knockout_math.parent / f).exists() for f in meta["figures"])


def test_knockout_swiss_on_math_with_draws(math_store):
    tmp, sets = math_store
    out = run(tmp, "knockout", "swiss", dataset="qwen-math", data_path=str(MATH), limit=5, format="swiss",
              unparseable="draw", store=str(tmp / "known.sqlite"), **KNOWN)
    m, _ = read(out)
    matches = pd.read_parquet(out / "matches.parquet")
    assert m["format"] == "swiss" and m["matches"] == 5 * 3 * 4  # 8 candidates: 3 rounds of 4 pairs
    assert m["draws"] == int(matches["winner"].isna().sum()) and m["coin_flips"] == 0
    assert set(matches["format"]) == {"swiss"} and len(pd.read_parquet(out / "picks.parquet")) == 5


def test_elo_accuracy_on_both_record_files(rival_math, knockout_math, math_store):
    tmp, sets = math_store
    out = run(tmp, "elo_accuracy", "accuracy", matches=[str(rival_math / "matches.parquet"), str(knockout_math)],
              dataset="qwen-math", data_path=str(MATH), bootstrap=200)
    m, meta = read(out)
    methods = m["methods"]
    oracle = methods["oracle (any correct)"]["accuracy"]
    for name in ("ELO (round robin)", "Bradley-Terry (round robin)", "knockout winner"):
        assert methods[name]["accuracy"] == oracle, name
        assert methods[name]["n"] == MATH_SETS
    assert methods["ELO (round robin)"]["judgments_per_question"] == pytest.approx(28 + 28 / MATH_SETS)
    assert methods["knockout winner"]["judgments_per_question"] == pytest.approx(7 + 7 / MATH_SETS)
    assert methods["scalar score"]["judgments_per_question"] == 0 and "majority vote" in methods
    assert methods["ELO (round robin)"]["ci_low"] <= oracle <= methods["ELO (round robin)"]["ci_high"]
    results = pd.read_parquet(out / "results.parquet")
    judged = {"ELO (round robin)", "Bradley-Terry (round robin)", "ELO (knockout)", "Bradley-Terry (knockout)",
              "knockout winner"}
    assert set(results["method"]) == judged and len(results) == MATH_SETS * len(judged)
    assert {".png", ".pdf", ".svg"} == {Path(f).suffix for f in meta["figures"]}
    assert meta["completions"] == {"generated": 0, "reused": 0} and meta["judge"] is None


# --- the paper's merged ELO results, re-scored -----------------------------------------------------

def test_elo_accuracy_rescores_a_merged_results_file(tmp_path):
    sets = load_candidates("demo")
    rng = np.random.default_rng(0)
    blocks = {}
    for s in sets:
        for i, j in combinations(range(len(s.candidates)), 2):
            if rng.integers(2):
                i, j = j, i
            ci, cj = s.correct[i], s.correct[j]
            winner = -1 if ci == cj and rng.integers(2) else (i if ci > cj or (ci == cj and i < j) else j)
            blocks.setdefault(str(i), {"details": []})["details"].append(
                {"question_id": s.id, "rival_1": i, "rival_2": j, "winner": winner, "pred": "", "score": None})
    path = tmp_path / "7b_merged_results.json"
    path.write_text(json.dumps(blocks))
    out = run(tmp_path, "elo_accuracy", "acc", matches=str(path), dataset="demo", order_seed=0, elo_k=4.0,
              bootstrap=0)
    m, meta = read(out)
    results = pd.read_parquet(out / "results.parquet")
    elo_picks = dict(results[results["method"] == "ELO (round robin)"][["question", "pick"]].values)
    # the picks the original evaluation's own ELO script makes from the same file
    assert {q: int(p) for q, p in elo_picks.items()} == original_picks(path)
    assert meta["protocol"]["paper"] is True and meta["protocol"]["deviations"] == {}
    # the option: each question shuffled on its own, as rrmlib.ratings.elo does it question by question
    own = run(tmp_path, "elo_accuracy", "own", matches=str(path), dataset="demo", elo_order="per-question",
              bootstrap=0)
    results = pd.read_parquet(own / "results.parquet")
    own_picks = dict(results[results["method"] == "ELO (round robin)"][["question", "pick"]].values)
    records = load_elo_merged_results(path)
    for q, group in records.groupby("question"):
        r = ratings.elo(group.reset_index(drop=True), k=4.0, order_seed=ratings.group_order_seed(0, q))
        assert own_picks[q] == r[r == r.max()].index.min(), q
    assert read(own)[1]["protocol"]["deviations"] == {"elo_order": "per-question"}
    methods = m["methods"]
    assert methods["ELO (round robin)"]["accuracy"] == methods["oracle (any correct)"]["accuracy"]
    assert methods["ELO (round robin)"]["judgments_per_question"] == 6 and methods["ELO (round robin)"]["ci_low"] is None
    assert "scalar score" not in methods and "majority vote" in methods  # the demo sets carry answers, not scores
    assert (out.parent / meta["figures"][0]).exists()


# --- the paper's knockout records, replayed ------------------------------------------------------

@pytest.fixture
def offline(monkeypatch):
    # the kernel inherits the environment: the hub is not tried where `datasets` is installed
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def test_knockout_replay_without_the_candidate_sets(tmp_path, offline):
    folder = needs(RECORDS)
    out = run(tmp_path, "knockout", "replay", records=str(folder), records_model="7b", dataset="mmlu-pro")
    m, meta = read(out)
    assert m["mode"] == "replay" and m["questions"] == 512 and m["matches"] == 512 * 31 and m["judge_calls"] == 5
    assert m["accuracy"] is None and "HubUnavailable" in m["accuracy_skipped"]
    assert meta["completions"] == {"generated": 0, "reused": 0} and "judge" not in meta and meta["figures"] == []
    final = json.loads((folder / "7b_tournament_fifth_round_voting_results.json").read_text())
    picks = pd.read_parquet(out / "picks.parquet")
    assert dict(zip(picks["question"], picks["pick"])) == {str(e["question_id"]): e["winner"] for e in final["0"]}
    # RRM-7B's two matches recorded without a verdict (question 317, round 1: "B", "I"): their
    # recorded winners, the original's coin, and counted as unparseable and coin-decided
    matches = pd.read_parquet(out / "matches.parquet")
    coins = matches[matches["coin"]]
    assert sorted(zip(coins["question"], coins["a"], coins["b"], coins["winner"], coins["round"])) == \
        [("317", 15, 16, 15, 1), ("317", 29, 20, 20, 1)]
    assert m["unparseable"] == 2 / (512 * 31)
    nb = json.loads((out / "knockout.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "judge parameters" in printed and "unused" in printed and "accuracy skipped" in printed


def test_knockout_replay_scores_the_papers_picks(tmp_path):
    folder = needs(RECORDS)
    final = json.loads((folder / "32b_tournament_fifth_round_voting_results.json").read_text())
    champion = {e["question_id"]: e["winner"] for e in final["0"]}
    # A stand-in for PPE MMLU-Pro: 512 prompts x 32 responses; even-numbered responses correct.
    rows = [{"prompt": f"Answer this. Question: number {q}?", "scores": [k % 2 == 0 for k in range(32)],
             **{f"response_{k + 1}": f"response {k} to {q}" for k in range(32)}} for q in range(512)]
    ppe = tmp_path / "ppe-mmlu-pro.jsonl"
    ppe.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = run(tmp_path, "knockout", "replay", records=str(folder), records_model="32b", dataset="mmlu-pro",
              data_path=str(ppe), limit=100)
    m, _ = read(out)
    want = np.mean([champion[q] % 2 == 0 for q in range(100)])
    assert m["questions"] == 100 and m["accuracy"] == pytest.approx(want)
    assert m["baselines"]["random (expected)"] == 0.5 and m["baselines"]["oracle (any correct)"] == 1.0


# --- the committed notebooks ------------------------------------------------------------------------

@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_generated_ipynb_matches_py_and_is_stripped(notebook):
    if not (ROOT / "notebooks" / f"{notebook}.ipynb").exists():
        pytest.skip("the .ipynb is generated by `make` (make notebooks)")
    ipynb = jupytext.read(ROOT / "notebooks" / f"{notebook}.ipynb")
    py = notebook_source(notebook)
    assert [(c.cell_type, c.source) for c in ipynb.cells] == [(c.cell_type, c.source) for c in py.cells]
    assert all(not c.get("outputs") and not c.get("execution_count") for c in ipynb.cells if c.cell_type == "code")
    assert len([c for c in ipynb.cells if "parameters" in c.metadata.get("tags", [])]) == 1
    assert ipynb.metadata["kernelspec"]["name"] == "python3"


def test_demo_parameter_files_are_valid():
    from rrmlib.cli import merged_params

    for notebook in ("elo_rival", "knockout"):
        p = merged_params(notebook, [str(ROOT / "params" / "bestofn-demo.yaml")], [])
        assert p["dataset"] == "demo" and p["reasoning"] is False
    p = merged_params("elo_accuracy", [str(ROOT / "params" / "elo-accuracy-demo.yaml")], [])
    assert p["matches"]
