"""Figures a paper can use, byte-identical across reruns.

``setup()`` fixes the backend and style; ``savefig()`` writes PNG, PDF and SVG with the
timestamps and random ids that would otherwise differ between runs removed.
"""
from __future__ import annotations

from pathlib import Path

FORMATS = ("png", "pdf", "svg")


def setup(*, context: str = "paper") -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(context=context, style="whitegrid", palette="colorblind")
    plt.rcParams.update({
        "figure.dpi": 100,
        "savefig.dpi": 200,
        "savefig.bbox": "tight",
        "pdf.fonttype": 42,  # TrueType fonts embedded: what venues ask for
        "ps.fonttype": 42,
        "svg.hashsalt": "rrm-notebooks",  # fixed ids in SVG output
        "axes.titlesize": "medium",
    })


def show(files, close=None) -> None:
    """Show a saved figure in the notebook (its PNG: the file that was written, not a second
    rendering), so JupyterLab and the executed notebook both show it inline; ``close`` the
    matplotlib figure it came from, which is then done with."""
    if close is not None:
        import matplotlib.pyplot as plt

        plt.close(close)
    png = next((Path(f) for f in files if str(f).endswith(".png")), None)
    if png is None:
        return
    try:
        from IPython.display import Image, display
    except ImportError:
        return
    display(Image(filename=str(png)))


def close_all() -> None:
    import matplotlib.pyplot as plt

    plt.close("all")


def where(files) -> str:
    """Figure files in one short line: their folder once, each figure once with its formats
    (``runs/x/figures/: accuracy.{png,pdf,svg}, ...``)."""
    files = [Path(f) for f in files]
    if not files:
        return "none"
    by_folder: dict[Path, dict[str, list[str]]] = {}
    for f in files:
        by_folder.setdefault(f.parent, {}).setdefault(f.stem, []).append(f.suffix.lstrip("."))
    return "; ".join(f"{folder}/: " + ", ".join(f"{stem}.{{{','.join(fmts)}}}" for stem, fmts in stems.items())
                     for folder, stems in by_folder.items())


def savefig(fig, path, formats=FORMATS) -> list[Path]:
    """Save ``fig`` as ``path`` with each suffix in ``formats``; returns the files written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        out = path.with_suffix("." + fmt)
        metadata = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Producer": None},
                    "svg": {"Date": None}}[fmt]
        fig.savefig(out, format=fmt, metadata=metadata)
        written.append(out)
    return written


RIGHT = {"loc": "center left", "bbox_to_anchor": (1.02, 0.5)}  # a legend beside the axes


def _finish(fig, ax, heading: str, **legend):
    """The title (small) and the legend (x-small, no frame) every figure here ends with."""
    if heading:
        ax.set_title(heading, fontsize="small")
    ax.legend(fontsize="x-small", frameon=False, **legend)
    return fig


def accuracy_by_subset(table, *, title: str = "", chance: float = 0.5):
    """Bars per subset: accuracy with its 95% CI, beside the share of unparseable verdicts (which
    the accuracy alone would hide). ``table`` is ``metrics.by_subset`` output. A few short-named
    subsets stand side by side; more, or longer names, lie one under another (horizontal bars,
    the figure as tall as they need), so that every label stays readable from 2 to 60 subsets."""
    import matplotlib.pyplot as plt
    import numpy as np

    t = table.drop(index="all", errors="ignore")
    pos = np.arange(len(t))
    w = 0.38
    acc = t["accuracy"].astype(float).to_numpy()
    err = np.vstack([acc - t["ci_low"].astype(float), t["ci_high"].astype(float) - acc])
    unparseable = t["unparseable"].astype(float).to_numpy()
    names = [str(name) for name in t.index]
    if len(t) <= 5 and max(map(len, names), default=0) <= 14:
        fig, ax = plt.subplots(figsize=(max(3.2, 1.1 * len(t) + 1.2), 2.8))
        ax.bar(pos - w / 2, acc, w, yerr=err, capsize=3, color="C0", label="accuracy (95% CI)")
        ax.bar(pos + w / 2, unparseable, w, color="C3", label="unparseable")
        ax.axhline(chance, color="grey", lw=0.8, ls="--", zorder=0)
        ax.set_xticks(pos, [f"{name}\n(n={int(n)})" for name, n in zip(names, t["n"])])
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("share of pairs")
        return _finish(fig, ax, title, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
    fig, ax = plt.subplots(figsize=(5.0, 0.9 + 0.3 * len(t)))
    ax.barh(pos - w / 2, acc, w, xerr=err, capsize=2, color="C0", label="accuracy (95% CI)")
    ax.barh(pos + w / 2, unparseable, w, color="C3", label="unparseable")
    ax.axvline(chance, color="grey", lw=0.8, ls="--", zorder=0)
    ax.set_yticks(pos, [f"{name} (n={int(n)})" for name, n in zip(names, t["n"])], fontsize="x-small")
    ax.set_ylim(len(t) - 0.5, -0.5)  # the first subset on top, as in the table
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("share of pairs")
    if len(t) > 20:  # a tall figure: the scale at both ends
        ax.tick_params(axis="x", top=True, labeltop=True)
        ax.set_title(title, fontsize="small", pad=20)
        title = ""
    # the legend under the x label, the same distance below the axes whatever their height
    below = 0.55 / (fig.get_figheight() * ax.get_position().height)  # inches, as a share of the axes' height
    return _finish(fig, ax, title, loc="upper center", bbox_to_anchor=(0.5, -below), ncol=2)


def accuracy_vs_judgments(table, *, title: str = ""):
    """Best-of-N accuracy against the judgments spent per question, one point per method
    (baselines at 0), with 95% intervals where the table has them; the oracle's and a random
    pick's accuracy as dotted lines (the ceiling and the floor). Points that share an x are
    spread a little sideways so that none hides another. ``table`` has ``method``,
    ``accuracy``, ``judgments_per_question`` and optionally ``ci_low``/``ci_high``
    (``rrmlib.selection.accuracy_table``)."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(5.2, 3.0))
    markers = "osD^vP*Xhp<>"
    t = table.reset_index(drop=True)
    x = t["judgments_per_question"].astype(float).to_numpy()
    right = max(float(np.nanmax(x)) if len(t) else 1.0, 1.0)
    dodge = np.zeros(len(t))
    for value in np.unique(x[~np.isnan(x)]):
        same = np.flatnonzero(x == value)
        dodge[same] = (np.arange(len(same)) - (len(same) - 1) / 2) * 0.012 * right
    lows = []
    for i, row in t.iterrows():
        acc = float(row["accuracy"])
        if np.isnan(acc):
            continue
        lo, hi = float(row.get("ci_low", np.nan)), float(row.get("ci_high", np.nan))
        err = None if np.isnan(lo) else [[acc - lo], [hi - acc]]
        lows.append(acc if np.isnan(lo) else lo)
        ax.errorbar([x[i] + dodge[i]], [acc], yerr=err, fmt=markers[i % len(markers)], color=f"C{i % 10}",
                    capsize=3, ms=6, label=f"{row['method']} ({acc:.3f})")
        name = str(row["method"])
        if name.startswith("oracle") or name == "random (expected)":
            ax.axhline(acc, color=f"C{i % 10}", lw=0.8, ls=":", zorder=0)
    ax.set_xlabel("judgments per question")
    ax.set_ylabel("best-of-N accuracy")
    bottom = max(0.0, (min(lows) if lows else 0.0) - 0.1)
    ax.set_ylim(np.floor(bottom * 10) / 10, 1.02)
    ax.set_xlim(-0.06 * right, 1.08 * right)
    return _finish(fig, ax, title, **RIGHT)


# ---------------------------------------------------------------------------------------------
# The report's figures (notebooks/report.py): judge against judge


def _bars(ax, frame, x: str, hue: str, value: str = "value"):
    """Grouped bars of ``value`` per ``x``, one colour per ``hue``, with 95% intervals where the
    frame has ``ci_low``/``ci_high``."""
    import numpy as np
    import pandas as pd

    frame = frame.copy()
    for col in ("ci_low", "ci_high"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce") if col in frame else np.nan
    xs = list(dict.fromkeys(frame[x]))
    hues = list(dict.fromkeys(frame[hue]))
    width = 0.8 / max(1, len(hues))
    for k, h in enumerate(hues):
        sub = frame[frame[hue] == h]
        pos = np.array([xs.index(name) for name in sub[x]], dtype=float)
        vals = sub[value].astype(float).to_numpy()
        err = np.vstack([np.nan_to_num(vals - sub["ci_low"].to_numpy(float)),
                         np.nan_to_num(sub["ci_high"].to_numpy(float) - vals)])
        ax.bar(pos - 0.4 + width * (k + 0.5), vals, width, yerr=err, capsize=2, color=f"C{k % 10}", label=str(h))
    ax.set_xticks(range(len(xs)), xs, rotation=30, ha="right")
    return xs


def report_accuracy(cells, *, title: str = ""):
    """Accuracy per column (dataset or section) with intervals, judge against judge. ``cells``
    is ``rrmlib.report.cells_frame`` output (best-of-N columns left to their own figure)."""
    import matplotlib.pyplot as plt

    c = cells[~cells["column"].str.startswith("best-of-N")].dropna(subset=["value"])
    fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * c["column"].nunique() + 2), 3.0))
    _bars(ax, c, "column", "judge")
    ax.axhline(0.5, color="grey", lw=0.8, ls="--", zorder=0)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    return _finish(fig, ax, title, loc="upper center", bbox_to_anchor=(0.5, -0.45), ncol=2)


def ppe_rounds(rounds, *, title: str = ""):
    """PPE accuracy per round, one line per (judge, set), with each round's interval. ``rounds``
    has ``judge``, ``set``, ``round``, ``accuracy``, ``ci_low``, ``ci_high``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 2.8))
    for k, ((judge, name), g) in enumerate(rounds.groupby(["judge", "set"], sort=True)):
        g = g.sort_values("round")
        err = [g["accuracy"] - g["ci_low"], g["ci_high"] - g["accuracy"]]
        ax.errorbar(g["round"], g["accuracy"], yerr=err, marker="os^Dv"[k % 5], capsize=2, color=f"C{k % 10}",
                    label=f"{name}: {judge}")
    ax.set_xlabel("round (conflict pair)")
    ax.set_ylabel("accuracy")
    ax.set_xticks(sorted(rounds["round"].unique()))
    return _finish(fig, ax, title, **RIGHT)


def bestofn_vs_judgments(cells, *, title: str = ""):
    """Best-of-N accuracy against judgments spent per question, one marker per method, one
    colour per judge."""
    import matplotlib.pyplot as plt
    import pandas as pd

    c = cells[cells["column"].str.startswith("best-of-N")].dropna(subset=["value"])
    fig, ax = plt.subplots(figsize=(4.6, 2.8))
    judges = list(dict.fromkeys(c["judge"]))
    methods = list(dict.fromkeys(c["column"]))
    for _, row in c.iterrows():
        k, m = judges.index(row["judge"]), methods.index(row["column"])
        lo, hi = pd.to_numeric(pd.Series([row["ci_low"], row["ci_high"]]), errors="coerce")
        err = None if pd.isna(lo) else [[row["value"] - lo], [hi - row["value"]]]
        ax.errorbar([row["judgments_per_question"]], [row["value"]], yerr=err, fmt="osD^vP"[m % 6],
                    color=f"C{k % 10}", capsize=2, label=f"{row['column'][len('best-of-N '):]}: {row['judge']}")
    ax.set_xlim(left=0)
    ax.set_xlabel("judgments per question")
    ax.set_ylabel("best-of-N accuracy")
    return _finish(fig, ax, title, **RIGHT)


def thinking_tokens(tokens, *, title: str = ""):
    """Mean thinking tokens per dataset, split by right, wrong and unparseable verdicts (the
    paper's adaptive-compute claim: harder pairs get longer thoughts). ``tokens`` has
    ``judge``, ``dataset``, ``verdict`` and ``tokens``."""
    import matplotlib.pyplot as plt

    summary = (tokens.groupby(["judge", "dataset", "verdict"], sort=True)["tokens"].mean().rename("value")
               .reset_index())
    summary["column"] = summary["dataset"] + (": " + summary["judge"] if summary["judge"].nunique() > 1 else "")
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * summary["column"].nunique() + 2), 2.8))
    _bars(ax, summary, "column", "verdict")
    ax.set_ylabel("thinking tokens (mean)")
    return _finish(fig, ax, title, title="verdict", title_fontsize="x-small")


def voting_curves(curves, *, title: str = ""):
    """Accuracy against the number of votes, one line per (judge, dataset)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 2.8))
    for k, ((judge, dataset), g) in enumerate(curves.groupby(["judge", "dataset"], sort=True)):
        ax.plot(g["votes"], g["accuracy"], marker="o", color=f"C{k % 10}", label=f"{dataset}: {judge}")
    ax.set_xlabel("votes (samples per pair)")
    ax.set_ylabel("accuracy")
    return _finish(fig, ax, title)


def budget_curve(budgets: dict, *, title: str = ""):
    """Accuracy against the thinking budget: forced verdicts beside the truncation-scored ones of
    the same completions, with 95% intervals; below, the thinking tokens actually used.
    ``budgets`` is ``rrmlib.budgets.budget_metrics`` output."""
    import matplotlib.pyplot as plt
    import numpy as np

    xs = sorted(int(b) for b in budgets)
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(4.6, 4.0), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    for k, (kind, label) in enumerate((("forced", "verdict forced at the budget"),
                                       ("truncated", "thought cut off at the budget (scored 0.5)"))):
        acc = np.array([budgets[str(b)][kind]["accuracy"] or np.nan for b in xs], dtype=float)
        lo = np.array([budgets[str(b)][kind]["ci_low"] or np.nan for b in xs], dtype=float)
        hi = np.array([budgets[str(b)][kind]["ci_high"] or np.nan for b in xs], dtype=float)
        ax.errorbar(xs, acc, yerr=[np.nan_to_num(acc - lo), np.nan_to_num(hi - acc)], marker="os"[k], capsize=3,
                    color=f"C{k}", label=label)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--", zorder=0)
    ax.set_ylabel("accuracy")
    ax.legend(fontsize="x-small", frameon=False)
    ax2.plot(xs, [budgets[str(b)]["think_tokens_mean"] for b in xs], marker="o", color="C2")
    ax2.plot(xs, xs, color="grey", lw=0.8, ls=":", label="the budget")
    ax2.set_xscale("log", base=2)
    ax2.set_xticks(xs, [str(b) for b in xs])
    ax2.set_xlabel("thinking budget (tokens)")
    ax2.set_ylabel("thinking\ntokens used")
    ax2.legend(fontsize="x-small", frameon=False)
    if title:
        ax.set_title(title, fontsize="small")
    return fig


def report_budgets(curves, *, title: str = ""):
    """Accuracy against the thinking budget for every (judge, dataset) with budgets: forced
    verdicts (solid) and the same completions cut off at the budget (dotted)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 3.0))
    for k, ((judge, dataset), g) in enumerate(curves.groupby(["judge", "dataset"], sort=True)):
        g = g.sort_values("budget")
        ax.plot(g["budget"], g["forced"], marker="o", color=f"C{k % 10}", label=f"{dataset}: {judge}")
        ax.plot(g["budget"], g["truncated"], marker="s", ls=":", color=f"C{k % 10}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("thinking budget (tokens); dotted: cut off at the budget")
    ax.set_ylabel("accuracy")
    return _finish(fig, ax, title, **RIGHT)
