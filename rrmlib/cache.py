"""A backend behind the judgment store: what the store holds is reused, what it lacks is
generated, and every chunk is committed as it returns (lm-evaluation-harness's ``CachingLM`` is
the model). The judges (``rrmlib.judge``) ask this for completions; it knows
nothing of prompts or verdicts, only requests, their keys and the store.
"""
from __future__ import annotations

import sys
import time
from typing import Callable

from rrmlib.backends.base import Backend, Completion, Request
from rrmlib.faults import kill_point
from rrmlib.store import JudgmentStore


class CachedBackend:
    """``complete(requests)``: ``(key, stored completion)`` per request, generating only what the
    store lacks. ``key`` names a request's completion (``rrmlib.store.completion_key`` of what
    produced it); ``counts`` says how many were generated here and how many reused."""

    def __init__(self, backend: Backend, store: JudgmentStore, key: Callable[[Request], str], *,
                 progress: bool = True):
        self.backend, self.store, self.key = backend, store, key
        self.progress = progress
        # Seconds between progress lines; None: 0.5 in a terminal, 10 where stderr is saved (a
        # notebook's output, a log), which keeps the saved notebook short.
        self.progress_interval = None
        self.counts = {"generated": 0, "reused": 0}

    def complete(self, requests: list[Request], desc: str = "judging") -> list[tuple[str, dict]]:
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
        self.warn_cost([requests[i] for i in missing])
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

    def remember(self, done: list[tuple[Request, Completion]]) -> tuple[list[tuple], int]:
        """Commit ``(request, completion)`` pairs to the store in one transaction: the rows, and
        how many of them were new (a key another process stored first keeps its text)."""
        b = self.backend
        rows = [(self.key(r), {"backend": b.name, "model": b.model_id, "revision": b.revision,
                               # a forced continuation is part of what the model saw: stored readable
                               "prompt": b.prompt_text(r.messages) + (b.decode(r.continuation) if r.continuation else ""),
                               "sampling": r.sampling.as_dict(), "sample": r.sample}, c) for r, c in done]
        return rows, self.store.put_many(rows)

    def warn_cost(self, missing: list[Request]) -> None:
        """Before a long run starts, say roughly how long it may take (an upper bound: every
        judgment writing to its budget), where the backend can tell (``estimate_seconds``)."""
        seconds = self.backend.estimate_seconds(missing) if missing else None
        if seconds is None or seconds < 900:
            return
        tokens = sum(r.sampling.max_new_tokens for r in missing)
        print(f"Note: up to {tokens:,} new tokens to generate ({len(missing)} judgments x up to "
              f"{max(r.sampling.max_new_tokens for r in missing)}); {self.backend.speed_note()}, that is up to "
              f"{seconds / 3600:.1f} hours (less where judgments stop early). A smaller max_new_tokens or limit, or a "
              f"GPU, shortens it; what finishes is stored.", file=sys.stderr)

    def _step_reporter(self, bar):
        """Progress inside a batch: the backend reports each generation step (``step_hook``);
        the bar shows the batch's tokens so far, at most every ``mininterval`` seconds, so a long
        batch shows life in a terminal, in papermill's notebook and in JupyterLab alike."""
        last = [time.monotonic()]

        def report(rows: int, step: int, budget: int):
            now = time.monotonic()
            if now - last[0] >= bar.mininterval or step == budget:
                last[0] = now
                bar.set_postfix_str(f"generated={self.counts['generated']}, this batch: {rows} sequences, "
                                    f"token {step}/{budget}", refresh=True)

        return report

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
