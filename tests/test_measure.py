"""The measurement library behind experiments/bench_*.py, on inputs small enough to check by hand."""

from __future__ import annotations

import json
import math

import pytest

from ssnenas.measure import async_search, cohort_speed, predictor_speed


class FakeSearcher:
    def __init__(self, seed: int, is_async: bool) -> None:
        self.seed, self.is_async, self.timings = seed, is_async, {"fits": 3 if is_async else 1}


def fake_simulate(s: FakeSearcher, seed: int) -> dict:
    """Async finishes sooner and finds its best (val 92) at t=2, sync finds val 91 at t=6 (makespan 8)."""
    if s.is_async:
        trials = [{"end": 1.0, "val_acc": 90.0, "test_acc": 89.0}, {"end": 2.0, "val_acc": 92.0 + seed,
                                                                     "test_acc": 91.0}]
        return {"trials": trials, "busy_fraction": 0.9, "makespan": 6.0, "max_running": 4}
    trials = [{"end": 3.0, "val_acc": 90.5, "test_acc": 90.0}, {"end": 6.0, "val_acc": 91.0, "test_acc": 90.5}]
    return {"trials": trials, "busy_fraction": 0.6, "makespan": 8.0, "max_running": 4}


def test_best_at_respects_the_clock():
    trials = [{"end": 1.0, "val_acc": 1.0, "test_acc": 5.0}, {"end": 3.0, "val_acc": 2.0}]
    assert async_search.best_at(trials) == (2.0, None)
    assert async_search.best_at(trials, 2.0) == (1.0, 5.0)
    val, test = async_search.best_at(trials, 0.5)
    assert math.isnan(val) and test is None


def test_async_study_pairs_summarises_and_resumes(tmp_path):
    calls: list[tuple[int, bool]] = []

    def searcher(seed: int, is_async: bool) -> FakeSearcher:
        calls.append((seed, is_async))
        return FakeSearcher(seed, is_async)

    path, logs = tmp_path / "trials.jsonl", []
    settings = {"budget": 10, "slots": 4, "predictor_epochs": None}
    s = async_search.study(path, trials=2, settings=settings, searcher=searcher, simulate=fake_simulate,
                           log=logs.append)
    assert calls == [(0, False), (0, True), (1, False), (1, True)] and len(logs) == 2
    assert s["trials"] == 2 and s["sync"]["best_val_acc"] == 91.0 and s["async"]["best_val_acc"] == 92.5
    # at half the sync makespan (t=4) sync has only its first trial, async both
    assert s["sync"]["best_val_acc_at_half_sync_time"] == 90.5 and s["async"]["fits"] == 3.0
    d = s["async_minus_sync"]["best_val_acc"]
    assert d["mean"] == pytest.approx(1.5) and d["sem"] == pytest.approx(0.5)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["seed"] for r in rows] == [0, 1] and all(r["budget"] == 10 for r in rows)
    # the same settings resume (nothing re-run); other settings are a different study
    again = async_search.study(path, trials=2, settings=settings, searcher=searcher, simulate=fake_simulate,
                               log=logs.append)
    assert len(calls) == 4 and again["sync"] == s["sync"]
    async_search.study(path, trials=1, settings={**settings, "slots": 8}, searcher=searcher,
                       simulate=fake_simulate, log=logs.append)
    assert len(calls) == 6
    lines = async_search.report({**s, "budget": 10, "slots": 4, "algorithm": "x", "predictor_epochs": 2})
    assert lines[0] == "2 paired trials, budget 10, 4 slots, x, predictor epochs 2"
    assert lines[-4] == "  async - sync best_val_acc: +1.50 ± 0.50 (SEM)"


def test_cohort_projection_and_line():
    rows = [{"single_s_per_trial": 2.0, "cohort_s_per_trial": 0.5}, {"single_s_per_trial": 1.6,
                                                                     "cohort_s_per_trial": 0.4}]
    pr = cohort_speed.projection(rows, trials=600, cores=2)
    assert pr == {"trials": 600, "cores": 2, "single_hours": 0.3, "cohort_hours": 0.07}
    row = {"algorithm": "npenas-np", "cohort_size": 8, "single_s_per_trial": 2.0, "cohort_s_per_trial": 0.5,
           "single_trials_per_hour_per_core": 1800.0, "cohort_trials_per_hour_per_core": 7200.0, "speedup": 4.0,
           "same_archs": True, "same_final_best_val": True}
    line = cohort_speed.row_line(row)
    assert line.startswith("npenas-np      C=  8  one-trial    2.000 s/trial") and "x4.00" in line
    assert "(     7,200)" in line


def test_predictor_speed_tiny_fit_runs_every_path():
    import torch

    threads = torch.get_num_threads()
    try:  # measure() pins torch to one thread, as the benchmark asks; the rest of the session keeps its own
        out = predictor_speed.measure(epochs=2, n=20, batch_size=10, eager_epochs=1, many=[2], csv_path=None)
    finally:
        torch.set_num_threads(threads)
    assert out["data"] == "synthetic 8-node DAGs" and out["steps_per_fit"] == 4
    assert list(out["results"]) == ["eager_sparse_pyg", "eager_dense", "fast", "fast_batched_P2"]
    assert out["results"]["eager_dense"]["projected"] and not out["results"]["fast"]["projected"]
    assert all(r["steps_per_s"] > 0 for r in out["results"].values())
    lines = predictor_speed.table(out)
    assert lines[0].startswith("data: synthetic 8-node DAGs; 4 steps per fit") and len(lines) == 6
