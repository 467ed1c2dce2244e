"""A scalar reward model as a judge (``backend="classifier"``): scores instead of verdicts.

Each answer is scored on its own: the conversation ``[user: question, assistant: answer]``
through the model's chat template, score ``logits[0][0]`` (``rrmlib.backends.classifier``). Of
two answers the higher score wins; equal scores are no verdict, scored by the ``unparseable``
policy like a generative judge's missing verdict. The shown order cannot matter, and neither can
sampling: a score is deterministic, so ``votes`` must be 1 and a re-ask gets the same score.

Scores go to the judgment store like completions (the text is ``repr(score)``, the
``finish_reason`` ``"score"``), keyed by model, revision, numerics and the rendered
conversation; no sampling setting or sample index enters the key (every score request carries
the same constant ``SCORE_SAMPLING`` and sample 0), so a pair, a tournament match, a re-ask and
a best-of-N pick share one forward pass per answer, across runs and notebooks.

Best-of-N: ``pick`` scores every candidate once and picks the highest (N forward passes per
question, where a round robin of a generative judge costs N(N-1)/2 judgments); ties go to the
lower index. The same judge also plays tournaments (``rrmlib.bestofn.play``): each match is two
stored scores compared.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from rrmlib.backends.base import Request, Sampling, as_messages
from rrmlib.judge import TOO_LONG, Judge, Judgment
from rrmlib.prompts import VERDICT_RULES
from rrmlib.store import JudgmentStore, completion_key, kill_point

# A score is not sampled: one constant in every score's key.
SCORE_SAMPLING = Sampling(temperature=0.0, top_p=1.0, max_new_tokens=1, seed=0)
RULE = "higher score wins; equal scores: no verdict"


def conversation(question: str, answer: str) -> list[dict]:
    """What a scalar reward model scores: the question as the user's turn, the answer as the assistant's."""
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


@dataclass
class Score:
    key: str | None  # the store key (None: not scored, too long)
    score: float | None
    tokens: int | None
    fit: str  # "whole", "shortened" (the answer cut to fit the context) or "too long" (not scored)


class ScalarJudge(Judge):
    """A ``Judge`` whose backend scores (``ClassifierBackend``): same ``judge``, ``judge_pairs``
    and ``provenance``, so the pairwise and best-of-N notebooks and ``bestofn.play`` take it as
    they take a generative judge."""

    scalar = True

    def __init__(self, backend, store: JudgmentStore, *, progress: bool = True, too_long: str = "skip"):
        if too_long not in TOO_LONG:
            raise ValueError(f"too_long must be one of {TOO_LONG}, got {too_long!r}")
        self.backend, self.store, self.sampling = backend, store, SCORE_SAMPLING
        self.too_long, self.progress, self.progress_interval = too_long, progress, None
        self.protocol, self.reasoning, self.verdict_rule = None, False, RULE
        self.counts = {"generated": 0, "reused": 0}
        self.fitting = {"skipped": 0, "shortened": 0}
        self.last: list[Judgment] = []  # the judgments of the latest judge() call, with their scores

    @classmethod
    def from_params(cls, p: dict) -> "ScalarJudge":
        from rrmlib.backends import make_backend
        from rrmlib.params import ParameterError, backend_options

        # Refused before the model loads: each would be silently meaningless for a scalar judge.
        if p.get("protocol", "rrm") != "rrm":
            raise ParameterError(f"protocol {p['protocol']!r} is a generative judge's prompt; a scalar reward model "
                                 "(backend 'classifier') has none: leave protocol unset")
        if p.get("votes", 1) != 1:
            raise ParameterError("a scalar reward model's score is deterministic: votes must be 1")
        if p.get("think_budgets") is not None:
            raise ParameterError("think_budgets: a scalar reward model does not think (backend 'classifier')")
        backend = make_backend("classifier", **backend_options(p))
        kill_point("model_load")
        return cls(backend, JudgmentStore(p["store"]), progress=p["progress"], too_long=p["too_long"])

    def provenance(self) -> dict:
        return {"completions": dict(self.counts), "judge": self.backend.describe(), "judge_kind": "scalar",
                "reasoning": False, "verdict_rule": self.verdict_rule,
                "scores": "stored as completions: text repr(score), finish_reason 'score'",
                "too_long": {"policy": self.too_long, "context_length": self.backend.context_length,
                             "room": "the whole context (nothing is generated)", **self.fitting}}

    # -- scores -----------------------------------------------------------------------------
    def key(self, request: Request) -> str:
        return completion_key(self.backend.model_id, self.backend.revision, self.backend.prompt_text(request.messages),
                              request.sampling.as_dict(), request.sample, backend=self.backend.name,
                              numerics=self.backend.numerics)

    def _tokens(self, question: str, answer: str) -> int:
        return self.backend.count_tokens(self.backend.prompt_text(as_messages(conversation(question, answer))))

    def fit_answer(self, question: str, answer: str) -> tuple[str, str]:
        """``(answer, fit)``: a conversation longer than the model's context is not scored
        (``too_long="skip"``) or its answer is cut to the longest prefix that fits
        (``"shorten"``). Each answer is scored alone, so each is cut on its own."""
        ctx = self.backend.context_length
        if ctx is None or self._tokens(question, answer) <= ctx:
            return answer, "whole"
        if self.too_long == "skip" or self._tokens(question, "") > ctx:
            return answer, "too long"
        lo, hi = 0, self.backend.count_tokens(answer)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._tokens(question, self.backend.token_prefix(answer, mid)) <= ctx:
                lo = mid
            else:
                hi = mid - 1
        return self.backend.token_prefix(answer, lo), "shortened"

    def scores(self, items: list[tuple[str, str]], desc: str = "scoring") -> list[Score]:
        """The score of each ``(question, answer)``, from the store where it is there."""
        fitted = [self.fit_answer(q, a) for q, a in items]
        todo = [i for i, (_, fit) in enumerate(fitted) if fit != "too long"]
        out = [Score(None, None, None, "too long") for _ in items]
        requests = [Request(as_messages(conversation(items[i][0], fitted[i][0])), SCORE_SAMPLING, 0) for i in todo]
        for i, (key, stored) in zip(todo, self.complete(requests, desc)):
            if stored["finish_reason"] != "score":
                raise ValueError(f"store key {key} holds a completion, not a score ({stored['finish_reason']!r})")
            out[i] = Score(key, float(stored["text"]), stored["prompt_tokens"], fitted[i][1])
        return out

    # -- verdicts ---------------------------------------------------------------------------
    def judge(self, items: list[tuple[str, str, str, int]], desc: str = "scoring") -> list[Judgment]:
        """A verdict for each ``(question, first, second, sample)``: the slot with the higher
        score (equal, or an answer too long to score: None). The sample index changes nothing."""
        flat = self.scores([(q, a) for q, a, _, _ in items] + [(q, b) for q, _, b, _ in items], desc)
        n = len(items)
        out = []
        for first, second in zip(flat[:n], flat[n:]):
            s1, s2 = first.score, second.score
            verdict = None if s1 is None or s2 is None or s1 == s2 else (1 if s1 > s2 else 2)
            fits = {first.fit, second.fit}
            fit = "too long" if "too long" in fits else "shortened" if "shortened" in fits else "whole"
            j = Judgment(key=None if fit == "too long" else f"{first.key},{second.key}", text=f"{s1!r} {s2!r}",
                         verdict=verdict, prompt_tokens=None if fit == "too long" else first.tokens + second.tokens,
                         completion_tokens=None, think_tokens=None, cut_off=False,
                         verdicts={rule: verdict for rule in VERDICT_RULES}, fit=fit, scores=(s1, s2))
            out.append(j)
        self.fitting["skipped"] += sum(j.fit == "too long" for j in out)
        self.fitting["shortened"] += sum(j.fit == "shortened" for j in out)
        self.last = out
        return out

    def judge_pairs(self, pairs, *, order: str = "shuffle", votes: int = 1, seed: int = 0) -> pd.DataFrame:
        """As ``Judge.judge_pairs`` (``key`` holds the two scores' store keys, slot 1's first;
        no budget), with each answer's score: ``score_chosen``, ``score_rejected``."""
        if votes != 1:
            raise ValueError("a scalar reward model's score is deterministic: votes must be 1")
        res = super().judge_pairs(pairs, order=order, votes=votes, seed=seed)
        swapped = (res["order"] == "rejected_first").tolist()
        slot = [j.scores for j in self.last]
        res["budget"] = pd.array([None] * len(res), dtype="Int64")
        res["score_chosen"] = pd.array([s[1] if w else s[0] for s, w in zip(slot, swapped)], dtype="Float64")
        res["score_rejected"] = pd.array([s[0] if w else s[1] for s, w in zip(slot, swapped)], dtype="Float64")
        return res

    # -- best-of-N --------------------------------------------------------------------------
    def pick(self, sets, desc: str = "scoring candidates") -> tuple[dict, pd.DataFrame]:
        """``(picks, scores)``: per candidate set the highest-scored candidate (equal scores: the
        lower index; a set none of whose candidates could be scored gets no pick), and one row
        per candidate (question, candidate, score, fit, key)."""
        sets = list(sets)
        index = [(s.id, i) for s in sets for i in range(len(s.candidates))]
        scored = self.scores([(s.prompt, c) for s in sets for c in s.candidates], desc)
        frame = scores_frame([{"question": q, "candidate": i, "score": r.score, "fit": r.fit, "key": r.key}
                              for (q, i), r in zip(index, scored)])
        return pick_by_score(frame), frame


def scores_frame(rows: list[dict]) -> pd.DataFrame:
    """Candidate scores with fixed dtypes (``scores.parquet``)."""
    return pd.DataFrame(rows, columns=["question", "candidate", "score", "fit", "key"]).astype(
        {"question": "string", "candidate": "int64", "score": "Float64", "fit": "string", "key": "string"})


def pick_by_score(scores: pd.DataFrame) -> dict:
    """Question -> the candidate with the highest score (equal: the lower index); questions with
    no score at all get no pick."""
    from rrmlib.selection import pick_by_rating

    scored = scores.dropna(subset=["score"]).rename(columns={"candidate": "entrant", "score": "rating"})
    return {str(q): int(c) for q, c in pick_by_rating(scored[["question", "entrant", "rating"]]).items()}
