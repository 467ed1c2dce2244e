"""The judge on a real (tiny, random) transformers model, with a store filled with known
completions where the test needs known verdicts."""
import subprocess
import sys

import pytest

from rrmlib.backends import Sampling, make_backend
from rrmlib.backends.base import Completion
from rrmlib.data import Pair, load_pairs
from rrmlib.judge import Judge, pair_plan, showing, shown_orders, swapped
from rrmlib.store import JudgmentStore

SAMPLING = Sampling(temperature=0.6, max_new_tokens=6, seed=0)


@pytest.fixture(scope="module")
def tiny_backend(tiny_model_dir):
    return make_backend("hf", model=str(tiny_model_dir), batch_size=4)


def fill(judge, plan, text_for):
    """Store ``text_for(pair, swapped, sample)`` as the completion of each planned judgment."""
    judge.remember([(judge.request(*showing(p, swap, s)), Completion(text_for(p, swap, s), 400, 7, "stop"))
                    for p, swap, s in plan])


def test_shuffle_is_seeded_and_balanced():
    ids = [f"p{i}" for i in range(400)]
    flips = [swapped(0, i) for i in ids]
    assert 150 < sum(flips) < 250
    assert flips == [swapped(0, i) for i in ids]
    assert flips != [swapped(1, i) for i in ids]
    assert shown_orders("both", 0, "x") == [False, True] and shown_orders("fixed", 0, "x") == [False]
    with pytest.raises(ValueError):
        shown_orders("random", 0, "x")


def test_shuffle_identical_across_processes():
    code = "from rrmlib.judge import swapped; print(''.join('1' if swapped(7, f'id{i}') else '0' for i in range(64)))"
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": str(h), "PATH": ""}).stdout for h in (1, 2)}
    assert len(outs) == 1 and outs.pop().strip() == "".join("1" if swapped(7, f"id{i}") else "0" for i in range(64))


def test_known_completions_give_known_verdicts(tmp_path, tiny_backend):
    pairs = load_pairs("demo")[:6]
    judge = Judge(tiny_backend, JudgmentStore(tmp_path / "s.sqlite"), SAMPLING, reasoning=True, progress=False)
    plan = pair_plan(pairs, order="both", votes=1, seed=0)
    # The judge always names slot 1 after thinking, except on math-2 where the thought is cut off.
    fill(judge, plan, lambda p, swap, s: "hmm" if p.id == "math-2" else "hmm\\boxed{Assistant 2}</think>\\boxed{Assistant 1}")
    res = judge.judge_pairs(pairs, order="both", votes=1, seed=0)
    assert judge.counts == {"generated": 0, "reused": 12}
    assert len(res) == 12  # `both`: twice the completions
    first = res[res["order"] == "chosen_first"].set_index("pair_id")
    second = res[res["order"] == "rejected_first"].set_index("pair_id")
    assert first.loc["math-1", "picked"] == "chosen" and second.loc["math-1", "picked"] == "rejected"
    assert res[res["pair_id"] == "math-2"]["verdict"].isna().all()
    assert res["think_tokens"].notna().sum() == 10


def test_generates_only_what_the_store_lacks(tmp_path, tiny_backend):
    pairs = load_pairs("demo")[:5]
    store = JudgmentStore(tmp_path / "s.sqlite")
    judge = Judge(tiny_backend, store, SAMPLING, progress=False)
    fill(judge, pair_plan(pairs[:2], votes=2), lambda p, swap, s: "\\boxed{Assistant 1}")
    res = judge.judge_pairs(pairs, votes=2)
    assert judge.counts == {"generated": 6, "reused": 4}
    assert len(store) == 10 and len(res) == 10
    again = Judge(tiny_backend, store, SAMPLING, progress=False)
    res2 = again.judge_pairs(pairs, votes=2)
    assert again.counts == {"generated": 0, "reused": 10}
    assert res.equals(res2)
    new = res[~res["pair_id"].isin([p.id for p in pairs[:2]])]
    assert new["completion_tokens"].between(1, SAMPLING.max_new_tokens).all()
    assert new["cut_off"].eq(new["completion_tokens"] == SAMPLING.max_new_tokens).all()


def test_duplicate_requests_generate_once(tmp_path, tiny_backend):
    judge = Judge(tiny_backend, JudgmentStore(tmp_path / "s.sqlite"), SAMPLING, progress=False)
    out = judge.judge([("q", "a", "b", 0), ("q", "a", "b", 0), ("q", "a", "b", 1)])
    assert judge.counts == {"generated": 2, "reused": 0}
    assert out[0].key == out[1].key != out[2].key


def test_reasoning_detection_and_override(tmp_path, tiny_backend):
    assert tiny_backend.is_reasoning() is False
    store = JudgmentStore(tmp_path / "s.sqlite")
    assert Judge(tiny_backend, store, SAMPLING).reasoning is False
    assert Judge(tiny_backend, store, SAMPLING, reasoning=True).reasoning is True


def test_tie_pairs_are_carried(tmp_path, tiny_backend):
    judge = Judge(tiny_backend, JudgmentStore(tmp_path / "s.sqlite"), SAMPLING, progress=False)
    res = judge.judge_pairs([Pair("t", "q", "a", "b", "s", tie=True)])
    assert res["tie"].tolist() == [True]


def test_progress_moves_inside_a_batch(tmp_path, tiny_model_dir, capsys):
    """One batch of 4 judgments, 24 tokens each: before any completion is done, the bar already
    shows the batch's tokens, step by step (issue 12: no more "0/24" for minutes)."""
    from rrmlib.backends import make_backend
    from rrmlib.store import JudgmentStore

    judge = Judge(make_backend("hf", model=str(tiny_model_dir), batch_size=4), JudgmentStore(tmp_path / "s.sqlite"),
                  Sampling(temperature=0.6, max_new_tokens=24), reasoning=False)
    judge.progress_interval = 0  # every step (the default shows one line per 10 s where output is saved)
    judge.judge([(f"q{i}", "a", "b", 0) for i in range(4)])
    err = capsys.readouterr().err
    steps = [line for line in err.replace("\r", "\n").splitlines() if "this batch: 4 sequences" in line]
    assert any("token 1/24" in line and " 0/4 " in line for line in steps)  # moving before any completion
    assert any("token 12/24" in line for line in steps) and any("token 24/24" in line for line in steps)
    assert judge.backend.step_hook is None  # unset after the run


def test_a_long_cpu_run_says_what_it_may_cost_before_it_starts(tmp_path, tiny_model_dir, capsys):
    from rrmlib.backends import Request
    from rrmlib.backends.base import as_messages
    from rrmlib.prompts import rrm_messages

    judge = Judge(make_backend("hf", model=str(tiny_model_dir)), JudgmentStore(tmp_path / "s.sqlite"),
                  Sampling(max_new_tokens=8192), reasoning=False, progress=False)
    params = sum(p.numel() for p in judge.backend.model.parameters())
    many = [Request(as_messages(rrm_messages(f"q{i}", "a", "b")), judge.sampling, 0) for i in range(3000)]
    judge.cache.warn_cost(many)
    err = capsys.readouterr().err
    rate = 70.0 * 135e6 / params  # the documented rule: SmolLM2-135M's speed here, scaled by size
    assert f"up to {3000 * 8192:,} new tokens" in err and f"up to {3000 * 8192 / rate / 3600:.1f} hours" in err
    judge.cache.warn_cost(many[:2])  # a short run says nothing
    assert capsys.readouterr().err == ""
