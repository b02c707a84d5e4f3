"""Benchmark the cohort mode of ``ssnenas benchmark`` against one trial per task, side by side in one run.

For each algorithm, the same trials (the runner's seeds and paired initial architectures, NB201 store,
budget 100) run on one CPU thread twice: one search at a time (``run_direct``, today's task) and in
cohorts of C (``run_cohort``: predictor fits batched). It prints trials/hour/core of both paths, the
speed-up, whether the two paths gave the same trials (architecture by architecture) and the same final
best validation accuracies, and projects the wall time of a full study (600 trials x the algorithms)
on ``--cores`` cores.

    python -m experiments.bench_cohort --data /work/stores/nb201-cifar10-valid \\
        --algos npenas-np npenas-bo bananas --trials 8 --single-trials 2 [--json]

``--single-trials M`` times the one-trial path on the first M of the ``--trials N`` trials only (its
per-trial cost hardly varies; a cohort needs N trials to show its speed) and checks those M against
the cohort's. The machine's load average is recorded: other jobs sharing the cores slow both paths.

Where the two paths are not bit-identical (e.g. on a GPU, whose batched matmul kernels may depend on
the batch count), run M = N >= 100 paired trials: ``wilcoxon_p`` is then the two-sided Wilcoxon
signed-rank p-value of the paired final best validation accuracies (None when they are all equal):

    python -m experiments.bench_cohort --algos npenas-np npenas-bo bananas --trials 100 \
        --single-trials 100 --device cuda --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssnenas.runner.config import initial_architectures, parse_assignments, parse_overrides, predictor_for, task_seed
from ssnenas.errors import InputError

STUDY_ALGOS = ("random", "rea", "bananas", "npenas-np", "npenas-bo", "npenas-ssrl", "npenas-ssccl")


def _searchers(name: str, store: Any, trials: list[int], *, seed: int, budget: int,
               predictors: dict[str, str], overrides: dict[str, Any], device: str = "cpu") -> list[Any]:
    from search_algos import REGISTRY

    ckpt = predictor_for(name, predictors)
    return [REGISTRY.make(name, space=store.space.name, store=store, seed=task_seed(seed, t, name), budget=budget,
                          initial_archs=initial_architectures(store.space, store, seed, t),
                          predictor_checkpoint=ckpt, device=device, **overrides) for t in trials]


def _evaluator(store: Any):
    val, test = store.column("val_acc"), store.column("test_acc")

    def evaluate(arch: str) -> dict:
        _, i = store.locate(arch)
        return {"val_acc": float(val[i]), "test_acc": float(test[i])}
    return evaluate


def _best(history: list[dict]) -> float:
    return max(r["val_acc"] for r in history)


def measure(name: str, store: Any, *, trials: int, single_trials: int, cohort: int, seed: int, budget: int,
            predictors: dict[str, str], overrides: dict[str, Any], device: str = "cpu") -> dict[str, Any]:
    """Time both paths for one algorithm and compare their trials."""
    from search_algos import REGISTRY

    ids = list(range(trials))
    single_ids = ids[:single_trials]
    kw = dict(seed=seed, budget=budget, predictors=predictors, overrides=overrides, device=device)
    alone = _searchers(name, store, single_ids, **kw)
    t0 = time.perf_counter()
    single = [REGISTRY.run_direct(s, _evaluator(store), budget) for s in alone]
    single_s = time.perf_counter() - t0
    together = _searchers(name, store, ids, **kw)
    t0 = time.perf_counter()
    cohorts: list[Any] = []
    for start in range(0, trials, cohort):
        chunk = together[start:start + cohort]
        cohorts += REGISTRY.run_cohort(chunk, [_evaluator(store)] * len(chunk), budget)
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
                           for k in ("predictor_fit_s", "candidates_s", "predict_s", "propose_s")},
        "single_timings": {k: round(float(np.mean([s.timings.get(k, 0.0) for s in alone])), 4)
                           for k in ("predictor_fit_s", "candidates_s", "predict_s", "propose_s")},
    }


def projection(rows: list[dict[str, Any]], *, trials: int, cores: int) -> dict[str, float]:
    """Wall time of ``trials`` trials of every measured algorithm on ``cores`` cores (perfect packing)."""
    single = sum(r["single_s_per_trial"] for r in rows) * trials / cores
    cohort = sum(r["cohort_s_per_trial"] for r in rows) * trials / cores
    return {"trials": trials, "cores": cores, "single_hours": round(single / 3600, 2),
            "cohort_hours": round(cohort / 3600, 2)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path("/work/stores/nb201-cifar10-valid"),
                   help="a prepared NB201 store folder")
    p.add_argument("--algos", nargs="+", default=list(STUDY_ALGOS), metavar="ALGO")
    p.add_argument("--trials", type=int, default=8, help="trials of the cohort path (N)")
    p.add_argument("--single-trials", type=int, default=2, help="of those, timed on the one-trial path (M)")
    p.add_argument("--cohort-size", default="auto",
                   help="C, or auto (the benchmark's rule: search_algos.REGISTRY.auto_cohort_size)")
    p.add_argument("--budget", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--predictor", nargs="+", default=[], metavar="KIND=CKPT",
                   help="ss-rl=CKPT ss-ccl=CKPT (needed for npenas-ssrl / npenas-ssccl)")
    p.add_argument("--set", nargs="+", default=[], metavar="[ALGO:]KEY=VALUE", dest="overrides",
                   help="searcher settings as for ssnenas benchmark (e.g. epochs=50 to try it quickly)")
    p.add_argument("--project-trials", type=int, default=600, help="trials per algorithm of the projected study")
    p.add_argument("--cores", type=int, default=2, help="cores of the projected study")
    p.add_argument("--device", default="cpu", help="where predictors train (cpu, cuda)")
    p.add_argument("--json", action="store_true", help="print JSON only")
    args = p.parse_args(argv)
    from search_algos import REGISTRY
    from ssnenas.store import BenchmarkStore

    try:
        if not 1 <= args.single_trials <= args.trials:
            raise InputError(f"--single-trials {args.single_trials}: pass 1 to --trials ({args.trials})")
        predictors = parse_assignments(args.predictor, "--predictor")
        overrides = parse_overrides(args.overrides)
        store = BenchmarkStore.open(args.data)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    rows = []
    for name in args.algos:
        c = (REGISTRY.auto_cohort_size(name, args.trials) if args.cohort_size == "auto"
             else max(1, min(int(args.cohort_size), args.trials)))
        row = measure(name, store, trials=args.trials, single_trials=args.single_trials, cohort=c,
                      seed=args.seed, budget=args.budget, predictors=predictors,
                      overrides={**overrides.get("*", {}), **overrides.get(name, {})}, device=args.device)
        rows.append(row)
        if not args.json:
            print(f"{name:14s} C={c:3d}  one-trial {row['single_s_per_trial']:8.3f} s/trial "
                  f"({row['single_trials_per_hour_per_core']:>10,.0f} trials/h/core)  cohort "
                  f"{row['cohort_s_per_trial']:8.3f} s/trial ({row['cohort_trials_per_hour_per_core']:>10,.0f})  "
                  f"x{row['speedup']:.2f}  same archs: {row['same_archs']}  same best val: "
                  f"{row['same_final_best_val']}", flush=True)
    result = {"store": str(args.data), "budget": args.budget, "seed": args.seed, "rows": rows,
              "projection": projection(rows, trials=args.project_trials, cores=args.cores),
              "loadavg_before": [round(x, 2) for x in load_before],
              "loadavg_after": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(),
              "torch_threads": torch.get_num_threads(), "overrides": overrides,
              "device": args.device}
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        pr = result["projection"]
        print(f"projected {pr['trials']} trials x {len(rows)} algorithms on {pr['cores']} cores: one trial per "
              f"task {pr['single_hours']:.2f} h, cohorts {pr['cohort_hours']:.2f} h (load average "
              f"{result['loadavg_before'][0]:.1f} -> {result['loadavg_after'][0]:.1f} on {result['cpus']} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
