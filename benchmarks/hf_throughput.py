"""Throughput and correctness of the `hf` backend on a CUDA GPU (or the CPU), with random weights.

A model of a chosen shape is initialised with random weights directly on the device (no download,
no disk), so the numbers measure the backend, not a checkpoint: random weights rarely emit EOS,
so every judgment runs to `--max-new-tokens` (a worst case, like a judge that always thinks to
the limit). It also checks, on the device, that length-sorted batching returns completions in
the caller's order and that seeded sampling does not depend on the batch.

    python benchmarks/hf_throughput.py --tokenizer ~/.cache/rrm-notebooks/SmolLM2-135M-Instruct-* \\
        --shape smollm2-135m --shape qwen2-7b --pairs 128 --max-new-tokens 512
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

SHAPES = {
    # SmolLM2-135M-Instruct's architecture.
    "smollm2-135m": dict(arch="llama", hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                         num_attention_heads=9, num_key_value_heads=3, tie_word_embeddings=True),
    # The shape of Qwen2.5-7B, on which RRM-7B is built (vocabulary cut to the tokenizer's).
    "qwen2-7b": dict(arch="qwen2", hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                     num_attention_heads=28, num_key_value_heads=4, tie_word_embeddings=False),
}


def random_model(shape: str, vocab: int, device: str, dtype):
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    spec = dict(SHAPES[shape])
    arch = spec.pop("arch")
    config = (LlamaConfig if arch == "llama" else Qwen2Config)(vocab_size=vocab, max_position_embeddings=8192, **spec)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokenizer", required=True, help="a folder with a tokenizer and chat template")
    ap.add_argument("--shape", action="append", choices=sorted(SHAPES), default=None)
    ap.add_argument("--pairs", type=int, default=128)
    ap.add_argument("--max-new-tokens", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batching", choices=["continuous", "static"], default="continuous")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args()

    import torch
    from transformers import AutoTokenizer

    from rrmlib.backends import Request, Sampling
    from rrmlib.backends.base import as_messages
    from rrmlib.backends.hf import HFBackend
    from rrmlib.data import load_pairs
    from rrmlib.judge import Judge
    from rrmlib.prompts import rrm_messages
    from rrmlib.store import JudgmentStore

    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    demo = load_pairs("demo")
    report = {"device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
              "torch": torch.__version__, "results": []}
    for shape in args.shape or ["smollm2-135m"]:
        # Correctness on the device, in float32 (bf16 batched numerics may legitimately differ).
        model = random_model(shape, len(tokenizer), args.device, torch.float32)
        backend = HFBackend.from_model(model, tokenizer, model_id=f"random-{shape}", batch_size=4,
                                       batching=args.batching)
        reqs = [Request(as_messages(rrm_messages(p.prompt * (1 + i % 3), p.chosen, p.rejected)),
                        Sampling(temperature=0.0, max_new_tokens=8), 0) for i, p in enumerate(demo[:8])]
        greedy_batched = [c.text for c in backend.generate(reqs)]
        greedy_single = [backend.generate([r])[0].text for r in reqs]
        sampled = [Request(r.messages, Sampling(temperature=0.8, top_p=0.95, max_new_tokens=8, seed=1), 0) for r in reqs]
        s_batched = [c.text for c in backend.generate(sampled)]
        s_reversed = [c.text for c in backend.generate(sampled[::-1])][::-1]
        check = {"greedy_batched_equals_single_fp32": greedy_batched == greedy_single,
                 "sampling_batch_invariant_fp32": s_batched == s_reversed}
        del model, backend
        torch.cuda.empty_cache() if args.device == "cuda" else None

        dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
        model = random_model(shape, len(tokenizer), args.device, dtype)
        backend = HFBackend.from_model(model, tokenizer, model_id=f"random-{shape}", batch_size=args.batch_size,
                                       batching=args.batching)
        pairs = (demo * (args.pairs // len(demo) + 1))[: args.pairs]
        pairs = [type(p)(f"{p.id}-{i}", p.prompt, p.chosen, p.rejected, p.subset) for i, p in enumerate(pairs)]
        with tempfile.TemporaryDirectory() as tmp:
            judge = Judge(backend, JudgmentStore(f"{tmp}/s.sqlite"),
                          Sampling(temperature=0.6, max_new_tokens=args.max_new_tokens), progress=False)
            if args.device == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            res = judge.judge_pairs(pairs)
            if args.device == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - t
        tokens = int(res["completion_tokens"].sum())
        row = {"shape": shape, "dtype": str(dtype), "pairs": len(pairs), "max_new_tokens": args.max_new_tokens,
               "batch_size": args.batch_size, "max_batch_tokens": backend.max_batch_tokens,
               "seconds": round(seconds, 2), "judgments_per_hour": round(len(pairs) / seconds * 3600),
               "completion_tokens_per_s": round(tokens / seconds), "mean_completion_tokens": tokens / len(pairs),
               **check}
        if args.device == "cuda":
            row["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
        print(json.dumps(row), flush=True)
        report["results"].append(row)
        del model, backend
        if args.device == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
