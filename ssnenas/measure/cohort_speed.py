"""The cohort mode of the benchmark runner against one trial per task, side by side in one run.

For each algorithm, the same trials (the runner's seeds and paired initial architectures) run twice: one
search at a time (``registry.run_direct``) and in cohorts of C (``registry.run_cohort``: predictor fits
batched). Measured: trials/hour/core of both paths, the speed-up, whether the two paths gave the same
trials (architecture by architecture) and the same final best validation accuracies (with a Wilcoxon
signed-rank p-value where they differ), and the projected wall time of a full study.

Generic like the runner: ``registry`` is the searcher registry the caller runs (``search_algos.REGISTRY``:
``make``, ``run_direct``, ``run_cohort``, ``auto_cohort_size``).
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ssnenas.runner.config import initial_architectures, predictor_for, task_seed

TIMING_KEYS = ("predictor_fit_s", "candidates_s", "predict_s", "propose_s")


def searchers(registry: Any, name: str, store: Any, trials: list[int], *, seed: int, budget: int,
              predictors: dict[str, str], overrides: dict[str, Any], device: str = "cpu") -> list[Any]:
    """The searchers of ``trials`` as the benchmark runner makes them (its seeds, its paired initial archs)."""
    ckpt = predictor_for(name, predictors)
    return [registry.make(name, space=store.space.name, store=store, seed=task_seed(seed, t, name), budget=budget,
                          initial_archs=initial_architectures(store.space, store, seed, t),
                          predictor_checkpoint=ckpt, device=device, **overrides) for t in trials]


def table_evaluator(store: Any) -> Callable[[str], dict]:
    """A trial's result: the store's val_acc and test_acc of the architecture."""
    val, test = store.column("val_acc"), store.column("test_acc")

    def evaluate(arch: str) -> dict:
        _, i = store.locate(arch)
        return {"val_acc": float(val[i]), "test_acc": float(test[i])}
    return evaluate


def _best(history: list[dict]) -> float:
    return max(r["val_acc"] for r in history)


def measure(registry: Any, name: str, store: Any, *, trials: int, single_trials: int, cohort: int, seed: int,
            budget: int, predictors: dict[str, str], overrides: dict[str, Any],
            device: str = "cpu") -> dict[str, Any]:
    """Time both paths for one algorithm and compare their trials: one row of the study."""
    ids = list(range(trials))
    single_ids = ids[:single_trials]
    kw = dict(seed=seed, budget=budget, predictors=predictors, overrides=overrides, device=device)
    alone = searchers(registry, name, store, single_ids, **kw)
    t0 = time.perf_counter()
    single = [registry.run_direct(s, table_evaluator(store), budget) for s in alone]
    single_s = time.perf_counter() - t0
    together = searchers(registry, name, store, ids, **kw)
    t0 = time.perf_counter()
    cohorts: list[Any] = []
    for start in range(0, trials, cohort):
        chunk = together[start:start + cohort]
        cohorts += registry.run_cohort(chunk, [table_evaluator(store)] * len(chunk), budget)
    cohort_s = time.perf_counter() - t0
    failed = [r for r in cohorts if isinstance(r, BaseException)]
    if failed:
        raise failed[0]
    same_archs = all([r["arch"] for r in a] == [r["arch"] for r in b] for a, b in zip(single, cohorts))
    best_single = [_best(h) for h in single]
    best_cohort = [_best(h) for h in cohorts]
    per_single = single_s / max(1, single_trials)
    diffs = np.subtract(best_single, best_cohort[:single_trials])
    wilcoxon_p = None
    if np.any(diffs != 0):
        from scipy.stats import wilcoxon

        wilcoxon_p = round(float(wilcoxon(best_single, best_cohort[:single_trials]).pvalue), 4)
    per_cohort = cohort_s / trials
    return {
        "algorithm": name, "trials": trials, "single_trials": single_trials, "cohort_size": cohort,
        "single_s_per_trial": round(per_single, 4), "cohort_s_per_trial": round(per_cohort, 4),
        "single_trials_per_hour_per_core": round(3600.0 / per_single, 1),
        "cohort_trials_per_hour_per_core": round(3600.0 / per_cohort, 1),
        "speedup": round(per_single / per_cohort, 2),
        "same_archs": same_archs,
        "same_final_best_val": best_single == best_cohort[:single_trials],
        "wilcoxon_p": wilcoxon_p,
        "mean_best_val_cohort": round(float(np.mean(best_cohort)), 4),
        "cohort_task_s": round(per_cohort * cohort, 1),
        # where a cohort trial's time goes (its share of the batched fits, then its own work)
        "cohort_timings": {k: round(float(np.mean([s.timings.get(k, 0.0) for s in together])), 4)
                           for k in TIMING_KEYS},
        "single_timings": {k: round(float(np.mean([s.timings.get(k, 0.0) for s in alone])), 4)
                           for k in TIMING_KEYS},
    }


def projection(rows: list[dict[str, Any]], *, trials: int, cores: int) -> dict[str, float]:
    """Wall time of ``trials`` trials of every measured algorithm on ``cores`` cores (perfect packing)."""
    single = sum(r["single_s_per_trial"] for r in rows) * trials / cores
    cohort = sum(r["cohort_s_per_trial"] for r in rows) * trials / cores
    return {"trials": trials, "cores": cores, "single_hours": round(single / 3600, 2),
            "cohort_hours": round(cohort / 3600, 2)}


def row_line(row: dict[str, Any]) -> str:
    """One algorithm's result in a line."""
    return (f"{row['algorithm']:14s} C={row['cohort_size']:3d}  one-trial {row['single_s_per_trial']:8.3f} s/trial "
            f"({row['single_trials_per_hour_per_core']:>10,.0f} trials/h/core)  cohort "
            f"{row['cohort_s_per_trial']:8.3f} s/trial ({row['cohort_trials_per_hour_per_core']:>10,.0f})  "
            f"x{row['speedup']:.2f}  same archs: {row['same_archs']}  same best val: "
            f"{row['same_final_best_val']}")


def study(registry: Any, store: Any, algos: Sequence[str], *, trials: int, single_trials: int,
          cohort_size: str | int, seed: int, budget: int, predictors: dict[str, str],
          overrides: dict[str, dict[str, Any]], project_trials: int, cores: int, device: str = "cpu",
          store_label: str = "", on_row: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """:func:`measure` every algorithm on one torch thread (``on_row`` sees each row as it is done), with
    the projection and the machine's load average before and after (other jobs slow both paths).
    ``cohort_size`` "auto" takes the benchmark's rule (``registry.auto_cohort_size``); ``overrides`` are
    per algorithm as ``parse_overrides`` gives them ("*" for all); ``store_label`` is recorded as "store"."""
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    rows = []
    for name in algos:
        c = (registry.auto_cohort_size(name, trials) if cohort_size == "auto"
             else max(1, min(int(cohort_size), trials)))
        row = measure(registry, name, store, trials=trials, single_trials=single_trials, cohort=c, seed=seed,
                      budget=budget, predictors=predictors,
                      overrides={**overrides.get("*", {}), **overrides.get(name, {})}, device=device)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return {"store": store_label, "budget": budget, "seed": seed, "rows": rows,
            "projection": projection(rows, trials=project_trials, cores=cores),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "overrides": overrides, "device": device}


def projection_line(result: dict[str, Any]) -> str:
    """The study's closing line: the projected wall time of both paths and the load average."""
    pr = result["projection"]
    return (f"projected {pr['trials']} trials x {len(result['rows'])} algorithms on {pr['cores']} cores: one trial "
            f"per task {pr['single_hours']:.2f} h, cohorts {pr['cohort_hours']:.2f} h (load average "
            f"{result['loadavg_before'][0]:.1f} -> {result['loadavg_after'][0]:.1f} on {result['cpus']} CPUs)")
