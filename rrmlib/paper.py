"""The RRM paper's own evaluation files and published numbers.

The files live in ``PPEdataset/`` at the project's root, byte-identical to the ones the
original evaluation (microsoft/LMOps, pull request 324, ``RRM-evaluation/scripts/``) read: they
define its pairs and its bracket, so they are the defaults. ``PAPER_FILES`` holds their sha256,
so a run can tell the paper's file from another with the same name.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

# The checkout's PPEdataset/ (rrmlib is installed editable, as the Makefile does); $RRM_PPE_DIR
# points elsewhere, e.g. for a copy of rrmlib installed without the checkout.
PPE_DIR = Path(os.environ.get("RRM_PPE_DIR", Path(__file__).resolve().parent.parent / "PPEdataset"))

# File (relative to PPE_DIR) -> sha256 of the original's bytes.
PAPER_FILES = {
    "conflict-pairs/MATH.json": "8c519db1c5b969451b10d8d480b900a453d9f59610458c563ef3583f221c2382",
    "conflict-pairs/MMLU-Pro.json": "535031c11596f0630313045db8a0d37e7c4456ad0ca2182709ac81b177fde635",
    "conflict-pairs/GPQA.json": "8a90d44c6a8be648b677208da111201779197fa15a7ff414ecc6c30fc7f6b0c7",
    "knockout-mmlu-pro/tournament.json": "63da8b3fb5a41bb45d205e7ca0be714d7cd254ea0a8b479b427885a7504788dd",
}


def paper_file(name: str) -> Path:
    """A file of the paper's evaluation under ``PPE_DIR``; missing: an error that says where."""
    path = PPE_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"the RRM paper's file {name} is not at {path}: it ships in the project's "
                                f"PPEdataset/ folder (set $RRM_PPE_DIR to a copy of that folder)")
    return path


def conflict_pairs_file(dataset_name: str) -> Path:
    """The paper's conflict pairs of ``MATH``, ``MMLU-Pro`` or ``GPQA``."""
    return paper_file(f"conflict-pairs/{dataset_name}.json")


def is_paper_file(path) -> bool:
    """Whether ``path`` holds exactly the bytes of one of the paper's files."""
    try:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return False
    return digest in PAPER_FILES.values()


def knockout_bracket() -> list[int]:
    """The paper's knockout bracket over 32 responses: ``round_1``'s 16 pairs, flattened, in
    order (adjacent entrants meet first; winners of adjacent matches meet next)."""
    path = paper_file("knockout-mmlu-pro/tournament.json")
    rounds = json.loads(path.read_text())
    return [e for pair in rounds["round_1"] for e in pair]


# Published numbers (Guo et al., 2025), as fractions, for the report's reference rows.
# RewardBench sections: from the original's per-subset results (RRM-evaluation/scripts/results/
# partial_result_example/{7b,32b}_RewardBench_result.json), which round to the paper's table.
PUBLISHED = {
    "RRM-7B": {
        "rewardbench": {"Chat": 0.877, "Chat Hard": 0.704, "Safety": 0.807, "Reasoning": 0.900, "Overall": 0.822},
        "ppe_one_round": {"MMLU-Pro": 0.693, "MATH": 0.897, "GPQA": 0.572},
    },
    "RRM-32B": {
        "rewardbench": {"Chat": 0.947, "Chat Hard": 0.811, "Safety": 0.907, "Reasoning": 0.983, "Overall": 0.912},
        "ppe_one_round": {"MMLU-Pro": 0.809, "MATH": 0.945, "GPQA": 0.678},
    },
}
