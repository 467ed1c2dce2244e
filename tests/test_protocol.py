"""What meta.json says about the paper's protocol: every choice that changes a number away from
the paper's is named (rrmlib.protocol)."""
from rrmlib.params import check
from rrmlib.protocol import describe


def test_the_defaults_of_a_named_judge_are_the_papers():
    d = describe("pairwise", check("pairwise", {"model": "org/RRM-7B", "reasoning": True}))
    assert d["paper"] is True and d["deviations"] == {}


def test_part_of_the_data_is_a_departure():
    for given in ({"limit": 10}, {"sample": 5}, {"subsets": "chat"}):
        d = describe("pairwise", check("pairwise", {"model": "org/RRM-7B", **given}))
        assert d["deviations"] == given and d["paper"] is False
    assert describe("knockout", check("knockout", {"model": "m", "limit": 3}))["deviations"] == {"limit": 3}


def test_reading_verdicts_without_a_thought_or_shortening_answers_is_named():
    d = describe("pairwise", check("pairwise", {"model": "m", "reasoning": False, "too_long": "shorten"}))
    assert d["deviations"] == {"reasoning": False, "too_long": "shorten"}


def test_a_replay_of_the_papers_records_runs_no_judge_and_tosses_no_coin():
    p = check("knockout", {"records": "/records", "records_model": "7b", "dataset": "mmlu-pro"})
    assert p["max_new_tokens"] == 128  # the embedded judge's budget, which the replay never uses
    d = describe("knockout", p)
    assert d["paper"] is True and d["deviations"] == {} and "unparseable_match_coin" not in d["always"]
    assert "unparseable_match_coin" in describe("knockout", check("knockout", {"model": "m"}))["always"]
