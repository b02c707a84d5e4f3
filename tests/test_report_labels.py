"""A benchmark report a reader understands without the code: the table says what ± and [ , ] are,
the plot shows the same accuracy the table prints with its bars labelled, and a saved report JSON
(the committed ones) is enough to print and plot it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ssnenas.analysis import plots
from ssnenas.analysis.report import build_report, format_table, load_curves
from ssnenas.cli import main
from test_report import _write_run


@pytest.fixture
def drawn(monkeypatch):
    """Capture the figure a plot function would save: its axis labels and the plotted lines."""
    seen: dict = {}

    def capture(fig, path, **kw):
        ax = fig.axes[0]
        seen.update(xlabel=ax.get_xlabel(), ylabel=ax.get_ylabel(),
                    lines={ln.get_label(): np.asarray(ln.get_ydata()) for ln in ax.get_lines()
                           if not ln.get_label().startswith("_")})
        import matplotlib.pyplot as plt

        plt.close(fig)
        return path

    monkeypatch.setattr(plots, "save_png", capture)
    return seen


def test_the_table_says_what_its_numbers_are(tmp_path):
    _write_run(tmp_path / "run")
    text = format_table(build_report(tmp_path / "run"))
    header = text.splitlines()[1]
    assert header.startswith("each cell: mean ± std [P30, P70] over an algorithm's trials")
    assert "std: standard deviation over trials, not the standard error" in header
    assert "P30, P70: 30th and 70th percentiles" in header


@pytest.mark.parametrize("bars, label", [("p30p70", "bars: 30th to 70th percentile over trials (P30-P70)"),
                                         ("sem", "bars: mean ± standard error of the mean over trials (SEM)")])
def test_the_plot_shows_the_tables_accuracy_with_labelled_bars(tmp_path, drawn, bars, label):
    _write_run(tmp_path / "run")
    report = build_report(tmp_path / "run")
    _, curves = load_curves(tmp_path / "run")
    plots.plot_errorbar(curves, tmp_path / "p.png", bars=bars)
    assert drawn["ylabel"] == "test accuracy of the best-by-validation\narchitecture (%)"
    assert label in drawn["xlabel"] and "markers: mean over trials" in drawn["xlabel"]
    # the plotted means are the table's means of the test accuracy (not 100 - accuracy)
    np.testing.assert_allclose(drawn["lines"]["a (n=3)"], report["algorithms"]["a"]["mean_test_acc_of_best_val"])


def test_a_saved_report_json_prints_and_plots_like_its_run(tmp_path, capsys, drawn):
    _write_run(tmp_path / "run")
    assert main(["report", str(tmp_path / "run"), "--no-plot"]) == 0
    table = capsys.readouterr().out
    assert main(["report", str(tmp_path / "run"), "--json", "--no-plot"]) == 0
    saved = tmp_path / "saved.json"
    saved.write_text(capsys.readouterr().out)
    _, curves = load_curves(tmp_path / "run")
    plots.plot_errorbar(curves, tmp_path / "from-run.png")
    from_run = dict(drawn)
    assert main(["report", str(saved)]) == 0

    def blocks(text: str) -> list[str]:  # the saved JSON has its keys sorted: algorithms come a, b
        return sorted(text.strip().split("\n\n"))

    assert blocks(capsys.readouterr().out) == blocks(table)
    assert drawn["ylabel"] == from_run["ylabel"] and drawn["xlabel"] == from_run["xlabel"]
    assert drawn["lines"].keys() == from_run["lines"].keys()
    for name, y in from_run["lines"].items():
        np.testing.assert_allclose(drawn["lines"][name], y, atol=1e-6)


def test_a_json_that_is_not_a_benchmark_report_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"kind": "darts-search"}))
    assert main(["report", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a benchmark report" in err


def test_the_committed_plots_come_from_the_committed_reports():
    """experiments/results/benchmark/*.png are drawn by `ssnenas report X.json` from the JSON beside them."""
    from pathlib import Path

    results = Path(__file__).resolve().parents[1] / "experiments" / "results" / "benchmark"
    for saved in sorted(results.glob("*.json")):
        report = json.loads(saved.read_text())
        if report["kind"] == "ablation":  # a table of paired regrets (experiments/plus_ablation.py): no plot
            continue
        assert report["kind"] == "benchmark" and saved.with_suffix(".png").is_file()
