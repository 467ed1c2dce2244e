"""Which of a run's choices follow the paper's protocol, and which depart from it.

Every default reproduces the original evaluation (microsoft/LMOps PR 324, ``RRM-evaluation/``);
each improvement on it is an option with a name. ``describe`` lists, for meta.json and the
report, the options a run set away from the paper's, so that no number is passed off as the
paper's protocol when it is not.
"""
from __future__ import annotations

from rrmlib.paper import is_paper_file

# The paper's value of each parameter that changes a number. Sampling is the paper's too
# (temperature 0.6, top-p 1, 8192 new tokens); the embedded CPU judge is not the paper's model,
# but the model is named in every table on its own (so is a scalar reward model, backend
# "classifier", which the paper compares against). Another judge protocol (rrmlib.protocols:
# prompt and verdict rule) is a departure.
# The judge's side of the paper's protocol, the same in every notebook that runs a judge.
_JUDGE = {"protocol": "rrm", "verdict_rule": "paper", "special_tokens": "paper", "temperature": 0.6, "top_p": 1.0,
          "max_new_tokens": 8192}
PAPER: dict[str, dict] = {
    "pairwise": {**_JUDGE, "pairs_seed": None, "order": "shuffle", "votes": 1, "unparseable": "tie"},
    "elo_rival": {**_JUDGE, "both_orders": False, "max_retries": 0, "unparseable": "coin"},
    "elo_accuracy": {"elo_order": "paper", "order_seed": 0, "elo_k": 4.0, "elo_initial": 1000.0,
                     "elo_scale": 400.0, "elo_base": 10.0},
    "knockout": {**_JUDGE, "format": "knockout", "bracket": "paper", "shuffle_seed": None, "max_retries": 0,
                 "unparseable": "coin"},
}

# Departures no parameter can undo, with their reason (README, "Reproducing the paper").
ALWAYS = {
    "answer_order_coin": "sha256 of (seed, pair id), where the original used Python's per-process salted hash() "
                         "of the prompt, which no run can repeat",
    "unparseable_match_coin": "best-of-N matches with no verdict are decided by a coin seeded by sha256 of the "
                              "question and match, where the original used the salted hash() of the record",
}


# A run over part of the data is not the paper's number, whatever else it follows.
SELECTION = ("limit", "sample", "subsets")
# What a replay of the paper's own knockout records leaves out: it runs no judge.
JUDGE_CHOICES = {"protocol", "verdict_rule", "special_tokens", "max_retries", "unparseable", "temperature", "top_p", "max_new_tokens",
                 "reasoning", "too_long"}


def replay(notebook: str, params: dict) -> bool:
    return notebook == "knockout" and params.get("records") is not None


def deviations(notebook: str, params: dict) -> dict:
    """Parameter -> value for every choice of ``params`` that differs from the paper's."""
    out = {}
    for name, paper in PAPER.get(notebook, {}).items():
        if name in params and params[name] != paper:
            out[name] = params[name]
    pairs_file = params.get("pairs_file")
    if pairs_file is not None and not is_paper_file(pairs_file):
        out["pairs_file"] = pairs_file  # not the paper's conflict pairs (a byte-identical copy is)
    for name in SELECTION:
        if params.get(name) is not None:
            out[name] = params[name]
    if params.get("reasoning") is False:  # the paper reads the verdict after the thought
        out["reasoning"] = False
    if params.get("too_long") == "shorten":
        out["too_long"] = "shorten"
    if replay(notebook, params):
        out = {k: v for k, v in out.items() if k not in JUDGE_CHOICES}
    return out


def describe(notebook: str, params: dict) -> dict:
    """What meta.json records: whether the run follows the paper's protocol, and where not."""
    dev = deviations(notebook, params)
    coin = notebook in ("elo_rival", "knockout") and not replay(notebook, params)
    return {"paper": not dev, "deviations": dev,
            "always": {k: v for k, v in ALWAYS.items() if k != "unparseable_match_coin" or coin}}
