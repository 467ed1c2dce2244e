"""Which pairs a run judges: a subset filter, a seeded sample stratified by subset, a limit.

In that order: ``subsets`` keeps the pairs of the named subsets, ``sample`` draws N of what is
left with every subset in proportion to its size, ``limit`` keeps the first N of the rest, in
the file's order. ``limit`` alone takes the head of the file, which in a file sorted by source
is one source; ``sample`` is the way to a small run that looks like the whole.

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
from fractions import Fraction

from rrmlib.data import Pairs
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


def in_subset(name: str, subset: str) -> bool:
    """Whether ``name`` selects ``subset``: the same, a RewardBench section holding it
    (``"Chat Hard"``), or a prefix before a '-' (``mmlu-pro``
    selects JudgeBench's ``mmlu-pro-law``, ``safety`` RM-Bench's ``safety-refuse`` and
    ``safety-response``, as each benchmark's authors group them)."""
    from rrmlib.rewardbench import SECTIONS

    return subset == name or subset.startswith(name + "-") or subset in SECTIONS.get(name, ())


def unit_of(scoring: str | None):
    """The sampling unit of a pair: the pair, or for RM-Bench its prompt."""
    if scoring == "rm-bench":
        from rrmlib.data.rmbench import prompt_key

        return lambda p: prompt_key(p.id)
    return lambda p: p.id


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


def select(pairs, *, subsets=None, sample: int | None = None, seed: int = 0, limit: int | None = None) -> Pairs:
    """The pairs of ``subsets`` (a list or a comma-separated string; None: all), then a sample
    of ``sample`` units stratified by subset and seeded by ``seed`` (None: all), then the first
    ``limit`` (None: all). A subset name that selects nothing is an error that lists the
    subsets there are. ``loaded["selection"]`` says what was kept."""
    scoring = getattr(pairs, "scoring", None)
    loaded = dict(getattr(pairs, "loaded", None) or {})
    everything = list(pairs)
    loaded.setdefault("pairs", len(everything))
    kept = everything
    names = names_list(subsets, "subsets")
    if names is not None:
        present = sorted({p.subset for p in everything})
        for name in names:
            if not any(in_subset(name, s) for s in present):
                raise ValueError(f"subsets: {name!r} selects none of these pairs' subsets: {', '.join(present)} "
                                 "(a name selects the subset of that name, or those that begin with it and '-')")
        kept = [p for p in kept if any(in_subset(n, p.subset) for n in names)]
    unit = unit_of(scoring)
    if sample is not None:
        if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
            raise ValueError(f"sample must be a positive number of {'prompts' if scoring == 'rm-bench' else 'pairs'}, "
                             f"got {sample!r}")
        kept = stratified(kept, sample, seed, unit)
    if limit is not None:
        kept = kept[:limit]
    selection = {"subsets": names, "sample": sample, "sample_seed": seed if sample is not None else None,
                 "sample_unit": "prompt" if scoring == "rm-bench" else "pair", "limit": limit,
                 "pairs": len(kept), "per_subset": dict(sorted(Counter(p.subset for p in kept).items()))}
    if scoring == "rm-bench":
        selection["prompts"] = len({unit(p) for p in kept})
    return Pairs(kept, scoring=scoring, loaded={**loaded, "selection": selection})
