"""Which pairs a run judges: a subset filter, ties left out, a seeded sample stratified by
subset, a limit.

In that order: ``subsets`` keeps the pairs of the named subsets; pairs labelled a tie are left
out (no answer is right, so no verdict can be scored: judging them would only cost), and
counted per subset; ``sample`` draws N of what is left with every subset in proportion to its
size, ``limit`` keeps the first N of the rest, in the file's order. ``limit`` alone takes the
head of the file, which in a file sorted by source is one source; ``sample`` is the way to a
small run that looks like the whole.

A name in ``subsets`` selects, case and all: the subset of that name; the subsets that begin
with it and ``-`` (``mmlu-pro`` selects ``mmlu-pro-law``, as JudgeBench's and RM-Bench's
authors group them); a RewardBench section's subsets (``Chat Hard``); or, where it holds
``*``, ``?`` or ``[``, the subsets that match it as a shell pattern (``writing*`` selects
``writing_email`` and ``writing-story``). A name that selects nothing is an error that lists
the subsets there are.

A sample draws whole units: a pair, or for RM-Bench a prompt with its nine pairs (its score
needs each prompt's 3x3 matrix whole). Each subset's share is its size times N over the total,
rounded down, and the units left over go to the subsets with the largest remainders (equal
remainders in a seeded order): every subset gets its share rounded down or up. Within a
subset the units drawn are those with the smallest sha256 of (seed, unit id)
(``rrmlib.seeding.stable_int``), so the same seed draws the same pairs in every process and on
every machine, and another seed others.
"""
from __future__ import annotations

from collections import Counter
from fnmatch import fnmatchcase
from fractions import Fraction

from rrmlib.data.records import Pairs
from rrmlib.data.registry import sampling_unit, subset_group
from rrmlib.seeding import stable_int


def names_list(value, what: str) -> list[str] | None:
    """A list of names from a list or a comma-separated string (None stays None)."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    names = [str(v).strip() for v in items]
    if not names or any(not n for n in names):
        raise ValueError(f"{what}: expected names separated by commas, got {value!r}")
    return names


GLOB = "*?["  # a name holding one of these is a shell pattern


def in_subset(name: str, subset: str) -> bool:
    """Whether ``name`` selects ``subset``: the same, a RewardBench section holding it
    (``"Chat Hard"``), a prefix before a '-' (``mmlu-pro`` selects JudgeBench's
    ``mmlu-pro-law``, ``safety`` RM-Bench's ``safety-refuse`` and ``safety-response``, as each
    benchmark's authors group them), or a shell pattern it matches (``writing*``, ``writing_*``;
    case counts)."""
    if any(c in name for c in GLOB):
        return fnmatchcase(subset, name)
    return subset == name or subset.startswith(name + "-") or subset in subset_group(name)


def check_subsets(names: list[str], present) -> None:
    """Refuse a name that selects none of the ``present`` subsets, listing them, and saying
    which pattern or name would have selected what it looks like it means."""
    present = sorted(set(present))
    for name in names:
        if any(in_subset(name, s) for s in present):
            continue
        hint = ""
        starting = [s for s in present if s.startswith(name)]
        same_case = [s for s in present if s.lower() == name.lower()]
        if same_case:
            hint = f"; names match case and all: {same_case[0]!r} is there"
        elif starting:
            hint = (f"; {len(starting)} begin with it ({', '.join(starting[:5])}{', ...' if len(starting) > 5 else ''})"
                    f": select them with the pattern {name + '*'!r}")
        shown = ", ".join(present[:50]) + (f", ... ({len(present)} in all)" if len(present) > 50 else "")
        raise ValueError(f"subsets: {name!r} selects none of these pairs' subsets: {shown} (a name selects the "
                         f"subset of that name, those that begin with it and '-', or, with * ? [, those that match "
                         f"it as a pattern){hint}")


def keep_subsets(pairs, subsets) -> list:
    """The pairs of ``subsets`` (a list or 'a,b'), after ``check_subsets``."""
    names = names_list(subsets, "subsets")
    check_subsets(names, {p.subset for p in pairs})
    return [p for p in pairs if any(in_subset(n, p.subset) for n in names)]


def first(pairs, limit: int | None, *, subsets=None):
    """A loader's own ``subsets`` and ``limit``: the first ``limit`` pairs (of those subsets),
    ties kept (a loader returns what the file holds; ``select_pairs`` leaves ties out later),
    recorded as every selection is."""
    if limit is None and subsets is None:
        return pairs
    return select(pairs, subsets=subsets, limit=limit, ties="keep")


def group_of(subset: str, prefixes) -> str:
    """A benchmark's group of a subset, as its authors group them: the first of ``prefixes`` the
    subset starts with, else the subset itself (a file of your own is reported per subset)."""
    return next((p for p in prefixes if str(subset).startswith(p)), str(subset))


def group_rank(group: str, known) -> tuple:
    """The authors' groups in their order, then any others by name."""
    return (0, known.index(group), "") if group in known else (1, 0, group)


def stratified(pairs: list, n: int, seed: int, unit) -> list:
    """``n`` units of ``pairs`` drawn with each subset in proportion (see the module's text);
    the pairs of the drawn units, in their order in ``pairs``. All of them if ``n`` is not less
    than the number of units."""
    first_subset: dict = {}
    for p in pairs:
        first_subset.setdefault(unit(p), p.subset)
    total = len(first_subset)
    if n >= total:
        return list(pairs)
    by_subset: dict[str, list] = {}
    for key, subset in first_subset.items():
        by_subset.setdefault(subset, []).append(key)
    exact = {s: Fraction(n * len(keys), total) for s, keys in by_subset.items()}
    quota = {s: int(q) for s, q in exact.items()}
    left = n - sum(quota.values())
    # Equal remainders (many small subsets) are ordered by a seeded coin, not by name, so that
    # another seed gives the leftover units to other subsets.
    for s in sorted(by_subset, key=lambda s: (-(exact[s] - quota[s]), stable_int(seed, "subset", s), s))[:left]:
        quota[s] += 1
    drawn = set()
    for s, keys in by_subset.items():
        ranked = sorted(keys, key=lambda k: (stable_int(seed, "sample", k), str(k)))
        drawn.update(ranked[:quota[s]])
    return [p for p in pairs if unit(p) in drawn]


def select(pairs, *, subsets=None, sample: int | None = None, seed: int = 0, limit: int | None = None,
           ties: str = "leave out") -> Pairs:
    """The pairs of ``subsets`` (a list or a comma-separated string; None: all), without the
    pairs labelled a tie (``ties="keep"`` keeps them), then a sample of ``sample`` units
    stratified by subset and seeded by ``seed`` (None: all), then the first ``limit`` (None:
    all). A subset name that selects nothing is an error that lists the subsets there are.
    ``loaded["selection"]`` says what was kept, and the ties left out per subset."""
    if ties not in ("leave out", "keep"):
        raise ValueError(f"ties must be 'leave out' or 'keep', got {ties!r}")
    scoring = getattr(pairs, "scoring", None)
    loaded = dict(getattr(pairs, "loaded", None) or {})
    everything = list(pairs)
    loaded.setdefault("pairs", len(everything))
    names = names_list(subsets, "subsets")
    kept = everything if names is None else keep_subsets(everything, names)
    # Ties left out by an earlier selection (a loader's own) stay counted.
    tied = Counter({s: n for s, n in ((loaded.get("selection") or {}).get("ties_per_subset") or {}).items()
                    if names is None or any(in_subset(name, s) for name in names)})
    if ties == "leave out":
        tied.update(p.subset for p in kept if p.tie)
        kept = [p for p in kept if not p.tie]
    unit_name, unit = sampling_unit(scoring)
    if sample is not None:
        if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
            raise ValueError(f"sample must be a positive number of {unit_name}s, got {sample!r}")
        kept = stratified(kept, sample, seed, unit)
    if limit is not None:
        kept = kept[:limit]
    selection = {"subsets": names, "sample": sample, "sample_seed": seed if sample is not None else None,
                 "sample_unit": unit_name, "limit": limit,
                 "pairs": len(kept), "per_subset": dict(sorted(Counter(p.subset for p in kept).items())),
                 "ties_left_out": sum(tied.values()), "ties_per_subset": dict(sorted(tied.items()))}
    if unit_name != "pair":
        selection[f"{unit_name}s"] = len({unit(p) for p in kept})
    return Pairs(kept, scoring=scoring, loaded={**loaded, "selection": selection})


def describe(loaded: dict) -> list[str]:
    """What a run's data holds beyond its pairs, as lines for the notebook and the terminal: the
    label values read, the rows of other subsets, the ties left out (per subset, and each subset
    that held nothing else)."""
    lines = []
    if "labels" in loaded:  # a file read by its label column
        lines.append(f"label values: {loaded['labels']} | mapped: {loaded['label_map']} | outside labels: "
                     f"{loaded['unmapped_labels'] or 'none'} (other_labels {loaded['other_labels']})")
    if loaded.get("skipped_rows"):
        lines.append(f"rows skipped (bad_rows skip): {len(loaded['skipped_rows'])} of {loaded['rows']}")
    if loaded.get("rows_of_other_subsets"):
        lines.append(f"rows of other subsets, not read beyond their subset: {loaded['rows_of_other_subsets']}")
    selection = loaded.get("selection") or {}
    tied = selection.get("ties_per_subset") or {}
    if tied:
        per = ", ".join(f"{s} {n}" for s, n in tied.items())
        lines.append(f"pairs labelled a tie, left out (not judged, not in the accuracy): {sum(tied.values())} ({per})")
        scored = selection.get("per_subset") or {}
        lines += [f"subset {s}: 0 pairs scored: all {n} are ties" for s, n in tied.items() if not scored.get(s)]
    return lines


def nothing_to_judge(source, loaded: dict) -> str:
    """Why a selection holds no pair: every row skipped, every pair a tie, or nothing selected."""
    selection = loaded.get("selection") or {}
    tied = selection.get("ties_left_out") or 0
    what = f"no pairs to judge in {source!r}"
    skipped = loaded.get("skipped_rows") or []
    if skipped and not loaded.get("pairs"):
        first = skipped[0]
        return (f"{what}: every row read was skipped (bad_rows skip: {len(skipped)} of {loaded.get('rows')} rows, "
                f"listed in meta.json); the first, {first['where']}" + (f", field {first['field']!r}" if first["field"]
                                                                        else "") + f": {first['problem']}")
    if tied:
        hint = ""
        if loaded.get("unmapped_labels") and loaded.get("other_labels") == "tie":
            hint = (f"; {sum(loaded['unmapped_labels'].values())} of them hold a label value outside labels "
                    f"({', '.join(map(repr, loaded['unmapped_labels']))}): map it with labels")
        return f"{what}: all {tied} selected pairs are ties, which no verdict can get right{hint}"
    return (f"{what}: the selection (subsets {selection.get('subsets')}, sample {selection.get('sample')}, limit "
            f"{selection.get('limit')}) keeps none of its {loaded.get('pairs', 0)} pairs")
