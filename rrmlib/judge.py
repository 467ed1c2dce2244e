"""The judges: a question and two answers in the order they are shown in, a verdict out.

``Judge`` is a generative judge: a backend, a protocol's prompt and its verdict rules (the RRM
template and the paper's reading by default; ``rrmlib.protocols``). ``ScalarJudge`` is a scalar
reward model (``backend="classifier"``): it scores each answer, and the higher score wins. Both
reach the backend through the judgment store (``rrmlib.cache.CachedBackend``: what the store
holds is reused, what it lacks is generated and committed as it returns), fit a prompt that is
too long for the model's context the same way (``fit_answers``), and give the notebooks the
same ``judge``, ``judge_pairs``, ``score_candidates`` and ``provenance``. ``Judge.from_params`` makes the
one a notebook's parameters describe. A judge knows nothing of which dataset it judges.

A scalar reward model scores each answer on its own: the conversation ``[user: question,
assistant: answer]`` through the model's chat template, score ``logits[0][0]``
(``rrmlib.backends.classifier``). Equal scores are no verdict, scored by the ``unparseable``
policy like a generative judge's missing verdict. The shown order cannot matter, and neither can
sampling: a score is deterministic, so ``votes`` must be 1 and a re-ask gets the same score.
Scores go to the store like completions (the text is ``repr(score)``, the ``finish_reason``
``"score"``), keyed by model, revision, numerics and the rendered conversation, with one constant
``SCORE_SAMPLING`` and sample 0, so a pair, a tournament match, a re-ask and a best-of-N pick
share one forward pass per answer, across runs and notebooks. Its best-of-N pick scores
every candidate once (N forward passes per question, where a round robin of a generative judge
costs N(N-1)/2 judgments).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pandas as pd

from rrmlib import protocols
from rrmlib.backends import make_backend
from rrmlib.backends.base import Backend, Request, Sampling, as_messages
from rrmlib.cache import CachedBackend
from rrmlib.faults import kill_point
from rrmlib.params import ParameterError, backend_options
from rrmlib.prompts import VERDICT_RULES, thought_end
from rrmlib.seeding import stable_int
from rrmlib.store import JudgmentStore, completion_key
from rrmlib.votes import picked

ORDERS = ("shuffle", "both", "fixed")
TOO_LONG = ("skip", "shorten")
# A score is not sampled: one constant in every score's key.
SCORE_SAMPLING = Sampling(temperature=0.0, top_p=1.0, max_new_tokens=1, seed=0)
SCALAR_RULE = "higher score wins; equal scores: no verdict"


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


def _reasoning_unknown(backend: str, model) -> str:
    return (f"the {backend} backend cannot tell whether {model!r} thinks in <think> tags: pass reasoning=True "
            f"(RRM and other thinking judges) or False")


def check_params(p: dict) -> str:
    """Refuse, from a run's parameters alone (so before a kernel starts: ``rrm``'s preflight),
    a generative judge that cannot work; ``Judge.from_params`` refuses the same. Its protocol."""
    protocol = p.get("protocol", protocols.DEFAULT)
    if p.get("backend") == "classifier":  # a scalar reward model (ScalarJudge): no prompt to check
        return protocol
    if p.get("think_budgets") is not None and protocol != protocols.DEFAULT:
        # rrmlib.budgets closes a thought as RRM's template does and reads RRM's verdicts
        raise ParameterError(f"think_budgets works with the rrm protocol only, not {protocol!r}")
    if p.get("think_budgets") is not None and p.get("too_long") == "shorten":
        # a forced verdict is asked with the whole answers (Judge.request), not the cut ones
        # its thought was made from: refused until the judgment keeps the request it sent
        raise ParameterError("think_budgets cannot be combined with too_long shorten (yet): use too_long skip")
    # The openai backend cannot tell whether the judge thinks (a server does not show its
    # template): unless told, or the protocol says, the judge would refuse it once built.
    if p.get("backend") == "openai" and p.get("reasoning") is None and protocols.get(protocol).thinks is None:
        raise ParameterError(_reasoning_unknown("openai", p.get("model")))
    return protocol


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
    scores: tuple | None = None  # a scalar judge's (slot 1, slot 2) scores (ScalarJudge)


def fit_answers(backend: Backend, size, answers: tuple[str, ...], limit: int | None, too_long: str):
    """``(answers, fit)``: ``answers`` as they fit a prompt of at most ``limit`` tokens, where
    ``size(*answers)`` is the prompt's tokens with those answers. A prompt that fits is sent
    whole; one that does not is skipped (``too_long="skip"``: fit ``"too long"``, nothing is
    generated), or every answer is cut alike, to the largest per-answer number of tokens that
    fits (``"shorten"``: fit ``"shortened"``). Never sent whole when it does not fit: a backend
    would refuse it mid-batch, or the judge could not finish."""
    if limit is None or size(*answers) <= limit:  # a server's limit is not known here; it answers for itself
        return answers, "whole"
    if too_long == "skip" or size(*("" for _ in answers)) > limit:  # the question alone is too long
        return answers, "too long"
    lo, hi = 0, max(backend.count_tokens(a) for a in answers)
    while lo < hi:  # the largest per-answer cap that fits
        mid = (lo + hi + 1) // 2
        if size(*(backend.token_prefix(a, mid) for a in answers)) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return tuple(backend.token_prefix(a, lo) for a in answers), "shortened"


class _Judging:
    """What every judge has: a backend behind the store, a policy for prompts too long for the
    context and its counts, and pairwise results from ``judge``."""

    def __init__(self, backend: Backend, store: JudgmentStore, sampling: Sampling, *, progress: bool, too_long: str):
        if too_long not in TOO_LONG:
            raise ValueError(f"too_long must be one of {TOO_LONG}, got {too_long!r}")
        self.backend, self.store, self.sampling, self.too_long = backend, store, sampling, too_long
        self.cache = CachedBackend(backend, store, self.key, progress=progress)
        self.fitting = {"skipped": 0, "shortened": 0}  # judgments whose prompt did not fit the context

    @property
    def counts(self) -> dict:
        """Completions generated here and reused from the store."""
        return self.cache.counts

    @property
    def progress_interval(self):
        return self.cache.progress_interval

    @progress_interval.setter
    def progress_interval(self, seconds):
        self.cache.progress_interval = seconds

    def complete(self, requests: list[Request], desc: str = "judging") -> list[tuple[str, dict]]:
        """``(key, stored completion)`` for each request, generating only what the store lacks."""
        return self.cache.complete(requests, desc)

    def remember(self, done) -> tuple[list[tuple], int]:
        """Commit ``(request, completion)`` pairs to the store (``CachedBackend.remember``)."""
        return self.cache.remember(done)

    def key(self, request: Request) -> str:
        return completion_key(self.backend.model_id, self.backend.revision, self.backend.prompt_text(request.messages),
                              request.sampling.as_dict(), request.sample, backend=self.backend.name,
                              numerics=self.backend.numerics, continuation=request.continuation)

    def _count_fits(self, judgments: list[Judgment]) -> None:
        self.fitting["skipped"] += sum(j.fit == "too long" for j in judgments)
        self.fitting["shortened"] += sum(j.fit == "shortened" for j in judgments)

    def judge(self, items: list[tuple[str, str, str, int]], desc: str = "judging") -> list[Judgment]:
        raise NotImplementedError

    def score_candidates(self, sets, desc: str = "scoring candidates") -> pd.DataFrame | None:
        """Every candidate's score, for a best-of-N pick of the judge's own without matches
        (``selection.pick_highest_scored``), from a judge that scores (``ScalarJudge``); None
        from one that only compares."""
        return None

    def judge_pairs(self, pairs, *, order: str = "shuffle", votes: int = 1, seed: int = 0) -> pd.DataFrame:
        """One row per judgment (pair × shown order × sample): which slot won, which answer that
        is, and the completion's key and token counts."""
        plan = pair_plan(pairs, order=order, votes=votes, seed=seed)
        judged = self.judge([showing(p, swap, s) for p, swap, s in plan])
        rows = [{**self._row(p, swap, s, j), **self._extra(swap, j)} for (p, swap, s), j in zip(plan, judged)]
        return results_frame(rows, extra=self.EXTRA)

    EXTRA: dict = {}  # result columns of this kind of judge, and their dtypes

    def _extra(self, swap: bool, j: Judgment) -> dict:
        return {}

    def _row(self, p, swap: bool, s: int, j: Judgment) -> dict:
        which = picked(j.verdict, swap)
        return {"pair_id": p.id, "subset": p.subset, "tie": p.tie,
                "order": "rejected_first" if swap else "chosen_first", "sample": s,
                "key": j.key, "verdict": j.verdict, "picked": which,
                **{f"verdict_{rule}": j.verdicts[rule] for rule in VERDICT_RULES},
                "correct": None if which is None else which == "chosen",
                "prompt_tokens": j.prompt_tokens, "completion_tokens": j.completion_tokens,
                "think_tokens": j.think_tokens, "cut_off": j.cut_off, "fit": j.fit, "budget": self._budget()}

    def _budget(self):
        return self.sampling.max_new_tokens


class Judge(_Judging):
    def __init__(self, backend: Backend, store: JudgmentStore, sampling: Sampling, *,
                 reasoning: bool | None = None, progress: bool = True, verdict_rule: str = "paper",
                 too_long: str = "skip", protocol: str = protocols.DEFAULT):
        # The prompt template and its verdict rules (rrmlib.protocols); rrm is the paper's.
        self.protocol = protocols.get(protocol)
        if verdict_rule not in VERDICT_RULES:
            raise ValueError(f"verdict_rule must be one of {VERDICT_RULES}, got {verdict_rule!r}")
        super().__init__(backend, store, sampling, progress=progress, too_long=too_long)
        self.verdict_rule = verdict_rule
        # A model whose template opens <think> must close it before its verdict counts. Where the
        # backend cannot tell (a server hides its template), guessing either way misreads some
        # judge: a draft box inside a cut-off thought, or every verdict of a plain judge.
        detected = backend.is_reasoning() if reasoning is None else reasoning
        if detected is None:  # the protocol may say (a prompt that asks for the verdict at once)
            detected = self.protocol.thinks
        if detected is None:
            raise ValueError(_reasoning_unknown(backend.name, backend.model_id))
        self.reasoning = bool(detected)

    @classmethod
    def from_params(cls, p: dict) -> "Judge | ScalarJudge":
        """The judge a notebook's checked parameters describe (backend, model, sampling, store):
        a ``ScalarJudge`` for ``backend="classifier"``, else a generative ``Judge``."""
        if p["backend"] == "classifier":  # a scalar reward model: scores, no prompt or sampling
            return ScalarJudge.from_params(p)
        protocol = check_params(p)
        sampling = Sampling(temperature=p["temperature"], top_p=p["top_p"], max_new_tokens=p["max_new_tokens"],
                            seed=p["seed"])
        store = JudgmentStore(p["store"])  # a store that cannot be used is refused before the model loads
        backend = make_backend(p["backend"], **backend_options(p))
        kill_point("model_load")  # the fault suite's hook (rrmlib.faults.kill_point); a no-op otherwise
        return cls(backend, store, sampling, reasoning=p["reasoning"], progress=p["progress"],
                   verdict_rule=p["verdict_rule"], too_long=p["too_long"], protocol=protocol)

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
        key = super().key(request)
        if self.protocol.name == protocols.DEFAULT:
            return key  # rrm's keys are the keys every store already holds
        # Another protocol's prompt differs anyway; its name in the key says so outright.
        return hashlib.sha256(json.dumps([key, {"protocol": self.protocol.name}]).encode()).hexdigest()

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
        """``(first, second, fit)``: the answers as shown, cut alike where the prompt would leave
        the judge less than ``room()`` tokens of the context (``fit_answers``)."""
        ctx = self.backend.context_length

        def size(a, b):
            return self.backend.count_prompt_tokens(
                self.backend.prompt_text(as_messages(self.protocol.messages(question, a, b))))

        (first, second), fit = fit_answers(self.backend, size, (first, second),
                                           None if ctx is None else ctx - self.room(), self.too_long)
        return first, second, fit

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
        self._count_fits(out)
        return out


def conversation(question: str, answer: str) -> list[dict]:
    """What a scalar reward model scores: the question as the user's turn, the answer as the assistant's."""
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


@dataclass
class Score:
    key: str | None  # the store key (None: not scored, too long)
    score: float | None
    tokens: int | None
    fit: str  # "whole", "shortened" (the answer cut to fit the context) or "too long" (not scored)


class ScalarJudge(_Judging):
    """A judge whose backend scores (``ClassifierBackend``): same ``judge``, ``judge_pairs`` and
    ``provenance`` as a generative ``Judge``, so the pairwise and best-of-N notebooks and
    ``bestofn.play`` take it as they take a generative judge; and every candidate's score, for a best-of-N pick of its own."""

    protocol, reasoning, verdict_rule = None, False, SCALAR_RULE
    EXTRA = {"score_chosen": "Float64", "score_rejected": "Float64"}

    def __init__(self, backend, store: JudgmentStore, *, progress: bool = True, too_long: str = "skip"):
        super().__init__(backend, store, SCORE_SAMPLING, progress=progress, too_long=too_long)

    @classmethod
    def from_params(cls, p: dict) -> "ScalarJudge":
        # Refused before the model loads: each would be silently meaningless for a scalar judge.
        if p.get("protocol", "rrm") != "rrm":
            raise ParameterError(f"protocol {p['protocol']!r} is a generative judge's prompt; a scalar reward model "
                                 "(backend 'classifier') has none: leave protocol unset")
        if p.get("votes", 1) != 1:
            raise ParameterError("a scalar reward model's score is deterministic: votes must be 1")
        if p.get("think_budgets") is not None:
            raise ParameterError("think_budgets: a scalar reward model does not think (backend 'classifier')")
        store = JudgmentStore(p["store"])
        backend = make_backend("classifier", **backend_options(p))
        kill_point("model_load")
        return cls(backend, store, progress=p["progress"], too_long=p["too_long"])

    def provenance(self) -> dict:
        return {"completions": dict(self.counts), "judge": self.backend.describe(), "judge_kind": "scalar",
                "reasoning": False, "verdict_rule": self.verdict_rule,
                "scores": "stored as completions: text repr(score), finish_reason 'score'",
                "too_long": {"policy": self.too_long, "context_length": self.backend.context_length,
                             "room": "the whole context (nothing is generated)", **self.fitting}}

    # -- scores -----------------------------------------------------------------------------
    def _tokens(self, question: str, answer: str) -> int:
        return self.backend.count_tokens(self.backend.prompt_text(as_messages(conversation(question, answer))))

    def fit_answer(self, question: str, answer: str) -> tuple[str, str]:
        """``(answer, fit)``: a conversation longer than the model's context is not scored
        (``too_long="skip"``) or its answer is cut to the longest prefix that fits
        (``"shorten"``). Each answer is scored alone, so each is cut on its own."""
        (answer,), fit = fit_answers(self.backend, lambda a: self._tokens(question, a), (answer,),
                                     self.backend.context_length, self.too_long)
        return answer, fit

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
        self._count_fits(out)
        return out

    def judge_pairs(self, pairs, *, order: str = "shuffle", votes: int = 1, seed: int = 0) -> pd.DataFrame:
        """As ``Judge.judge_pairs`` (``key`` holds the two scores' store keys, slot 1's first;
        no budget), with each answer's score: ``score_chosen``, ``score_rejected``."""
        if votes != 1:
            raise ValueError("a scalar reward model's score is deterministic: votes must be 1")
        return super().judge_pairs(pairs, order=order, votes=votes, seed=seed)

    def _extra(self, swap: bool, j: Judgment) -> dict:
        first, second = j.scores
        return {"score_chosen": second if swap else first, "score_rejected": first if swap else second}

    def _budget(self):
        return None  # a score has no budget

    # -- best-of-N --------------------------------------------------------------------------
    def score_candidates(self, sets, desc: str = "scoring candidates") -> pd.DataFrame:
        """One row per candidate: question, candidate, score (None: too long to score), fit, key."""
        sets = list(sets)
        index = [(s.id, i) for s in sets for i in range(len(s.candidates))]
        scored = self.scores([(s.prompt, c) for s in sets for c in s.candidates], desc)
        return scores_frame([{"question": q, "candidate": i, "score": r.score, "fit": r.fit, "key": r.key}
                             for (q, i), r in zip(index, scored)])


def pair_plan(pairs, *, order: str = "shuffle", votes: int = 1, seed: int = 0) -> list[tuple]:
    """Every judgment a pairwise run asks for: ``(pair, swapped, sample)``."""
    if votes < 1:
        raise ValueError(f"votes must be >= 1, got {votes}")
    return [(p, swap, s) for p in pairs for swap in shown_orders(order, seed, p.id) for s in range(votes)]


def showing(pair, swap: bool, sample: int) -> tuple[str, str, str, int]:
    """The judge's item for one showing of a pair: question, slot-1 answer, slot-2 answer, sample."""
    return (pair.prompt, pair.rejected if swap else pair.chosen, pair.chosen if swap else pair.rejected, sample)


def results_frame(rows: list[dict], extra: dict | None = None) -> pd.DataFrame:
    """Judgment rows with fixed dtypes (nullable where a value can be missing), so the parquet
    file has the same schema whatever the run's values; ``extra`` adds a judge's own columns
    (name: dtype), after the others."""
    rule_columns = [f"verdict_{rule}" for rule in VERDICT_RULES]
    extra = extra or {}
    df = pd.DataFrame(rows, columns=["pair_id", "subset", "tie", "order", "sample", "key", "verdict", "picked",
                                     "correct", "prompt_tokens", "completion_tokens", "think_tokens", "cut_off",
                                     "fit", "budget", *rule_columns, *extra])
    return df.astype({"pair_id": "string", "subset": "string", "tie": "bool", "order": "string",
                      "sample": "int64", "key": "string", "verdict": "Int64", "picked": "string",
                      "correct": "boolean", "prompt_tokens": "Int64", "completion_tokens": "Int64",
                      "think_tokens": "Int64", "cut_off": "bool", "fit": "string", "budget": "Int64",
                      **{c: "Int64" for c in rule_columns}, **extra})


def scores_frame(rows: list[dict]) -> pd.DataFrame:
    """Candidate scores with fixed dtypes (``scores.parquet``)."""
    return pd.DataFrame(rows, columns=["question", "candidate", "score", "fit", "key"]).astype(
        {"question": "string", "candidate": "int64", "score": "Float64", "fit": "string", "key": "string"})
