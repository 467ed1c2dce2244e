"""The judge: joins a backend, the store, the RRM prompt and the verdict parser.

It takes from the store what is already there, generates only the rest (committing each chunk
as it finishes), and turns completions into verdicts. It knows nothing of which dataset it
judges: it sees a question and two answers in the order they are shown.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

import pandas as pd

from rrmlib.backends.base import Backend, Completion, Request, Sampling, as_messages
from rrmlib.prompts import VERDICT_RULES, parse_verdict, rrm_messages, thought_end
from rrmlib.seeding import stable_int
from rrmlib.store import JudgmentStore, completion_key

ORDERS = ("shuffle", "both", "fixed")


def swapped(seed: int, pair_id: str) -> bool:
    """Whether ``order="shuffle"`` shows a pair's rejected answer first: a coin from the run seed
    and the pair id (sha256, not Python's per-process salted ``hash()``), so every process agrees."""
    return stable_int(seed, pair_id) & 1 == 1


def shown_orders(order: str, seed: int, pair_id: str) -> list[bool]:
    """For each showing of a pair, whether it is swapped (rejected answer in slot 1)."""
    if order == "fixed":
        return [False]
    if order == "both":
        return [False, True]
    if order == "shuffle":
        return [swapped(seed, pair_id)]
    raise ValueError(f"order must be one of {ORDERS}, got {order!r}")


@dataclass
class Judgment:
    """One completion read as a verdict."""

    key: str
    text: str
    verdict: int | None  # 1 or 2: the slot the judge preferred, read by the judge's verdict rule
    prompt_tokens: int | None
    completion_tokens: int | None
    think_tokens: int | None
    cut_off: bool
    verdicts: dict | None = None  # the verdict under every rule, so a run can show them side by side


class Judge:
    def __init__(self, backend: Backend, store: JudgmentStore, sampling: Sampling, *,
                 reasoning: bool | None = None, progress: bool = True, verdict_rule: str = "paper"):
        if verdict_rule not in VERDICT_RULES:
            raise ValueError(f"verdict_rule must be one of {VERDICT_RULES}, got {verdict_rule!r}")
        self.backend, self.store, self.sampling = backend, store, sampling
        self.verdict_rule = verdict_rule
        # A model whose template opens <think> must close it before its verdict counts. Where the
        # backend cannot tell (a server hides its template), guessing either way misreads some
        # judge: a draft box inside a cut-off thought, or every verdict of a plain judge.
        detected = backend.is_reasoning() if reasoning is None else reasoning
        if detected is None:
            raise ValueError(f"the {backend.name} backend cannot tell whether {backend.model_id!r} thinks in "
                             "<think> tags: pass reasoning=True (RRM and other thinking judges) or False")
        self.reasoning = bool(detected)
        self.progress = progress
        self.counts = {"generated": 0, "reused": 0}

    @classmethod
    def from_params(cls, p: dict) -> "Judge":
        """The judge a notebook's checked parameters describe (backend, model, sampling, store)."""
        from rrmlib.backends import make_backend
        from rrmlib.params import backend_options

        sampling = Sampling(temperature=p["temperature"], top_p=p["top_p"], max_new_tokens=p["max_new_tokens"],
                            seed=p["seed"])
        return cls(make_backend(p["backend"], **backend_options(p)), JudgmentStore(p["store"]), sampling,
                   reasoning=p["reasoning"], progress=p["progress"], verdict_rule=p["verdict_rule"])

    def provenance(self) -> dict:
        """What meta.json records about the judge: counts, sampling, backend and how it reads verdicts."""
        return {"completions": dict(self.counts), "sampling": self.sampling.as_dict(),
                "judge": self.backend.describe(), "reasoning": self.reasoning, "verdict_rule": self.verdict_rule}

    # -- completions ----------------------------------------------------------------------
    def request(self, question: str, first: str, second: str, sample: int = 0) -> Request:
        return Request(as_messages(rrm_messages(question, first, second)), self.sampling, sample)

    def key(self, request: Request) -> str:
        return completion_key(self.backend.model_id, self.backend.revision,
                              self.backend.prompt_text(request.messages), request.sampling.as_dict(),
                              request.sample, backend=self.backend.name)

    def complete(self, requests: list[Request], desc: str = "judging") -> list[tuple[str, dict]]:
        """``(key, stored completion)`` for each request, generating only what the store lacks."""
        keys = [self.key(r) for r in requests]
        found = self.store.get_many(keys)
        todo: dict[str, int] = {}
        for i, k in enumerate(keys):
            if k not in found and k not in todo:
                todo[k] = i
        unique = len(set(keys))
        reused = unique - len(todo)
        self.counts["reused"] += reused
        bar = self._bar(unique, reused, desc)
        missing = list(todo.values())
        try:
            for chunk in self.backend.stream([requests[i] for i in missing]):
                done = [(requests[missing[j]], completion) for j, completion in chunk]
                rows = self.remember(done)  # committed now: a crash after this loses nothing of it
                # Read back what the store holds: where another process stored a key first, its
                # text is the one every later run will reuse, so this run reports it too.
                found.update(self.store.get_many([k for k, _, _ in rows]))
                self.counts["generated"] += len(rows)
                if bar is not None:
                    bar.update(len(rows))
                    bar.set_postfix(generated=self.counts["generated"], reused=reused, refresh=False)
        finally:
            if bar is not None:
                bar.close()
        return [(k, found[k]) for k in keys]

    def remember(self, done: list[tuple[Request, Completion]]) -> list[tuple]:
        """Commit ``(request, completion)`` pairs to the store in one transaction."""
        b = self.backend
        rows = [(self.key(r), {"backend": b.name, "model": b.model_id, "revision": b.revision,
                               "prompt": b.prompt_text(r.messages), "sampling": r.sampling.as_dict(),
                               "sample": r.sample}, c) for r, c in done]
        self.store.put_many(rows)
        return rows

    def _bar(self, total: int, reused: int, desc: str):
        if not self.progress or total == 0:
            return None
        from tqdm import tqdm

        # Plain text bar: it renders in a terminal and, as stderr lines, in a papermill notebook;
        # a long mininterval keeps the saved notebook short when stderr is not a terminal.
        return tqdm(total=total, initial=reused, desc=desc, unit="completion", file=sys.stderr,
                    mininterval=0.5 if sys.stderr.isatty() else 10, dynamic_ncols=True,
                    postfix={"generated": 0, "reused": reused})

    def read(self, key: str, stored: dict) -> Judgment:
        text = stored["text"]
        think = None
        end = thought_end(text)
        if end != -1:
            think = self.backend.count_tokens(text[:end])
        verdicts = {rule: parse_verdict(text, reasoning=self.reasoning, rule=rule) for rule in VERDICT_RULES}
        return Judgment(key=key, text=text, verdict=verdicts[self.verdict_rule],
                        prompt_tokens=stored["prompt_tokens"], completion_tokens=stored["completion_tokens"],
                        think_tokens=think, cut_off=stored["finish_reason"] == "length", verdicts=verdicts)

    def judge(self, items: list[tuple[str, str, str, int]], desc: str = "judging") -> list[Judgment]:
        """Verdicts for ``(question, first, second, sample)`` items, in order."""
        requests = [self.request(q, a, b, s) for q, a, b, s in items]
        return [self.read(k, c) for k, c in self.complete(requests, desc)]

    # -- pairs ----------------------------------------------------------------------------
    def judge_pairs(self, pairs, *, order: str = "shuffle", votes: int = 1, seed: int = 0) -> pd.DataFrame:
        """One row per judgment (pair × shown order × sample): which slot won, which answer that
        is, and the completion's key and token counts."""
        plan = pair_plan(pairs, order=order, votes=votes, seed=seed)
        rows = []
        for (p, swap, s), j in zip(plan, self.judge([showing(p, swap, s) for p, swap, s in plan])):
            picked = None if j.verdict is None else ("chosen" if (j.verdict == 1) != swap else "rejected")
            rows.append({
                "pair_id": p.id, "subset": p.subset, "tie": p.tie,
                "order": "rejected_first" if swap else "chosen_first", "sample": s,
                "key": j.key, "verdict": j.verdict, "picked": picked,
                **{f"verdict_{rule}": j.verdicts[rule] for rule in VERDICT_RULES},
                "correct": None if picked is None else picked == "chosen",
                "prompt_tokens": j.prompt_tokens, "completion_tokens": j.completion_tokens,
                "think_tokens": j.think_tokens, "cut_off": j.cut_off,
            })
        return results_frame(rows)


def pair_plan(pairs, *, order: str = "shuffle", votes: int = 1, seed: int = 0) -> list[tuple]:
    """Every judgment a pairwise run asks for: ``(pair, swapped, sample)``."""
    if votes < 1:
        raise ValueError(f"votes must be >= 1, got {votes}")
    return [(p, swap, s) for p in pairs for swap in shown_orders(order, seed, p.id) for s in range(votes)]


def showing(pair, swap: bool, sample: int) -> tuple[str, str, str, int]:
    """The judge's item for one showing of a pair: question, slot-1 answer, slot-2 answer, sample."""
    return (pair.prompt, pair.rejected if swap else pair.chosen, pair.chosen if swap else pair.rejected, sample)


def results_frame(rows: list[dict]) -> pd.DataFrame:
    """Judgment rows with fixed dtypes (nullable where a value can be missing), so the parquet
    file has the same schema whatever the run's values."""
    rule_columns = [f"verdict_{rule}" for rule in VERDICT_RULES]
    df = pd.DataFrame(rows, columns=["pair_id", "subset", "tie", "order", "sample", "key", "verdict", "picked",
                                     "correct", "prompt_tokens", "completion_tokens", "think_tokens", "cut_off",
                                     *rule_columns])
    return df.astype({"pair_id": "string", "subset": "string", "tie": "bool", "order": "string",
                      "sample": "int64", "key": "string", "verdict": "Int64", "picked": "string",
                      "correct": "boolean", "prompt_tokens": "Int64", "completion_tokens": "Int64",
                      "think_tokens": "Int64", "cut_off": "bool", **{c: "Int64" for c in rule_columns}})
