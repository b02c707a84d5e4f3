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
there, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any


def _best_at(trials: list[dict], until: float | None = None) -> tuple[float, float | None]:
    done = [t for t in trials if until is None or t["end"] <= until]
    if not done:
        return math.nan, None
    best = max(done, key=lambda t: t["val_acc"])
    return best["val_acc"], best.get("test_acc")


def one_trial(store, seed: int, *, slots: int, budget: int, algorithm: str,
              predictor_epochs: int | None = None) -> dict[str, Any]:
    """The sync and async runs of one seed."""
    from search_algos import make_searcher
    from search_algos.asynchronous import asynchronous
    from search_algos.simulated import nb201_duration, run_simulated
    from trainables.tabular import tabular_evaluator

    out: dict[str, Any] = {"seed": seed}
    for mode in ("sync", "async"):
        extra = {"epochs": predictor_epochs} if predictor_epochs else {}
        s = make_searcher(algorithm, space="nasbench201", store=store, seed=seed, budget=budget, **extra)
        if mode == "async":
            s = asynchronous(s)
        t0 = time.perf_counter()
        run = run_simulated(s, tabular_evaluator(store), lambda a: nb201_duration(a, seed=seed), slots=slots,
                            budget=budget)
        val, test = _best_at(run["trials"])
        out[mode] = {"best_val_acc": val, "test_acc": test, "busy_fraction": run["busy_fraction"],
                     "makespan": run["makespan"], "max_running": run["max_running"], "fits": s.timings["fits"],
                     "compute_s": time.perf_counter() - t0, "trials": run["trials"]}
    half = out["sync"]["makespan"] / 2
    for mode in ("sync", "async"):
        val, test = _best_at(out[mode]["trials"], half)
        out[mode].update(best_val_acc_at_half_sync_time=val, test_acc_at_half_sync_time=test)
    return out


def summarise(rows: list[dict]) -> dict[str, Any]:
    import numpy as np

    keys = ("best_val_acc", "test_acc", "best_val_acc_at_half_sync_time", "test_acc_at_half_sync_time",
            "busy_fraction", "makespan", "fits")
    out: dict[str, Any] = {"trials": len(rows)}
    for mode in ("sync", "async"):
        out[mode] = {k: float(np.mean([r[mode][k] for r in rows])) for k in keys}
    out["async_minus_sync"] = {}
    for k in keys[:4]:
        d = np.array([r["async"][k] - r["sync"][k] for r in rows], dtype=float)
        out["async_minus_sync"][k] = {"mean": float(d.mean()),
                                      "sem": float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else None}
    return out


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

    from ssnenas.store import BenchmarkStore

    torch.set_num_threads(1)
    store = BenchmarkStore.open(args.store)
    path = Path(args.out)
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    def same(r: dict) -> bool:
        return (r.get("budget"), r.get("slots"), r.get("predictor_epochs")) == (args.budget, args.slots,
                                                                                 args.predictor_epochs)

    done = {r["seed"] for r in rows if same(r)}
    for seed in range(args.trials):
        if seed in done:
            continue
        r = one_trial(store, seed, slots=args.slots, budget=args.budget, algorithm=args.algorithm,
                      predictor_epochs=args.predictor_epochs)
        r.update(budget=args.budget, slots=args.slots, predictor_epochs=args.predictor_epochs)
        with open(path, "a") as fh:
            fh.write(json.dumps(r) + "\n")
        rows.append(r)
        print(f"seed {seed}: sync best val {r['sync']['best_val_acc']:.2f} (busy {r['sync']['busy_fraction']:.2f}), "
              f"async {r['async']['best_val_acc']:.2f} (busy {r['async']['busy_fraction']:.2f}); "
              f"{r['sync']['compute_s'] + r['async']['compute_s']:.0f} s", file=sys.stderr, flush=True)
    rows = [r for r in rows if same(r) and r["seed"] < args.trials]
    summary = summarise(rows)
    summary.update(budget=args.budget, slots=args.slots, algorithm=args.algorithm, store=str(args.store),
                   predictor_epochs=args.predictor_epochs or "paper default")
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"{summary['trials']} paired trials, budget {args.budget}, {args.slots} slots, {args.algorithm}, "
              f"predictor epochs {summary['predictor_epochs']}")
        for mode in ("sync", "async"):
            m = summary[mode]
            print(f"  {mode:5s}: best val {m['best_val_acc']:.2f}, test {m['test_acc']:.2f}; at half the sync time: "
                  f"val {m['best_val_acc_at_half_sync_time']:.2f}; busy {m['busy_fraction']:.3f}, "
                  f"makespan {m['makespan']:.1f}, {m['fits']:.0f} fits")
        for k, d in summary["async_minus_sync"].items():
            sem = f" ± {d['sem']:.2f} (SEM)" if d["sem"] is not None else ""
            print(f"  async - sync {k}: {d['mean']:+.2f}{sem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
