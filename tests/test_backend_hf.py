"""The transformers backend on a tiny random model: order, batching, seeds, limits."""
import pytest

from rrmlib.backends import Request, Sampling, make_backend
from rrmlib.backends.base import as_messages
from rrmlib.prompts import rrm_messages


@pytest.fixture(scope="module", params=["continuous", "static"])
def backend(request, tiny_model_dir):
    # Every test here runs on both ways of batching (tests/test_hf_continuous.py compares them).
    return make_backend("hf", model=str(tiny_model_dir), batch_size=3, batching=request.param)


def requests(sampling, n=7):
    # Prompts of very different lengths, so length-sorting reorders them.
    return [Request(as_messages(rrm_messages("q" + " word" * (13 * i % 40), "a" * (i + 1), "b")), sampling, i % 2)
            for i in range(n)]


def test_length_sorted_batches_return_callers_order(backend):
    greedy = Sampling(temperature=0.0, max_new_tokens=5)
    reqs = requests(greedy)
    batched = backend.generate(reqs)
    one_by_one = [backend.generate([r])[0] for r in reqs]
    assert [c.text for c in batched] == [c.text for c in one_by_one]
    assert [c.prompt_tokens for c in batched] == [len(backend.tokenizer(backend.prompt_text(r.messages),
                                                   add_special_tokens=False)["input_ids"]) for r in reqs]


@pytest.mark.slow
def test_sampling_is_seeded_per_request_not_per_batch(backend):
    s = Sampling(temperature=1.0, top_p=0.9, max_new_tokens=8, seed=3)
    reqs = requests(s)
    a = [c.text for c in backend.generate(reqs)]
    b = [c.text for c in backend.generate(list(reversed(reqs)))][::-1]
    c = [backend.generate([r])[0].text for r in reqs[:3]]
    assert a == b and a[:3] == c
    other = [c.text for c in backend.generate(requests(Sampling(temperature=1.0, top_p=0.9, max_new_tokens=8, seed=4)))]
    assert other != a


def test_token_limit_marks_cut_off(backend):
    out = backend.generate(requests(Sampling(temperature=0.0, max_new_tokens=4), n=2))
    for c in out:
        assert c.completion_tokens <= 4
        assert (c.finish_reason == "length") == (c.completion_tokens == 4)


def test_batches_respect_token_cap(backend):
    backend.max_batch_tokens = 1500
    try:
        lengths = [400, 410, 420, 900, 905]
        batches = list(backend._batches(list(range(5)), lengths, 100))
    finally:
        backend.max_batch_tokens = None
    assert sum(batches, []) == list(range(5))
    assert all(len(b) * (max(lengths[i] for i in b) + 100) <= 1500 or len(b) == 1 for b in batches)


def test_reasoning_template_detected(thinking_model_dir):
    assert make_backend("hf", model=str(thinking_model_dir)).is_reasoning() is True


# --- what the store key holds (issue 10, items 3 and 9) ----------------------------------------

def test_model_repos_generation_defaults_are_ignored(tmp_path, tiny_model_dir, backend):
    """A repo's generation_config.json (suppress_tokens, no_repeat_ngram_size, ...) must not
    reach generate(): only our sampling settings apply. Greedy texts with and without such a
    file must be equal; had the file applied, its first token could not be the one it bans."""
    import json
    import shutil

    greedy = Sampling(temperature=0.0, max_new_tokens=6)
    reqs = requests(greedy, n=3)
    clean = backend.generate(reqs)
    first = backend.tokenizer(clean[0].text, add_special_tokens=False)["input_ids"][0]
    folder = tmp_path / "with-defaults"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "generation_config.json").write_text(json.dumps({
        "suppress_tokens": [first], "begin_suppress_tokens": [first], "no_repeat_ngram_size": 1,
        "repetition_penalty": 50.0, "do_sample": True, "temperature": 5.0, "top_k": 1, "max_new_tokens": 1}))
    other = make_backend("hf", model=str(folder), batch_size=3)
    assert [c.text for c in other.generate(reqs)] == [c.text for c in clean]


def test_device_class_and_dtype_are_in_the_key(tmp_path, tiny_model_dir, backend):
    from rrmlib.judge import Judge
    from rrmlib.store import JudgmentStore

    bf16 = make_backend("hf", model=str(tiny_model_dir), device="cpu", dtype="bfloat16")
    assert backend.numerics == "cpu:float32:icdf-v1" and bf16.numerics == "cpu:bfloat16:icdf-v1"
    s = Sampling(temperature=0.6, max_new_tokens=4)
    judges = [Judge(b, JudgmentStore(tmp_path / "s.sqlite"), s, reasoning=False) for b in (backend, bf16)]
    req = judges[0].request("q", "a", "b")
    assert judges[0].key(req) != judges[1].key(req)  # a bf16 run never reuses float32 texts


def test_a_changed_local_checkpoint_gets_a_new_revision(tmp_path, tiny_model_dir):
    import shutil

    from rrmlib import models

    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_model_dir, folder)
    before = models.resolve(str(folder))[2]
    weights = next(folder.glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0xFF  # one byte of the last MiB, as a retrained checkpoint would differ
    weights.write_bytes(bytes(data))
    assert models.resolve(str(folder))[2] != before


HUB_SCRIPT = r"""
import json, sys
from rrmlib.backends import make_backend
from rrmlib.backends.vllm_backend import VLLMBackend
hf = make_backend("hf", model="org/tiny")
vl = VLLMBackend(model="org/tiny")  # the engine starts lazily: constructing it needs no vLLM
print(json.dumps({"hf": hf.revision, "vllm": vl.revision}))
"""


@pytest.mark.slow
def test_hub_models_are_keyed_by_the_commit_main_points_to(tmp_path, tiny_model_dir):
    """A real huggingface_hub cache (the layout it writes: refs/<branch> holds a commit,
    snapshots/<commit>/ the files), read offline: both backends name the commit, not "main",
    and when main moves to another commit, so does the revision."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    repo = tmp_path / "hub" / "models--org--tiny"
    commits = ["1" * 40, "2" * 40]
    for c in commits:
        shutil.copytree(tiny_model_dir, repo / "snapshots" / c)
    (repo / "refs").mkdir()
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    seen = []
    for c in commits:
        (repo / "refs" / "main").write_text(c)
        done = subprocess.run([sys.executable, "-c", HUB_SCRIPT], capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        seen.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert seen == [{"hf": commits[0], "vllm": commits[0]}, {"hf": commits[1], "vllm": commits[1]}]


# --- the seeded sampler (issue 15) ------------------------------------------------------------

def test_sampler_draws_from_the_tempered_distribution():
    import numpy as np
    import torch

    from rrmlib.backends.hf import _SeededSampler

    logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])
    n = 20000
    for temperature, top_p in ((1.0, 1.0), (0.6, 1.0), (1.0, 0.8)):
        sampler = _SeededSampler(temperature, top_p, seeds=list(range(n)))
        out = sampler(None, logits.repeat(n, 1))
        picks = out.argmax(-1).numpy()
        p = np.exp(logits.numpy() / temperature)
        p /= p.sum()
        if top_p < 1.0:  # by hand: the nucleus is the smallest top set whose mass reaches top_p
            order = np.argsort(-p)
            before = np.cumsum(p[order]) - p[order]
            keep = order[before < top_p]
            q = np.zeros_like(p)
            q[keep] = p[keep]
            p = q / q.sum()
        freq = np.bincount(picks, minlength=len(p)) / n
        assert np.all(np.abs(freq - p) <= 4 * np.sqrt(p * (1 - p) / n) + 1e-12), (temperature, top_p, freq, p)
        assert np.all(freq[p == 0] == 0)


def test_step_uniforms_are_uniform_and_independent_of_position():
    import numpy as np

    from rrmlib.backends.hf import step_uniform

    u = np.array([step_uniform(seed, step) for seed in range(200) for step in range(50)])
    assert ((0 < u) & (u < 1)).all() and abs(u.mean() - 0.5) < 0.01
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    assert counts.min() > 900 and counts.max() < 1100  # 10,000 draws, 1,000 expected per bin
    assert step_uniform(7, 3) == step_uniform(7, 3) != step_uniform(7, 4) != step_uniform(8, 3)
