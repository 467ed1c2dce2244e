"""Grading a candidate solution against a maths ground truth (math-verify).

Equality is mathematical, not textual: ``\\frac{1}{2}`` equals ``0.5``, ``10{,}000`` equals
``10000``. On Qwen's math_cot_100 (100 MATH problems × 8 samples) this agrees with Qwen's own
labels on 799 of 800; the one difference is Qwen marking ``10000`` wrong against ``10{,}000``.
"""
from __future__ import annotations

import threading

from math_verify import parse, verify

from rrmlib.prompts import boxed_contents


def _timeout() -> int | None:
    # math-verify times out with signal.alarm, which only the main thread may use; elsewhere
    # (a thread pool grading in parallel) it must run without a timeout or it raises.
    return 5 if threading.current_thread() is threading.main_thread() else None


def final_answer(text: str) -> str | None:
    """The body of the last ``\\boxed{}`` in ``text``, or None."""
    boxes = boxed_contents(text)
    return boxes[-1] if boxes else None


def grade(solution: str, ground_truth: str) -> bool:
    """Whether ``solution``'s final ``\\boxed{}`` answer equals ``ground_truth`` mathematically.

    ``ground_truth`` is a bare answer (``420``, ``\\frac{1}{2}``) or a full reference solution,
    whose last ``\\boxed{}`` holds the answer. A solution without a box has no final answer and
    is graded wrong.
    """
    answer = final_answer(solution)
    if answer is None or not answer.strip():
        return False
    truth = final_answer(ground_truth) if "\\boxed" in ground_truth else ground_truth
    if truth is None or not truth.strip():
        raise ValueError(f"no answer in the ground truth {ground_truth[:80]!r}")
    timeout = _timeout()
    gold = parse(f"${truth}$", parsing_timeout=timeout)
    if not gold:
        raise ValueError(f"math-verify cannot parse the ground truth {truth!r}")
    return bool(verify(gold, parse(f"${answer}$", parsing_timeout=timeout), timeout_seconds=timeout))
