"""What length-sorted batching saves in the `hf` backend: the same requests, batched in the
caller's order and sorted by prompt length, timed side by side in one run (real SmolLM2 judge,
real LLMBar prompts of varied length, CPU). Prints padding share and wall time of each, and the
ratio. Results go to BENCHMARKS.md by hand.

    .venv/bin/python benchmarks/hf_batching.py --pairs 32 --max-new-tokens 16 --repeats 2
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--llmbar", default=str(SHARED / "llmbar" / "Natural.json"))
    args = ap.parse_args()

    from rrmlib.backends import Request, Sampling
    from rrmlib.backends.base import as_messages
    from rrmlib.backends.hf import HFBackend
    from rrmlib.data import load_pairs
    from rrmlib.prompts import rrm_messages

    pairs = load_pairs("llmbar", path=args.llmbar)[: args.pairs]
    backend = HFBackend(batch_size=args.batch_size)
    sampling = Sampling(temperature=0.0, max_new_tokens=args.max_new_tokens)
    reqs = [Request(as_messages(rrm_messages(p.prompt, p.chosen, p.rejected)), sampling) for p in pairs]
    lengths = [len(backend.tokenizer(backend.prompt_text(r.messages), add_special_tokens=False)["input_ids"]) for r in reqs]

    def padding_share(sort: bool) -> float:
        order = sorted(range(len(reqs)), key=lambda i: (lengths[i], i)) if sort else list(range(len(reqs)))
        padded = real = 0
        for start in range(0, len(order), args.batch_size):
            batch = [lengths[i] for i in order[start:start + args.batch_size]]
            padded += max(batch) * len(batch)
            real += sum(batch)
        return 1 - real / padded

    times = {False: [], True: []}
    outputs = {}
    for _ in range(args.repeats):
        for sort in (False, True):  # interleaved, so machine noise hits both alike
            backend.sort_by_length = sort
            t = time.perf_counter()
            outputs[sort] = [c.text for c in backend.generate(reqs)]
            times[sort].append(time.perf_counter() - t)
    best = {k: min(v) for k, v in times.items()}
    print(f"{len(reqs)} LLMBar pairs, prompt tokens {min(lengths)}-{max(lengths)}, batch {args.batch_size}, "
          f"{args.max_new_tokens} new tokens, best of {args.repeats}")
    for sort in (False, True):
        print(f"  {'sorted by length' if sort else 'caller order    '}: padding {padding_share(sort):.1%}, "
              f"{best[sort]:.1f} s")
    print(f"  speed-up: {best[False] / best[True]:.2f}x; same completions: {outputs[False] == outputs[True]}")


if __name__ == "__main__":
    main()
