"""GPU smoke test and throughput measurement: judge N demo-like pairs with a real engine.

    # vLLM on one GPU, a real model:
    python benchmarks/gpu_smoke.py --model /path/to/RRM-7B --n 512
    # vLLM throughput with random weights (no download, nothing meaningful to parse):
    python benchmarks/gpu_smoke.py --model /path/to/RRM-7B --load-format dummy --n 1024
    # four GPUs, tensor parallel:
    python benchmarks/gpu_smoke.py --model /path/to/RRM-32B --tensor-parallel-size 4
    # transformers only (CUDA, no vLLM):
    python benchmarks/gpu_smoke.py --backend hf --model /path/to/RRM-7B --batch-size 32 --n 64

The demo pairs are repeated up to N; each repetition is another sample index (its own seed), so
no judgment is a cache hit, and the shown order is a seeded coin per judgment. The store is a
temporary file unless --store is given. Prints model load time, judgments per hour, generated
tokens per second, and the unparseable and cut-off rates; --json writes them to a file as well.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from rrmlib.backends import Sampling, make_backend
from rrmlib.data import load_pairs
from rrmlib.judge import Judge, swapped
from rrmlib.store import JudgmentStore


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=["vllm", "hf"], default="vllm")
    p.add_argument("--model", required=True, help="a local model folder or a hub id")
    p.add_argument("--n", type=int, default=256, help="judgments to make (demo pairs repeated)")
    p.add_argument("--max-new-tokens", type=int, default=4096)
    p.add_argument("--temperature", type=float, default=0.6)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reasoning", choices=["auto", "yes", "no"], default="auto",
                   help="parse verdicts after </think> (default: from the chat template)")
    p.add_argument("--store", help="judgment store (default: a temporary file, so nothing is reused)")
    p.add_argument("--json", help="also write the numbers to this file")
    g = p.add_argument_group("vllm")
    g.add_argument("--load-format", default="auto", help="'dummy': random weights, for throughput only")
    g.add_argument("--tensor-parallel-size", type=int, default=1)
    g.add_argument("--pipeline-parallel-size", type=int, default=1)
    g.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    g.add_argument("--max-model-len", type=int)
    g = p.add_argument_group("hf")
    g.add_argument("--batch-size", type=int, default=32)
    g.add_argument("--dtype", default="auto")
    g.add_argument("--batching", choices=["continuous", "static"], default="continuous")
    p.add_argument("--allow-cpu", action="store_true", help="run without CUDA (a dry run of this script)")
    return p.parse_args(argv)


def backend_from(args):
    if args.backend == "vllm":
        return make_backend("vllm", model=args.model, load_format=args.load_format, seed=args.seed,
                            tensor_parallel_size=args.tensor_parallel_size,
                            pipeline_parallel_size=args.pipeline_parallel_size,
                            gpu_memory_utilization=args.gpu_memory_utilization, max_model_len=args.max_model_len)
    if args.load_format != "auto":
        sys.exit("--load-format is a vLLM option; the hf backend loads the real weights")
    return make_backend("hf", model=args.model, batch_size=args.batch_size, dtype=args.dtype, batching=args.batching,
                        device="cuda" if not args.allow_cpu else "auto")


def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch

    if not torch.cuda.is_available() and not args.allow_cpu:
        sys.exit("no CUDA device: this is a GPU benchmark (pass --allow-cpu for a dry run)")
    t = time.perf_counter()
    backend = backend_from(args)
    if args.backend == "vllm":
        backend.llm  # start the engine now, so its start-up is not counted as judging time
    load_s = time.perf_counter() - t

    pairs = load_pairs("demo")
    plan = [(pairs[i % len(pairs)], i // len(pairs)) for i in range(args.n)]
    shown = [swapped(args.seed, f"{p.id}#{rep}") for p, rep in plan]
    items = [(p.prompt, p.rejected if s else p.chosen, p.chosen if s else p.rejected, rep)
             for (p, rep), s in zip(plan, shown)]
    reasoning = {"auto": None, "yes": True, "no": False}[args.reasoning]
    sampling = Sampling(temperature=args.temperature, top_p=args.top_p, max_new_tokens=args.max_new_tokens,
                        seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = JudgmentStore(args.store or Path(tmp) / "store.sqlite")
        judge = Judge(backend, store, sampling, reasoning=reasoning)
        t = time.perf_counter()
        judgments = judge.judge(items, desc="gpu smoke")
        elapsed = time.perf_counter() - t
        store.db.close()

    parsed = [(j, s) for j, s in zip(judgments, shown) if j.verdict is not None]
    generated = sum(j.completion_tokens or 0 for j in judgments)
    result = {
        "backend": args.backend, "model": args.model, "load_format": args.load_format,
        "devices": torch.cuda.device_count(), "device_name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "n": args.n, "max_new_tokens": args.max_new_tokens, "reasoning": judge.reasoning,
        "generated": judge.counts["generated"], "reused": judge.counts["reused"],
        "load_s": round(load_s, 1), "judging_s": round(elapsed, 1),
        "judgments_per_hour": round(args.n / elapsed * 3600),
        "generated_tokens_per_s": round(generated / elapsed, 1),
        "mean_completion_tokens": round(generated / max(1, args.n), 1),
        "unparseable_rate": round(1 - len(parsed) / max(1, args.n), 4),
        "cut_off_rate": round(sum(j.cut_off for j in judgments) / max(1, args.n), 4),
        "accuracy_of_parsed": round(sum((j.verdict == 1) != s for j, s in parsed) / len(parsed), 4) if parsed else None,
    }
    for k, v in result.items():
        print(f"{k:>24}: {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    backend.close()
    return result


if __name__ == "__main__":
    main()
