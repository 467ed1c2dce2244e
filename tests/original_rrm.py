"""The original RRM evaluation's own code (microsoft/LMOps PR 324, RRM-evaluation/scripts/),
transcribed as it is (paths aside), as an independent reference for the tests: what the paper's
protocol does is what this code does, whatever rrmlib does."""
import json
import random
from collections import defaultdict

from evalica import Winner, elo


def original_picks(path) -> dict:
    """elo_accuracy_results.py, as it is (paths aside)."""
    random.seed(0)

    def load_all_match_details(match_files):
        details_by_question = defaultdict(list)
        for p in match_files:
            with open(p, "r") as f:
                match_data = json.load(f)
            for group in match_data.values():
                for d in group["details"]:
                    details_by_question[d["question_id"]].append(d)
        return details_by_question

    def calculate_elo_by_question(details_by_question):
        qid_top_model = {}
        for qid, matches in details_by_question.items():
            random.shuffle(matches)
            if not matches:
                continue
            rivals_1, rivals_2, outcomes = [], [], []
            for m in matches:
                rivals_1.append(str(m["rival_1"]))
                rivals_2.append(str(m["rival_2"]))
                winner = m["winner"]
                if winner == m["rival_1"]:
                    outcomes.append(Winner.X)
                elif winner == m["rival_2"]:
                    outcomes.append(Winner.Y)
                else:
                    outcomes.append(Winner.Draw)
            result = elo(rivals_1, rivals_2, outcomes)
            qid_top_model[qid] = int(result.scores.idxmax())
        return qid_top_model

    return calculate_elo_by_question(load_all_match_details([path]))


def original_verdict(answer: str):
    """The original evaluation's reading, transcribed from RRM-evaluation/scripts/run_generative.py
    (last_boxed_only_string, remove_boxed, extract_answer, then process_judgement for the
    "Skywork" modifier), as an independent reference for generated texts."""
    def last_boxed_only_string(string):
        idx = string.rfind("\\boxed")
        if idx < 0:
            idx = string.rfind("\\fbox")
            if idx < 0:
                return None
        i, right, depth = idx, None, 0
        while i < len(string):
            if string[i] == "{":
                depth += 1
            if string[i] == "}":
                depth -= 1
                if depth == 0:
                    right = i
                    break
            i += 1
        return None if right is None else string[idx:right + 1]

    def remove_boxed(s):
        left = "\\boxed{"
        try:
            assert s[:len(left)] == left
            assert s[-1] == "}"
            return s[len(left):-1]
        except Exception:
            return None

    answer = "<think>" + answer
    if "<think>" in answer and "</think>" in answer:
        solution = answer.split("</think>")[1]
        model_answer = remove_boxed(last_boxed_only_string(solution)) if "\\boxed" in solution else None
    else:
        model_answer = 3
    return {"Assistant 1": 1, "Assistant 2": 2}.get(model_answer) if isinstance(model_answer, str) else None


def original_elo_rival_record(line: str, file_rival_1: int, file_rival_2: int, coin=lambda line: hash(line) % 2 == 0):
    """The body of elo_rival_results.py's loop over a judgment file's lines, as it is: the file
    name's rivals passed in, and its coin (``hash(line) % 2 == 0``, salted per process) a
    parameter, so that a test can tell a verdict from a coin (a coin's winner follows it)."""
    rival_1, rival_2 = file_rival_1, file_rival_2
    data = json.loads(line)
    question_id = data.get("idx")
    is_shuffle = data.get("is_shuffle")
    if is_shuffle:
        rival_1, rival_2 = rival_2, rival_1
    pred = data.get("pred", [""])[0]
    score = data.get("score", [None])[0]

    if pred == "Assistant1":
        winner = rival_1
    elif pred == "Assistant2":
        winner = rival_2
    else:
        winner = rival_1 if coin(line) else rival_2
    return {"question_id": question_id, "rival_1": rival_1, "rival_2": rival_2, "winner": winner, "pred": pred,
            "score": score}
