"""The openai backend against real OpenAI-compatible servers (``transformers serve`` on the tiny
model, started here on free local ports) and, where a real server cannot be made to misbehave on
demand (429s, 500s, 400s, reasoning fields), against a scripted ``http.server`` test double."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rrmlib.backends import Request, Sampling, make_backend
from rrmlib.backends.base import as_messages
from rrmlib.backends.openai_backend import OpenAIBackend, RequestFailed
from rrmlib.data import load_pairs
from rrmlib.judge import Judge
from rrmlib.prompts import rrm_messages
from rrmlib.store import JudgmentStore
from servers import Server, free_port, killing_after_first_chunk


def requests(n: int, sampling: Sampling) -> list[Request]:
    return [Request(as_messages(rrm_messages(f"question {i}", "yes", "no")), sampling, i % 2) for i in range(n)]


# -- a real server (tests/servers.py) ------------------------------------------------------
@pytest.fixture(scope="module")
def servers(tiny_model_dir, tmp_path_factory):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    logs = tmp_path_factory.mktemp("server-logs")
    pool = [Server(tiny_model_dir, logs).start() for _ in range(2)]  # started together: they load in parallel
    try:
        yield [s.wait() for s in pool]
    finally:
        for s in pool:
            s.kill()


def backend_for(model_dir, base_url, **options) -> OpenAIBackend:
    # The served model's name is the folder path exactly as given to `transformers serve`.
    options.setdefault("reasoning", False)  # the tiny model does not think in tags
    return make_backend("openai", model=str(model_dir), base_url=base_url, **options)


@pytest.mark.slow
def test_judge_run_stores_then_reuses(servers, tiny_model_dir, tmp_path):
    pairs = load_pairs("demo", limit=4)
    sampling = Sampling(temperature=0.6, max_new_tokens=8, seed=1)
    store = JudgmentStore(tmp_path / "store.sqlite")
    judge = Judge(backend_for(tiny_model_dir, servers[0].url, concurrency=4, chunk_size=3), store, sampling,
                  progress=False)
    first = judge.judge_pairs(pairs, order="both")
    assert judge.counts == {"generated": 8, "reused": 0} and len(store) == 8
    assert first["completion_tokens"].between(1, 8).all()
    rows = store.db.execute("SELECT prompt, finish_reason, completion_tokens FROM completions").fetchall()
    assert all(json.loads(p)[0]["role"] == "system" for p, _, _ in rows)  # the messages, as canonical JSON
    assert all((f == "length") == (n == 8) for _, f, n in rows)

    again = Judge(backend_for(tiny_model_dir, servers[0].url), store, sampling, progress=False)
    second = again.judge_pairs(pairs, order="both")
    assert again.counts == {"generated": 0, "reused": 8}
    assert second.equals(first)


@pytest.mark.slow
def test_requests_spread_over_servers_and_move_off_a_dead_one(servers, tiny_model_dir):
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there: connection refused
    urls = [servers[0].url, dead, servers[1].url]
    backend = backend_for(tiny_model_dir, ",".join(urls), concurrency=4, max_retries=2, backoff=0.05)
    out = backend.generate(requests(12, Sampling(temperature=0.0, max_new_tokens=4)))
    assert all(c.completion_tokens >= 1 for c in out)
    stats = backend.stats
    assert stats[dead]["completed"] == 0 and stats[dead]["failed"] >= 1
    assert stats[urls[0]]["completed"] > 0 and stats[urls[2]]["completed"] > 0
    assert stats[urls[0]]["completed"] + stats[urls[2]]["completed"] == 12


@pytest.mark.slow
def test_api_key_comes_from_the_environment_and_is_never_stored(servers, tiny_model_dir, tmp_path, monkeypatch):
    secret = "sk-test-8d1f0c2a9e"
    monkeypatch.setenv("RRM_TEST_API_KEY", secret)
    backend = backend_for(tiny_model_dir, servers[0].url, api_key_env="RRM_TEST_API_KEY")
    store = JudgmentStore(tmp_path / "store.sqlite")
    Judge(backend, store, Sampling(max_new_tokens=4), progress=False).judge_pairs(load_pairs("demo", limit=2))
    store.db.close()
    files = list(tmp_path.iterdir())  # the database and its WAL
    assert files and all(secret.encode() not in f.read_bytes() for f in files)
    meta = json.dumps(backend.describe())
    assert secret not in meta and "RRM_TEST_API_KEY" in meta
    assert secret not in repr(vars(backend))


@pytest.mark.slow
def test_server_killed_mid_run_fails_clearly_then_resumes_to_the_undisturbed_results(servers, tiny_model_dir,
                                                                                     tmp_path):
    """A server SIGKILLed mid-run: the run fails naming the server, what finished is kept, and a
    rerun after the restart generates only the rest and ends with the results of an undisturbed
    run on a fresh store against the same server (the independent expectation).

    Greedy (temperature 0), because `transformers serve` does not make seeded sampling repeat:
    it samples only when the model's generation_config says ``do_sample`` (the tiny model's does
    not, so at temperature 0.6 it decodes greedily anyway), and it applies a request's ``seed``
    with ``torch.manual_seed`` on the process-wide generator, which concurrent requests share
    (checked on a copy of the tiny model with ``do_sample: true``: the same 8 seeded requests sent
    8 at a time, twice, gave 0 of 8 identical texts; sent one at a time they repeat). Greedy
    decoding repeats whatever the concurrency."""
    server = servers[1]
    pairs = load_pairs("demo", limit=8)
    sampling = Sampling(temperature=0.0, max_new_tokens=24, seed=5)

    undisturbed_store = JudgmentStore(tmp_path / "undisturbed.sqlite")
    undisturbed = Judge(backend_for(tiny_model_dir, server.url, concurrency=4), undisturbed_store, sampling,
                        progress=False)
    expected = undisturbed.judge_pairs(pairs, order="both")
    assert undisturbed.counts == {"generated": 16, "reused": 0}
    expected_rows = undisturbed_store.get_many(list(expected["key"]))
    assert len({v["text"] for v in expected_rows.values()}) > 1  # texts that differ: a comparison that can fail

    store = JudgmentStore(tmp_path / "store.sqlite")
    backend = backend_for(tiny_model_dir, server.url, concurrency=1, chunk_size=2, max_retries=2, backoff=0.05)
    judge = Judge(killing_after_first_chunk(backend, server), store, sampling, progress=False)
    with pytest.raises(RequestFailed, match=rf"failed 3 times .*{server.port}/v1/chat/completions: connection "
                                            r"failed.*rerun to resume"):
        judge.judge_pairs(pairs, order="both")
    kept = len(store)
    print(f"kept {kept} of 16 before the failure")
    assert 2 <= kept < 16 and judge.counts["generated"] == kept
    before = store.get_many(list(expected["key"]))
    assert before == {k: expected_rows[k] for k in before}  # what was kept is what an undisturbed run makes

    server.start().wait()
    resumed = Judge(backend_for(tiny_model_dir, server.url, concurrency=4), store, sampling, progress=False)
    df = resumed.judge_pairs(pairs, order="both")
    assert resumed.counts == {"generated": 16 - kept, "reused": kept} and len(store) == 16
    assert df.equals(expected)  # keys, verdicts, token counts, cut-offs: as the undisturbed run
    assert store.get_many(list(df["key"])) == expected_rows  # texts and finish reasons too


# -- a scripted test double, for what a real server won't do on demand ---------------------
class Stub:
    """A local HTTP server that answers /v1/chat/completions from a script of (status, body)
    and records every request (headers and JSON body)."""

    def __init__(self, script):
        self.script, self.seen = list(script), []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.seen.append({"auth": self.headers.get("Authorization"), "body": body})
                status, payload, *delay = stub.script.pop(0) if len(stub.script) > 1 else stub.script[0]
                if delay and isinstance(delay[0], threading.Event):
                    delay[0].wait(30)  # held until the test lets it go (30 s: a bound, not a timing)
                else:
                    time.sleep(delay[0] if delay else 0)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def answer(content="\\boxed{Assistant 1}", finish="stop", **message):
    return 200, {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                 "choices": [{"index": 0, "finish_reason": finish,
                              "message": {"role": "assistant", "content": content, **message}}],
                 "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}


def error(status, message="nope"):
    return status, {"error": {"message": message, "type": "error", "code": status}}


@pytest.fixture
def stub():
    made = []

    def make(*script):
        made.append(Stub(script))
        return made[-1]

    yield make
    for s in made:
        s.close()


def test_retries_429_and_500_with_backoff_then_succeeds(stub):
    server = stub(error(429), error(500), answer())
    backend = OpenAIBackend("m", base_url=server.url, max_retries=3, backoff=0.01)
    [c] = backend.generate(requests(1, Sampling()))
    assert c.text == "\\boxed{Assistant 1}" and (c.prompt_tokens, c.completion_tokens) == (11, 7)
    assert len(server.seen) == 3 and backend.stats[server.url] == {"completed": 1, "failed": 2}


def test_retries_are_bounded(stub):
    server = stub(error(503))
    backend = OpenAIBackend("m", base_url=server.url, max_retries=2, backoff=0.01)
    with pytest.raises(RequestFailed, match="failed 3 times.*HTTP 503"):
        backend.generate(requests(1, Sampling()))
    assert len(server.seen) == 3


def test_retry_after_is_read_in_each_form_and_capped():
    from datetime import datetime, timedelta, timezone
    from email.utils import format_datetime
    from types import SimpleNamespace

    from rrmlib.backends.openai_backend import _retry_after

    def said(**headers):  # an openai status error's shape: .response.headers
        return _retry_after(SimpleNamespace(response=SimpleNamespace(headers=headers)))

    assert said(**{"retry-after": "2"}) == 2.0 and said(**{"retry-after": "0.5"}) == 0.5
    assert said(**{"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert 25 < said(**{"retry-after": format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30),
                                                        usegmt=True)}) <= 30
    assert said(**{"retry-after": "soon"}) is None and said() is None
    assert _retry_after(RuntimeError("no response")) is None
    b = OpenAIBackend("m", base_url="http://h/v1", backoff=0.01, backoff_max=0.5)
    assert b._delay(0, 3600.0) == 0.5 and b._delay(0, 0.2) == 0.2 and b._delay(0, None) <= 0.01


def test_other_4xx_fail_at_once_with_the_servers_message(stub):
    server = stub(error(404, "model 'm' not found"))
    backend = OpenAIBackend("m", base_url=server.url, max_retries=5, backoff=0.01)
    with pytest.raises(RequestFailed, match=r"HTTP 404: .*model 'm' not found.*GET .*/models"):
        backend.generate(requests(3, Sampling()))
    assert 1 <= len(server.seen) <= 3  # no retries: one try per request at most


def test_sends_sampling_seed_and_key(stub, monkeypatch):
    server = stub(answer())
    monkeypatch.setenv("MY_KEY", "sk-abc")
    s = Sampling(temperature=0.7, top_p=0.9, max_new_tokens=33, seed=4)
    reqs = requests(2, s)
    OpenAIBackend("served-name", base_url=server.url, api_key_env="MY_KEY").generate(reqs)
    monkeypatch.delenv("MY_KEY")
    OpenAIBackend("served-name", base_url=server.url, api_key_env="MY_KEY").generate(reqs[:1])
    assert [x["auth"] for x in server.seen] == ["Bearer sk-abc"] * 2 + ["Bearer EMPTY"]
    by_seed = {x["body"]["seed"]: x["body"] for x in server.seen}
    assert set(by_seed) == {r.request_seed() for r in reqs}
    for r in reqs:
        body = by_seed[r.request_seed()]
        assert body["messages"] == list(r.messages) and body["model"] == "served-name"
        assert (body["temperature"], body["top_p"], body["max_tokens"], body.get("n", 1)) == (0.7, 0.9, 33, 1)


def test_reasoning_fields_are_joined_back_with_think_tag(stub):
    server = stub(answer(content="\\boxed{Assistant 2}", reasoning_content="hmm"),
                  answer(content="\\boxed{Assistant 1}", reasoning="let me see"),
                  answer(content=None, reasoning_content="still thinking", finish="length"))
    backend = OpenAIBackend("m", base_url=server.url, concurrency=1)
    out = backend.generate(requests(3, Sampling()))
    assert sorted(c.text for c in out) == sorted(["hmm</think>\\boxed{Assistant 2}",
                                                  "let me see</think>\\boxed{Assistant 1}", "still thinking"])
    assert sorted(c.finish_reason for c in out) == ["length", "stop", "stop"]
    assert backend.is_reasoning() is None
    assert OpenAIBackend("m", base_url=server.url, reasoning=True).is_reasoning() is True


def test_works_where_an_event_loop_is_already_running(stub):
    """As inside a Jupyter cell: asyncio.run would fail there."""
    server = stub(answer())

    async def cell():
        return OpenAIBackend("m", base_url=server.url).generate(requests(3, Sampling()))

    assert len(asyncio.run(cell())) == 3


def test_chunks_come_as_they_finish_and_callers_indices_hold(stub):
    server = stub(answer())
    backend = OpenAIBackend("m", base_url=server.url, chunk_size=4, concurrency=3)
    chunks = list(backend.stream(requests(10, Sampling())))
    assert [len(c) for c in chunks] == [4, 4, 2]
    assert sorted(i for c in chunks for i, _ in c) == list(range(10))


def test_a_slow_request_does_not_hold_back_finished_ones(stub):
    gate = threading.Event()
    server = stub(answer(), answer(), (*answer(), gate))  # the third request is held at the gate
    backend = OpenAIBackend("m", base_url=server.url, chunk_size=10, flush_seconds=0.3, concurrency=3)
    sizes = []
    for chunk in backend.stream(requests(3, Sampling())):
        sizes.append((len(chunk), gate.is_set()))
        gate.set()  # the finished two arrived while the third was still held: now let it finish
    assert sizes == [(2, False), (1, True)]


def test_describe_and_options(monkeypatch):
    b = OpenAIBackend("RRM-7B", base_url="http://u:pw@h1:8000/v1/, http://h2:8000/v1", concurrency=64)
    assert b.base_urls == ["http://u:pw@h1:8000/v1", "http://h2:8000/v1"]
    d = b.describe()
    assert d["base_urls"] == ["http://h1:8000/v1", "http://h2:8000/v1"] and "pw" not in json.dumps(d)
    assert (d["backend"], d["model"], d["revision"], d["concurrency"]) == ("openai", "RRM-7B", "", 64)
    assert b.prompt_text([{"role": "user", "content": "x"}]) == '[{"content": "x", "role": "user"}]'
    with pytest.raises(ValueError, match="base_url"):
        OpenAIBackend("m", base_url=" ")
    with pytest.raises(ValueError, match="concurrency"):
        OpenAIBackend("m", base_url="http://h/v1", concurrency=0)


def test_judge_needs_to_be_told_whether_a_served_model_reasons(tmp_path):
    """A server hides its chat template: the judge refuses to guess how to read verdicts."""
    backend = OpenAIBackend("RRM-7B", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match="pass reasoning=True"):
        Judge(backend, JudgmentStore(tmp_path / "s.sqlite"), Sampling())
    assert Judge(backend, JudgmentStore(tmp_path / "s.sqlite"), Sampling(), reasoning=True).reasoning is True


@pytest.mark.slow
def test_thinking_budgets_through_the_completions_endpoint(servers, tiny_model_dir, tmp_path):
    """A forced verdict continues the answer from given tokens: the chat endpoint cannot, so the
    backend renders the prompt here (the model's own template and tokenizer) and asks the real
    server's /v1/completions; without a tokenizer it refuses, naming what is missing."""
    from rrmlib import budgets

    pairs = load_pairs("demo", limit=3)
    sampling = Sampling(temperature=0.0, max_new_tokens=8, seed=1)
    bare = Judge(backend_for(tiny_model_dir, servers[0].url), JudgmentStore(tmp_path / "a.sqlite"), sampling,
                 progress=False)
    with pytest.raises(NotImplementedError, match="-p tokenizer"):
        budgets.judge_budgets(bare, pairs, budgets=[2, 8], order="fixed", verdict_tokens=3)

    store = JudgmentStore(tmp_path / "b.sqlite")
    judge = Judge(backend_for(tiny_model_dir, servers[0].url, tokenizer=str(tiny_model_dir)), store, sampling,
                  progress=False)
    frame = budgets.judge_budgets(judge, pairs, budgets=[2, 8], order="fixed", verdict_tokens=3)
    forced = frame[frame["forced"]]
    assert len(forced) == 3 and set(forced["budget"]) == {2}  # every 8-token completion is cut at 2
    texts = store.get_many(forced["key"].tolist())
    assert len(texts) == 3 and all(t["completion_tokens"] <= 3 for t in texts.values())
    tok = judge.backend.tokenizer
    for row in forced.itertuples():
        long_text = store.get_many([row.long_key])[row.long_key]["text"]
        p = next(p for p in pairs if p.id == row.pair_id)
        request = judge.request(p.prompt, p.chosen, p.rejected, 0)
        ids = tok(long_text, add_special_tokens=False)["input_ids"][:2] + \
            tok(budgets.CLOSE, add_special_tokens=False)["input_ids"]
        want = tok.apply_chat_template(list(request.messages), tokenize=False, add_generation_prompt=True) + \
            tok.decode(ids)
        forced_request = budgets.forced_request(request, ids[:2], 2, ids[2:], 3)
        assert judge.backend.rendered(forced_request) == want
        assert judge.key(forced_request) == row.key
    again = Judge(backend_for(tiny_model_dir, servers[0].url, tokenizer=str(tiny_model_dir)), store, sampling,
                  progress=False)
    budgets.judge_budgets(again, pairs, budgets=[2, 8], order="fixed", verdict_tokens=3)
    assert again.counts["generated"] == 0
