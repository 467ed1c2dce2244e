"""The RRM paper: its own evaluation files, its published numbers, and which of a run's choices
follow its protocol (``describe``: what meta.json records, so that no number is passed off as the
paper's protocol when it is not).

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

from rrmlib.params import names, paper_values
from rrmlib.paths import CHECKOUT

# The checkout's PPEdataset/ (rrmlib is installed editable, as the Makefile does); $RRM_PPE_DIR
# points elsewhere, e.g. for a copy of rrmlib installed without the checkout.
PPE_DIR = Path(os.environ.get("RRM_PPE_DIR", CHECKOUT / "PPEdataset"))

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


# -- its protocol -------------------------------------------------------------------------------
# The paper's value of each parameter its protocol fixes is declared with the parameter
# (``rrmlib.params``, ``Param.paper``): the judge's prompt, verdict rule, prompt ids and sampling
# (temperature 0.6, top-p 1, 8192 new tokens), the answer order, the voting and unparseable
# policies, ELO's settings, the knockout's bracket; the whole data (no limit, sample or subsets:
# a run over part of the data is not the paper's number). The embedded CPU judge is not the
# paper's model, but the model is named in every table on its own (so is a scalar reward model,
# backend "classifier", which the paper compares against).

# Departures no parameter can undo, with their reason (docs/reproducing-the-paper.md). A run
# lists those its notebook uses with its parameters (``uses``), and no other.
ALWAYS = {
    "answer_order_coin": "sha256 of (seed, pair id), where the original used Python's per-process salted hash() "
                         "of the prompt, which no run can repeat",
    "unparseable_match_coin": "best-of-N matches with no verdict are decided by a coin seeded by sha256 of the "
                              "question and match, where the original used the salted hash() of the record",
}


def judges(notebook: str, params: dict) -> bool:
    """Whether a run judges: pairwise, elo_rival and knockout do, but for a knockout replay of
    the paper's records; elo_accuracy and report judge nothing."""
    return notebook in ("pairwise", "elo_rival", "knockout") and not replay(notebook, params)


def uses(notebook: str, params: dict) -> set[str]:
    """Which coins of ``ALWAYS`` a run tosses: a judge that shows a pair in a seeded random order
    (not a scalar reward model, whose scores cannot depend on it), and a best-of-N match whose
    verdict stays unparseable decided by a coin (a knockout needs a winner, so a draw falls back
    to it). ``elo_accuracy`` and ``report`` judge nothing, and neither does a knockout replay."""
    if not judges(notebook, params):
        return set()
    knockout = notebook == "knockout" and params.get("format", "knockout") == "knockout"
    shuffled = {"pairwise": params.get("order", "shuffle") == "shuffle",
                "elo_rival": not params.get("both_orders", False),
                "knockout": not knockout}[notebook]  # a knockout shows its bracket's order; Swiss shuffles
    out = set()
    if shuffled and params.get("backend") != "classifier":
        out.add("answer_order_coin")
    if notebook != "pairwise" and (params.get("unparseable", "coin") == "coin" or knockout):
        out.add("unparseable_match_coin")
    return out


def replay(notebook: str, params: dict) -> bool:
    return notebook == "knockout" and params.get("records") is not None


def deviations(notebook: str, params: dict) -> dict:
    """Parameter -> value for every choice of ``params`` that differs from the paper's."""
    out = {}
    for name, paper in paper_values(notebook).items():
        if name in params and params[name] != paper:
            out[name] = params[name]
    pairs_file = params.get("pairs_file")
    if pairs_file is not None and not is_paper_file(pairs_file):
        out["pairs_file"] = pairs_file  # not the paper's conflict pairs (a byte-identical copy is)
    if params.get("reasoning") is False:  # the paper reads the verdict after the thought
        out["reasoning"] = False
    if replay(notebook, params):  # it runs no judge: the judge's choices are not the run's
        out = {k: v for k, v in out.items() if k not in names(notebook, judge=True)}
    return out


def too_long_departs(meta: dict | None) -> bool:
    """Whether a run skipped or shortened a judgment whose prompt did not fit (``too_long``, as
    the judge's provenance counts them). The original never did either: it gave vLLM the whole
    prompt (run_generative.py sets no max_model_len, so the context was the model's own), where a
    prompt that leaves less than the 8192 new tokens thinks in what is left and, cut off, gives
    no verdict (a tie), and one longer than the context is ignored with a warning (an empty text:
    a tie) or stops the whole run (vLLM's V1 engine). A pair skipped is left out of the accuracy,
    and one shortened is judged on other answers: either changes the number. With the paper's
    settings (a context of 131,072, 8,192 new tokens) a prompt is too long past 122,880 tokens,
    exactly where the original's judge had less than its 8,192 tokens to think: a run with no
    such prompt follows the paper whatever ``too_long`` says."""
    fit = (meta or {}).get("too_long")
    return isinstance(fit, dict) and bool(fit.get("skipped") or fit.get("shortened"))


def describe(notebook: str, params: dict, meta: dict | None = None) -> dict:
    """What meta.json records: whether the run follows the paper's protocol, and where not.
    ``meta``: what else the run records (the judge's provenance, with its ``too_long`` counts)."""
    dev = deviations(notebook, params)
    if too_long_departs(meta) and not replay(notebook, params):
        dev["too_long"] = meta["too_long"].get("policy", params.get("too_long"))
    used = uses(notebook, params)
    return {"paper": not dev, "deviations": dev, "always": {k: v for k, v in ALWAYS.items() if k in used}}
