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


def accuracy_by_subset(table, *, title: str = "", chance: float = 0.5):
    """Grouped bars per subset: accuracy with its 95% CI, beside the share of unparseable
    verdicts (which the accuracy alone would hide). ``table`` is ``metrics.by_subset`` output."""
    import matplotlib.pyplot as plt
    import numpy as np

    t = table.drop(index="all", errors="ignore")
    x = np.arange(len(t))
    w = 0.38
    fig, ax = plt.subplots(figsize=(max(3.2, 1.1 * len(t) + 1.2), 2.8))
    acc = t["accuracy"].astype(float).to_numpy()
    err = np.vstack([acc - t["ci_low"].astype(float), t["ci_high"].astype(float) - acc])
    ax.bar(x - w / 2, acc, w, yerr=err, capsize=3, color="C0", label="accuracy (95% CI)")
    ax.bar(x + w / 2, t["unparseable"].astype(float), w, color="C3", label="unparseable")
    ax.axhline(chance, color="grey", lw=0.8, ls="--", zorder=0)
    ax.set_xticks(x, [f"{name}\n(n={int(n)})" for name, n in zip(t.index, t["n"])])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of pairs")
    if title:
        ax.set_title(title, fontsize="small")
    ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    return fig


def accuracy_vs_judgments(table, *, title: str = ""):
    """Best-of-N accuracy against the judgments spent per question, one point per method
    (baselines at 0), with 95% intervals where the table has them; the oracle's and a random
    pick's accuracy as dotted lines (the ceiling and the floor). Points that share an x are
    spread a little sideways so that none hides another. ``table`` has ``method``,
    ``accuracy``, ``judgments_per_question`` and optionally ``ci_low``/``ci_high``
    (``rrmlib.bestofn.accuracy_table``)."""
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
    if title:
        ax.set_title(title, fontsize="small")
    ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    return fig
