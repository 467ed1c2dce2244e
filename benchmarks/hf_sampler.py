"""The hf backend's seeded sampler against greedy decoding, per generated token, side by side.

A tiny random model (hidden size 32, as in the tests) with SmolLM2's tokenizer and vocabulary
(49,152), so that the sampler's cost shows beside the model's; a batch of 64 RRM prompts from
the demo set; every row forced to the same length (``min_new_tokens``). Three ways, each timed
the same way (interleaved repeats, best of each):

- greedy: argmax, no randomness (the floor);
- the sampler now in ``rrmlib.backends.hf`` (one inverse-CDF draw per row from a hashed
  (seed, step) uniform);
- the previous sampler (Gumbel noise over the whole vocabulary from a CPU generator per row),
  kept here as the baseline.

    .venv/bin/python benchmarks/hf_sampler.py [--batch 64] [--new-tokens 48] [--repeat 3]
"""
from __future__ import annotations

import argparse
import platform
import time


class PreviousSampler:
    """The sampler before issue 15: per-row CPU generators, Gumbel noise over the vocabulary."""

    def __init__(self, temperature, top_p, seeds):
        import torch

        self.temperature = temperature
        self.generators = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]

    def __call__(self, input_ids, scores):
        import torch

        scores = scores.float() / self.temperature
        vocab = scores.shape[-1]
        u = torch.stack([torch.rand(vocab, generator=g, dtype=torch.float64) for g in self.generators])
        return scores + (-torch.log(-torch.log(u.clamp_min(1e-300)))).to(scores.device, torch.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import torch
    from transformers import AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM, LogitsProcessorList

    from rrmlib import models
    from rrmlib.backends.hf import _SeededSampler
    from rrmlib.data import load_pairs
    from rrmlib.prompts import rrm_messages

    torch.set_num_threads(max(1, torch.get_num_threads()))
    folder, _ = models.converted_default()
    tok = AutoTokenizer.from_pretrained(folder)
    tok.padding_side = "left"
    config = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=len(tok), max_position_embeddings=2048)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    pairs = (load_pairs("demo") * 8)[: args.batch]
    texts = [tok.apply_chat_template(rrm_messages(p.prompt, p.chosen, p.rejected), tokenize=False,
                                     add_generation_prompt=True) for p in pairs]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    n = args.new_tokens
    gen = GenerationConfig(do_sample=False, max_new_tokens=n, min_new_tokens=n, pad_token_id=tok.eos_token_id,
                           eos_token_id=tok.eos_token_id)
    seeds = list(range(args.batch))
    ways = {"greedy": lambda: [],
            "sampler now": lambda: [_SeededSampler(0.6, 1.0, seeds)],
            "previous sampler": lambda: [PreviousSampler(0.6, 1.0, seeds)]}
    best = {k: float("inf") for k in ways}
    for _ in range(args.repeat):
        for name, processors in ways.items():
            t = time.perf_counter()
            with torch.inference_mode():
                model.generate(**enc, generation_config=gen, logits_processor=LogitsProcessorList(processors()))
            best[name] = min(best[name], time.perf_counter() - t)
    per_token = {k: v / n for k, v in best.items()}
    print(f"batch {args.batch}, vocabulary {len(tok)}, {n} new tokens, prompts {enc['input_ids'].shape[1]} tokens; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}")
    for name, t in per_token.items():
        print(f"{name:<18} {1000 * t:8.2f} ms/token   {t / per_token['greedy']:5.2f}x greedy")


if __name__ == "__main__":
    main()
