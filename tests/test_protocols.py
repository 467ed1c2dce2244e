"""Judge protocols (rrmlib.protocols): the templates verbatim, each verdict rule case by case, and
the judge under each protocol; rrm's store keys and readings unchanged."""
import pytest
from hypothesis import given, strategies as st
from test_prompts import VERDICT_CASES

from rrmlib import protocols
from rrmlib.backends import Sampling, make_backend
from rrmlib.backends.base import Completion, Request, as_messages
from rrmlib.data import load_pairs
from rrmlib.judge import Judge, pair_plan, showing
from rrmlib.params import ParameterError, check
from rrmlib.prompts import VERDICT_RULES, parse_verdict, rrm_messages
from rrmlib.paper import describe
from rrmlib.protocols import PROTOCOLS
from rrmlib.store import JudgmentStore, completion_key

SAMPLING = Sampling(temperature=0.6, max_new_tokens=6, seed=0)

# RewardBench's generative judge prompt (MTBENCH_V2: prompt_v2 and its template), typed out
# from allenai/reward-bench rewardbench/generative.py, independently of the module.
RB_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to "
    "the user question displayed below. You should choose the assistant that follows the user's instructions and "
    "answers the user's question better. Your evaluation should consider factors such as the helpfulness, relevance, "
    "accuracy, depth, creativity, and level of detail of their responses. Begin your evaluation by comparing the two "
    "responses and provide a short explanation. Avoid any position biases and ensure that the order in which the "
    "responses were presented does not influence your decision. Do not allow the length of the responses to "
    "influence your evaluation. Do not favor certain names of the assistants. Be as objective as possible. After "
    "providing your explanation, output your final verdict by strictly following this format: \"[[A]]\" if "
    "assistant A is better, \"[[B]]\" if assistant B is better."
)


def test_registry():
    assert set(PROTOCOLS) == {"rrm", "rewardbench", "plain"} and protocols.DEFAULT == "rrm"
    for p in PROTOCOLS.values():
        assert set(p.rules) == set(VERDICT_RULES)  # every protocol reads by a strict and a lenient rule
    assert PROTOCOLS["rrm"].thinks is None  # as before: detected, or asked for
    assert PROTOCOLS["rewardbench"].thinks is False and PROTOCOLS["plain"].thinks is False
    with pytest.raises(ValueError, match="unknown judge protocol"):
        protocols.get("arena")


def test_rrm_protocol_is_the_papers_template_and_reading():
    rrm = PROTOCOLS["rrm"]
    assert rrm.messages("Q?", "a", "b") == rrm_messages("Q?", "a", "b")
    for completion, reasoning, paper, lenient in VERDICT_CASES:
        assert rrm.parse(completion, reasoning, "paper") == parse_verdict(completion, reasoning=reasoning) == paper
        assert rrm.parse(completion, reasoning, "lenient") == lenient


def test_rewardbench_template_verbatim():
    msgs = PROTOCOLS["rewardbench"].messages("Q?", "A one", "A two")
    assert msgs == [
        {"role": "system", "content": RB_SYSTEM},
        {"role": "user", "content": "[User Question]\nQ?\n\n[The Start of Assistant A's Answer]\nA one\n"
                                    "[The End of Assistant A's Answer]\n\n[The Start of Assistant B's Answer]\nA two\n"
                                    "[The End of Assistant B's Answer]"},
    ]


def test_plain_template():
    msgs = PROTOCOLS["plain"].messages("Q?", "A one", "A two")
    assert msgs == [{"role": "user", "content": (
        "Here is a question and two answers to it.\n\n# Question\n\nQ?\n\n# Answer 1\n\nA one\n\n# Answer 2\n\nA two\n\n"
        "Which answer is better? Reply with exactly \"Answer 1\" if answer 1 is better, or exactly \"Answer 2\" if "
        "answer 2 is better, and nothing else.")}]


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
@given(q=st.text(), a=st.text(), b=st.text())
def test_user_text_survives_untouched(name, q, a, b):
    user = PROTOCOLS[name].messages(q, a, b)[-1]["content"]
    assert q in user and a in user and b in user


def test_braces_survive():
    q = "Evaluate {x} and {{y}} and {0} and {question}"
    for p in PROTOCOLS.values():
        user = p.messages(q, "{answer_a}", "%s {name}")[-1]["content"]
        assert q in user and "{answer_a}" in user and "%s {name}" in user


# RewardBench's rule, case by case, worked out by hand. `paper` is its process_judgement: "[[A]]"
# anywhere in the answer is A, else "[[B]]" anywhere is B, else no verdict (so a quoted "[[A]]" wins
# over a final "[[B]]"); a thinking judge's answer is everything after its first </think>, none
# without one. `lenient`: after the last </think>, the last [[A]]/[[B]] decides, case and spaces
# inside the brackets aside.
REWARDBENCH_CASES = [
    # (completion, reasoning, paper, lenient)
    ("The first is better.\n\n[[A]]", False, 1, 1),
    ("B covers the edge case.\n[[B]]", False, 2, 2),
    ('I answer "[[A]]" if A is better. Final verdict: [[B]]', False, 1, 2),   # the original: A anywhere wins
    ("[[A]][[B]]", False, 1, 2),
    ("[[B]] ... on reflection, [[A]]", False, 1, 1),
    ("[[C]]", False, None, None),                                              # the tie option removed
    ("[A]", False, None, None),                                                # single brackets
    ("[[a]]", False, None, 1),                                                 # case
    ("[[ B ]]", False, None, 2),                                               # spaces
    ("Assistant A is better.", False, None, None),
    ("", False, None, None),
    ("a draft [[B]]</think>My verdict: [[A]]", True, 1, 1),                    # a draft in the thought
    ("a draft [[B]]</think>My verdict: [[B]]", True, 2, 2),
    ("still thinking [[A]]", True, None, None),                                # the thought never closed
    ("t</think>[[A]]</think>[[B]]", True, 1, 2),                               # after the first vs the last
    ("t</think>", True, None, None),
    ("t</think>[[B]]", False, 2, 2),                                           # not a thinking judge: all of it
]


@pytest.mark.parametrize("completion,reasoning,paper,lenient", REWARDBENCH_CASES)
def test_rewardbench_verdict_rule(completion, reasoning, paper, lenient):
    rb = PROTOCOLS["rewardbench"]
    assert rb.parse(completion, reasoning, "paper") == paper
    assert rb.parse(completion, reasoning, "lenient") == lenient


# The plain prompt's rule, case by case, worked out by hand. `paper` (strict, as the paper's): the
# answer (after the first </think> for a thinking judge; none without one), surrounding whitespace
# aside, is exactly "Answer 1" or "Answer 2". `lenient`: after the last </think>; case, quotes,
# backticks, markdown emphasis, a final period, the bare number.
PLAIN_CASES = [
    # (completion, reasoning, paper, lenient)
    ("Answer 1", False, 1, 1),
    ("Answer 2", False, 2, 2),
    ("  Answer 2\n", False, 2, 2),
    ("answer 1", False, None, 1),
    ("Answer 1.", False, None, 1),
    ("**Answer 2**", False, None, 2),
    ('"Answer 1"', False, None, 1),
    ("`Answer 2`", False, None, 2),
    ("2", False, None, 2),
    ("Answer  1", False, None, 1),
    ("Answer 3", False, None, None),
    ("Answer 1 is better", False, None, None),
    ("I think Answer 2", False, None, None),
    ("Answer 1\nAnswer 2", False, None, None),
    ("Answer 12", False, None, None),
    ("", False, None, None),
    ("hmm</think>Answer 2", True, 2, 2),
    ("hmm</think>\n\nAnswer 1\n", True, 1, 1),
    ("Answer 1", True, None, None),                                            # a thinking judge's thought never closed
    ("a</think>b</think>Answer 1", True, None, 1),                             # after the first vs the last
    ("Answer 1</think>Answer 2", False, None, None),                           # not a thinking judge: all of it
]


@pytest.mark.parametrize("completion,reasoning,paper,lenient", PLAIN_CASES)
def test_plain_verdict_rule(completion, reasoning, paper, lenient):
    plain = PROTOCOLS["plain"]
    assert plain.parse(completion, reasoning, "paper") == paper
    assert plain.parse(completion, reasoning, "lenient") == lenient


def test_parse_refuses_unknown_rule_and_reads_none_as_no_verdict():
    assert PROTOCOLS["plain"].parse(None, False) is None
    with pytest.raises(ValueError, match="verdict rules"):
        PROTOCOLS["plain"].parse("Answer 1", False, "strictest")


# --- the judge under each protocol ------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_backend(tiny_model_dir):
    return make_backend("hf", model=str(tiny_model_dir), batch_size=4)


def todays_key(backend, messages, sampling, sample):
    """The key an rrm judgment had before protocols existed (store.completion_key of the rendered prompt)."""
    return completion_key(backend.model_id, backend.revision, backend.prompt_text(as_messages(messages)),
                          sampling.as_dict(), sample, backend=backend.name, numerics=backend.numerics)


def test_rrm_keys_are_unchanged_and_an_existing_store_still_hits(tmp_path, tiny_backend):
    pairs = load_pairs("demo")[:4]
    store = JudgmentStore(tmp_path / "s.sqlite")
    plan = pair_plan(pairs, order="both", seed=0)
    # A store as an earlier version wrote it: rows under today's keys, nothing of protocols.
    rows = [(todays_key(tiny_backend, rrm_messages(*showing(p, swap, s)[:3]), SAMPLING, s),
             {"backend": "hf", "model": tiny_backend.model_id, "revision": tiny_backend.revision, "prompt": "",
              "sampling": SAMPLING.as_dict(), "sample": s}, Completion("x</think>\\boxed{Assistant 1}", 9, 3, "stop"))
            for p, swap, s in plan]
    store.put_many(rows)
    for judge in (Judge(tiny_backend, store, SAMPLING, reasoning=True, progress=False),
                  Judge(tiny_backend, store, SAMPLING, reasoning=True, progress=False, protocol="rrm")):
        res = judge.judge_pairs(pairs, order="both", seed=0)
        assert judge.counts == {"generated": 0, "reused": 8}
        assert res["key"].tolist() == [k for k, _, _ in rows] and res["verdict"].eq(1).all()
        assert judge.provenance()["judge_protocol"] == "rrm"


def test_other_protocols_key_by_their_name_and_read_by_their_rule(tmp_path, tiny_backend):
    store = JudgmentStore(tmp_path / "s.sqlite")
    pairs = load_pairs("demo")[:3]
    plan = pair_plan(pairs, order="both", seed=0)
    texts = {"rewardbench": ('Format: "[[A]]" or "[[B]]". Final verdict: [[B]]', 1, 2),
             "plain": ("Answer 2", 2, 2)}
    keys = {}
    for name, (text, paper, lenient) in texts.items():
        judge = Judge(tiny_backend, store, SAMPLING, progress=False, protocol=name)
        assert judge.reasoning is False  # the tiny model's template opens no <think>
        req = judge.request("q", "a", "b")
        assert req.messages == as_messages(PROTOCOLS[name].messages("q", "a", "b"))
        keys[name] = judge.key(req)
        assert keys[name] != todays_key(tiny_backend, PROTOCOLS[name].messages("q", "a", "b"), SAMPLING, 0)
        judge.remember([(judge.request(*showing(p, swap, s)), Completion(text, 9, 3, "stop")) for p, swap, s in plan])
        res = judge.judge_pairs(pairs, order="both", seed=0)
        assert judge.counts == {"generated": 0, "reused": 6}
        assert res["verdict_paper"].eq(paper).all() and res["verdict_lenient"].eq(lenient).all()
        assert res["verdict"].eq(paper).all()
        assert judge.provenance()["judge_protocol"] == name
    assert len(set(keys.values())) == 2


def test_protocol_says_whether_the_judge_thinks_where_the_backend_cannot(tmp_path):
    server = make_backend("openai", model="m", base_url="http://127.0.0.1:9/v1")  # never contacted
    store = JudgmentStore(tmp_path / "s.sqlite")
    assert Judge(server, store, SAMPLING, protocol="plain").reasoning is False
    assert Judge(server, store, SAMPLING, protocol="rewardbench").reasoning is False
    assert Judge(server, store, SAMPLING, protocol="plain", reasoning=True).reasoning is True
    with pytest.raises(ValueError, match="cannot tell"):
        Judge(server, store, SAMPLING)  # rrm: as before, no guess


def test_thinking_template_decides_over_the_protocol(tmp_path, thinking_model_dir):
    backend = make_backend("hf", model=str(thinking_model_dir))
    assert Judge(backend, JudgmentStore(tmp_path / "s.sqlite"), SAMPLING, protocol="plain").reasoning is True


def test_protocol_parameter_and_its_record():
    assert check("pairwise", {})["protocol"] == "rrm"
    for notebook in ("pairwise", "elo_rival", "knockout"):
        named = {"model": "org/judge"}  # a named judge runs on the paper's budget
        assert describe(notebook, check(notebook, named))["deviations"] == {}
        assert describe(notebook, check(notebook, {**named, "protocol": "plain"}))["deviations"] == {"protocol": "plain"}
    with pytest.raises(ParameterError, match="must be one of"):
        check("pairwise", {"protocol": "arena"})
    with pytest.raises(ParameterError, match="rrm protocol only"):
        Judge.from_params(check("pairwise", {"protocol": "rewardbench", "think_budgets": "4,8", "model": "x/y"}))
    with pytest.raises(ParameterError, match="too_long shorten"):
        Judge.from_params(check("pairwise", {"too_long": "shorten", "think_budgets": "4,8", "model": "x/y"}))


def test_unchanged_request_for_rrm(tiny_backend, tmp_path):
    judge = Judge(tiny_backend, JudgmentStore(tmp_path / "s.sqlite"), SAMPLING, progress=False)
    assert judge.request("q", "a", "b", 1) == Request(as_messages(rrm_messages("q", "a", "b")), SAMPLING, 1)


@pytest.mark.slow
def test_pairwise_notebook_under_another_protocol(tmp_path, tiny_model_dir):
    """The store filled beforehand with known answers under the plain protocol's keys: the
    notebook reuses them all and reads them by the plain rules."""
    import json

    import pandas as pd
    import papermill

    from rrmlib.cli import notebook_source

    pairs = load_pairs("demo")[:4]
    store = JudgmentStore(tmp_path / "j.sqlite")
    judge = Judge(make_backend("hf", model=str(tiny_model_dir)), store,
                  Sampling(temperature=0.6, top_p=1.0, max_new_tokens=4, seed=0), protocol="plain", progress=False)
    answers = ["Answer 1", "answer 2", "Answer 2", "I cannot say"]
    plan = pair_plan(pairs, order="shuffle", seed=0)
    judge.remember([(judge.request(*showing(p, swap, s)), Completion(text, 9, 3, "stop"))
                    for (p, swap, s), text in zip(plan, answers)])
    out = tmp_path / "plain"
    out.mkdir()
    papermill.execute_notebook(notebook_source("pairwise"), str(out / "pairwise.ipynb"), kernel_name="python3",
                               parameters=dict(out_dir=str(out), model=str(tiny_model_dir), limit=4, max_new_tokens=4,
                                               protocol="plain", store=str(tmp_path / "j.sqlite")),
                               cwd=str(tmp_path), progress_bar=False)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["judge_protocol"] == "plain" and meta["protocol"]["deviations"]["protocol"] == "plain"
    assert meta["protocol"]["paper"] is False and meta["completions"] == {"generated": 0, "reused": 4}
    res = pd.read_parquet(out / "results.parquet")
    assert res["pair_id"].tolist() == [p.id for p in pairs]
    assert res["verdict_paper"].tolist() == [1, pd.NA, 2, pd.NA]
    assert res["verdict_lenient"].tolist() == [1, 2, 2, pd.NA]
    assert res["verdict"].equals(res["verdict_paper"])
    assert set(json.loads((out / "metrics.json").read_text())["verdict_rules"]) == {"paper", "lenient"}
