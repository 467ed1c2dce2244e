"""Judge protocols: a prompt template, its verdict rules, and whether the judge thinks.

A protocol turns a question and two answers (in the order shown) into chat messages, and reads
a completion back as a verdict: 1 or 2 for the slot the judge preferred, None for no verdict.
Every protocol has two rules under the names the ``verdict_rule`` parameter takes: ``paper``,
its reference reading (strict: the answer form it asks for, exactly), and ``lenient``. The
judge reads every completion by both and reports them side by side.

- ``rrm`` (the default): the RRM template and the original evaluation's reading
  (``rrmlib.prompts``), unchanged.
- ``rewardbench``: RewardBench's generative-judge prompt (MT-Bench's ``pair-v2``, without the
  tie option) and its reading, ``[[A]]`` or ``[[B]]``.
- ``plain``: a short "which answer is better" prompt for any chat model, answered with exactly
  ``Answer 1`` or ``Answer 2``.

Adding one is a function for the messages, one per rule, and an entry in ``PROTOCOLS``. User
text is concatenated, never passed through ``str.format``, so braces survive untouched.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rrmlib.prompts import VERDICT_RULES, parse_verdict, rrm_messages


@dataclass(frozen=True)
class Protocol:
    name: str
    messages: Callable[[str, str, str], list[dict]]  # (question, first shown, second shown) -> chat messages
    rules: dict  # rule name ("paper", "lenient") -> parse(completion, reasoning) -> 1, 2 or None
    # Whether a judge under this protocol thinks in <think> tags where the backend cannot tell
    # from the chat template (a server hides it); None: the run refuses to guess and asks for
    # `reasoning`. A template that opens <think> (hf, vllm) always decides, whatever this says.
    thinks: bool | None
    description: str = ""

    def parse(self, completion: str | None, reasoning: bool, rule: str = "paper") -> int | None:
        if completion is None:
            return None
        if rule not in self.rules:
            raise ValueError(f"protocol {self.name!r} has verdict rules {sorted(self.rules)}, got {rule!r}")
        return self.rules[rule](completion, reasoning)


def _answer_after_thought(completion: str, reasoning: bool, last: bool = False) -> str | None:
    """The answer a thinking judge gives: all after its first ``</think>`` (``last``: its last);
    None where the thought never closed, as when it was cut off. A judge that does not think
    answers in all of it."""
    if not reasoning:
        return completion
    end = completion.rfind("</think>") if last else completion.find("</think>")
    return None if end == -1 else completion[end + len("</think>"):]


# -- rrm: the paper's template and reading (rrmlib.prompts, the fixed contracts) ------------------

RRM = Protocol(
    "rrm", rrm_messages,
    {rule: (lambda c, r, rule=rule: parse_verdict(c, reasoning=r, rule=rule)) for rule in VERDICT_RULES},
    thinks=None,
    description="the RRM template; \\boxed{Assistant 1|2} after the thought (the original evaluation's reading)")


# -- rewardbench: RewardBench's generative-judge prompt -----------------------------------------
# Verbatim from allenai/reward-bench, rewardbench/generative.py (commit 0362d99): `prompt_v2` (the
# system prompt of MTBENCH_V2) and MTBENCH_V2["prompt_template"], read by `process_judgement`;
# the same text is in microsoft/LMOps at commit af6bc85, RRM-evaluation/rewardbench/generative.py,
# the RRM paper's evaluation. The original fills the template with str.format; here user text is
# concatenated instead (the same result, and braces in a question survive).

REWARDBENCH_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to the user question displayed below. "
    "You should choose the assistant that follows the user's instructions and answers the user's question better. Your evaluation should consider "
    "factors such as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of their responses. Begin your evaluation by "
    "comparing the two responses and provide a short explanation. Avoid any position biases and ensure that the order in which the responses were "
    "presented does not influence your decision. Do not allow the length of the responses to influence your evaluation. Do not favor certain names "
    "of the assistants. Be as objective as possible. After providing your explanation, output your final verdict by strictly following this format: "
    '"[[A]]" if assistant A is better, "[[B]]" if assistant B is better.'  # removed tie option as , and \"[[C]]\ " for a tie
)


def rewardbench_messages(question: str, first: str, second: str) -> list[dict]:
    """RewardBench's generative judge prompt (system prompt, then the user turn), as its
    ``format_judge_answers`` builds it for a single-turn pair: assistant A is shown first."""
    user = ("[User Question]\n" + question
            + "\n\n[The Start of Assistant A's Answer]\n" + first + "\n[The End of Assistant A's Answer]"
            + "\n\n[The Start of Assistant B's Answer]\n" + second + "\n[The End of Assistant B's Answer]")
    return [{"role": "system", "content": REWARDBENCH_SYSTEM}, {"role": "user", "content": user}]


def rewardbench_verdict(completion: str, reasoning: bool) -> int | None:
    """RewardBench's ``process_judgement`` (its default branch): ``[[A]]`` anywhere in the answer
    is A, else ``[[B]]`` anywhere is B, else no verdict; a thinking judge's answer is what
    follows its first ``</think>`` (none: no verdict)."""
    answer = _answer_after_thought(completion, reasoning)
    if answer is None:
        return None
    if "[[A]]" in answer:
        return 1
    if "[[B]]" in answer:
        return 2
    return None


_BRACKETED = re.compile(r"\[\[\s*([AB])\s*\]\]", re.IGNORECASE)


def rewardbench_lenient(completion: str, reasoning: bool) -> int | None:
    """The last ``[[A]]``/``[[B]]`` of the answer decides (case and inner spaces aside), so the
    format quoted in an explanation does not outvote the final verdict; after the last ``</think>``."""
    answer = _answer_after_thought(completion, reasoning, last=True)
    found = _BRACKETED.findall(answer) if answer is not None else []
    return None if not found else (1 if found[-1].upper() == "A" else 2)


REWARDBENCH = Protocol(
    "rewardbench", rewardbench_messages, {"paper": rewardbench_verdict, "lenient": rewardbench_lenient},
    thinks=False, description="RewardBench's generative prompt (MT-Bench pair-v2, no tie); [[A]] or [[B]]")


# -- plain: any chat model, one of two fixed answers ----------------------------------------------
# Written for this project: one user turn (some chat templates refuse a system message), the
# question and the two answers, and a request for exactly one of two answer forms.

PLAIN_INSTRUCTION = ('Which answer is better? Reply with exactly "Answer 1" if answer 1 is better, '
                     'or exactly "Answer 2" if answer 2 is better, and nothing else.')
PLAIN_FORMS = {"Answer 1": 1, "Answer 2": 2}


def plain_messages(question: str, first: str, second: str) -> list[dict]:
    user = ("Here is a question and two answers to it.\n\n# Question\n\n" + question
            + "\n\n# Answer 1\n\n" + first + "\n\n# Answer 2\n\n" + second + "\n\n" + PLAIN_INSTRUCTION)
    return [{"role": "user", "content": user}]


def plain_verdict(completion: str, reasoning: bool) -> int | None:
    """Strict, as the paper's rule: the answer (after the first ``</think>`` for a thinking judge;
    none: no verdict), with surrounding whitespace stripped, is exactly ``Answer 1`` or
    ``Answer 2``; anything else is no verdict."""
    answer = _answer_after_thought(completion, reasoning)
    return None if answer is None else PLAIN_FORMS.get(answer.strip())


_PLAIN_LENIENT = re.compile(r"(?:answer\s*)?([12])", re.IGNORECASE)


def plain_lenient(completion: str, reasoning: bool) -> int | None:
    """After the last ``</think>``; case aside, wrapped in quotes, backticks or markdown
    emphasis, a final period, or the bare number (``answer 2``, ``**Answer 1**.``, ``"2"``)."""
    answer = _answer_after_thought(completion, reasoning, last=True)
    if answer is None:
        return None
    m = _PLAIN_LENIENT.fullmatch(answer.strip().rstrip(".").strip().strip("*_`\"'").strip())
    return int(m.group(1)) if m else None


PLAIN = Protocol("plain", plain_messages, {"paper": plain_verdict, "lenient": plain_lenient}, thinks=False,
                 description='a plain "which answer is better" prompt; exactly "Answer 1" or "Answer 2"')


PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (RRM, REWARDBENCH, PLAIN)}
DEFAULT = "rrm"


def get(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise ValueError(f"unknown judge protocol {name!r}; choose one of {sorted(PROTOCOLS)}")
    return PROTOCOLS[name]
