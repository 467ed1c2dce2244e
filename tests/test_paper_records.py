"""The paper's own match records, read as the original read them (issue 20, item 9).

Knockout: the RRM knockout records (``../shared/data/rrm/knockout-mmlu-pro``), counted here with
plain ``json``, independently of rrmlib's parser; docs/reproducing-the-paper.md's sentence about them is checked
against the counts. ELO: the reading of RRM-evaluation/scripts/elo_rival_results.py
(transcribed in original_rrm.py) beside rrmlib's, on crafted records and texts.
"""
import json
import re
from pathlib import Path

import pytest
from original_qwen_math import math_eval_pred
from original_rrm import original_elo_rival_record, original_verdict

from rrmlib import bestofn
from rrmlib.prompts import parse_verdict
from rrmlib.data.rrm_records import load_elo_merged_results, load_rrm_bracket, load_rrm_knockout_records
from rrmlib.tournament import Knockout, replay

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
RECORDS = SHARED_DATA / "rrm" / "knockout-mmlu-pro"
ROUNDS = ("first", "second", "third", "fourth", "fifth")


def records_folder() -> Path:
    if not RECORDS.exists():
        pytest.skip(f"needs the RRM knockout records at {RECORDS} (absent in a fresh clone)")
    return RECORDS


def entries(folder):
    """Every recorded entry as (model, round, slot, entry dict), in file order."""
    for model in ("7b", "32b"):
        for k, name in enumerate(ROUNDS, 1):
            data = json.loads((folder / f"{model}_tournament_{name}_round_voting_results.json").read_text())
            for slot, listed in data.items():
                for e in listed:
                    yield model, k, slot, e


def readme_knockout_bullet() -> str:
    readme = (ROOT / "docs" / "reproducing-the-paper.md").read_text()
    start = readme.index("- **Knockout.**")
    return " ".join(readme[start:readme.index("\n- **", start + 1)].split())


# --- knockout --------------------------------------------------------------------------------

def test_the_readme_counts_the_knockout_verdicts_as_the_records_hold_them():
    everything = list(entries(records_folder()))
    spelled = [e for _, _, _, e in everything if e["pred"] in ("Assistant 1", "Assistant 2")]
    others = [(m, k, s, e) for m, k, s, e in everything if e["pred"] not in ("Assistant 1", "Assistant 2")]
    # Each spelled verdict names its winner: rival_1 exactly when it reads "Assistant 1".
    assert all((e["winner"] == e["rival_1"]) == (e["pred"] == "Assistant 1") for e in spelled)
    assert all(e["winner"] == (e["rival_1"] if e["pred"] == "Assistant 1" else e["rival_2"]) for e in spelled)
    # The rest: two matches of RRM-7B's question 317 in round 1, each listed twice.
    found = sorted((m, k, e["question_id"], e["rival_1"], e["rival_2"], e["winner"], e["pred"]) for m, k, _, e in others)
    assert found == [("7b", 1, 317, 15, 16, 15, "B")] * 2 + [("7b", 1, 317, 29, 20, 20, "I")] * 2

    # The README says so, with these numbers (it once said "in all 63,488 ... exactly when").
    bullet = readme_knockout_bullet()
    numbers = [int(n.replace(",", "")) for n in re.findall(r"\b\d{1,3}(?:,\d{3})+\b", bullet)]
    assert numbers[:2] == [len(everything), len(spelled)] == [63_488, 63_484]
    assert f"The other {len(others)} are" in bullet and "question 317" in bullet and "in all 63,488" not in bullet
    assert "`B`" in bullet and "`I`" in bullet and "15 over 16" in bullet and "20 over 29" in bullet


def test_a_replay_takes_the_coins_winners_and_counts_them_unparseable():
    folder = records_folder()
    round_two = json.loads((folder / "7b_tournament_second_round_voting_results.json").read_text())
    went_on = {x for e in round_two["0"] + round_two["6"] if e["question_id"] == 317
               for x in (e["rival_1"], e["rival_2"])}
    assert {15, 20} <= went_on  # the original's round 2 plays the coins' picks

    bracket = load_rrm_bracket(folder)
    records, undecided = load_rrm_knockout_records(folder, "7b", undecided=True)
    assert undecided == {317: {(15, 16): "B", (29, 20): "I"}}
    assert load_rrm_knockout_records(folder, "32b", undecided=True)[1] == {}
    assert load_rrm_knockout_records(folder, "7b") == records  # the default answer is unchanged

    questions = [316, 317]
    tournaments = {str(q): Knockout(bracket) for q in questions}
    driver = replay(tournaments, {str(q): records[q] for q in questions}, {"317": undecided[317]})
    assert sorted((u.tournament, u.match.a, u.match.b, u.winner, u.policy) for u in driver.undecided) == \
        [("317", 15, 16, 15, "coin"), ("317", 29, 20, 20, "coin")]
    judgments = bestofn.replay_judgments(tournaments, driver)
    matches = bestofn.matches_table(tournaments, driver, judgments, format="knockout")
    no_verdict = judgments[judgments["verdict"].isna()]
    assert sorted(zip(no_verdict["question"], no_verdict["a"], no_verdict["b"], no_verdict["winner"])) == \
        [("317", 15, 16, 15), ("317", 29, 20, 20)]
    assert matches["coin"].sum() == 2 and set(matches[matches["coin"]]["question"]) == {"317"}
    assert bestofn.judgment_metrics(judgments, matches, driver, 2)["unparseable"] == 2 / 62
    # Every other match keeps the verdict its recorded winner implies.
    rest = judgments[judgments["verdict"].notna()]
    assert ((rest["verdict"] == 1) == (rest["winner"] == rest["a"])).all() and len(rest) == 60


# --- ELO: elo_rival_results.py's reading -------------------------------------------------------

PREDS = ["Assistant1", "Assistant2", "Assistant 1", "Assistant 2", "assistant1", "Assistant1 ", " Assistant2",
         "\\text{Assistant1}", "1", "2", "B", "", "Assistant12"]


def original_reading(pred: str):
    """1 or 2 where elo_rival_results.py reads a verdict, None where its coin decides: a coin's
    winner follows the coin, a verdict's does not."""
    line = json.dumps({"idx": 0, "is_shuffle": False, "pred": [pred], "score": [False]})
    heads, tails = (original_elo_rival_record(line, 4, 7, coin=lambda _, c=c: c)["winner"] for c in (True, False))
    return None if heads != tails else {4: 1, 7: 2}[heads]


def test_elo_rival_results_reads_only_the_unspaced_verdicts():
    assert {p: original_reading(p) for p in PREDS if original_reading(p)} == {"Assistant1": 1, "Assistant2": 2}
    # So what run_generative.py's reading yields for a clear verdict would be a coin there.
    assert original_verdict("a</think>\\boxed{Assistant 1}") == 1 and original_reading("Assistant 1") is None


def test_the_papers_merged_results_flag_the_matches_its_coin_decided(tmp_path):
    from rrmlib.data.rrm_records import elo_coins

    # A merged file as elo_rival_results.py writes it: one record per (crafted) judgment line.
    lines = [json.dumps({"idx": q, "is_shuffle": q % 3 == 0, "pred": [p], "score": [None]})
             for q, p in enumerate(PREDS)]
    details = [original_elo_rival_record(line, 0, 1) for line in lines]
    path = tmp_path / "7b_merged_results.json"
    path.write_text(json.dumps({"0": {"details": details}}))

    want = [original_reading(p) is None for p in PREDS]
    assert elo_coins(load_elo_merged_results(path)).tolist() == want
    matches = bestofn.read_matches(path)  # elo_accuracy's reader
    assert matches["coin"].tolist() == want
    assert matches["winner"].tolist() == [d["winner"] for d in details]  # the winners as recorded, coins' too
    # A draw (winner -1, which elo_rival_results.py never writes) is no coin's pick.
    path.write_text(json.dumps({"0": {"details": [{**details[0], "winner": -1, "pred": ""}]}}))
    assert bestofn.read_matches(path)["coin"].tolist() == [False]


# What produced the `pred` that elo_rival_results.py compared is not in the PR; by its files it is
# Qwen2.5-Math's math_eval.py (original_qwen_math.py). That reading, then elo_rival_results.py's,
# beside the paper's rule (run_generative.py's, rrmlib's default for every notebook): where they
# differ is what README's "What still differs" states. Expectations worked out by hand.
TEXTS = {
    # text: (inferred ELO reading, the paper's rule)
    "I compare them.</think>\n\n\\boxed{Assistant 1}": (1, 1),
    "I compare them.</think>\n\n\\boxed{Assistant 2}": (2, 2),
    "cut off while still thinking": (None, None),
    "</think>\\boxed{assistant 1}": (None, None),                 # case: neither
    "</think>\\boxed{Assistant1}": (1, None),                     # no space
    "</think>\\boxed{\\text{Assistant 2}}": (2, None),            # \text{}
    "</think>\\boxed{Assistant 1.}": (1, None),                   # a final period
    "</think>\\boxed{ Assistant 2 }": (2, None),                  # padding
    "</think>\\boxed Assistant 1": (1, None),                     # no braces
    "</think>\\boxed{Assistant 2": (2, None),                     # never closed
    "still thinking: \\boxed{Assistant 2} is my guess": (2, None),  # a thought that never closed
    "x</think>\\boxed{Assistant 1}</think>\\boxed{Assistant 2}": (2, 1),  # after a second </think>
    "x</think>The answer is Assistant 1.": (1, None),            # no box: "he answer is" decides
    "x</think>Assistant 2 is better.": (None, None),             # no box: the last number, "2"
}


@pytest.mark.parametrize("text", list(TEXTS))
def test_the_inferred_elo_reading_beside_the_papers_rule(text):
    elo, paper = TEXTS[text]
    # The judge's text as math_eval.py saw it: the prompt ends with "<think>\n", the text follows.
    assert original_reading(math_eval_pred(text)) == elo
    assert parse_verdict(text, reasoning=True, rule="paper") == paper == original_verdict(text)
