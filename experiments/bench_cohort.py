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

The measurement itself is ssnenas.measure.cohort_speed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ssnenas.errors import InputError
from ssnenas.measure import cohort_speed
from ssnenas.runner.config import parse_assignments, parse_overrides

STUDY_ALGOS = ("random", "rea", "bananas", "npenas-np", "npenas-bo", "npenas-ssrl", "npenas-ssccl")


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
    result = cohort_speed.study(
        REGISTRY, store, args.algos, trials=args.trials, single_trials=args.single_trials,
        cohort_size=args.cohort_size, seed=args.seed, budget=args.budget, predictors=predictors,
        overrides=overrides, project_trials=args.project_trials, cores=args.cores, device=args.device,
        store_label=str(args.data), on_row=None if args.json else lambda r: print(cohort_speed.row_line(r), flush=True))
    print(json.dumps(result, indent=1) if args.json else cohort_speed.projection_line(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
