"""Search quality and slot-time busy of asynchronous vs synchronous NPENAS on a NAS-Bench-201 table.

Each paired trial runs the same searcher (NPENAS-NP, same seed, so the same initial random batch) twice on
a simulated clock with ``--slots`` trial slots (search_algos.simulated): synchronously (the paper's
generations of k) and with asynchronous proposals (search_algos.asynchronous). A trial's result is the
table lookup; its simulated duration is :func:`search_algos.simulated.nb201_duration` (the tables hold no
training time). Reported per mode, over the trials: the best validation accuracy found within the budget
and the test accuracy of that architecture (the benchmark's convention), the same at half the synchronous
makespan (what a fixed wall-clock buys), the busy fraction of slot-time and the makespan; and the paired
differences async - sync with their standard errors.

    python -m experiments.bench_async_search --store /path/to/nb201-cifar10-valid --trials 6 --budget 100

Per-trial results are appended to ``--out`` (JSON lines) as they finish; re-running skips the trials already
there, so an interrupted run resumes. The measurement itself is ssnenas.measure.async_search.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", required=True, help="a prepared NAS-Bench-201 store folder")
    p.add_argument("--trials", type=int, default=6, help="paired trials (seeds 0..N-1; default 6)")
    p.add_argument("--budget", type=int, default=100, help="architectures per search (default 100)")
    p.add_argument("--slots", type=int, default=16, help="trial slots (default 16)")
    p.add_argument("--algorithm", default="npenas-np", help="an npenas algorithm (default npenas-np)")
    p.add_argument("--predictor-epochs", type=int, default=None,
                   help="predictor training epochs per fit (default: the paper's, 300 for NPENAS-NP)")
    p.add_argument("--out", default="async_vs_sync.jsonl", help="JSON lines of the trials (resumed)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON (alone on stdout)")
    args = p.parse_args(argv)

    import torch

    from search_algos import make_searcher
    from search_algos.asynchronous import asynchronous
    from search_algos.simulated import nb201_duration, run_simulated
    from ssnenas.measure import async_search
    from ssnenas.store import BenchmarkStore
    from trainables.tabular import tabular_evaluator

    torch.set_num_threads(1)
    store = BenchmarkStore.open(args.store)
    extra = {"epochs": args.predictor_epochs} if args.predictor_epochs else {}

    def searcher(seed: int, is_async: bool):
        s = make_searcher(args.algorithm, space="nasbench201", store=store, seed=seed, budget=args.budget, **extra)
        return asynchronous(s) if is_async else s

    def simulate(s, seed: int) -> dict:
        return run_simulated(s, tabular_evaluator(store), lambda a: nb201_duration(a, seed=seed), slots=args.slots,
                             budget=args.budget)

    settings = dict(budget=args.budget, slots=args.slots, predictor_epochs=args.predictor_epochs)
    summary = async_search.study(Path(args.out), trials=args.trials, settings=settings, searcher=searcher,
                                 simulate=simulate)
    summary.update(budget=args.budget, slots=args.slots, algorithm=args.algorithm, store=str(args.store),
                   predictor_epochs=args.predictor_epochs or "paper default")
    print(json.dumps(summary, indent=1) if args.json else "\n".join(async_search.report(summary)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
