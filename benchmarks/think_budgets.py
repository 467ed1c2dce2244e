"""Thinking budgets: one long generation plus forced verdicts, against one run per budget.

The embedded CPU judge (SmolLM2-135M-Instruct) on demo pairs. Both ways start from an empty
store and produce a verdict per pair at each budget; timed the same way (interleaved repeats,
best of each). SmolLM2 does not think in <think> tags, so its whole completion counts as the
thought: cut after B tokens and closed, then the verdict forced (the cost is what is measured).

    .venv/bin/python benchmarks/think_budgets.py [--pairs 16] [--budgets 16,32,64,96,128] [--repeat 1]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=16)
    ap.add_argument("--budgets", default="16,32,64,96,128")
    ap.add_argument("--verdict-tokens", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()

    from rrmlib import budgets as budgets_mod
    from rrmlib.backends import Sampling, make_backend
    from rrmlib.data import load_pairs
    from rrmlib.judge import Judge
    from rrmlib.store import JudgmentStore

    budgets = budgets_mod.parse_budgets(args.budgets)
    pairs = (load_pairs("demo") * 4)[: args.pairs]
    pairs = [p.__class__(f"{p.id}-{i}", p.prompt, p.chosen, p.rejected, p.subset) for i, p in enumerate(pairs)]
    backend = make_backend("hf", batch_size=16)  # the embedded judge, loaded once for both ways

    def judge(store, max_new):
        return Judge(backend, JudgmentStore(store), Sampling(temperature=0.6, max_new_tokens=max_new),
                     reasoning=False, progress=False)

    def one_long_run(store):
        j = judge(store, budgets[-1])
        budgets_mod.judge_budgets(j, pairs, budgets=budgets, verdict_tokens=args.verdict_tokens)
        return j.counts["generated"]

    def separate_runs(store):
        generated = 0
        for b in budgets:
            j = judge(store, b)
            j.judge_pairs(pairs)
            generated += j.counts["generated"]
        return generated

    best = {"one long run + forced verdicts": float("inf"), "one run per budget": float("inf")}
    counts = {}
    for r in range(args.repeat):
        for name, fn in (("one long run + forced verdicts", one_long_run), ("one run per budget", separate_runs)):
            with tempfile.TemporaryDirectory() as tmp:
                t = time.perf_counter()
                counts[name] = fn(Path(tmp) / "store.sqlite")
                best[name] = min(best[name], time.perf_counter() - t)
    print(f"{len(pairs)} pairs, budgets {budgets}, verdicts of {args.verdict_tokens} tokens, SmolLM2-135M on the CPU")
    for name, t in best.items():
        print(f"{name:<32} {t:8.1f} s   {counts[name]} completions generated")
    a, b = best["one run per budget"], best["one long run + forced verdicts"]
    print(f"ratio: {a / b:.2f}x faster with forced verdicts")


if __name__ == "__main__":
    main()
