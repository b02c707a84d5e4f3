"""The direct driver: a plain suggest / on_trial_complete loop, no Tune.

For tabular benchmarks a trial is a table lookup (microseconds), while a Tune trial costs 0.5-2 s of
overhead; the benchmark runner therefore drives each searcher directly inside one Ray task (README,
"Searchers and benchmark runs").
"""

from __future__ import annotations

from typing import Any, Callable, Generator

from ray.tune.search import Searcher

from search_algos._base import NASSearcher, check_int
from search_algos._cohort import CohortSearcher, FitRequest, drive_alone


def run_direct(searcher: NASSearcher, evaluate: Callable[[str], dict], budget: int) -> list[dict]:
    """Run ``searcher`` until it has ``budget`` trials (counting any it already holds) or finishes.

    Each suggestion ``{"arch": s}`` is evaluated at once, ``evaluate(s)`` returning the result dict
    (e.g. ``{"val_acc": ..., "test_acc": ...}``), and reported with ``on_trial_complete``. Trials a
    restored searcher still has in flight are evaluated first. An exception from ``evaluate`` marks
    the trial failed (``error=True``) and propagates.

    Returns the trials completed by this call in evaluation order, each ``{"trial_id", "arch",
    **result}``. (Its predictor fits run one at a time; ``search_algos._cohort.run_cohort`` runs
    several searches this way with their fits batched.)
    """
    return drive_alone(direct_steps(searcher, evaluate, budget))


def direct_steps(searcher: NASSearcher, evaluate: Callable[[str], dict],
                 budget: int) -> Generator[FitRequest, Any, list[dict]]:
    """:func:`run_direct` as a generator that yields the searcher's predictor-fit requests (and
    expects their answers) before each proposal; its return value is ``run_direct``'s."""
    check_int("budget", budget, minimum=1)
    out: list[dict] = []

    def complete(trial_id: str, arch: str) -> None:
        try:
            result = evaluate(arch)
        except Exception:
            searcher.on_trial_complete(trial_id, None, error=True)
            raise
        searcher.on_trial_complete(trial_id, result)
        out.append({"trial_id": trial_id, "arch": arch, **(result or {})})

    for trial_id, arch in searcher.in_flight.items():
        complete(trial_id, arch)
    batches = isinstance(searcher, CohortSearcher)
    while searcher.num_suggested < budget:
        if batches and searcher.needs_batch():
            yield from searcher.prepare_steps()
        trial_id = f"direct_{searcher.num_suggested:06d}"
        config = searcher.suggest(trial_id)
        if config == Searcher.FINISHED:
            break
        if config is None:  # impossible when every trial completes at once: a searcher bug
            raise RuntimeError(f"{type(searcher).__name__}.suggest returned None with no trial in "
                               f"flight after {searcher.num_suggested} trials")
        complete(trial_id, config["arch"])
    return out
