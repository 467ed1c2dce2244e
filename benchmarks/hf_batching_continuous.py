"""Static against continuous batching in the `hf` backend, on thoughts of mixed lengths.

The same requests, with the same seeds, through ``HFBackend(batching="static")`` (length-sorted
batches through ``model.generate``: a batch ends with its longest thought) and
``HFBackend(batching="continuous")`` (an ended sequence leaves, a waiting request takes its slot),
timed the same way: interleaved repeats, the best of each. Texts must come back equal.

Where each thought ends is ours to choose: the model is a real one (the tests' tiny random Llama
with SmolLM2's vocabulary, or SmolLM2-135M-Instruct itself) whose output is overridden after its
forward pass by a countdown: a request's answer starts (``Request.continuation``) with token
``C + n - 1``, after token ``C + k`` (0 < k <= 256) comes ``C + k - 1``, after ``C`` the end of
sequence. So a request generates exactly ``n`` tokens (the last one the end), ``n`` drawn from a
seeded distribution (uniform over 8-256 by default). Every step still runs the model's whole
forward and the sampler over the whole vocabulary; only the logits are replaced, so the work per
token is that of real generation.

Prints wall and CPU time, tokens per second, the idle share (rows computed that produced no kept
token: static batches keep ended rows running until the longest ends), the share of key/value
cells attended in decoding steps that are not a live row's own tokens (left padding, and the
ended rows of static batches), and the ratios. With ``--transformers-cb`` also times
transformers' own continuous batching (``generate_batch``, greedy only: our seeded sampler cannot
be plugged into it; see ``HFBackend._stream_continuous``).

    .venv/bin/python benchmarks/hf_batching_continuous.py [--model tiny|smollm2] [--requests 48] \\
        [--batch-size 16] [--repeats 3] [--lengths uniform|loguniform] [--temperature 0.6]
"""
from __future__ import annotations

import argparse
import os
import platform
import time

C = 1000  # the countdown's tokens: C .. C + 256


def countdown_class():
    import torch
    from transformers import LlamaForCausalLM

    class Countdown(LlamaForCausalLM):
        """The model, with each kept position's next token forced: C + k -> C + k - 1, C -> EOS."""

        def forward(self, input_ids=None, logits_to_keep=0, **kwargs):
            out = super().forward(input_ids=input_ids, logits_to_keep=logits_to_keep, **kwargs)
            logits = out.logits
            if isinstance(logits_to_keep, torch.Tensor):  # transformers' packed batches: kept positions
                last = input_ids[:, logits_to_keep]
            else:
                last = input_ids[:, -logits.shape[1]:]
            counting = (last >= C) & (last <= C + 256)
            target = torch.where(last > C, last - 1, torch.full_like(last, self.config.eos_token_id))
            forced = torch.full_like(logits, float("-inf")).scatter_(-1, target.unsqueeze(-1), 0.0)
            out.logits = torch.where(counting.unsqueeze(-1), forced, logits)
            return out

    return Countdown


def build_model(kind: str):
    import torch
    from transformers import AutoTokenizer, LlamaConfig

    from rrmlib import models

    folder, _ = models.converted_default()
    tok = AutoTokenizer.from_pretrained(folder)
    cls = countdown_class()
    if kind == "smollm2":
        model = cls.from_pretrained(folder, dtype=torch.float32)
    else:  # the tests' tiny random model (hidden size 32), SmolLM2's vocabulary (49,152)
        config = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                             num_key_value_heads=2, vocab_size=len(tok), bos_token_id=tok.bos_token_id,
                             eos_token_id=tok.eos_token_id, max_position_embeddings=2048)
        torch.manual_seed(0)
        model = cls(config)
    return model.eval(), tok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=["tiny", "smollm2"], default="tiny")
    ap.add_argument("--requests", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lengths", choices=["uniform", "loguniform"], default="uniform")
    ap.add_argument("--min-tokens", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--temperature", type=float, default=0.6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--transformers-cb", action="store_true", help="also time transformers' generate_batch (greedy)")
    args = ap.parse_args()
    if not 1 <= args.min_tokens <= args.max_tokens <= 257:
        ap.error("need 1 <= --min-tokens <= --max-tokens <= 257")

    import numpy as np
    import torch

    from rrmlib.backends import Request, Sampling
    from rrmlib.backends.base import as_messages
    from rrmlib.backends.hf import HFBackend
    from rrmlib.data import load_pairs
    from rrmlib.prompts import rrm_messages

    model, tok = build_model(args.model)
    rng = np.random.default_rng(args.seed)
    lo, hi = args.min_tokens, args.max_tokens
    if args.lengths == "uniform":
        made = rng.integers(lo, hi + 1, size=args.requests)
    else:
        made = np.exp(rng.uniform(np.log(lo), np.log(hi + 1), size=args.requests)).astype(int).clip(lo, hi)
    pairs = load_pairs("demo")
    sampling = Sampling(temperature=args.temperature, max_new_tokens=hi, seed=args.seed)
    reqs = [Request(as_messages(rrm_messages(p.prompt, p.chosen, p.rejected)), sampling, sample=k // len(pairs),
                    continuation=(C + int(n) - 1,))
            for k, (p, n) in enumerate(zip((pairs * (args.requests // len(pairs) + 1)), made))]
    backends = {b: HFBackend.from_model(model, tok, model_id=f"countdown-{args.model}", batch_size=args.batch_size,
                                        batching=b) for b in ("static", "continuous")}
    prompt_lengths = [len(tok(backends["static"].prompt_text(r.messages), add_special_tokens=False)["input_ids"]) + 1
                      for r in reqs]

    ways = list(backends)
    if args.transformers_cb:
        ways.append("transformers generate_batch")
    best = dict.fromkeys(ways, float("inf"))
    best_cpu = dict.fromkeys(ways, float("inf"))  # CPU time of this process: less hit by other processes' load
    stats, texts = {}, {}
    load_before = os.getloadavg()
    for _ in range(args.repeats):
        for way in ways:  # interleaved, so machine noise hits all alike
            if way in backends:
                b = backends[way]
                b.stats = dict.fromkeys(b.stats, 0)
                t, c = time.perf_counter(), time.process_time()
                out = b.generate(reqs)
                elapsed, cpu = time.perf_counter() - t, time.process_time() - c
                stats[way], texts[way] = dict(b.stats), [(c.text, c.completion_tokens) for c in out]
            else:
                c = time.process_time()
                elapsed, cb_made = transformers_cb(model, tok, backends["static"], reqs, args)
                cpu = time.process_time() - c
                assert cb_made == [int(n) for n in made], "transformers' generate_batch made other lengths"
            best[way], best_cpu[way] = min(best[way], elapsed), min(best_cpu[way], cpu)
    load_after = os.getloadavg()
    assert texts["static"] == texts["continuous"], "the two batchings gave different texts"
    assert [n for _, n in texts["static"]] == [int(n) for n in made]
    tokens = stats["static"]["tokens"]

    print(f"{args.requests} requests, {args.model} model, batch {args.batch_size}, thoughts {lo}-{hi} tokens "
          f"({args.lengths}; mean {made.mean():.0f}, {tokens} in all), prompts {min(prompt_lengths)}-"
          f"{max(prompt_lengths)} tokens, temperature {args.temperature}, best of {args.repeats} interleaved; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}, "
          f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    for way in ways:
        line = f"  {way:<28} {best[way]:7.2f} s ({best_cpu[way]:6.2f} s CPU)  {tokens / best[way]:7.1f} tokens/s"
        if way in stats:
            s = stats[way]
            forwards = s["prefill_forwards"] + s["decode_forwards"]
            line += (f"  idle {1 - s['tokens'] / s['row_steps']:5.1%}  kv not live {1 - s['kv_real'] / s['kv_cells']:5.1%}"
                     f"  forwards {forwards} ({s['prefill_forwards']} prefill)"
                     f"  rows/forward {s['row_steps'] / forwards:.1f}  peak cache {s['max_cells']} cells")
        print(line)
    for way in ways[1:]:
        print(f"  {way} against static: {best['static'] / best[way]:.2f}x wall, "
              f"{best_cpu['static'] / best_cpu[way]:.2f}x CPU time")
    print("  same texts static and continuous: True")


def transformers_cb(model, tok, backend, reqs, args):
    """transformers' continuous batching on the same prompts, greedy, settings sized for the CPU
    (its defaults pad key/value reads to 16,384 tokens)."""
    import torch
    from transformers import ContinuousBatchingConfig, GenerationConfig

    inputs = [backend.tokenizer(backend.prompt_text(r.messages), add_special_tokens=False)["input_ids"]
              + list(r.continuation) for r in reqs]
    gen = GenerationConfig(do_sample=False, max_new_tokens=args.max_tokens, eos_token_id=tok.eos_token_id,
                           pad_token_id=tok.pad_token_id or tok.eos_token_id)
    longest = max(map(len, inputs)) + args.max_tokens
    cb = ContinuousBatchingConfig(max_requests_per_batch=args.batch_size, page_size=64, q_padding_interval_size=8,
                                  kv_padding_interval_size=64,
                                  num_blocks=args.batch_size * (-(-longest // 64)) + 8)
    t = time.perf_counter()
    with torch.inference_mode():
        out = model.generate_batch(inputs, generation_config=gen, continuous_batching_config=cb, warmup=False)
    elapsed = time.perf_counter() - t
    model.set_attn_implementation("sdpa")  # it may have switched the model's attention
    return elapsed, [len(o.generated_tokens) for o in out.values()]


if __name__ == "__main__":
    main()
