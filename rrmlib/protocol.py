"""Which of a run's choices follow the paper's protocol, and which depart from it.

Every default reproduces the original evaluation (microsoft/LMOps PR 324, ``RRM-evaluation/``);
each improvement on it is an option with a name. ``describe`` lists, for meta.json and the
report, the options a run set away from the paper's, so that no number is passed off as the
paper's protocol when it is not.
"""
from __future__ import annotations

from rrmlib.paper import is_paper_file
from rrmlib.params import names, paper_values

# The paper's value of each parameter its protocol fixes is declared with the parameter
# (``rrmlib.params``, ``Param.paper``): the judge's prompt, verdict rule, prompt ids and sampling
# (temperature 0.6, top-p 1, 8192 new tokens), the answer order, the voting and unparseable
# policies, ELO's settings, the knockout's bracket; the whole data (no limit, sample or subsets:
# a run over part of the data is not the paper's number). The embedded CPU judge is not the
# paper's model, but the model is named in every table on its own (so is a scalar reward model,
# backend "classifier", which the paper compares against).

# Departures no parameter can undo, with their reason (README, "Reproducing the paper"). A run
# lists those its notebook uses with its parameters (``uses``), and no other.
ALWAYS = {
    "answer_order_coin": "sha256 of (seed, pair id), where the original used Python's per-process salted hash() "
                         "of the prompt, which no run can repeat",
    "unparseable_match_coin": "best-of-N matches with no verdict are decided by a coin seeded by sha256 of the "
                              "question and match, where the original used the salted hash() of the record",
}


def uses(notebook: str, params: dict) -> set[str]:
    """Which coins of ``ALWAYS`` a run tosses: a judge that shows a pair in a seeded random order
    (not a scalar reward model, whose scores cannot depend on it), and a best-of-N match whose
    verdict stays unparseable decided by a coin (a knockout needs a winner, so a draw falls back
    to it). ``elo_accuracy`` and ``report`` judge nothing, and neither does a knockout replay."""
    if notebook not in ("pairwise", "elo_rival", "knockout") or replay(notebook, params):
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
        out = {k: v for k, v in out.items() if k not in names(judge=True)}
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
