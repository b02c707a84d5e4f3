"""The closed-domain plot of the NPENAS paper (arXiv 2003.12857): the test accuracy of the
best-by-validation architecture vs the number of queried architectures, mean over trials with
bars from the 30th to the 70th percentile (P30-P70) of the trials.

It shows accuracy, as ``ssnenas report`` prints it (the paper plots the error, 100 - accuracy: the
same curves upside down), of the test accuracy when the store has one, else of the best
validation accuracy (the y label says which); ``bars="sem"`` draws mean ± SEM instead. The x-axis
label says what the markers and the bars are. The y label names the run's metric (``metric=``, or a
report's ``"metric"`` entry: e.g. a TransNAS-Bench-101 SSIM or negative loss), percent accuracy without one.

The bars are drawn as the interval [P30, P70] itself, not as lengths around the mean: when many
trials reach the same architecture (e.g. the NB201 optimum) the mean can fall outside [P30, P70],
where ``mean - P30`` turns negative and the original's ``errorbar(yerr=...)`` call would fail.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ssnenas.analysis.curves import AlgorithmCurves
from ssnenas.errors import InputError
from ssnenas.metric_spec import PERCENT, MetricSpec
from ssnenas.figures import save_png  # noqa: F401 - also this module's public name (darts, experiments)

BARS = ("p30p70", "sem")


#: What the bars are, as the figure's note says it.
BAR_LABELS = {"p30p70": "bars: 30th to 70th percentile over trials (P30-P70)",
              "sem": "bars: mean ± standard error of the mean over trials (SEM)"}


def error_bars(errors: np.ndarray, bars: str = "p30p70") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, low, high)`` per column of a ``[trials, Q]`` matrix (of accuracies or errors): the
    bar spans [low, high]."""
    mean = errors.mean(axis=0)
    if bars == "p30p70":
        return mean, np.percentile(errors, 30, axis=0), np.percentile(errors, 70, axis=0)
    if bars == "sem":
        n = errors.shape[0]
        sem = errors.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(errors.shape[1])
        return mean, mean - sem, mean + sem
    raise InputError(f"--bars {bars!r}: choose one of {', '.join(BARS)}")


Series = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]  # queries, mean, low, high, trials


def plot_errorbar(curves: dict[str, AlgorithmCurves], out: str | os.PathLike, *, title: str = "",
                  bars: str = "p30p70", metric: MetricSpec | None = None) -> Path:
    """Write the plot of ``curves`` (algorithms in the dict's order) to ``out`` (PNG); ``metric``: what
    the values are (``ssnenas.analysis.report.config_metric`` of the run; None: accuracy in percent)."""
    use_test = any(c.has_test for c in curves.values())
    series: dict[str, Series] = {}
    for name, c in curves.items():
        acc = c.test_of_best_val if use_test else c.best_val
        if acc.shape[0]:
            series[name] = (np.asarray(c.queries), *error_bars(acc, bars), int(acc.shape[0]))
    return _draw(series, out, use_test=use_test, title=title, bars=bars, metric=metric or PERCENT)


def _report_metric(report: dict[str, Any]) -> MetricSpec:
    entry = report.get("metric")
    return MetricSpec.from_metadata(entry) if isinstance(entry, dict) else PERCENT


def plot_report(report: dict[str, Any], out: str | os.PathLike, *, title: str = "",
                bars: str = "p30p70") -> Path:
    """The same plot from a benchmark report (``ssnenas report --json``, e.g. a committed one),
    whose per-checkpoint mean, P30, P70 and SEM are all it needs."""
    if bars not in BARS:
        raise InputError(f"--bars {bars!r}: choose one of {', '.join(BARS)}")
    use_test = bool(report.get("has_test"))
    metric = "test_acc_of_best_val" if use_test else "best_val_acc"
    series: dict[str, Series] = {}
    for name, e in report["algorithms"].items():
        if not e.get("num_trials"):
            continue
        mean = np.asarray(e[f"mean_{metric}"], dtype=np.float64)
        if bars == "p30p70":
            lo, hi = (np.asarray(e[f"{s}_{metric}"], dtype=np.float64) for s in ("p30", "p70"))
        else:
            sem = np.asarray(e[f"sem_{metric}"], dtype=np.float64)
            lo, hi = mean - sem, mean + sem
        series[name] = (np.asarray(e["queries"]), mean, lo, hi, int(e["num_trials"]))
    return _draw(series, out, use_test=use_test, title=title, bars=bars, metric=_report_metric(report))


def _draw(series: dict[str, Series], out: str | os.PathLike, *, use_test: bool, title: str, bars: str,
          metric: MetricSpec = PERCENT) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if bars not in BARS:
        raise InputError(f"--bars {bars!r}: choose one of {', '.join(BARS)}")
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    try:
        for i, (name, (queries, mean, lo, hi, n)) in enumerate(series.items()):
            x = queries + (i - (len(series) - 1) / 2) * 0.6  # small offsets keep overlapping bars readable
            (line,) = ax.plot(x, mean, marker="o", markersize=3, linewidth=1.2, label=f"{name} (n={n})")
            ax.errorbar(x, (lo + hi) / 2, yerr=(hi - lo) / 2, fmt="none", ecolor=line.get_color(), capsize=4,
                        linewidth=1.0)
        ax.set_xlabel(f"number of architectures queried\n(markers: mean over trials; {BAR_LABELS[bars]})")
        ax.set_ylabel(metric.axis_label(test=use_test))
        if title:
            ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
        fig.tight_layout()
    except BaseException:
        plt.close(fig)
        raise
    return save_png(fig, out)


def fixed_budget_series(report: dict[str, Any]) -> dict[str, list[tuple[int, str]]]:
    """``{reference: [(training_nums, algorithm), ...]}`` of the report's comparisons whose algorithm
    is a fixed-budget variant named with its training_nums (``npenas-ssrl-fixed:20``), sorted by N."""
    from ssnenas.analysis.report import fixed_budget_parts

    out: dict[str, list[tuple[int, str]]] = {}
    for name, c in (report.get("comparisons") or {}).items():
        parts = fixed_budget_parts(name)
        if parts is not None and parts[1] is not None and parts[0] == c["reference"]:
            out.setdefault(c["reference"], []).append((parts[1], name))
    return {r: sorted(v) for r, v in out.items()}


def plot_fixed_budget(report: dict[str, Any], out: str | os.PathLike, *, title: str = "",
                      bars: str = "p30p70") -> Path | None:
    """The fixed-budget study (SSNENAS §5.2): per unrestricted algorithm, against the training_nums N of
    its ``-fixed:N`` variants, (left) the final accuracy, mean with a P30-P70 bar (``bars="sem"``: ±
    SEM), the reference's mean and bar drawn across as a line and a band, and (right) the
    predictor-fitting seconds per trial, each point labelled with its fits per trial. None (nothing
    drawn) when the report has no such variants."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if bars not in BARS:
        raise InputError(f"--bars {bars!r}: choose one of {', '.join(BARS)}")
    series = fixed_budget_series(report)
    if not series:
        return None
    use_test = bool(report.get("has_test"))
    metric = "test_acc_of_best_val" if use_test else "best_val_acc"

    def bar(e: dict[str, Any]) -> tuple[float, float]:
        if bars == "p30p70":
            return e[f"p30_{metric}"][-1], e[f"p70_{metric}"][-1]
        m, sem = e[f"mean_{metric}"][-1], e[f"sem_{metric}"][-1]
        return m - sem, m + sem
    algos = report["algorithms"]
    fig, (ax_acc, ax_fit) = plt.subplots(1, 2, figsize=(10, 4.2), dpi=120)
    try:
        for ref, members in series.items():
            r = algos[ref]
            (line,) = ax_acc.plot([], [])  # takes the next colour for this family
            color = line.get_color()
            ns = np.array([n for n, _ in members], dtype=np.float64)
            last = [algos[a] for _, a in members]
            mean = np.array([e[f"mean_{metric}"][-1] for e in last], dtype=np.float64)
            lo, hi = (np.array(v, dtype=np.float64) for v in zip(*(bar(e) for e in last)))
            ax_acc.plot(ns, mean, marker="o", color=color, label=f"{ref}-fixed:N (n={last[0]['num_trials']})")
            ax_acc.errorbar(ns, (lo + hi) / 2, yerr=(hi - lo) / 2, fmt="none", ecolor=color, capsize=4)
            ax_acc.axhline(r[f"mean_{metric}"][-1], color=color, linestyle="--", linewidth=1,
                           label=f"{ref} (unrestricted, n={r['num_trials']})")
            ax_acc.axhspan(*bar(r), color=color, alpha=0.12)
            fit = np.array([np.nan if e.get("predictor_fit_s_mean") is None else e["predictor_fit_s_mean"]
                            for e in last])
            ax_fit.plot(ns, fit, marker="o", color=color, label=f"{ref}-fixed:N")
            for x, y, e in zip(ns, fit, last):
                if np.isfinite(y) and e.get("fits_mean") is not None:
                    ax_fit.annotate(f"{e['fits_mean']:.0f} fits", (x, y), textcoords="offset points", xytext=(4, 4),
                                    fontsize=7, color=color)
            if r.get("predictor_fit_s_mean") is not None:
                ax_fit.axhline(r["predictor_fit_s_mean"], color=color, linestyle="--", linewidth=1,
                               label=f"{ref} ({r['fits_mean']:.0f} fits)" if r.get("fits_mean") is not None
                               else ref)
        q = algos[next(iter(series))]["queries"][-1]
        ax_acc.set_xlabel(f"training_nums N (predictor frozen once trained on >= N archs)\n(markers: mean over "
                          f"trials at {q} queries; bars and band: {'P30-P70' if bars == 'p30p70' else '± SEM'})")
        ax_acc.set_ylabel(_report_metric(report).axis_label(test=use_test) + f" at {q} queries")
        ax_fit.set_xlabel("training_nums N\n(dashed: the unrestricted reference)")
        ax_fit.set_ylabel("predictor-fitting seconds per trial (mean)")
        ax_fit.set_ylim(0, ax_fit.get_ylim()[1] * 1.12)  # room for the labels above the highest point
        for ax in (ax_acc, ax_fit):
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="best")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    except BaseException:
        plt.close(fig)
        raise
    return save_png(fig, out)
