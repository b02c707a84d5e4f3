"""Search quality and slot-time busy of asynchronous vs synchronous proposals, paired by seed.

Each paired trial runs the same searcher (same seed, so the same initial random batch) twice on a
simulated clock: synchronously (the paper's generations of k) and with asynchronous proposals. Reported
per mode, over the trials: the best validation accuracy found within the budget and the test accuracy of
that architecture (the benchmark's convention), the same at half the synchronous makespan (what a fixed
wall-clock buys), the busy fraction of slot-time and the makespan; and the paired differences
async - sync with their standard errors.

The searchers and the simulated-clock driver live in ``search_algos``; the caller passes them in as two
callables, ``searcher(seed, is_async)`` and ``simulate(searcher, seed) -> run`` (a run as
``search_algos.simulated.run_simulated`` returns it).
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

MODES = ("sync", "async")
SUMMARY_KEYS = ("best_val_acc", "test_acc", "best_val_acc_at_half_sync_time", "test_acc_at_half_sync_time",
                "busy_fraction", "makespan", "fits")


def best_at(trials: list[dict], until: float | None = None) -> tuple[float, float | None]:
    """(best val_acc, its test_acc) among the trials finished by simulated time ``until`` (all if None)."""
    done = [t for t in trials if until is None or t["end"] <= until]
    if not done:
        return math.nan, None
    best = max(done, key=lambda t: t["val_acc"])
    return best["val_acc"], best.get("test_acc")


def one_trial(seed: int, *, searcher: Callable[[int, bool], Any],
              simulate: Callable[[Any, int], dict]) -> dict[str, Any]:
    """The sync and async runs of one seed, with the half-sync-makespan figures of both."""
    out: dict[str, Any] = {"seed": seed}
    for mode in MODES:
        s = searcher(seed, mode == "async")
        t0 = time.perf_counter()
        run = simulate(s, seed)
        val, test = best_at(run["trials"])
        out[mode] = {"best_val_acc": val, "test_acc": test, "busy_fraction": run["busy_fraction"],
                     "makespan": run["makespan"], "max_running": run["max_running"], "fits": s.timings["fits"],
                     "compute_s": time.perf_counter() - t0, "trials": run["trials"]}
    half = out["sync"]["makespan"] / 2
    for mode in MODES:
        val, test = best_at(out[mode]["trials"], half)
        out[mode].update(best_val_acc_at_half_sync_time=val, test_acc_at_half_sync_time=test)
    return out


def summarise(rows: list[dict]) -> dict[str, Any]:
    """Means per mode and the paired async - sync differences (mean, SEM; SEM None for one trial)."""
    out: dict[str, Any] = {"trials": len(rows)}
    for mode in MODES:
        out[mode] = {k: float(np.mean([r[mode][k] for r in rows])) for k in SUMMARY_KEYS}
    out["async_minus_sync"] = {}
    for k in SUMMARY_KEYS[:4]:
        d = np.array([r["async"][k] - r["sync"][k] for r in rows], dtype=float)
        out["async_minus_sync"][k] = {"mean": float(d.mean()),
                                      "sem": float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else None}
    return out


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def study(path: Path, *, trials: int, settings: dict[str, Any], searcher: Callable[[int, bool], Any],
          simulate: Callable[[Any, int], dict], log: Callable[[str], None] = _stderr) -> dict[str, Any]:
    """Run seeds 0..trials-1, appending each finished trial to the JSON lines at ``path`` (tagged with
    ``settings``); trials already there with the same settings are skipped, so an interrupted study
    resumes. Returns :func:`summarise` of this study's trials."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []

    def same(r: dict) -> bool:
        return all(r.get(k) == v for k, v in settings.items())

    done = {r["seed"] for r in rows if same(r)}
    for seed in range(trials):
        if seed in done:
            continue
        r = one_trial(seed, searcher=searcher, simulate=simulate)
        r.update(settings)
        with open(path, "a") as fh:
            fh.write(json.dumps(r) + "\n")
        rows.append(r)
        log(f"seed {seed}: sync best val {r['sync']['best_val_acc']:.2f} (busy {r['sync']['busy_fraction']:.2f}), "
            f"async {r['async']['best_val_acc']:.2f} (busy {r['async']['busy_fraction']:.2f}); "
            f"{r['sync']['compute_s'] + r['async']['compute_s']:.0f} s")
    return summarise([r for r in rows if same(r) and r["seed"] < trials])


def report(summary: dict[str, Any]) -> list[str]:
    """The human-readable lines of a summary (with budget, slots, algorithm and predictor_epochs added)."""
    lines = [f"{summary['trials']} paired trials, budget {summary['budget']}, {summary['slots']} slots, "
             f"{summary['algorithm']}, predictor epochs {summary['predictor_epochs']}"]
    for mode in MODES:
        m = summary[mode]
        lines.append(f"  {mode:5s}: best val {m['best_val_acc']:.2f}, test {m['test_acc']:.2f}; at half the sync "
                     f"time: val {m['best_val_acc_at_half_sync_time']:.2f}; busy {m['busy_fraction']:.3f}, "
                     f"makespan {m['makespan']:.1f}, {m['fits']:.0f} fits")
    for k, d in summary["async_minus_sync"].items():
        sem = f" ± {d['sem']:.2f} (SEM)" if d["sem"] is not None else ""
        lines.append(f"  async - sync {k}: {d['mean']:+.2f}{sem}")
    return lines
