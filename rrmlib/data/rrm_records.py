"""The original RRM evaluation's own records (microsoft/LMOps, pull request 324, ``RRM-evaluation/``):
its knockout bracket and each round's voting results, and its merged ELO results. Each reader
checks what it reads, every defect a DataError naming the file, the entry and the field; the
tournaments replay them (``rrmlib.tournament.replay``), the ratings rate them.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd

from rrmlib.data.files import field, field_name, read_json, shown
from rrmlib.data.records import DataError

ROUND_NAMES = ("first", "second", "third", "fourth", "fifth")

# The verdicts each kind of record spells. A record whose ``pred`` is neither was decided without
# a verdict, by the original's coin: its ``winner`` is that coin's pick.
# Knockout rounds: spelled as run_generative.py's reading spells them (``\boxed{Assistant 1}``'s
# body). Their writer is not in the PR; each of the 63,484 entries that spells a verdict has the
# winner it names, and the 4 that do not (RRM-7B, question 317, round 1: "B" and "I") have one
# of each rival, as a coin gives (tests/test_paper_records.py).
KNOCKOUT_VERDICTS = {"Assistant 1": 1, "Assistant 2": 2}
# Merged ELO results: RRM-evaluation/scripts/elo_rival_results.py compares, without a space,
# ``if pred == "Assistant1": winner = rival_1 elif pred == "Assistant2": winner = rival_2 else:
# winner = rival_1 if hash(line) % 2 == 0 else rival_2``.
ELO_VERDICTS = {"Assistant1": 1, "Assistant2": 2}


def elo_coins(merged: pd.DataFrame) -> pd.Series:
    """Which matches of ``load_elo_merged_results`` the original's coin decided: a winner, but a
    ``pred`` that elo_rival_results.py does not read as a verdict (``ELO_VERDICTS``)."""
    return ~merged["pred"].isin(list(ELO_VERDICTS)) & merged["winner"].notna()


def load_rrm_bracket(folder) -> list[int]:
    """The knockout bracket of ``tournament.json``: round 1's pairs flattened, in order.

    ``round_1`` lists [a, b] pairs of distinct entrants 0..n-1; ``round_k`` lists the groups
    whose winners meet in round k, each two adjacent groups of round k-1 joined; anything else
    in the file is a DataError naming it.
    """

    path = Path(folder) / "tournament.json"
    data = read_json(path, lambda parts: (None, field_name(parts)))
    if not isinstance(data, dict):
        raise DataError(path, None, None, f"expected an object with a list 'round_1' of [a, b] pairs, "
                        f"got {type(data).__name__}")
    first = field(path, None, data, "round_1", list)
    n = 2 * len(first)
    placed: dict[int, int] = {}
    for s, pair in enumerate(first):
        where = f"pair {s}"
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(e, int) and not isinstance(e, bool) for e in pair)):
            raise DataError(path, where, "round_1", f"expected [a, b], two response indices, got {shown(pair)}")
        for e in pair:
            if not 0 <= e < n:
                raise DataError(path, where, "round_1", f"entrant {e} out of range: {len(first)} pairs hold 0..{n - 1}")
            if e in placed:
                raise DataError(path, where, "round_1", f"entrant {e} is already in pair {placed[e]}")
            placed[e] = s
    groups, k = [list(p) for p in first], 1
    while len(groups) > 1:
        k += 1
        name = f"round_{k}"
        groups = [groups[g] + groups[g + 1] if g + 1 < len(groups) else groups[g] for g in range(0, len(groups), 2)]
        got = data.get(name)
        if got is None:
            raise DataError(path, None, name, f"missing: expected the {len(groups)} groups of round_{k - 1} joined in twos")
        if not isinstance(got, list) or len(got) != len(groups):
            raise DataError(path, None, name, f"expected {len(groups)} groups (round_{k - 1}'s joined in twos), "
                            f"got {shown(got)}")
        for g, (want, group) in enumerate(zip(groups, got)):
            if (not isinstance(group, list) or len(group) != len(want)
                    or any(not isinstance(e, int) or isinstance(e, bool) or e != w for e, w in zip(group, want))):
                raise DataError(path, f"group {g}", name, f"expected {shown(want, 120)} (groups {2 * g} and "
                                f"{2 * g + 1} of round_{k - 1} joined), got {shown(group, 120)}")
    for key in data:
        if not (key.startswith("round_") and key[6:].isdigit() and 1 <= int(key[6:]) <= k and key == f"round_{int(key[6:])}"):
            raise DataError(path, None, key, f"not a round of this bracket (round_1..round_{k})")
    return [e for pair in first for e in pair]


def load_rrm_knockout_records(folder, model: str = "7b", *, undecided: bool = False):
    """Recorded knockout outcomes: question id -> {(rival_1, rival_2): winner}; with
    ``undecided=True``, ``(outcomes, undecided)`` where ``undecided`` is question id ->
    {(rival_1, rival_2): pred} for the matches whose ``pred`` is no verdict (``KNOCKOUT_VERDICTS``):
    the original decided those by its coin, and their recorded winner is the coin's pick.

    Files ``{model}_tournament_{first..fifth}_round_voting_results.json`` hold
    ``{bracket slot: [{question_id, rival_1, rival_2, winner, pred}, ...]}``; rivals and winners
    are response indices 0-31 (ints), rival_1 the response shown first, ``pred`` the parsed
    verdict (``"Assistant 1"``/``"Assistant 2"``; the two other values, ``"B"`` and ``"I"`` in the
    7B first round, are no verdict, and their winner the coin's). Each question is listed twice
    per slot with identical entries. Checked, each failure a DataError naming file, slot and entry, and field:
    round k has slots "0".."16/2^(k-1)-1"; a round-1 slot is the same pair for every question,
    a later slot's rivals are the winners of slots 2s and 2s+1 of the round before, in that
    order; a question's repeated entries agree; every question has an entry in every slot.
    """

    def place(parts):
        if len(parts) >= 2 and isinstance(parts[1], int):
            return f"slot {parts[0]!r}, entry {parts[1]}", field_name(parts[2:])
        return (f"slot {parts[0]!r}", None) if parts else (None, None)

    def integer(path, where, e, name, high=None):
        if e.get(name) is None:
            raise DataError(path, where, name, "missing")
        v = e[name]
        if not isinstance(v, int) or isinstance(v, bool):
            raise DataError(path, where, name, f"expected int, got {type(v).__name__} {shown(v)}")
        if v < 0 or (high is not None and v >= high):
            raise DataError(path, where, name, f"{v} out of range: " + (f"responses are 0..{high - 1}" if high else "not >= 0"))
        return v

    entrants = 2 ** len(ROUND_NAMES)  # 32: five rounds
    records: dict[int, dict[tuple[int, int], int]] = {}
    no_verdict: dict[int, dict[tuple[int, int], str]] = {}
    played: dict[tuple, tuple] = {}   # (round, slot, question) -> ((rival_1, rival_2), winner, where)
    bracket: dict[int, tuple] = {}    # round-1 slot -> (pair, where)
    count: dict[int, int] = {}        # question -> slots with an entry
    first_at: dict[int, tuple] = {}   # question -> (path, where)
    paths = []
    for k, name in enumerate(ROUND_NAMES, 1):
        path = Path(folder) / f"{model}_tournament_{name}_round_voting_results.json"
        paths.append(path)
        data = read_json(path, place)
        if not isinstance(data, dict):
            raise DataError(path, None, None, f"expected an object {{slot: [entries]}}, got {type(data).__name__}")
        slots = entrants >> k
        keys = [str(s) for s in range(slots)]
        for key in data:
            if key not in keys:
                raise DataError(path, f"slot {key!r}", None, f"not a slot of the {name} round (slots '0'..'{slots - 1}')")
        for s, key in enumerate(keys):
            if key not in data:
                raise DataError(path, f"slot {key!r}", None, f"missing: the {name} round has slots '0'..'{slots - 1}'")
            entries = data[key]
            if not isinstance(entries, list):
                raise DataError(path, f"slot {key!r}", None, f"expected a list of entries, got {shown(entries)}")
            if not entries:
                raise DataError(path, f"slot {key!r}", None, "empty: no entries")
            for i, e in enumerate(entries):
                where = f"slot {key!r}, entry {i}"
                if not isinstance(e, dict):
                    raise DataError(path, where, None, f"expected an object, got {shown(e)}")
                q = integer(path, where, e, "question_id")
                r1, r2 = integer(path, where, e, "rival_1", entrants), integer(path, where, e, "rival_2", entrants)
                if r1 == r2:
                    raise DataError(path, where, "rival_2", f"{r2} is rival_1 as well")
                w = integer(path, where, e, "winner")
                if w not in (r1, r2):
                    raise DataError(path, where, "winner", f"{w} is not a rival ({r1} or {r2})")
                if e.get("pred") is None:
                    raise DataError(path, where, "pred", "missing")
                if not isinstance(e["pred"], str):
                    raise DataError(path, where, "pred", f"expected str, got {type(e['pred']).__name__} {shown(e['pred'])}")
                pair = (r1, r2)
                prev = played.get((k, s, q))
                if prev is not None:
                    if (prev[0], prev[1]) != (pair, w):
                        name_ = "winner" if prev[0] == pair else ("rival_1" if prev[0][0] != r1 else "rival_2")
                        raise DataError(path, where, name_, f"question {q} is already at {prev[2]} as {prev[0]} "
                                        f"won by {prev[1]}; here {pair} won by {w}")
                    continue
                if k == 1:
                    if s not in bracket:
                        for t, (other, at) in bracket.items():
                            if set(other) & set(pair):
                                raise DataError(path, where, "rival_1" if r1 in other else "rival_2",
                                                f"{pair} shares an entrant with slot '{t}' {other} ({at})")
                        bracket[s] = (pair, where)
                    elif bracket[s][0] != pair:
                        raise DataError(path, where, "rival_1" if bracket[s][0][0] != r1 else "rival_2",
                                        f"slot '{s}' is {bracket[s][0]} ({bracket[s][1]}): a round-1 slot is one "
                                        f"pair of the bracket for every question, here {pair}")
                else:
                    a, b = played.get((k - 1, 2 * s, q)), played.get((k - 1, 2 * s + 1, q))
                    if a is not None and b is not None and pair != (a[1], b[1]):
                        raise DataError(path, where, "rival_1" if r1 != a[1] else "rival_2",
                                        f"question {q}: {pair}, but the winners of slots '{2 * s}' and '{2 * s + 1}' "
                                        f"of the {ROUND_NAMES[k - 2]} round are ({a[1]}, {b[1]})")
                played[(k, s, q)] = (pair, w, where)
                records.setdefault(q, {})[pair] = w
                if e["pred"] not in KNOCKOUT_VERDICTS:
                    no_verdict.setdefault(q, {})[pair] = e["pred"]
                count[q] = count.get(q, 0) + 1
                first_at.setdefault(q, (path, where))
    total = entrants - 1
    for q, c in count.items():
        if c == total:
            continue
        if 2 * c <= total:
            raise DataError(first_at[q][0], first_at[q][1], "question_id",
                            f"question {q} has entries in {c} of the {total} slots, the other questions in all")
        for k, name in enumerate(ROUND_NAMES, 1):
            for s in range(entrants >> k):
                if (k, s, q) not in played:
                    raise DataError(paths[k - 1], f"slot '{s}'", "question_id",
                                    f"no entry for question {q}, which has entries in {c} of the {total} slots")
    return (records, no_verdict) if undecided else records


def load_elo_merged_results(path) -> pd.DataFrame:
    """The ELO step's ``*_merged_results.json`` as matches: one row per judged match with
    columns question, a, b, winner (None where it is neither rival: a draw), pred, and any other
    fields of the entries (``score``). The layout is ``{rival: {"details": [{question_id,
    rival_1, rival_2, winner, pred, ...}]}}``: one key per file of judgments, not per entrant,
    so a match is listed once.

    Checked, each failure a DataError naming the file, block and entry, and field: question ids
    all ints or all non-empty strings; rivals distinct ints >= 0; the winner a rival, -1 or null
    (a draw); ``pred`` a string; ``score`` (where the entries have it: all or none) null, a
    boolean or 0/1; no match (question, rival_1, rival_2) listed twice.
    """


    def place(parts):
        if len(parts) >= 3 and parts[1] == "details" and isinstance(parts[2], int):
            return f"block {parts[0]!r}, entry {parts[2]}", field_name(parts[3:])
        return (f"block {parts[0]!r}", field_name(parts[1:])) if parts else (None, None)

    def rival(where, d, name):
        v = d[name]
        if v is None:
            raise DataError(path, where, name, "missing")
        if not isinstance(v, int) or isinstance(v, bool):
            raise DataError(path, where, name, f"expected int, got {type(v).__name__} {shown(v)}")
        if v < 0:
            raise DataError(path, where, name, f"{v} out of range: candidates are numbered from 0")
        return v

    path = Path(path)
    data = read_json(path, place)
    if not isinstance(data, dict):
        raise DataError(path, None, None, f"expected an object {{rival: {{'details': [...]}}}}, got {type(data).__name__}")
    if not data:
        raise DataError(path, None, None, "no records")
    # Question ids of one kind: the kind most entries have (the odd entry is the one named).
    kinds = Counter(type(d.get("question_id")) for b in data.values() if isinstance(b, dict)
                    and isinstance(b.get("details"), list) for d in b["details"] if isinstance(d, dict))
    kinds = [k for k, _ in kinds.most_common() if k in (int, str)]
    kind = kinds[0] if kinds else None
    rows, seen, scored = [], {}, []
    for key, block in data.items():
        at = f"block {key!r}"
        if not isinstance(block, dict):
            raise DataError(path, at, None, f"expected an object with 'details', got {shown(block)}")
        details = field(path, at, block, "details", list)
        for i, d in enumerate(details):
            where = f"block {key!r}, entry {i}"
            if not isinstance(d, dict):
                raise DataError(path, where, None, f"expected an object, got {shown(d)}")
            for f in ("question_id", "rival_1", "rival_2", "winner", "pred"):
                if f not in d:
                    raise DataError(path, where, f, "missing")
            q = d["question_id"]
            if q is None:
                raise DataError(path, where, "question_id", "missing")
            if not isinstance(q, (int, str)) or isinstance(q, bool):
                raise DataError(path, where, "question_id", f"expected int or str, got {type(q).__name__} {shown(q)}")
            if isinstance(q, str) and not q.strip():
                raise DataError(path, where, "question_id", "empty")
            if type(q) is not kind:
                raise DataError(path, where, "question_id", f"{type(q).__name__} {shown(q)}, while most entries have "
                                f"{kind.__name__} ids: ids of one kind (1 and '1' would be two questions)")
            a, b = rival(where, d, "rival_1"), rival(where, d, "rival_2")
            if a == b:
                raise DataError(path, where, "rival_2", f"{b} is rival_1 as well")
            w = d["winner"]
            if w is not None and (not isinstance(w, int) or isinstance(w, bool)):
                raise DataError(path, where, "winner", f"expected int or null, got {type(w).__name__} {shown(w)}")
            if w not in (a, b, -1, None):
                raise DataError(path, where, "winner", f"{w} is neither rival ({a} or {b}) nor -1 (a draw)")
            if not isinstance(d["pred"], str):
                raise DataError(path, where, "pred", f"expected str, got {type(d['pred']).__name__} {shown(d['pred'])}")
            s = d.get("score")
            if s is not None and not (isinstance(s, bool) or (isinstance(s, int) and s in (0, 1))):
                raise DataError(path, where, "score", f"expected null, a boolean or 0/1, got {shown(s)}")
            scored.append(("score" in d, where))
            match = (q, a, b)
            if match in seen:
                raise DataError(path, where, "question_id", f"match {a} vs {b} of question {shown(q)} is already "
                                f"listed at {seen[match]}")
            seen[match] = where
            rows.append(d)
    have = sum(h for h, _ in scored)
    if 0 < have < len(scored):
        odd = not (2 * have >= len(scored))
        where = next(w for h, w in scored if h == odd)
        raise DataError(path, where, "score", "given here, while most entries have none" if odd else
                        "missing, while most entries have one")
    df = pd.DataFrame(rows).rename(columns={"question_id": "question", "rival_1": "a", "rival_2": "b"})
    draw = (df["winner"] != df["a"]) & (df["winner"] != df["b"])
    df["winner"] = df["winner"].astype(object).where(~draw, None)
    first = ["question", "a", "b", "winner"]
    return df[first + [c for c in df.columns if c not in first]]
