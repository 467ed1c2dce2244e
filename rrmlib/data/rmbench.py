"""RM-Bench (THU-KEG/RM-Bench; Liu et al., ICLR 2025): prompts with three chosen and three
rejected responses, in three styles each.

Records (the repository's ``data/total_dataset.json`` and the hub dataset ``THU-KEG/RM-Bench``,
split ``train``): ``id``, ``prompt``, ``chosen`` and ``rejected`` (each a list of three
responses: concise, detailed plain text, detailed markdown, in that order; README "Dataset
Details"), ``domain`` (chat, code, math, safety-refuse, safety-response).

Each record gives nine Pairs, chosen style i against rejected style j, with the id
``<domain>/<id>:c<i>r<j>`` (styles numbered 0-2 as above): the score
(``rm_bench_score``, from THU-KEG/RM-Bench ``scripts/utils.py`` ``compute_accuracy`` and
``split_dataset_by_domain``, commit 73c52d7, and its README's "Clarity on Avg Calculation") rebuilds each prompt's 3x3 matrix from the ids. The record's id
is joined to its domain because the authors' per-domain files number their records apart
(``chat_filtered.json`` and ``code_filtered.json`` both hold an id 8).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from rrmlib.data.files import field, same_presence, shown
from rrmlib.data.hub import source_rows
from rrmlib.data.own import ident, parse_fields
from rrmlib.data.records import DataError, Pair, Pairs
from rrmlib.data.registry import register_pairs, register_scoring
from rrmlib.data.select import first, group_of, group_rank
from rrmlib.votes import pair_scores

HUB_ID, SPLIT = "THU-KEG/RM-Bench", "train"
STYLES = ("concise", "detailed_plain", "detailed_markdown")
FIELDS = {"id": "id", "prompt": "prompt", "chosen": "chosen", "rejected": "rejected", "subset": "domain"}
_PAIR_ID = re.compile(r"^(?P<prompt>.+):c(?P<i>[0-2])r(?P<j>[0-2])$", re.DOTALL)


def pair_id(prompt: str, i: int, j: int) -> str:
    return f"{prompt}:c{i}r{j}"


def parse_pair_id(pid: str) -> tuple[str, int, int] | None:
    """``(prompt key, chosen style, rejected style)`` of an RM-Bench pair id; None otherwise."""
    m = _PAIR_ID.match(str(pid))
    return (m["prompt"], int(m["i"]), int(m["j"])) if m else None


def prompt_key(pid: str) -> str:
    """The prompt an RM-Bench pair belongs to (the id itself for any other pair)."""
    parsed = parse_pair_id(pid)
    return parsed[0] if parsed else str(pid)


def is_rmbench_record(rec: dict, names: dict | None = None) -> bool:
    """Chosen and rejected are both lists: RM-Bench's shape (one list per style)."""
    names = names or FIELDS
    return isinstance(rec.get(names["chosen"]), list) and isinstance(rec.get(names["rejected"]), list)


def _styles(label, where, rec: dict, name: str) -> list[str]:
    value = field(label, where, rec, name, list)
    if len(value) != len(STYLES):
        raise DataError(label, where, name, f"expected {len(STYLES)} responses ({', '.join(STYLES)}), got "
                                            f"{len(value)}")
    for k, text in enumerate(value):
        if not isinstance(text, str):
            raise DataError(label, where, f"{name}[{k}]", f"expected str, got {type(text).__name__} {shown(text)}")
        if not text.strip():
            raise DataError(label, where, f"{name}[{k}]", "empty")
    return value


def read_rmbench(label, records, *, fields=None, subset: str | None = None) -> Pairs:
    """Nine pairs per RM-Bench record (``(where, record)``); ``fields`` maps the roles ``id``,
    ``prompt``, ``chosen``, ``rejected``, ``subset`` (default: ``domain``) to other columns.
    Without a domain column every prompt's subset is ``subset`` or the file's name."""
    records = list(records)
    mapped = parse_fields(fields)
    if mapped.keys() & {"first", "second", "label"}:
        raise ValueError("an RM-Bench-shaped file (chosen and rejected are lists of three styles) has no label column; "
                         "map id, prompt, chosen, rejected and subset only")
    names = {**FIELDS, **mapped}
    has_id = same_presence(label, records, names["id"])
    has_domain = same_presence(label, records, names["subset"])
    pairs, seen = [], {}
    for n, (where, rec) in enumerate(records):
        rid = ident(label, where, rec, names["id"]) if has_id else str(n)
        domain = field(label, where, rec, names["subset"]) if has_domain else (subset or Path(str(label)).stem)
        key = f"{domain}/{rid}"
        if key in seen:
            raise DataError(label, where, names["id"], f"duplicate id {shown(rid)} in domain {shown(domain)} "
                                                       f"(first at {seen[key]})")
        seen[key] = where
        prompt = field(label, where, rec, names["prompt"])
        chosen, rejected = _styles(label, where, rec, names["chosen"]), _styles(label, where, rec, names["rejected"])
        pairs += [Pair(id=pair_id(key, i, j), prompt=prompt, chosen=chosen[i], rejected=rejected[j], subset=domain)
                  for i in range(len(STYLES)) for j in range(len(STYLES))]
    loaded = {"source": str(label), "format": "rm-bench", "rows": len(records), "prompts": len(records),
              "pairs": len(pairs), "styles": list(STYLES),
              "fields": {r: names[r] for r in ("id", "prompt", "chosen", "rejected", "subset")
                         if (r != "id" or has_id) and (r != "subset" or has_domain)}}
    return Pairs(pairs, scoring="rm-bench", loaded=loaded)


@register_pairs("rm-bench", "rmbench", "thu-keg/rm-bench")
def rmbench_pairs(*, path=None, subset=None, limit: int | None = None,
                  revision: str | None = None) -> Pairs:
    """RM-Bench from the hub, a copy in the data folder (``rm-bench.parquet``), or ``path``
    (the repository's ``total_dataset.json`` or a file in its format). ``subset`` keeps domains
    by name or prefix (``safety`` keeps safety-refuse and safety-response)."""
    source, rows = source_rows(path, HUB_ID, SPLIT, revision=revision)
    return first(read_rmbench(source, rows), limit, subsets=subset)


# -- the authors' score -----------------------------------------------------------------------
# split_dataset_by_domain: example["domain"].startswith(domain) for these (safety-refuse and
# safety-response are one domain, safety).
RM_BENCH_DOMAINS = ("chat", "math", "code", "safety")


def _difficulties(acc: np.ndarray) -> dict:
    """``compute_accuracy``'s three numbers from a (..., 3, 3) matrix of accuracies, rows the
    chosen style and columns the rejected style (concise, detailed plain, detailed markdown):
    hard is the upper-right triangle (``np.triu(acc, 1)``: a chosen response plainer than the
    rejected one), normal the diagonal (same style), easy the lower-left (``np.tril(acc, -1)``:
    the chosen response fancier), each the mean of its three cells."""
    size = acc.shape[-1]
    upper = np.triu(np.ones((size, size), dtype=bool), 1)
    count = size * (size - 1) / 2
    return {"hard": (acc * upper).sum(axis=(-2, -1)) / count,
            "normal": np.diagonal(acc, axis1=-2, axis2=-1).mean(axis=-1),
            "easy": (acc * upper.T).sum(axis=(-2, -1)) / count}


def rm_bench_score(results: pd.DataFrame, *, seed: int = 0, n_boot: int = 1000) -> dict:
    """RM-Bench's easy, normal and hard accuracy per domain, and its overall score.

    As ``compute_accuracy``: per prompt, the 3x3 matrix of chosen style i against rejected
    style j holds 1 where the chosen response wins (for a reward model, ``score_chosen[i] >
    score_rejected[j]``; here, the judge's majority verdict names the chosen response, and an
    undecided pair is 0 as equal scores are); ``acc_matrix`` is its mean over the domain's
    prompts; ``hard_acc`` the mean of its upper-right triangle, ``normal_acc`` of its diagonal,
    ``easy_acc`` of its lower-left triangle; a domain's score is the mean of the three. Domains
    as ``split_dataset_by_domain`` makes them (chat, math, code, safety = safety-refuse and
    safety-response together); overall hard/normal/easy are the plain means over domains, and
    the score (``total_avg_acc``, the leaderboard's Overall) the mean of the domain scores.

    A prompt needs all nine pairs (ids ``<prompt>:c<i>r<j>``, ``rrmlib.data.rmbench``); one
    that lacks some (a ``limit`` that cut it, judgments skipped as too long) is left out and
    counted. The interval resamples prompts within each domain.
    """
    size = len(STYLES)
    scores = pair_scores(results, "wrong")
    cells: dict[str, dict] = {}
    domain_of: dict[str, str] = {}
    for pid, row in scores.iterrows():
        parsed = parse_pair_id(pid)
        if parsed is None:
            raise ValueError(f"rm-bench scoring needs RM-Bench pairs, whose ids are <prompt>:c<i>r<j> "
                             f"(rrmlib.data.rmbench); {pid!r} is not one")
        key, i, j = parsed
        cells.setdefault(key, {})[(i, j)] = float(row["score"])
        domain_of[key] = group_of(row["subset"], RM_BENCH_DOMAINS)
    complete = {k: v for k, v in cells.items() if len(v) == size * size}
    by_domain: dict[str, list] = {}
    for key, c in complete.items():
        by_domain.setdefault(domain_of[key], []).append([[c[(i, j)] for j in range(size)] for i in range(size)])
    order = sorted(by_domain, key=lambda d: group_rank(d, RM_BENCH_DOMAINS))
    domains, boot = {}, {}
    rng = np.random.default_rng(seed)
    for d in order:
        m = np.asarray(by_domain[d], dtype=float)  # prompts x chosen style x rejected style
        acc = m.mean(axis=0)
        diff = {k: float(v) for k, v in _difficulties(acc).items()}
        domains[d] = {**diff, "score": float(np.mean([diff["hard"], diff["normal"], diff["easy"]])),
                      "prompts": len(m), "matrix": acc.tolist()}
        if n_boot:
            resampled = m[rng.integers(0, len(m), size=(n_boot, len(m)))].mean(axis=1)
            bd = _difficulties(resampled)
            boot[d] = np.mean([bd["hard"], bd["normal"], bd["easy"]], axis=0)
    out = {"rule": "THU-KEG/RM-Bench scripts/utils.py compute_accuracy: per domain, the 3x3 matrix (chosen style x "
                   "rejected style) of the share of prompts where the chosen response wins; hard = upper-right "
                   "triangle, normal = diagonal, easy = lower-left triangle; domain score = their mean; overall = "
                   "mean over domains",
           "styles": list(STYLES), "domains": domains, "prompts": len(complete),
           "incomplete_prompts": len(cells) - len(complete)}
    warnings = []
    if domains:
        for k in ("hard", "normal", "easy"):
            out[k] = float(np.mean([v[k] for v in domains.values()]))
        out["score"] = float(np.mean([v["score"] for v in domains.values()]))
        if n_boot:
            lo, hi = np.quantile(np.mean(list(boot.values()), axis=0), [0.025, 0.975])
            out["ci"] = [float(lo), float(hi)]
        else:
            out["ci"] = [None, None]
    else:
        out.update(hard=None, normal=None, easy=None, score=None, ci=[None, None])
    if out["incomplete_prompts"]:
        warnings.append(f"{out['incomplete_prompts']} RM-Bench prompt(s) without all nine pairs (cut by limit, or "
                        f"judgments skipped as too long) were left out of its score; `sample` draws whole prompts")
    missing = [d for d in RM_BENCH_DOMAINS if d not in domains]
    if domains and missing and set(domains) <= set(RM_BENCH_DOMAINS):
        warnings.append(f"RM-Bench score over {len(domains)} of its 4 domains (no {', '.join(missing)}): partial, "
                        f"not the leaderboard's Overall")
    name = ("RM-Bench overall (the authors' rule: mean over domains of the mean of easy, normal and hard accuracy "
            "from each domain's 3x3 style matrix)")
    return {"rm_bench": out, "score": out["score"], "score_ci": out["ci"], "score_name": name, "warnings": warnings}


register_scoring("rm-bench", rm_bench_score, unit=prompt_key, unit_name="prompt")
