import pandas as pd

from rrmlib import plots


def table():
    return pd.DataFrame({"accuracy": [0.6, 0.7], "ci_low": [0.5, 0.6], "ci_high": [0.7, 0.8], "n": [10, 12],
                         "unparseable": [0.1, 0.0]}, index=["chat", "math"])


def test_figures_repeat_byte_for_byte(tmp_path):
    plots.setup()
    written = []
    for name in ("a", "b"):
        fig = plots.accuracy_by_subset(table(), title="t")
        written.append(plots.savefig(fig, tmp_path / name / "acc"))
    assert [p.suffix for p in written[0]] == [".png", ".pdf", ".svg"]
    for a, b in zip(*written):
        assert a.read_bytes() == b.read_bytes(), a.suffix
    pdf = written[0][1].read_bytes()
    assert b"CreationDate" not in pdf and b"/FontFile2" in pdf  # TrueType embedded (fonttype 42)
