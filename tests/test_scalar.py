"""A scalar reward model as the judge (backend "classifier", rrmlib.judge.ScalarJudge): a tiny random
LlamaForSequenceClassification (one label, pad_token_id set) with the tiny model's tokenizer and
chat template, checked against scores computed here directly with the model, one conversation at
a time; then through the pairwise, knockout, elo_rival and elo_accuracy notebooks."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rrmlib.backends import make_backend
from rrmlib.backends.classifier import ClassifierBackend
from rrmlib.data import Pair, load_candidates, load_pairs
from rrmlib.judge import Judge
from rrmlib.params import ParameterError, check
from rrmlib.judge import SCORE_SAMPLING, ScalarJudge
from rrmlib.selection import pick_highest_scored
from rrmlib.store import JudgmentStore
from notebook_runs import read, run


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory, tiny_model_dir):
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    out = tmp_path_factory.mktemp("tiny-rm")
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert tok.pad_token_id is not None
    config = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=len(tok), bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, max_position_embeddings=2048, num_labels=1,
                         pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    LlamaForSequenceClassification(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def direct(classifier_dir):
    """score(question, answer) computed here: the chat-templated [user, assistant] conversation,
    alone (no padding), logits[0][0], as the Skywork-Reward model cards compute it."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(classifier_dir)
    model = AutoModelForSequenceClassification.from_pretrained(classifier_dir).eval()

    def score(question, answer):
        text = tok.apply_chat_template([{"role": "user", "content": question},
                                        {"role": "assistant", "content": answer}], tokenize=False)
        ids = tok(text, add_special_tokens=False, return_tensors="pt")
        with torch.no_grad():
            return model(**ids).logits[0][0].item()

    return score


@pytest.fixture(scope="module")
def backend(classifier_dir):
    return make_backend("classifier", model=str(classifier_dir), batch_size=3)


def test_scores_are_the_models_scores_batched_or_not(tmp_path, backend, direct):
    judge = ScalarJudge(backend, JudgmentStore(tmp_path / "s.sqlite"), progress=False)
    # lengths that differ a lot, so the batches of 3 are padded
    items = [("What is 2+2?", "4"), ("What is 2+2?", "It is five, clearly, " * 12), ("Name a colour.", "blue"),
             ("q", ""), ("Braces {x} survive?", "{}"), ("Long " * 50, "yes"), ("x", "y")]
    got = judge.scores(items)
    want = [direct(q, a) for q, a in items]
    assert [s.score for s in got] == pytest.approx(want, rel=1e-5, abs=1e-6)
    assert all(s.fit == "whole" and s.tokens > 0 for s in got)
    assert len({s.score for s in got}) == len(items)  # a random model still tells them apart
    assert judge.counts == {"generated": 7, "reused": 0}
    assert backend.describe()["backend"] == "classifier" and backend.numerics == "cpu:float32"


def test_scores_are_stored_and_reused(tmp_path, backend):
    store = JudgmentStore(tmp_path / "s.sqlite")
    first = ScalarJudge(backend, store, progress=False)
    scores = first.scores([("q", "a"), ("q", "b"), ("q", "a")])
    assert first.counts == {"generated": 2, "reused": 0} and len(store) == 2
    assert scores[0].key == scores[2].key != scores[1].key
    row = store.get_many([scores[0].key])[scores[0].key]
    assert row["finish_reason"] == "score" and row["text"] == repr(scores[0].score) and row["completion_tokens"] == 0
    again = ScalarJudge(backend, store, progress=False)
    assert [s.score for s in again.scores([("q", "b"), ("q", "a")])] == [scores[1].score, scores[0].score]
    assert again.counts == {"generated": 0, "reused": 2}
    # sampling and the sample index never enter a score's key: a re-ask is the same score
    judged = again.judge([("q", "a", "b", 0), ("q", "a", "b", 3)])
    assert judged[0].key == judged[1].key == f"{scores[0].key},{scores[1].key}" and again.counts["generated"] == 0
    assert SCORE_SAMPLING.as_dict() == {"temperature": 0.0, "top_p": 1.0, "max_new_tokens": 1, "seed": 0}


def test_higher_score_wins_and_equal_scores_give_no_verdict(tmp_path, backend, direct):
    judge = ScalarJudge(backend, JudgmentStore(tmp_path / "s.sqlite"), progress=False)
    pairs = load_pairs("demo")[:6] + [Pair("same", "q?", "one answer", "one answer", "ties")]
    res = judge.judge_pairs(pairs, order="both", seed=0)
    assert len(res) == 14
    for p in pairs:
        rows = res[res["pair_id"] == p.id]
        chosen, rejected = direct(p.prompt, p.chosen), direct(p.prompt, p.rejected)
        assert rows["score_chosen"].tolist() == pytest.approx([chosen] * 2, rel=1e-5)
        assert rows["score_rejected"].tolist() == pytest.approx([rejected] * 2, rel=1e-5)
        if p.id == "same":
            assert rows["verdict"].isna().all() and rows["picked"].isna().all()
            continue
        # the shown order cannot matter: the higher-scored answer is picked in both orders
        assert rows["picked"].tolist() == ["chosen" if chosen > rejected else "rejected"] * 2
        first = rows[rows["order"] == "chosen_first"].iloc[0]
        assert first["verdict"] == (1 if chosen > rejected else 2)
    assert res["verdict_paper"].equals(res["verdict"]) and res["verdict_lenient"].equals(res["verdict"])
    assert res["budget"].isna().all() and res["completion_tokens"].isna().all() and not res["cut_off"].any()
    assert judge.counts["generated"] == 13  # 6 pairs x 2 answers + one answer shown twice
    with pytest.raises(ValueError, match="votes must be 1"):
        judge.judge_pairs(pairs, votes=2)


def test_best_of_n_picks_the_highest_scored_candidate(tmp_path, backend, direct):
    sets = load_candidates("demo")
    judge = ScalarJudge(backend, JudgmentStore(tmp_path / "s.sqlite"), progress=False)
    scores = judge.score_candidates(sets)
    picks = pick_highest_scored(scores)
    n = sum(len(s.candidates) for s in sets)
    assert len(scores) == n and judge.counts["generated"] == len(set(scores["key"]))
    for s in sets:
        want = [direct(s.prompt, c) for c in s.candidates]
        got = scores[scores["question"] == s.id]["score"].tolist()
        assert got == pytest.approx(want, rel=1e-5)
        assert picks[s.id] == int(np.argmax(got))
    # equal scores go to the lower index; a question with no score gets no pick
    frame = pd.DataFrame({"question": ["a", "a", "a", "b"], "candidate": [0, 1, 2, 0], "score": [0.1, 0.3, 0.3, None]})
    assert pick_highest_scored(frame) == {"a": 1}


def test_too_long_conversations_are_skipped_or_their_answer_cut(tmp_path, classifier_dir, direct):
    long_answer = "word " * 200
    for policy in ("skip", "shorten"):
        b = make_backend("classifier", model=str(classifier_dir))
        b.context_length = 64
        judge = ScalarJudge(b, JudgmentStore(tmp_path / f"{policy}.sqlite"), progress=False, too_long=policy)
        short, long = judge.scores([("q", "fine"), ("q", long_answer)])
        assert short.fit == "whole"
        if policy == "skip":
            assert long.fit == "too long" and long.score is None and long.key is None
            j = judge.judge([("q", "fine", long_answer, 0)])[0]
            assert j.verdict is None and j.fit == "too long" and judge.fitting["skipped"] == 1
        else:
            cut, fit = judge.fit_answer("q", long_answer)
            assert long.fit == fit == "shortened" and long_answer.startswith(cut) and len(cut) < len(long_answer)
            assert judge._tokens("q", cut) <= 64 < judge._tokens("q", cut + " word word")
            assert long.score == pytest.approx(direct("q", cut), rel=1e-5)


def test_refusals(classifier_dir):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    base = {"backend": "classifier", "model": str(classifier_dir)}
    with pytest.raises(ParameterError, match="votes must be 1"):
        Judge.from_params(check("pairwise", {**base, "votes": 3}))
    with pytest.raises(ParameterError, match="has none"):
        Judge.from_params(check("pairwise", {**base, "protocol": "plain"}))
    with pytest.raises(ParameterError, match="does not think"):
        Judge.from_params(check("pairwise", {**base, "think_budgets": "4"}))
    with pytest.raises(ValueError, match="needs model"):
        make_backend("classifier")
    tok = AutoTokenizer.from_pretrained(classifier_dir)
    two = LlamaForSequenceClassification(LlamaConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                                     num_attention_heads=2, vocab_size=len(tok), num_labels=2))
    with pytest.raises(ValueError, match="num_labels=1"):
        ClassifierBackend.from_model(two, tok, model_id="two-labels")


def test_without_a_pad_token_it_scores_one_at_a_time(tmp_path, classifier_dir, direct):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(classifier_dir)
    model.config.pad_token_id = None
    b = ClassifierBackend.from_model(model, AutoTokenizer.from_pretrained(classifier_dir), model_id="nopad",
                                     batch_size=8)
    assert b.batch_size == 1
    got = ScalarJudge(b, JudgmentStore(tmp_path / "s.sqlite"), progress=False).scores([("q", "a"), ("q", "bb " * 9)])
    assert [s.score for s in got] == pytest.approx([direct("q", "a"), direct("q", "bb " * 9)], rel=1e-5)


# --- the notebooks, executed by papermill -------------------------------------------------------------

@pytest.mark.slow
def test_pairwise_notebook_with_a_scalar_judge(tmp_path, classifier_dir, direct):
    params = dict(backend="classifier", model=str(classifier_dir), limit=6, order="both", store=str(tmp_path / "j.sqlite"),
                  batch_size=4)
    out = run(tmp_path, "pairwise", "first", **params)
    res = pd.read_parquet(out / "results.parquet")
    pairs = {p.id: p for p in load_pairs("demo")[:6]}
    assert len(res) == 12 and set(res["pair_id"]) == set(pairs)
    for _, r in res.iterrows():
        p = pairs[r["pair_id"]]
        chosen, rejected = direct(p.prompt, p.chosen), direct(p.prompt, p.rejected)
        assert r["score_chosen"] == pytest.approx(chosen, rel=1e-5) and r["correct"] == (chosen > rejected)
    m, meta = read(out)
    assert m["accuracy"] == pytest.approx(float((res.drop_duplicates("pair_id")["score_chosen"]
                                                 > res.drop_duplicates("pair_id")["score_rejected"]).mean()))
    assert m["position_consistency"] == 1.0  # a score does not depend on the order shown
    assert meta["judge_kind"] == "scalar" and meta["judge"]["backend"] == "classifier"
    assert meta["completions"] == {"generated": 12, "reused": 0}
    assert meta["protocol"]["deviations"]["order"] == "both" and "protocol" not in meta["protocol"]["deviations"]
    again = run(tmp_path, "pairwise", "second", **params)
    assert read(again)[1]["completions"] == {"generated": 0, "reused": 12}
    for name in ("results.parquet", "metrics.json"):
        assert (out / name).read_bytes() == (again / name).read_bytes()


@pytest.mark.slow
def test_best_of_n_notebooks_with_a_scalar_judge(tmp_path, classifier_dir, direct):
    sets = {s.id: s for s in load_candidates("demo")[:3]}
    want = {q: int(np.argmax([direct(s.prompt, c) for c in s.candidates])) for q, s in sets.items()}
    hits = np.mean([s.correct[want[q]] for q, s in sets.items()])
    judge = dict(backend="classifier", model=str(classifier_dir), limit=3, store=str(tmp_path / "j.sqlite"))
    knockout = run(tmp_path, "knockout", "knockout", **judge)
    m, meta = read(knockout)
    assert m["scalar_judge"]["judgments_per_question"] == 4 and m["scalar_judge"]["accuracy"] == pytest.approx(hits)
    assert "scalar judge" not in m["baselines"] and m["judgments_per_question"] == 3  # the bracket's matches
    assert meta["completions"]["generated"] == 12  # one forward pass per candidate, shared by matches and pick
    picks = pd.read_parquet(knockout / "picks.parquet")
    assert dict(zip(picks["question"], picks["pick"])) == want  # distinct scores: the best wins every match
    scores = pd.read_parquet(knockout / "scores.parquet")
    assert len(scores) == 12 and pick_highest_scored(scores) == want
    nb = json.loads((knockout / "knockout.ipynb").read_text())
    assert "scalar judge" in "".join("".join(o.get("text", "")) + json.dumps(o.get("data", {}))
                                     for c in nb["cells"] for o in c.get("outputs", []))
    assert all((tmp_path / f).exists() or Path(f).exists() for f in meta["figures"])

    rival = run(tmp_path, "elo_rival", "rival", **judge)
    m, meta = read(rival)
    assert m["matches"] == 18 and meta["completions"]["generated"] == 0  # every score from the knockout's run
    accuracy = run(tmp_path, "elo_accuracy", "accuracy", matches=[str(rival / "matches.parquet"), str(knockout)],
                   dataset="demo", bootstrap=50)
    m, meta = read(accuracy)
    methods = m["methods"]
    assert methods["scalar judge (round robin)"]["judgments_per_question"] == 4
    assert methods["scalar judge (knockout)"]["accuracy"] == pytest.approx(hits)
    assert methods["ELO (round robin)"]["judgments_per_question"] == 6
    assert methods["knockout winner"]["accuracy"] == pytest.approx(hits)
    results = pd.read_parquet(accuracy / "results.parquet")
    scalar = results[results["method"] == "scalar judge (round robin)"]
    assert dict(zip(scalar["question"], scalar["pick"])) == want
    assert {".png", ".pdf", ".svg"} == {Path(f).suffix for f in meta["figures"]}
