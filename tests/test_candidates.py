"""Grading maths answers with math-verify."""
import json
import threading
from pathlib import Path

import pytest

from rrmlib.candidates import grade
from rrmlib.data.files import SHIPPED

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
COT = SHIPPED / "qwen25-math" / "math_cot_100.jsonl"  # byte-identical to ../shared/data's
MATH500 = SHARED / "math" / "math500.jsonl"


@pytest.mark.parametrize("solution,truth,ok", [
    ("So the product is about \\boxed{420}.", "420", True),
    ("Half of it: \\boxed{0.5}", "\\frac{1}{2}", True),
    ("\\boxed{\\dfrac{1}{2}}", "\\frac12", True),
    ("First \\boxed{3}, no wait: \\boxed{4}.", "4", True),     # the final box counts
    ("First \\boxed{4}, no wait: \\boxed{3}.", "4", False),
    ("The answer is 420.", "420", False),                      # no box, no final answer
    ("\\boxed{}", "420", False),
    ("\\boxed{x^2+2x+1}", "(x+1)^2", True),
    ("\\boxed{421}", "420", False),
])
def test_hand_cases(solution, truth, ok):
    assert grade(solution, truth) is ok


def test_ground_truth_may_be_a_full_solution():
    reference = "Since $2 \\cdot 3 = 6$, we have $\\boxed{6}$ apples; check: \\boxed{\\frac{12}{2}}."
    assert grade("\\boxed{6}", reference)
    assert not grade("\\boxed{5}", reference)


def test_unusable_ground_truth_is_an_error():
    with pytest.raises(ValueError):
        grade("\\boxed{1}", "see \\boxed{}")


def test_works_off_the_main_thread():
    # math-verify's signal-based timeout is only allowed in the main thread
    out = []
    t = threading.Thread(target=lambda: out.append(grade("\\boxed{\\frac{2}{4}}", "0.5")))
    t.start()
    t.join()
    assert out == [True]


@pytest.mark.skipif(not COT.exists(), reason=f"{COT} absent: Qwen's math_cot_100 lives in ../shared/data")
def test_agrees_with_qwens_labels_on_799_of_800():
    rows = [json.loads(line) for line in COT.read_text().splitlines()]
    disagree = [(r["idx"], k) for r in rows for k, (sol, label) in enumerate(zip(r["code"], r["score"]))
                if grade(sol, r["gt"]) != label]
    # the one difference: Qwen marks 10000 wrong against the ground truth 10{,}000
    assert disagree == [(72, 7)]
    assert rows[72]["gt"] == "10{,}000" and rows[72]["pred"][7] == "10000"


@pytest.mark.skipif(not MATH500.exists(), reason=f"{MATH500} absent: MATH-500 lives in ../shared/data")
def test_reference_solutions_grade_themselves():
    rows = [json.loads(line) for line in MATH500.read_text().splitlines()][:100]
    assert all(grade(r["answer"], r["answer"]) for r in rows)
