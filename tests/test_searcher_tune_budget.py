"""What a Python-API user of the searchers is told about a Tuner that does not fit them.

- ``budget`` below ``TuneConfig(num_samples=...)``: the searcher reports FINISHED after ``budget``
  trials and Tune ends the run early; it warns, naming both numbers and the fix.
- ``metric`` differing from ``TuneConfig``'s with an empty ``param_space``: the error's first line
  names both metrics (the rest of a Tune traceback comes before it, so the line itself must say it).

The unit tests stand in for Tune's ``ray.tune.tune.run`` frame (what the searcher reads) with a
function of that name and module; one test runs a real Tuner.
"""

from __future__ import annotations

import warnings

import pytest

from search_algos import RandomSearch, run_direct
from search_algos._templates import BUDGET_BELOW_NUM_SAMPLES
from ssnenas.errors import InputError

# A function named ``run`` in a module named ``ray.tune.tune``: the frame the searchers look for when
# Tune asks them for trials. Its locals are those of the real ``tune.run`` that matter here.
_FAKE_TUNE = {"__name__": "ray.tune.tune"}
exec(
    "def run(searcher, metric=None, mode=None, config=None, num_samples=1):\n"
    "    return searcher.suggest('trial_0')\n",
    _FAKE_TUNE,
)
tune_run = _FAKE_TUNE["run"]


def _budget_warnings(record) -> list[str]:
    return [str(w.message) for w in record if "num_samples" in str(w.message)]


def test_budget_below_num_samples_warns_with_both_numbers_and_the_fix():
    searcher = RandomSearch(space="nasbench201", seed=0, budget=3)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert "arch" in tune_run(searcher, metric="val_acc", mode="max", num_samples=10)
    [message] = _budget_warnings(record)
    assert message == BUDGET_BELOW_NUM_SAMPLES.format(cls="RandomSearch", budget=3, num_samples=10)
    assert "budget=3" in message and "num_samples=10" in message
    assert "pass budget=10" in message and "num_samples=3" in message


@pytest.mark.parametrize("budget, num_samples", [(5, 5), (8, 5), (None, 100), (3, -1)])
def test_no_warning_when_tune_asks_for_no_more_than_the_budget(budget, num_samples):
    """Equal or larger budgets, no budget (Tune decides), and ``num_samples=-1`` (Tune's endless run,
    which the budget is there to end) say nothing."""
    searcher = RandomSearch(space="nasbench201", seed=0, budget=budget)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        tune_run(searcher, metric="val_acc", mode="max", num_samples=num_samples)
    assert _budget_warnings(record) == []


def test_budget_warning_once_per_run_and_not_outside_tune():
    searcher = RandomSearch(space="nasbench201", seed=0, budget=2, num_init=2)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        tune_run(searcher, metric="val_acc", mode="max", num_samples=4)
        searcher.suggest("trial_1")  # later suggestions of the same run: checked already
        assert len(_budget_warnings(record)) == 1
        direct = RandomSearch(space="nasbench201", seed=0, budget=2)
        assert len(run_direct(direct, lambda arch: {"val_acc": 50.0}, budget=5)) == 2
    assert len(_budget_warnings(record)) == 1


def test_metric_mismatch_first_line_names_both_metrics():
    """An empty param_space: Tune never hands TuneConfig's metric to the searcher (module docstring)."""
    searcher = RandomSearch(space="nasbench201", seed=0, budget=2)
    with pytest.raises(InputError) as info:
        tune_run(searcher, metric="test_acc", mode="max", config={}, num_samples=2)
    first = str(info.value).splitlines()[0]
    assert "RandomSearch" in first and "metric='val_acc'" in first and "metric='test_acc'" in first
    assert "pass the same metric and mode" in first
    missing = RandomSearch(space="nasbench201", seed=0, budget=2, metric=None, mode=None)
    with pytest.raises(InputError) as info:
        tune_run(missing, metric="val_acc", mode="max", config={}, num_samples=2)
    first = str(info.value).splitlines()[0]
    assert "metric=None" in first and "metric='val_acc'" in first and "to RandomSearch(...) as well" in first


@pytest.mark.slow
def test_a_real_tuner_warns_and_stops_at_the_budget(synthetic_nb201_benchmark, ray_session, tmp_path):
    from ray import tune

    from trainables.tabular import tabular_trainable

    store = synthetic_nb201_benchmark
    searcher = RandomSearch(store=store, seed=0, budget=2)
    tuner = tune.Tuner(tune.with_parameters(tabular_trainable, store=store),
                       tune_config=tune.TuneConfig(search_alg=searcher, metric="val_acc", mode="max", num_samples=5),
                       run_config=tune.RunConfig(storage_path=str(tmp_path), name="budget", verbose=0))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        results = tuner.fit()
    assert len(results) == 2 and results.num_errors == 0
    assert _budget_warnings(record) == [BUDGET_BELOW_NUM_SAMPLES.format(cls="RandomSearch", budget=2, num_samples=5)]
