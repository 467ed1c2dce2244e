"""RM-Bench (THU-KEG/RM-Bench; Liu et al., ICLR 2025): prompts with three chosen and three
rejected responses, in three styles each.

Records (the repository's ``data/total_dataset.json`` and the hub dataset ``THU-KEG/RM-Bench``,
split ``train``): ``id``, ``prompt``, ``chosen`` and ``rejected`` (each a list of three
responses: concise, detailed plain text, detailed markdown, in that order; README "Dataset
Details"), ``domain`` (chat, code, math, safety-refuse, safety-response).

Each record gives nine Pairs, chosen style i against rejected style j, with the id
``<domain>/<id>:c<i>r<j>`` (styles numbered 0-2 as above): the score
(``rrmlib.scoring.rm_bench``) rebuilds each prompt's 3x3 matrix from the ids. The record's id
is joined to its domain because the authors' per-domain files number their records apart
(``chat_filtered.json`` and ``code_filtered.json`` both hold an id 8).
"""
from __future__ import annotations

import re
from pathlib import Path

from rrmlib.data import DataError, Pair, Pairs, register_pairs
from rrmlib.data.files import field, same_presence, shown
from rrmlib.data.hub import source_rows
from rrmlib.data.own import ident, parse_fields

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
    pairs = read_rmbench(source, rows)
    if subset is not None or limit is not None:
        from rrmlib.data.select import select

        pairs = select(pairs, subsets=subset, limit=limit)
    return pairs
