"""Draw the project's own PPE conflict pairs: five distinct (correct, incorrect) response pairs
per prompt, one per round, seeded, written to PPEdataset/built/.

    python PPEdataset/build.py --dataset math --seed 0                 # from the hub (needs `datasets`)
    python PPEdataset/build.py --dataset mmlu-pro --path ppe-mmlu.parquet   # from a local copy

Writes PPEdataset/built/<MATH|MMLU-Pro|GPQA>-seed<seed>.json (not committed); the same input and seed
give the same bytes. Pass the file to ``load_pairs(<dataset>, round=k, pairs_file=...)``; without
``pairs_file`` the loader draws these very pairs itself.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # a checkout works without installing rrmlib

from rrmlib.data import DataError  # noqa: E402
from rrmlib.data.hub import HubUnavailable  # noqa: E402
from rrmlib.data.ppe import PPE_SETS, build_conflict_pairs  # noqa: E402


def default_out(dataset: str, seed: int) -> Path:
    return HERE / "built" / f"{PPE_SETS[dataset].name}-seed{seed}.json"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=[*PPE_SETS, "all"], default="all")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--path", help="a local copy of the PPE set (.parquet/.jsonl/.json); one --dataset only")
    ap.add_argument("--out", help="output file (default: PPEdataset/built/<name>-seed<seed>.json); one --dataset only")
    ap.add_argument("--split", default="train")
    ap.add_argument("--revision", help="hub revision (commit) to pin")
    args = ap.parse_args(argv)
    datasets = list(PPE_SETS) if args.dataset == "all" else [args.dataset]
    if len(datasets) > 1 and (args.path or args.out):
        ap.error("--path and --out name one dataset's files: pass --dataset too")
    for name in datasets:
        out = Path(args.out) if args.out else default_out(name, args.seed)
        try:
            written = build_conflict_pairs(name, out, seed=args.seed, path=args.path, split=args.split,
                                           revision=args.revision)
        except (HubUnavailable, DataError) as e:  # say what is wrong, not where in the code
            hint = " (here: --path FILE)" if isinstance(e, HubUnavailable) else ""
            print(f"{name}: {e}{hint}", file=sys.stderr)
            return 2
        print(f"{name}: wrote {written}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
