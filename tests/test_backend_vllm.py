"""The vllm backend's glue. vLLM cannot be installed on these machines (CUDA only), so these tests
inject a TEST DOUBLE of the `vllm` module (`LLM` and `SamplingParams`, recording what they are
given) through `sys.modules`, over a real tokenizer (the tiny model's). They check what we send
to vLLM and what we make of its answers; they do not run vLLM itself."""
from __future__ import annotations

import json
import subprocess
import sys
import types
from types import SimpleNamespace

import pytest

from rrmlib.backends import Request, Sampling, make_backend
from rrmlib.backends.base import as_messages
from rrmlib.data import load_pairs
from rrmlib.judge import Judge
from rrmlib.prompts import rrm_messages
from rrmlib.store import JudgmentStore


class FakeSamplingParams:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


class FakeLLM:
    """Records its constructor arguments and each generate call; answers each prompt with a text
    naming the request's seed, and a token count that reaches max_tokens for some prompts."""

    instances: list = []

    def __init__(self, **kwargs):
        self.kwargs, self.calls = kwargs, []
        FakeLLM.instances.append(self)

    def generate(self, prompts, sampling_params, use_tqdm=True):
        self.calls.append((prompts, sampling_params, use_tqdm))
        outs = []
        for p, sp in zip(prompts, sampling_params, strict=True):
            n = min(sp.max_tokens, 2 + len(p["prompt_token_ids"]) % 7)
            outs.append(SimpleNamespace(prompt_token_ids=list(p["prompt_token_ids"]), outputs=[SimpleNamespace(
                text=f"seed={sp.seed} \\boxed{{Assistant 1}}", token_ids=list(range(n)),
                finish_reason="length" if n == sp.max_tokens else "stop")]))
        return outs


@pytest.fixture
def fake_vllm(monkeypatch):
    module = types.ModuleType("vllm")
    module.LLM, module.SamplingParams = FakeLLM, FakeSamplingParams
    monkeypatch.setitem(sys.modules, "vllm", module)
    FakeLLM.instances = []
    return module


def requests(n: int, sampling: Sampling) -> list[Request]:
    return [Request(as_messages(rrm_messages("q" + " word" * (i % 9), f"answer {i}", "b")), sampling, i % 3)
            for i in range(n)]


@pytest.mark.parametrize("folder", ["bos_model_dir", "declared_bos_model_dir"])
@pytest.mark.parametrize("mode", ["paper", "template"])
def test_prompt_ids_as_the_original_gave_them_to_vllm(request, fake_vllm, folder, tiny_model_dir, mode):
    """The original gave vLLM the rendered text, which vLLM tokenizes with special tokens: with a
    tokenizer that adds a BOS (itself, or by its config's add_bos_token under the transformers
    of the time, as RRM's), before a template that starts with it, two BOS. ``paper`` (the
    default) sends those ids, ``template`` the template's alone; the key tells them apart."""
    backend = make_backend("vllm", model=str(request.getfixturevalue(folder)), use_tqdm=False, special_tokens=mode)
    reqs = requests(3, Sampling(max_new_tokens=4))
    list(backend.stream(reqs))
    [llm] = FakeLLM.instances
    bos = backend.tokenizer.bos_token_id
    for r, p in zip(reqs, llm.calls[0][0]):
        text = backend.prompt_text(r.messages)
        assert text.startswith(backend.tokenizer.bos_token)
        template = backend.tokenizer(text, add_special_tokens=False)["input_ids"]
        assert template[0] == bos
        assert p["prompt_token_ids"] == ([bos] + template if mode == "paper" else template)
    plain = make_backend("vllm", model=str(tiny_model_dir), special_tokens=mode)
    assert plain.numerics == "dtype=auto"  # a tokenizer that adds nothing: the key as it always was
    assert backend.numerics == ("dtype=auto:specials+1" if mode == "paper" else "dtype=auto")
    assert backend.describe()["special_tokens"] == mode and backend.describe()["added_special_tokens"] == 1


def test_engine_arguments_pass_through_and_engine_starts_lazily(fake_vllm, tiny_model_dir):
    backend = make_backend("vllm", model=str(tiny_model_dir), tensor_parallel_size=4, pipeline_parallel_size=2,
                           distributed_executor_backend="ray", gpu_memory_utilization=0.8,
                           max_model_len=4096, enable_prefix_caching=False, seed=7, load_format="auto",
                           dtype="bfloat16", enforce_eager=True)
    backend.prompt_text(rrm_messages("q", "a", "b"))
    assert FakeLLM.instances == []  # rendering needs no engine
    backend.generate(requests(2, Sampling(max_new_tokens=5)))
    [llm] = FakeLLM.instances
    assert llm.kwargs == {
        "model": str(tiny_model_dir.resolve()), "revision": None, "tensor_parallel_size": 4,
        "pipeline_parallel_size": 2, "distributed_executor_backend": "ray",
        "gpu_memory_utilization": 0.8, "max_model_len": 4096, "enable_prefix_caching": False,
        "generation_config": "vllm", "seed": 7, "load_format": "auto", "dtype": "bfloat16", "enforce_eager": True}
    meta = backend.describe()
    json.dumps(meta)
    assert meta["backend"] == "vllm" and meta["tensor_parallel_size"] == 4 and meta["generation_config"] == "vllm"


def test_one_generate_call_results_in_callers_order(fake_vllm, tiny_model_dir):
    backend = make_backend("vllm", model=str(tiny_model_dir), use_tqdm=False)
    sampling = Sampling(temperature=0.7, top_p=0.95, max_new_tokens=6, seed=3)
    reqs = requests(40, sampling)
    chunks = list(backend.stream(reqs))
    [llm] = FakeLLM.instances
    [(prompts, params, use_tqdm)] = llm.calls
    assert [len(c) for c in chunks] == [40] and use_tqdm is False  # one call, committed when it returns
    assert [i for c in chunks for i, _ in c] == list(range(40))
    for r, p, sp in zip(reqs, prompts, params):
        text = backend.prompt_text(r.messages)
        assert p["prompt_token_ids"] == backend.tokenizer(text, add_special_tokens=False)["input_ids"]
        assert (sp.n, sp.temperature, sp.top_p, sp.max_tokens, sp.seed) == (1, 0.7, 0.95, 6, r.request_seed())
        assert backend.tokenizer.eos_token_id in sp.stop_token_ids
    assert len({sp.seed for sp in params}) == 40  # a seed per request, not one per batch
    for (i, c) in (pair for chunk in chunks for pair in chunk):
        n_prompt = len(prompts[i]["prompt_token_ids"])
        assert c.text == f"seed={reqs[i].request_seed()} \\boxed{{Assistant 1}}"
        assert (c.prompt_tokens, c.completion_tokens) == (n_prompt, min(6, 2 + n_prompt % 7))
        assert c.finish_reason == ("length" if c.completion_tokens == 6 else "stop")
    assert {c.finish_reason for chunk in chunks for _, c in chunk} == {"length", "stop"}


def test_call_size_splits_generate_calls_and_each_reaches_the_store_when_it_returns(fake_vllm, tiny_model_dir, tmp_path):
    backend = make_backend("vllm", model=str(tiny_model_dir), call_size=10, use_tqdm=False)
    store = JudgmentStore(tmp_path / "s.sqlite")
    in_store_at_each_call = []
    real_generate = FakeLLM.generate

    def generate(self, prompts, sampling_params, use_tqdm=True):
        in_store_at_each_call.append(len(store))
        return real_generate(self, prompts, sampling_params, use_tqdm)

    FakeLLM.generate = generate
    try:
        judge = Judge(backend, store, Sampling(max_new_tokens=6), progress=False)
        judge.judge([("q" + " word" * i, "a", "b", 0) for i in range(25)])
    finally:
        FakeLLM.generate = real_generate
    assert [len(call[0]) for call in FakeLLM.instances[0].calls] == [10, 10, 5]
    assert in_store_at_each_call == [0, 10, 20]  # a crash in call 3 keeps the 20 before it
    out = make_backend("vllm", model=str(tiny_model_dir), call_size=10, use_tqdm=False).generate(
        requests(25, Sampling(max_new_tokens=6)))
    assert [c.text for c in out] == [f"seed={r.request_seed()} \\boxed{{Assistant 1}}"
                                     for r in requests(25, Sampling(max_new_tokens=6))]


def test_judge_run_and_rerun_that_never_starts_the_engine(fake_vllm, tiny_model_dir, tmp_path):
    pairs = load_pairs("demo", limit=5)
    store = JudgmentStore(tmp_path / "store.sqlite")
    sampling = Sampling(max_new_tokens=6)
    judge = Judge(make_backend("vllm", model=str(tiny_model_dir), use_tqdm=False), store, sampling, progress=False)
    first = judge.judge_pairs(pairs, order="both")
    assert judge.counts == {"generated": 10, "reused": 0} and len(store) == 10
    assert first["verdict"].tolist() == [1] * 10  # reasoning=False: the tiny template has no <think>
    again = Judge(make_backend("vllm", model=str(tiny_model_dir)), store, sampling, progress=False)
    assert again.judge_pairs(pairs, order="both").equals(first)
    assert again.counts == {"generated": 0, "reused": 10} and len(FakeLLM.instances) == 1


def test_dummy_weights_get_their_own_revision(fake_vllm, tiny_model_dir):
    real = make_backend("vllm", model=str(tiny_model_dir))
    dummy = make_backend("vllm", model=str(tiny_model_dir), load_format="dummy")
    assert dummy.model_id == real.model_id and dummy.revision == real.revision + "+dummy-weights"


def test_reasoning_template_detected(fake_vllm, tiny_model_dir, thinking_model_dir):
    assert make_backend("vllm", model=str(thinking_model_dir)).is_reasoning() is True
    assert make_backend("vllm", model=str(tiny_model_dir)).is_reasoning() is False


def test_missing_vllm_says_how_to_get_it(tiny_model_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    backend = make_backend("vllm", model=str(tiny_model_dir))
    with pytest.raises(ImportError, match=r"rrm-notebooks\[gpu\]"):
        backend.generate(requests(1, Sampling(max_new_tokens=4)))


def test_cpu_paths_never_import_vllm():
    code = ("import sys, rrmlib, rrmlib.backends, rrmlib.judge, rrmlib.backends.vllm_backend, "
            "rrmlib.backends.openai_backend; assert 'vllm' not in sys.modules, 'vllm was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_gpu_smoke_script_runs_on_the_double(fake_vllm, tiny_model_dir, tmp_path):
    """benchmarks/gpu_smoke.py end to end on the vLLM test double (with --allow-cpu), so the
    script does not rot between GPU sessions; its numbers here mean nothing."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_smoke.py"
    spec = importlib.util.spec_from_file_location("gpu_smoke", path)
    smoke = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(smoke)
    out = tmp_path / "smoke.json"
    result = smoke.main(["--model", str(tiny_model_dir), "--n", "30", "--max-new-tokens", "6", "--allow-cpu",
                         "--json", str(out)])
    assert result["generated"] == 30 and result["reused"] == 0 and result["unparseable_rate"] == 0.0
    assert json.loads(out.read_text())["n"] == 30
    [(prompts, _, _)] = FakeLLM.instances[0].calls
    assert len(prompts) == 30


def test_data_parallel_is_refused_with_the_command_that_does_it(fake_vllm, tiny_model_dir):
    with pytest.raises(ValueError, match="vllm serve MODEL --data-parallel-size 4") as e:
        make_backend("vllm", model=str(tiny_model_dir), data_parallel_size=4)
    assert "-p backend openai" in str(e.value)


def test_notebooks_set_the_call_size():
    from rrmlib.params import backend_options, check

    p = check("pairwise", {"backend": "vllm", "model": "org/m", "vllm_call_size": 64})
    assert backend_options(p)["call_size"] == 64


def test_max_tokens_never_exceed_what_the_context_leaves(fake_vllm, tiny_model_dir):
    backend = make_backend("vllm", model=str(tiny_model_dir), max_model_len=520, use_tqdm=False)
    assert backend.context_length == 520
    reqs = requests(6, Sampling(max_new_tokens=400))
    list(backend.stream(reqs))
    [(prompts, params, _)] = FakeLLM.instances[0].calls
    for p, sp in zip(prompts, params):
        assert sp.max_tokens == min(400, 520 - len(p["prompt_token_ids"]))
    assert all(sp.max_tokens < 400 for sp in params)  # these prompts leave less than 400
    assert make_backend("vllm", model=str(tiny_model_dir)).context_length == 2048  # the model's own limit


def test_a_continuation_follows_the_prompt_as_token_ids(fake_vllm, tiny_model_dir):
    backend = make_backend("vllm", model=str(tiny_model_dir), use_tqdm=False)
    plain = requests(2, Sampling(max_new_tokens=4))
    forced = [Request(r.messages, r.sampling, r.sample, continuation=(11, 12, 13)) for r in plain]
    list(backend.stream(plain + forced))
    [(prompts, _, _)] = FakeLLM.instances[0].calls
    assert prompts[2]["prompt_token_ids"] == prompts[0]["prompt_token_ids"] + [11, 12, 13]
    assert prompts[3]["prompt_token_ids"] == prompts[1]["prompt_token_ids"] + [11, 12, 13]


def test_cpu_engine_defaults_and_what_the_caller_says_wins(caplog):
    """What the backend sets on vLLM's CPU build (tests/vllm_tier checks it on the real build):
    prompts prefilled whole, eager, a 4 GiB KV cache unless VLLM_CPU_KVCACHE_SPACE is set; any
    value given stays, and chunked prefill asked for is warned about."""
    from rrmlib.backends.vllm_backend import cpu_engine_defaults

    assert cpu_engine_defaults({}, env={}) == {"enable_chunked_prefill": False, "enforce_eager": True,
                                               "kv_cache_memory_bytes": 4 * 2**30}
    told = {"enforce_eager": False, "kv_cache_memory_bytes": 2**30}
    assert cpu_engine_defaults(dict(told), env={}) == {**told, "enable_chunked_prefill": False}
    assert "kv_cache_memory_bytes" not in cpu_engine_defaults({}, env={"VLLM_CPU_KVCACHE_SPACE": "2"})
    with caplog.at_level("WARNING"):
        cpu_engine_defaults({"enable_chunked_prefill": True}, env={})
    assert "CPU Generator does not use offset" in caplog.text
