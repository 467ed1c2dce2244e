"""Thinking budgets at the cost of one generation: the judge thinks once, at the largest budget;
every smaller budget B is read from that same thought.

For a judgment whose thought runs past B tokens, the thought is cut after exactly B of its tokens
and closed the way the judge's template closes a thought (``close``, by default ``\\n</think>\\n\\n``
as RRM writes it), and only the verdict is generated (``verdict_tokens``): the prompt the model
continues is the original prompt's tokens, then the thought's first B tokens, then the closing's
(``Request.continuation``). A thought that ended before B keeps its own verdict. So k budgets cost
one long generation and short continuations, not k runs; each continuation is stored under its
own key (prompt, continuation, sampling), so a rerun, or a longer list of budgets, generates only
what is missing.

Beside each forced verdict, the same completion is also read as if it had been cut off at B
(``verdict_truncated``): the paper's way, where a thought cut by the token limit scores as no
verdict. The two curves, from the same completions, separate what more thinking buys from what
truncation costs.
"""
from __future__ import annotations

import pandas as pd

from rrmlib.backends.base import Request, Sampling
from rrmlib.judge import pair_plan, showing
from rrmlib.metrics import picked_of, summarize
from rrmlib.prompts import VERDICT_RULES, parse_verdict, thought_end

CLOSE = "\n</think>\n\n"


def parse_budgets(budgets) -> list[int]:
    """A list of token budgets from a list or a comma-separated string; sorted, distinct, >= 1."""
    if isinstance(budgets, str):
        budgets = [b for b in budgets.replace(" ", "").split(",") if b]
    try:
        out = sorted({int(b) for b in budgets})
    except (TypeError, ValueError):
        raise ValueError(f"think_budgets must be token counts, e.g. 512,1024,2048; got {budgets!r}") from None
    if not out or out[0] < 1:
        raise ValueError(f"think_budgets must be positive token counts, got {budgets!r}")
    return out


def thought_of(text: str, reasoning: bool) -> tuple[str, bool]:
    """``(thought, ended)``: the text before the first ``</think>`` and whether it ended there;
    a judge that does not think in tags thinks in its whole completion."""
    end = thought_end(text) if reasoning else -1
    return (text, False) if end == -1 else (text[:end], True)


def forced_request(request: Request, thought_ids: list[int], budget: int, close_ids: list[int],
                   verdict_tokens: int) -> Request:
    """The request that continues ``request`` after the thought's first ``budget`` tokens and the
    closing, generating at most ``verdict_tokens`` (same seed and sample: a draw of its own)."""
    s = request.sampling
    return Request(request.messages, Sampling(temperature=s.temperature, top_p=s.top_p,
                                              max_new_tokens=verdict_tokens, seed=s.seed),
                   request.sample, continuation=tuple(thought_ids[:budget]) + tuple(close_ids))


def judge_budgets(judge, pairs, *, budgets, order: str = "shuffle", votes: int = 1, seed: int = 0,
                  verdict_tokens: int = 64, close: str = CLOSE, desc: str = "forcing verdicts",
                  count_long: bool = True) -> pd.DataFrame:
    """One row per judgment and budget: the forced verdict and the truncation-scored one.

    The long completions are the judge's ordinary ones at its ``max_new_tokens`` (the largest
    budget: the store answers them when the pairwise run already made them, and then
    ``count_long=False`` keeps them from being counted twice in the judge's counts).
    """
    budgets = parse_budgets(budgets)
    if budgets[-1] > judge.sampling.max_new_tokens:
        raise ValueError(f"the largest thinking budget ({budgets[-1]}) exceeds max_new_tokens "
                         f"({judge.sampling.max_new_tokens}): the long thought is generated once, at max_new_tokens")
    b = judge.backend
    plan = pair_plan(pairs, order=order, votes=votes, seed=seed)
    items = [showing(p, swap, s) for p, swap, s in plan]
    counted = (dict(judge.counts), dict(judge.fitting))
    longs = judge.judge(items, desc="judging at the largest budget")
    if not count_long:  # the pairwise run has already counted these judgments
        judge.counts.update(counted[0])
        judge.fitting.update(counted[1])
    close_ids = b.token_ids(close)
    asks, rows = [], []
    for (p, swap, s), item, j in zip(plan, items, longs):
        if j.fit == "too long":
            continue  # never judged: counted by the main results
        thought, ended = thought_of(j.text, judge.reasoning)
        thought_ids = b.token_ids(thought)
        text_ids = b.token_ids(j.text)
        for budget in budgets:
            row = {"pair_id": p.id, "subset": p.subset, "tie": p.tie,
                   "order": "rejected_first" if swap else "chosen_first", "sample": s, "budget": budget,
                   "long_key": j.key, "think_tokens": min(len(thought_ids), budget),
                   "thought_ended": ended and len(thought_ids) <= budget}
            # Truncation: what a run with max_new_tokens = budget would have read (the same
            # completion, cut; the paper's scoring of a thought the limit cut off).
            cut = j.text if len(text_ids) <= budget else b.decode(text_ids[:budget])
            for rule in VERDICT_RULES:
                row[f"truncated_{rule}"] = parse_verdict(cut, reasoning=judge.reasoning, rule=rule)
            if row["thought_ended"] or budget >= len(thought_ids) and not judge.reasoning:
                row.update(forced=False, key=j.key, **{f"forced_{r}": j.verdicts[r] for r in VERDICT_RULES})
            else:
                row.update(forced=True, key=None)
                asks.append((len(rows), forced_request(judge.request(*item), thought_ids, budget, close_ids,
                                                       verdict_tokens)))
            rows.append(row)
    if asks:
        done = judge.complete([r for _, r in asks], desc=desc)
        for (i, _), (key, stored) in zip(asks, done):
            rows[i]["key"] = key
            for rule in VERDICT_RULES:  # the forced completion is the answer alone: read it whole
                rows[i][f"forced_{rule}"] = parse_verdict(stored["text"], reasoning=False, rule=rule)
    return budgets_frame(rows, judge.verdict_rule)


_COLUMNS = {"pair_id": "string", "subset": "string", "tie": "bool", "order": "string", "sample": "int64",
            "budget": "int64", "forced": "bool", "key": "string", "long_key": "string", "think_tokens": "int64",
            "thought_ended": "bool"}


def budgets_frame(rows: list[dict], rule: str = "paper") -> pd.DataFrame:
    """Budget rows with fixed dtypes; ``verdict``/``picked``/``correct`` follow the forced verdict
    under ``rule``, ``picked_truncated`` the truncation-scored one."""
    cols = {**_COLUMNS, **{f"{kind}_{r}": "Int64" for kind in ("forced", "truncated") for r in VERDICT_RULES}}
    df = pd.DataFrame(rows, columns=list(cols)).astype(cols)
    df["picked"] = picked_of(df[f"forced_{rule}"], df["order"])
    df["picked_truncated"] = picked_of(df[f"truncated_{rule}"], df["order"])
    df["verdict"] = df[f"forced_{rule}"]
    df["correct"] = (df["picked"] == "chosen").astype("boolean").where(df["picked"].notna(), pd.NA)
    df["cut_off"] = False
    return df


def budget_metrics(frame: pd.DataFrame, policy: str = "tie", *, seed: int = 0) -> dict:
    """Per budget: accuracy from the forced verdicts and from the truncated ones (same
    completions), with intervals, per subset; and the thinking tokens actually used."""
    out = {}
    for budget, part in frame.groupby("budget", sort=True):
        truncated = part.assign(picked=part["picked_truncated"])
        entry = {"forced": summarize(part, policy, seed=seed), "truncated": summarize(truncated, policy, seed=seed),
                 "think_tokens_mean": float(part["think_tokens"].mean()),
                 "forced_share": float(part["forced"].mean()),
                 "subsets": {str(k): {"forced": summarize(g, policy, seed=seed)["accuracy"],
                                      "truncated": summarize(g.assign(picked=g["picked_truncated"]), policy,
                                                             seed=seed)["accuracy"]}
                             for k, g in part.groupby("subset", sort=True, observed=True)}}
        out[str(int(budget))] = entry
    return out
