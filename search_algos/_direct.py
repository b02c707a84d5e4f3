"""The direct driver: a plain suggest / on_trial_complete loop, no Tune.

For tabular benchmarks a trial is a table lookup (microseconds), while a Tune trial costs 0.5-2 s of
overhead; the benchmark runner therefore drives each searcher directly inside one Ray task (README,
"Searchers and benchmark runs").
"""

from __future__ import annotations

from typing import Callable

from search_algos._base import NASSearcher
from search_algos._cohort import direct_steps, drive_alone


def run_direct(searcher: NASSearcher, evaluate: Callable[[str], dict], budget: int) -> list[dict]:
    """Run ``searcher`` until it has ``budget`` trials (counting any it already holds) or finishes.

    Each suggestion ``{"arch": s}`` is evaluated at once, ``evaluate(s)`` returning the result dict
    (e.g. ``{"val_acc": ..., "test_acc": ...}``), and reported with ``on_trial_complete``. Trials a
    restored searcher still has in flight are evaluated first. An exception from ``evaluate`` marks
    the trial failed (``error=True``) and propagates.

    Returns the trials completed by this call in evaluation order, each ``{"trial_id", "arch",
    **result}``. (Its predictor fits run one at a time; ``search_algos._cohort.run_cohort`` runs
    several searches this way with their fits batched; both drive the same loop,
    :func:`search_algos._cohort.direct_steps`.)
    """
    return drive_alone(direct_steps(searcher, evaluate, budget))
