"""A simulated-clock driver: ``slots`` trials run at once, each for a simulated duration.

It measures what concurrency does to a searcher without training anything: the searcher is asked for
a trial whenever a slot is free (as Tune asks it), a trial's result (a table lookup) is delivered at
``start + duration(arch)`` on a simulated clock, and completions are processed in the order of that
clock (ties: in the order the trials started). The searcher's own computing time (predictor fits) is
not on the clock. Deterministic: the same searcher, seed, durations and slots give the same run.

    busy fraction = Σ trial durations / (slots · makespan)

is the share of slot-time spent training; ``makespan`` is the simulated time at which the last trial
completes.
"""

from __future__ import annotations

import hashlib
import heapq
from typing import Callable

from ray.tune.search import Searcher

from search_algos._base import NASSearcher, check_int


def run_simulated(searcher: NASSearcher, evaluate: Callable[[str], dict], duration: Callable[[str], float], *,
                  slots: int, budget: int) -> dict:
    """Run ``searcher`` for ``budget`` trials on ``slots`` simulated slots.

    Returns ``{"trials": [{"trial_id", "arch", "start", "end", **result}] (completion order),
    "makespan", "busy_fraction", "max_running"}``.
    """
    check_int("slots", slots, minimum=1)
    check_int("budget", budget, minimum=1)
    searcher.set_max_concurrency(slots)
    clock, seq, suggested, max_running = 0.0, 0, 0, 0
    running: list[tuple[float, int, str, str, float]] = []
    trials: list[dict] = []
    finished = False
    while True:
        while not finished and len(running) < slots and suggested < budget:
            trial_id = f"sim_{suggested:06d}"
            config = searcher.suggest(trial_id)
            if config == Searcher.FINISHED:
                finished = True
                break
            if config is None:  # the searcher waits for a completion
                break
            suggested += 1
            arch = config["arch"]
            heapq.heappush(running, (clock + float(duration(arch)), seq, trial_id, arch, clock))
            seq += 1
        max_running = max(max_running, len(running))
        if not running:
            break
        end, _, trial_id, arch, start = heapq.heappop(running)
        clock = end
        result = evaluate(arch)
        searcher.on_trial_complete(trial_id, result)
        trials.append({"trial_id": trial_id, "arch": arch, "start": start, "end": end, **(result or {})})
    busy = sum(t["end"] - t["start"] for t in trials)
    return {"trials": trials, "makespan": clock, "max_running": max_running,
            "busy_fraction": busy / (slots * clock) if clock > 0 else 0.0}


#: relative cost of an NAS-Bench-201 edge op in the simulated duration model (a 3x3 conv costs 9
#: multiply-adds per output value and input channel, a 1x1 conv 1, a 3x3 average pool about 1 per
#: output value, skip and none nothing)
NB201_OP_COST = {"nor_conv_3x3": 9.0, "nor_conv_1x1": 1.0, "avg_pool_3x3": 1.0 / 16, "skip_connect": 0.0,
                 "none": 0.0}


def nb201_duration(arch: str, *, jitter: float = 0.1, seed: int = 0) -> float:
    """Simulated training time of an NB201 cell (the stored tables have no time column): a fixed part
    1 (stem, data, classifier) plus 1/36 per unit of op cost (so six 3x3 convs take 2.5), times a
    deterministic per-architecture factor in [1 - jitter, 1 + jitter] (hardware noise, stragglers)."""
    ops = [part.split("~")[0] for part in arch.replace("+", "|").split("|") if "~" in part]
    cost = 1.0 + sum(NB201_OP_COST.get(op, 0.0) for op in ops) / 36.0
    h = hashlib.sha256(f"{seed}:{arch}".encode()).digest()
    u = int.from_bytes(h[:8], "big") / 2 ** 64
    return cost * (1.0 - jitter + 2.0 * jitter * u)
