"""The judge: joins a backend, the store, a protocol's prompt and its verdict rules (the RRM
template and the paper's reading by default; ``rrmlib.protocols``).

It takes from the store what is already there, generates only the rest (committing each chunk
as it finishes), and turns completions into verdicts. It knows nothing of which dataset it
judges: it sees a question and two answers in the order they are shown.
"""
from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass

import pandas as pd

from rrmlib import protocols
from rrmlib.backends.base import Backend, Completion, Request, Sampling, as_messages
from rrmlib.prompts import VERDICT_RULES, thought_end
from rrmlib.seeding import stable_int
from rrmlib.store import JudgmentStore, completion_key, kill_point

ORDERS = ("shuffle", "both", "fixed")
TOO_LONG = ("skip", "shorten")
FITS = ("whole", "shortened", "too long")


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
    fit: str = "whole"  # "shortened": both answers cut alike to fit; "too long": skipped, nothing generated
    scores: tuple | None = None  # a scalar judge's (slot 1, slot 2) scores (rrmlib.scalar)


class Judge:
    def __init__(self, backend: Backend, store: JudgmentStore, sampling: Sampling, *,
                 reasoning: bool | None = None, progress: bool = True, verdict_rule: str = "paper",
                 too_long: str = "skip", protocol: str = protocols.DEFAULT):
        # The prompt template and its verdict rules (rrmlib.protocols); rrm is the paper's.
        self.protocol = protocols.get(protocol)
        if verdict_rule not in VERDICT_RULES:
            raise ValueError(f"verdict_rule must be one of {VERDICT_RULES}, got {verdict_rule!r}")
        if too_long not in TOO_LONG:
            raise ValueError(f"too_long must be one of {TOO_LONG}, got {too_long!r}")
        self.too_long = too_long
        self.backend, self.store, self.sampling = backend, store, sampling
        self.verdict_rule = verdict_rule
        # A model whose template opens <think> must close it before its verdict counts. Where the
        # backend cannot tell (a server hides its template), guessing either way misreads some
        # judge: a draft box inside a cut-off thought, or every verdict of a plain judge.
        detected = backend.is_reasoning() if reasoning is None else reasoning
        if detected is None:  # the protocol may say (a prompt that asks for the verdict at once)
            detected = self.protocol.thinks
        if detected is None:
            raise ValueError(f"the {backend.name} backend cannot tell whether {backend.model_id!r} thinks in "
                             "<think> tags: pass reasoning=True (RRM and other thinking judges) or False")
        self.reasoning = bool(detected)
        self.progress = progress
        # Seconds between progress lines; None: 0.5 in a terminal, 10 where stderr is saved (a
        # notebook's output, a log), which keeps the saved notebook short.
        self.progress_interval = None
        self.counts = {"generated": 0, "reused": 0}
        self.fitting = {"skipped": 0, "shortened": 0}  # judgments whose prompt did not fit the context

    @classmethod
    def from_params(cls, p: dict) -> "Judge":
        """The judge a notebook's checked parameters describe (backend, model, sampling, store)."""
        from rrmlib.backends import make_backend
        from rrmlib.params import ParameterError, backend_options

        if p["backend"] == "classifier":  # a scalar reward model: scores, no prompt or sampling
            from rrmlib.scalar import ScalarJudge

            return ScalarJudge.from_params(p)
        protocol = p.get("protocol", protocols.DEFAULT)
        if p.get("think_budgets") is not None and protocol != protocols.DEFAULT:
            # rrmlib.budgets closes a thought as RRM's template does and reads RRM's verdicts
            raise ParameterError(f"think_budgets works with the rrm protocol only, not {protocol!r}")
        if p.get("think_budgets") is not None and p.get("too_long") == "shorten":
            # a forced verdict is asked with the whole answers (Judge.request), not the cut ones
            # its thought was made from: refused until the judgment keeps the request it sent
            raise ParameterError("think_budgets cannot be combined with too_long shorten (yet): use too_long skip")
        sampling = Sampling(temperature=p["temperature"], top_p=p["top_p"], max_new_tokens=p["max_new_tokens"],
                            seed=p["seed"])
        backend = make_backend(p["backend"], **backend_options(p))
        kill_point("model_load")  # the fault suite's hook (rrmlib.store.kill_point); a no-op otherwise
        return cls(backend, JudgmentStore(p["store"]), sampling,
                   reasoning=p["reasoning"], progress=p["progress"], verdict_rule=p["verdict_rule"],
                   too_long=p["too_long"], protocol=protocol)

    def provenance(self) -> dict:
        """What meta.json records about the judge: counts, sampling, backend and how it reads verdicts."""
        return {"completions": dict(self.counts), "sampling": self.sampling.as_dict(),
                "judge": self.backend.describe(), "judge_protocol": self.protocol.name,
                "reasoning": self.reasoning, "verdict_rule": self.verdict_rule,
                "too_long": {"policy": self.too_long, "context_length": self.backend.context_length,
                             "room": "min(max_new_tokens, context // 4)", **self.fitting}}

    # -- completions ----------------------------------------------------------------------
    def request(self, question: str, first: str, second: str, sample: int = 0) -> Request:
        return Request(as_messages(self.protocol.messages(question, first, second)), self.sampling, sample)

    def key(self, request: Request) -> str:
        key = completion_key(self.backend.model_id, self.backend.revision,
                             self.backend.prompt_text(request.messages), request.sampling.as_dict(),
                             request.sample, backend=self.backend.name, numerics=self.backend.numerics,
                             continuation=request.continuation)
        if self.protocol.name == protocols.DEFAULT:
            return key  # rrm's keys are the keys every store already holds
        # Another protocol's prompt differs anyway; its name in the key says so outright.
        return hashlib.sha256(json.dumps([key, {"protocol": self.protocol.name}]).encode()).hexdigest()

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
        self._warn_cost([requests[i] for i in missing])
        if bar is not None and hasattr(self.backend, "step_hook"):
            self.backend.step_hook = self._step_reporter(bar)
        try:
            for chunk in self.backend.stream([requests[i] for i in missing]):
                done = [(requests[missing[j]], completion) for j, completion in chunk]
                kill_point("mid_batch")  # generated, not yet committed (the fault suite's hook)
                rows, stored = self.remember(done)  # committed now: a crash after this loses nothing of it
                # Read back what the store holds: where another process stored a key first, its
                # text is the one every later run will reuse, so this run reports it too, and
                # counts it as reused (the store kept the other text, not this one).
                found.update(self.store.get_many([k for k, _, _ in rows]))
                self.counts["generated"] += stored
                self.counts["reused"] += len(rows) - stored
                if bar is not None:
                    bar.update(len(rows))
                    bar.set_postfix(generated=self.counts["generated"], reused=reused, refresh=False)
        finally:
            if hasattr(self.backend, "step_hook"):
                self.backend.step_hook = None
            if bar is not None:
                bar.close()
        return [(k, found[k]) for k in keys]

    def _step_reporter(self, bar):
        """Progress inside a batch: the backend reports each generation step (``step_hook``);
        the bar shows the batch's tokens so far, at most every ``mininterval`` seconds, so a long
        batch shows life in a terminal, in papermill's notebook and in JupyterLab alike."""
        import time

        last = [time.monotonic()]

        def report(rows: int, step: int, budget: int):
            now = time.monotonic()
            if now - last[0] >= bar.mininterval or step == budget:
                last[0] = now
                bar.set_postfix_str(f"generated={self.counts['generated']}, this batch: {rows} sequences, "
                                    f"token {step}/{budget}", refresh=True)

        return report

    def _warn_cost(self, missing: list[Request]) -> None:
        """Before a long CPU run starts, say roughly how long it may take (an upper bound: every
        judgment thinking to its budget), from the embedded 135M judge's measured speed here."""
        b = self.backend
        if not missing or b.name != "hf" or getattr(getattr(b, "device", None), "type", "cpu") != "cpu":
            return
        tokens = sum(r.sampling.max_new_tokens for r in missing)
        params = sum(p.numel() for p in b.model.parameters()) if hasattr(b, "model") else 135e6
        rate = 70.0 * 135e6 / max(params, 1.0)  # tokens/s: SmolLM2-135M at batch 16 on 2 cores (NOTES.md)
        hours = tokens / rate / 3600
        if hours < 0.25:
            return
        print(f"Note: up to {tokens:,} new tokens to generate ({len(missing)} judgments x up to "
              f"{max(r.sampling.max_new_tokens for r in missing)}); on this CPU, at the ~{rate:.0f} tokens/s a "
              f"{params / 1e6:.0f}M-parameter model manages, that is up to {hours:.1f} hours (less where judgments "
              f"stop early). A smaller max_new_tokens or limit, or a GPU, shortens it; what finishes is stored.",
              file=sys.stderr)

    def remember(self, done: list[tuple[Request, Completion]]) -> tuple[list[tuple], int]:
        """Commit ``(request, completion)`` pairs to the store in one transaction: the rows, and
        how many of them were new (a key another process stored first keeps its text)."""
        b = self.backend
        rows = [(self.key(r), {"backend": b.name, "model": b.model_id, "revision": b.revision,
                               # a forced continuation is part of what the model saw: stored readable
                               "prompt": b.prompt_text(r.messages) + (b.decode(r.continuation) if r.continuation else ""),
                               "sampling": r.sampling.as_dict(), "sample": r.sample}, c) for r, c in done]
        return rows, self.store.put_many(rows)

    def _bar(self, total: int, reused: int, desc: str):
        if not self.progress or total == 0:
            return None
        from tqdm import tqdm

        # Plain text bar: it renders in a terminal and, as stderr lines, in a papermill notebook;
        # a long mininterval keeps the saved notebook short when stderr is not a terminal.
        interval = self.progress_interval
        if interval is None:
            interval = 0.5 if sys.stderr.isatty() else 10
        return tqdm(total=total, initial=reused, desc=desc, unit="completion", file=sys.stderr,
                    mininterval=interval, dynamic_ncols=True,
                    postfix={"generated": 0, "reused": reused})

    def read(self, key: str, stored: dict) -> Judgment:
        text = stored["text"]
        think = None
        end = thought_end(text)
        if end != -1:
            think = self.backend.count_tokens(text[:end])
        verdicts = {rule: self.protocol.parse(text, self.reasoning, rule) for rule in VERDICT_RULES}
        return Judgment(key=key, text=text, verdict=verdicts[self.verdict_rule],
                        prompt_tokens=stored["prompt_tokens"], completion_tokens=stored["completion_tokens"],
                        think_tokens=think, cut_off=stored["finish_reason"] == "length", verdicts=verdicts)

    # -- fitting the context ---------------------------------------------------------------
    def room(self) -> int:
        """Tokens a judgment must have left to think in: the budget, at most a quarter of the context."""
        return min(self.sampling.max_new_tokens, self.backend.context_length // 4)

    def fit(self, question: str, first: str, second: str) -> tuple[str, str, str]:
        """``(first, second, fit)``: the answers as shown and whether they were cut to fit.

        A prompt fits when it leaves ``room()`` tokens of the context. One that does not is
        skipped (``too_long="skip"``: no generation, no verdict, counted and left out of the
        accuracy), or both answers are cut alike (``"shorten"``: each to at most the same
        number of tokens, the longest that fits) and the judgment is marked shortened. Never
        sent whole: a backend would refuse it mid-batch, or the judge could not finish.
        """
        ctx = self.backend.context_length
        if ctx is None:
            return first, second, "whole"  # a server's limit is not known here; it answers for itself
        limit = ctx - self.room()

        def size(a, b):
            return self.backend.count_prompt_tokens(
                self.backend.prompt_text(as_messages(self.protocol.messages(question, a, b))))

        if size(first, second) <= limit:
            return first, second, "whole"
        if self.too_long == "skip" or size("", "") > limit:  # the question alone is too long: cannot shorten
            return first, second, "too long"
        lo, hi = 0, max(self.backend.count_tokens(first), self.backend.count_tokens(second))
        while lo < hi:  # the largest per-answer cap that fits
            mid = (lo + hi + 1) // 2
            if size(self.backend.token_prefix(first, mid), self.backend.token_prefix(second, mid)) <= limit:
                lo = mid
            else:
                hi = mid - 1
        return self.backend.token_prefix(first, lo), self.backend.token_prefix(second, lo), "shortened"

    def judge(self, items: list[tuple[str, str, str, int]], desc: str = "judging") -> list[Judgment]:
        """Verdicts for ``(question, first, second, sample)`` items, in order; a judgment whose
        prompt does not fit the context is skipped or shortened (``fit``) before anything runs."""
        fitted = [self.fit(q, a, b) for q, a, b, _ in items]
        todo = [i for i, f in enumerate(fitted) if f[2] != "too long"]
        requests = [self.request(items[i][0], fitted[i][0], fitted[i][1], items[i][3]) for i in todo]
        out = [Judgment(key=None, text="", verdict=None, prompt_tokens=None, completion_tokens=None, think_tokens=None,
                        cut_off=False, verdicts={rule: None for rule in VERDICT_RULES}, fit="too long")
               for _ in items]
        for i, (k, c) in zip(todo, self.complete(requests, desc)):
            out[i] = self.read(k, c)
            out[i].fit = fitted[i][2]
        self.fitting["skipped"] += len(items) - len(todo)
        self.fitting["shortened"] += sum(f[2] == "shortened" for f in fitted)
        return out

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
                "think_tokens": j.think_tokens, "cut_off": j.cut_off, "fit": j.fit,
                "budget": self.sampling.max_new_tokens,
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
                                     "fit", "budget", *rule_columns])
    return df.astype({"pair_id": "string", "subset": "string", "tie": "bool", "order": "string",
                      "sample": "int64", "key": "string", "verdict": "Int64", "picked": "string",
                      "correct": "boolean", "prompt_tokens": "Int64", "completion_tokens": "Int64",
                      "think_tokens": "Int64", "cut_off": "bool", "fit": "string", "budget": "Int64",
                      **{c: "Int64" for c in rule_columns}})
