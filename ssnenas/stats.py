"""Rank correlations of a predictor, and the statistics studies and reports give over repeats.

Shared by the predictor study (``ssnenas.predstudy``) and the run reports (``ssnenas.analysis``),
so it lives below both.

Kendall τ is scipy's τ-b (ties in either ranking handled), Spearman ρ scipy's ``spearmanr`` (Pearson
correlation of the average ranks). A constant prediction makes both undefined (NaN); as in the
original studies that counts as 0, and the NaN is also counted so a report can say how often.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple, Sequence

import numpy as np
from scipy import stats


class Correlation(NamedTuple):
    kendall_tau: float
    spearman_rho: float
    kendall_tau_nan: bool  # the raw τ was NaN and is reported as 0
    spearman_rho_nan: bool


def rank_correlation(predicted: Sequence[float], true: Sequence[float]) -> Correlation:
    """Kendall τ-b and Spearman ρ of ``predicted`` against ``true`` (NaN → 0, flagged)."""
    p = np.asarray(predicted, dtype=np.float64)
    t = np.asarray(true, dtype=np.float64)
    if p.shape != t.shape or p.ndim != 1:
        raise ValueError(f"predicted {p.shape} and true {t.shape} must be 1-D and of equal length")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: scipy warns and returns NaN
        tau = float(stats.kendalltau(p, t).statistic) if p.size >= 2 else math.nan
        rho = float(stats.spearmanr(p, t).statistic) if p.size >= 2 else math.nan
    return Correlation(0.0 if math.isnan(tau) else tau, 0.0 if math.isnan(rho) else rho,
                       math.isnan(tau), math.isnan(rho))


def spread(values: Sequence[float]) -> dict[str, float | int | None]:
    """``mean``, ``std`` (ddof 1), ``sem`` = std/√n, ``min``, ``max``, ``p30``, ``p70``, ``n``.

    Undefined entries (std and sem of one value, everything of none) are None.
    """
    v = np.asarray(values, dtype=np.float64)
    n = int(v.size)
    if n == 0:
        return {"mean": None, "std": None, "sem": None, "min": None, "max": None, "p30": None,
                "p70": None, "n": 0}
    std = float(v.std(ddof=1)) if n > 1 else None
    return {"mean": float(v.mean()), "std": std, "sem": None if std is None else std / math.sqrt(n),
            "min": float(v.min()), "max": float(v.max()), "p30": float(np.percentile(v, 30)),
            "p70": float(np.percentile(v, 70)), "n": n}


def paired_difference(values: Sequence[float], baseline: Sequence[float]) -> dict[str, float | int | None]:
    """Paired comparison of two predictors over the same splits: d_i = values_i − baseline_i.

    Returns ``mean_diff``, ``std``, ``sem``, ``n``, ``wins`` (d > 0), ``losses`` (d < 0) and
    ``p_value`` of the two-sided Wilcoxon signed-rank test (scipy; zero differences dropped, exact
    null distribution for small n). ``p_value`` is None when it is undefined (no non-zero difference).
    """
    a = np.asarray(values, dtype=np.float64)
    b = np.asarray(baseline, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.shape} vs {b.shape}")
    d = a - b
    s = spread(d)
    p = None
    if np.count_nonzero(d) >= 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = float(stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)
        if math.isnan(p):
            p = None
    return {"mean_diff": s["mean"], "std": s["std"], "sem": s["sem"], "n": s["n"],
            "wins": int((d > 0).sum()), "losses": int((d < 0).sum()), "p_value": p}
