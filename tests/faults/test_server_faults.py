"""Server faults (fault suite): the openai backend against a real OpenAI-compatible server that
misbehaves on chosen requests.

The server is a real ``transformers serve`` on a tiny random Llama (127.0.0.1 only). In front of
it runs a real HTTP proxy written in the test (``FaultProxy`` in tests/faults/conftest.py:
``http.server`` on 127.0.0.1, one thread per connection) that forwards every request to the
server and replies with a fault on the requests a test names by number: 429 with Retry-After,
500, malformed JSON, empty choices, a reply slower than the backend's timeout (held, or sent one
byte at a time), a connection closed mid-body, and ``finish_reason: "length"``.

What must hold: retries are bounded; the error names the endpoint and what each try met; nothing
broken is stored as a completion; and a rerun generates only what is missing and ends with the
results of an undisturbed run (on a fresh store, against the same server).

Greedy decoding (temperature 0): ``transformers serve`` seeds a request with ``torch.manual_seed``
on the process-wide generator, so seeded sampling does not repeat under concurrent requests;
greedy text does (tests/test_backend_openai.py, the resume test, says more).
"""
from __future__ import annotations

import asyncio
import re

import pytest

from rrmlib.backends import Sampling, make_backend
from rrmlib.backends.openai_backend import RequestFailed
from rrmlib.data import load_pairs
from rrmlib.judge import Judge
from rrmlib.metrics import metrics
from rrmlib.store import JudgmentStore

pytestmark = pytest.mark.slow

SAMPLING = Sampling(temperature=0.0, max_new_tokens=24, seed=3)
PAIRS = load_pairs("demo", limit=4)  # both orders: 8 requests


def backend_for(model_dir, url, **options):
    # One request at a time, each committed as it comes, so the proxy's request numbers are the
    # run's requests in order; short backoffs keep the suite quick.
    options = {"reasoning": False, "concurrency": 1, "chunk_size": 1, "max_retries": 2, "backoff": 0.01,
               "backoff_max": 1.0, "timeout": 30.0, **options}
    return make_backend("openai", model=str(model_dir), base_url=url, **options)


@pytest.fixture(scope="module")
def undisturbed(faults_server, faults_model_dir, tmp_path_factory):
    """The expectation: a run straight to the server, on a fresh store, with nothing in the way."""
    store = JudgmentStore(tmp_path_factory.mktemp("undisturbed") / "store.sqlite")
    judge = Judge(backend_for(faults_model_dir, faults_server.url, concurrency=4, chunk_size=16), store, SAMPLING,
                  progress=False)
    results = judge.judge_pairs(PAIRS, order="both")
    rows = store.get_many(list(results["key"]))
    assert judge.counts == {"generated": 8, "reused": 0} and len(rows) == 8
    # Texts that differ from request to request: a completion stored under another request's key
    # would show. (Every one is cut at max_new_tokens: the random model never writes its EOS.)
    assert len({r["text"] for r in rows.values()}) >= 6
    assert all(r["finish_reason"] == "length" and r["completion_tokens"] == 24 for r in rows.values())
    return results, rows


# fault: (what the error says of each try, backend options, proxy options)
CASES = {
    "429": (r"HTTP 429", {}, {"retry_after": "3600"}),  # an hour asked for: honoured up to backoff_max
    "500": (r"HTTP 500", {}, {}),
    "malformed": (r"malformed reply \(JSONDecodeError\)", {}, {}),
    "empty_choices": (r"invalid reply \(no choices\)", {}, {}),
    "slow": (r"no reply within timeout=3 s", {"timeout": 3.0}, {"slow_seconds": 60}),
    "trickle": (r"no reply within timeout=3 s", {"timeout": 3.0}, {"trickle_seconds": 0.2}),
    "cut": (r"connection failed \(RemoteProtocolError", {}, {}),
}


@pytest.mark.parametrize("fault", list(CASES))
def test_fault_is_retried_boundedly_then_named_and_a_rerun_completes_the_undisturbed_results(
        fault, faults_proxy, faults_model_dir, undisturbed, tmp_path, monkeypatch):
    expected, rows = undisturbed
    said, options, proxy_options = CASES[fault]
    # Request 2 meets the fault once (its retry, request 3, goes through: the run goes on);
    # requests 6, 7 and 8 are the three tries of the fifth judgment: with max_retries=2 it fails.
    proxy = faults_proxy({2: fault, 6: fault, 7: fault, 8: fault}, **proxy_options)
    store = JudgmentStore(tmp_path / "store.sqlite")
    judge = Judge(backend_for(faults_model_dir, proxy.url, **options), store, SAMPLING, progress=False)
    slept = []
    real_sleep = asyncio.sleep

    async def sleep(seconds, *args, **kwargs):  # what the backend really waits, beside what it chose
        slept.append(seconds)
        return await real_sleep(seconds, *args, **kwargs)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    with pytest.raises(RequestFailed) as failure:
        judge.judge_pairs(PAIRS, order="both")

    # Bounded: three tries of the failing request, then the run stops (nothing more is sent).
    assert [s["n"] for s in proxy.faulted()] == [2, 6, 7, 8] and len(proxy.seen) == 8
    # Named: the endpoint and what each try met, and what to do.
    message = str(failure.value)
    endpoint = re.escape(f"{proxy.url}/chat/completions")
    tries = ".*; ".join([rf"{endpoint}: {said}"] * 3)
    assert re.search(rf"failed 3 times \(max_retries=2\): {tries}", message), message
    assert "rerun to resume" in message
    # Nothing broken stored: the four judgments that came back whole, as the undisturbed run has them.
    kept = store.get_many(list(expected["key"]))
    assert len(store) == 4 and judge.counts["generated"] == 4
    assert kept == {k: rows[k] for k in expected["key"][:4]}

    # Before each of the three retries (requests 3, 7, 8) the backend waits: as a 429's Retry-After
    # asks (an hour), capped at backoff_max = 1 s; after any other fault, its own backoff (10 ms,
    # doubled per attempt, jittered). The waits it chose are checked, not the clock. (That slow
    # and trickled tries ended by the 3 s timeout, the message above says of each.)
    waits = judge.backend.waits
    if fault == "429":
        assert waits == [1.0, 1.0, 1.0], waits
    else:
        assert len(waits) == 3 and all(0.0 < w <= 0.04 for w in waits), waits
    rest = iter(slept)  # each chosen wait was slept, in order
    assert all(any(s == w for s in rest) for w in waits), (waits, slept)

    # Resumable: the rerun asks only for the missing four and ends with the undisturbed results.
    proxy.plan.clear()
    again = Judge(backend_for(faults_model_dir, proxy.url), store, SAMPLING, progress=False)
    results = again.judge_pairs(PAIRS, order="both")
    assert again.counts == {"generated": 4, "reused": 4} and len(proxy.seen) == 8 + 4
    assert results.equals(expected)
    assert store.get_many(list(results["key"])) == rows


def test_a_completion_cut_off_by_length_is_stored_marked_and_scored_as_cut_off(faults_proxy, faults_model_dir,
                                                                               undisturbed, tmp_path):
    """``finish_reason: "length"`` is no fault: the completion is stored as it came, marked cut off
    (never retried), and the metrics count it. The real server says "length" of every completion
    here (the random model never writes EOS before max_tokens); on request 3 the proxy cuts the
    text to half, as a server at its context limit does before max_tokens."""
    expected, rows = undisturbed
    proxy = faults_proxy({3: "length"})
    store = JudgmentStore(tmp_path / "store.sqlite")
    judge = Judge(backend_for(faults_model_dir, proxy.url), store, SAMPLING, progress=False)
    results = judge.judge_pairs(PAIRS, order="both")
    assert judge.counts == {"generated": 8, "reused": 0} and len(proxy.seen) == 8  # not retried

    stored = store.get_many(list(results["key"]))
    assert all(r["finish_reason"] == "length" for r in stored.values())
    [cut] = [k for k in stored if stored[k] != rows[k]]
    assert cut == expected["key"][2]
    assert stored[cut]["text"] == rows[cut]["text"][: len(rows[cut]["text"]) // 2]
    assert stored[cut]["completion_tokens"] == 12
    assert results["cut_off"].all() and results.loc[2, "completion_tokens"] == 12
    m = metrics(results, "tie")
    assert m["cut_off"] == 1.0

    # Kept, not asked again: a rerun reuses all eight, the cut-off one included.
    again = Judge(backend_for(faults_model_dir, proxy.url), store, SAMPLING, progress=False)
    assert again.judge_pairs(PAIRS, order="both").equals(results)
    assert again.counts == {"generated": 0, "reused": 8} and len(proxy.seen) == 8
