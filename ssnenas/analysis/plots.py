"""The paper's closed-domain plot (algorithms.md §6, ERRORBAR): mean error of the best-by-validation
architecture vs the number of queried architectures, with asymmetric bars [mean - P30, P70 - mean].

Error = 100 - accuracy, of the test accuracy when the store has one, else of the best validation
accuracy (the y label says which). ``bars="sem"`` draws ±SEM instead (§11 item 9).

The bars are drawn as the interval [P30, P70] itself, not as lengths around the mean: when many
trials reach the same architecture (e.g. the NB201 optimum) the mean can fall outside [P30, P70],
where ``mean - P30`` turns negative and the original's ``errorbar(yerr=...)`` call would fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ssnenas.analysis.curves import AlgorithmCurves
from ssnenas.atomic import atomic_path
from ssnenas.errors import InputError

BARS = ("p30p70", "sem")


def save_png(fig, path: str | os.PathLike, *, dpi: int | None = None) -> Path:
    """Write ``fig`` as a PNG atomically (a killed run never leaves half a plot) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return path


def error_bars(errors: np.ndarray, bars: str = "p30p70") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, low, high)`` per column of a ``[trials, Q]`` error matrix: the bar spans [low, high]."""
    mean = errors.mean(axis=0)
    if bars == "p30p70":
        return mean, np.percentile(errors, 30, axis=0), np.percentile(errors, 70, axis=0)
    if bars == "sem":
        n = errors.shape[0]
        sem = errors.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(errors.shape[1])
        return mean, mean - sem, mean + sem
    raise InputError(f"--bars {bars!r}: choose one of {', '.join(BARS)}")


def plot_errorbar(curves: dict[str, AlgorithmCurves], out: str | os.PathLike, *, title: str = "",
                  bars: str = "p30p70") -> Path:
    """Write the ERRORBAR plot of ``curves`` (algorithms in the dict's order) to ``out`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    use_test = any(c.has_test for c in curves.values())
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    try:
        for i, (name, c) in enumerate(curves.items()):
            acc = c.test_of_best_val if use_test else c.best_val
            if acc.shape[0] == 0:
                continue
            mean, lo, hi = error_bars(100.0 - acc, bars)
            x = c.queries + (i - (len(curves) - 1) / 2) * 0.6  # small offsets keep overlapping bars readable
            (line,) = ax.plot(x, mean, marker="o", markersize=3, linewidth=1.2, label=f"{name} (n={acc.shape[0]})")
            ax.errorbar(x, (lo + hi) / 2, yerr=(hi - lo) / 2, fmt="none", ecolor=line.get_color(), capsize=4,
                        linewidth=1.0)
        ax.set_xlabel("number of samples")
        ax.set_ylabel("testing error of best neural net (%)" if use_test
                      else "validation error of best neural net (%)")
        if title:
            ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
    except BaseException:
        plt.close(fig)
        raise
    return save_png(fig, out)
