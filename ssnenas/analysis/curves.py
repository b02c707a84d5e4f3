"""Best-so-far curves of benchmark runs and their across-trial statistics, as in the NPENAS paper's
closed-domain experiments (arXiv 2003.12857).

For a trial's queries in evaluation order and a checkpoint q (10, 20, ... up to the budget):

    best_val(q)      = max_{i <= q} val_acc_i
    test_of_best(q)  = test_acc_{i*},  i* = first i <= q with val_acc_i = best_val(q)

(the original's ``compute_best_test_losses``, on accuracies). A trial with fewer than q queries
(a searcher that ran out of new architectures) contributes its value after its last query; a trial
with more (REA evaluates budget+1) is cut at q, so no reshape to (-1, 10) is ever needed (the
original code's reshape breaks on such trials).

Statistics per checkpoint over the n trials of one algorithm: mean, ``std`` (population, ddof=0,
as numpy and the original plots), ``sem`` = sample std (ddof=1) / sqrt(n) (0 for n = 1), and the
30th / 70th percentiles (numpy linear interpolation), which give the paper's asymmetric error bars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

STATS = ("mean", "std", "sem", "p30", "p70")


def checkpoints(budget: int, step: int = 10) -> np.ndarray:
    """``[step, 2*step, ..., <= budget]`` (int64)."""
    return np.arange(step, budget + 1, step, dtype=np.int64)


def best_so_far(val: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Running best validation accuracy and the test accuracy of the (first) arch attaining it.

    NaN validation values never become "best"; before any finite value both outputs are NaN.
    """
    val = np.asarray(val, dtype=np.float64)
    test = np.asarray(test, dtype=np.float64)
    best_val = np.full(val.shape, np.nan)
    best_test = np.full(val.shape, np.nan)
    cur_v, cur_t = -np.inf, np.nan
    for i, v in enumerate(val):
        if v > cur_v:  # strict: ties keep the earlier arch; NaN compares False
            cur_v, cur_t = v, test[i]
        if cur_v > -np.inf:
            best_val[i], best_test[i] = cur_v, cur_t
    return best_val, best_test


def stats(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Column statistics of a ``[trials, checkpoints]`` matrix (see the module docstring)."""
    x = np.asarray(matrix, dtype=np.float64)
    n = x.shape[0]
    if n == 0 or np.isnan(x).all():
        nan = np.full(x.shape[1], np.nan)
        return {s: nan.copy() for s in STATS}
    sem = (np.std(x, axis=0, ddof=1) / np.sqrt(n)) if n > 1 else np.zeros(x.shape[1])
    return {
        "mean": np.mean(x, axis=0),
        "std": np.std(x, axis=0),
        "sem": sem,
        "p30": np.percentile(x, 30, axis=0),
        "p70": np.percentile(x, 70, axis=0),
    }


@dataclass(frozen=True)
class AlgorithmCurves:
    """Per-trial best-so-far values of one algorithm at ``queries`` (rows follow ``trials``)."""

    algorithm: str
    queries: np.ndarray  # [Q]
    trials: np.ndarray  # [n]
    best_val: np.ndarray  # [n, Q]
    test_of_best_val: np.ndarray  # [n, Q]; all NaN when the store has no test column
    wall_time_s: np.ndarray  # [n]
    search_time_s: np.ndarray  # [n]
    #: per trial: seconds spent fitting predictors and the number of fits (``timing_predictor_fit_s``,
    #: ``timing_fits``); NaN for a searcher that records none (random, REA) or a run from before them
    predictor_fit_s: np.ndarray | None = None  # [n]
    fits: np.ndarray | None = None  # [n]

    @property
    def has_test(self) -> bool:
        return bool(np.isfinite(self.test_of_best_val).any())


def algorithm_curves(table: pa.Table, algorithm: str, queries: np.ndarray) -> AlgorithmCurves:
    """Curves of ``algorithm`` from a results table (rows of one trial in query order)."""
    t = table.filter(pc.equal(table["algorithm"], algorithm))
    trial_col = t["trial"].to_numpy()
    order = np.lexsort((t["query"].to_numpy(), trial_col))
    trial_col = trial_col[order]
    val = t["val_acc"].to_numpy(zero_copy_only=False).astype(np.float64)[order]
    test_arr = t["test_acc"]
    test = (np.full(len(t), np.nan) if pa.types.is_null(test_arr.type)
            else test_arr.to_numpy(zero_copy_only=False).astype(np.float64)[order])
    wall = t["wall_time_s"].to_numpy(zero_copy_only=False)[order]
    search = t["search_time_s"].to_numpy(zero_copy_only=False)[order]
    trials, starts = np.unique(trial_col, return_index=True)
    ends = np.append(starts[1:], len(trial_col))
    bv = np.full((len(trials), len(queries)), np.nan)
    bt = np.full_like(bv, np.nan)
    for r, (s, e) in enumerate(zip(starts, ends)):
        v, te = best_so_far(val[s:e], test[s:e])
        pick = np.minimum(queries, e - s) - 1
        bv[r], bt[r] = v[pick], te[pick]
    per_trial = {}
    for name in ("timing_predictor_fit_s", "timing_fits"):
        col = t[name] if name in t.column_names else None
        if col is None or pa.types.is_null(col.type):
            per_trial[name] = np.full(len(trials), np.nan)
        else:
            per_trial[name] = col.to_numpy(zero_copy_only=False).astype(np.float64)[order][starts]
    return AlgorithmCurves(algorithm=algorithm, queries=np.asarray(queries), trials=trials, best_val=bv,
                           test_of_best_val=bt, wall_time_s=wall[starts].astype(np.float64),
                           search_time_s=search[starts].astype(np.float64),
                           predictor_fit_s=per_trial["timing_predictor_fit_s"], fits=per_trial["timing_fits"])
