"""Ray Tune's contract with the searchers, through real Tuners: what Tune does with the answer of
``set_search_properties``, TuneConfig's metric/mode with an empty ``param_space``, failed trials that
Tune runs again (``FailureConfig`` retries, ``Tuner.restore`` with ``resume_errored`` /
``restart_errored``; a tabular trial and a DARTS candidate), and Ray's default storage in the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from search_algos import NPENAS, RandomSearch, make_searcher, run_direct
from ssnenas.errors import InputError
from trainables.tabular import lookup, tabular_evaluator, tabular_trainable

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# the failing trainables below run in Ray workers, which cannot import this test module: ship it by value
import ray.cloudpickle  # noqa: E402

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

#: a small NPENAS run: an initial batch of 3, then one predictor-guided batch of 3
NPENAS_SMALL = dict(seed=4, budget=6, num_init=3, k=3, epochs=5, num_candidates=20, children_per_parent=10)


@pytest.fixture(scope="module")
def store(synthetic_nb201_benchmark):
    return synthetic_nb201_benchmark


def _claim(marker: str) -> bool:
    """True for the one caller that creates ``marker`` (atomic across processes)."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _fails_once(marker: Path, *, report_first: bool = False):
    """The tabular trainable, except that the first attempt of whichever trial starts first fails
    (after reporting a wrong result when ``report_first``)."""
    marker = str(marker)

    def fails_once(config: dict, store) -> None:
        if not _claim(marker):
            return tabular_trainable(config, store=store)
        if report_first:
            from ray import tune

            tune.report({"val_acc": 0.0, "test_acc": 0.0})
        raise RuntimeError("injected failure of a trial's first attempt")

    return fails_once


def _run_config(tmp_path: Path, name: str, **kwargs):
    from ray import tune

    return tune.RunConfig(storage_path=str(tmp_path), name=name, verbose=0, **kwargs)


def _saved_searcher(exp: Path, **settings) -> NPENAS:
    """The searcher state Tune saved last in the experiment folder ``exp``."""
    saved = NPENAS(**settings)
    saved.restore_from_dir(str(exp))
    return saved


# -- set_search_properties and TuneConfig's metric/mode ---------------------------------------------
@pytest.mark.slow
def test_unresolved_param_space_gets_tunes_own_error(store, ray_session, tmp_path):
    """A search-space entry in param_space is refused by Tune (set_search_properties returns False)
    instead of reaching the trainable as a raw ``Float``."""
    from ray import tune

    tuner = tune.Tuner(tune.with_parameters(tabular_trainable, store=store),
                       param_space={"lr": tune.uniform(0, 1)},
                       tune_config=tune.TuneConfig(search_alg=RandomSearch(store=store, seed=0, budget=2),
                                                   metric="val_acc", mode="max", num_samples=2),
                       run_config=_run_config(tmp_path, "unresolved"))
    with pytest.raises(ValueError, match="with unresolved parameters, but the search algorithm was already"):
        tuner.fit()


@pytest.mark.slow
def test_tune_config_metric_mode_with_an_empty_param_space(store, ray_session, tmp_path):
    """Tune hands TuneConfig's metric/mode to a searcher only for a non-empty param_space: with an
    empty one a mismatch, or a searcher without them, fails naming both sides and the fix."""
    from ray import tune

    def tuner(searcher, name: str, param_space=None, **objective):
        return tune.Tuner(tune.with_parameters(tabular_trainable, store=store), param_space=param_space,
                          tune_config=tune.TuneConfig(search_alg=searcher, num_samples=2, **objective),
                          run_config=_run_config(tmp_path, name))

    mismatch = tuner(RandomSearch(store=store, seed=0, budget=2), "mismatch", metric="test_acc", mode="max")
    with pytest.raises(InputError, match=r"RandomSearch optimises metric='val_acc', mode='max' but "
                                         r"tune.TuneConfig has metric='test_acc', mode='max'.*param_space is "
                                         r"non-empty.*pass the same metric and mode to RandomSearch"):
        mismatch.fit()
    missing = tuner(RandomSearch(store=store, seed=0, budget=2, metric=None, mode=None), "missing",
                    metric="val_acc", mode="max")
    with pytest.raises(InputError, match=r"RandomSearch has no metric/mode \(metric=None, mode=None\); "
                                         r"tune.TuneConfig has metric='val_acc', mode='max'.*pass "
                                         r"metric='val_acc', mode='max' to RandomSearch\(...\) as well"):
        missing.fit()
    # agreeing values run; a non-empty param_space hands TuneConfig's values to the searcher
    agree = RandomSearch(store=store, seed=0, budget=2)
    assert tuner(agree, "agree", metric="val_acc", mode="max").fit().num_errors == 0
    assert [r["status"] for r in agree.history] == ["ok", "ok"]
    taken = RandomSearch(store=store, seed=0, budget=2)
    grid = tuner(taken, "taken", param_space={"note": 1}, metric="test_acc", mode="min").fit()
    assert (taken.metric, taken.mode) == ("test_acc", "min") and grid.num_errors == 0
    assert [r["value"] for r in taken.history] == [lookup(store, r["arch"])["test_acc"] for r in taken.history]


# -- failed trials that Tune runs again ---------------------------------------------------------------
@pytest.mark.slow
def test_a_retried_trial_reaches_the_searcher_once(store, ray_session, tmp_path):
    """FailureConfig(max_failures=1): Tune retries the failed attempt in the same run and tells the
    searcher only the retry's result, so the run equals the direct driver's with the same seed."""
    from ray import tune

    marker = tmp_path / "failed-once"
    searcher = NPENAS(store=store, **NPENAS_SMALL)
    grid = tune.Tuner(
        tune.with_parameters(_fails_once(marker, report_first=True), store=store),
        tune_config=tune.TuneConfig(search_alg=searcher, metric="val_acc", mode="max", num_samples=6,
                                    max_concurrent_trials=2),
        run_config=_run_config(tmp_path, "retry", failure_config=tune.FailureConfig(max_failures=1))).fit()
    assert marker.exists() and grid.num_errors == 0 and len(grid) == 6
    hist = searcher.history
    assert [r["status"] for r in hist] == ["ok"] * 6
    assert [r["value"] for r in hist] == [lookup(store, r["arch"])["val_acc"] for r in hist]  # not the 0.0
    direct = NPENAS(store=store, **NPENAS_SMALL)
    run_direct(direct, tabular_evaluator(store), 6)
    assert [r["arch"] for r in hist] == [r["arch"] for r in direct.history]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["resume_errored", "restart_errored"])
def test_restore_reruns_a_failed_trial_and_the_searcher_takes_its_result(store, ray_session, tmp_path, how):
    """A trial fails (no retries), the run ends; ``Tuner.restore(..., <how>=True)`` runs it again
    (same trial id, or a new one) and the searcher's record of it becomes the success: every trial
    ok, none added, the budget spent once."""
    from ray import tune

    marker = tmp_path / "failed-once"
    trainable = tune.with_parameters(_fails_once(marker), store=store)
    searcher = NPENAS(store=store, **NPENAS_SMALL)
    first = tune.Tuner(trainable, tune_config=tune.TuneConfig(search_alg=searcher, metric="val_acc", mode="max",
                                                              num_samples=6, max_concurrent_trials=2),
                       run_config=_run_config(tmp_path, "restore")).fit()
    assert first.num_errors == 1 and len(first) == 6
    failed = [r for r in searcher.history if r["status"] == "failed"]
    assert len(failed) == 1 and sum(r["status"] == "ok" for r in searcher.history) == 5
    exp = tmp_path / "restore"
    grid = tune.Tuner.restore(str(exp), trainable=trainable, **{how: True}).fit()
    assert grid.num_errors == 0 and len(grid) == 6
    saved = _saved_searcher(exp, store=store, **NPENAS_SMALL)
    hist = saved.history
    assert saved.num_suggested == 6 and [r["status"] for r in hist] == ["ok"] * 6
    assert [r["arch"] for r in hist] == [r["arch"] for r in searcher.history]  # nothing re-proposed
    assert [r["value"] for r in hist] == [lookup(store, r["arch"])["val_acc"] for r in hist]
    rerun = next(r for r in hist if r["arch"] == failed[0]["arch"])
    by_id = {res.metrics["trial_id"]: res.metrics for res in grid}
    assert by_id[rerun["trial_id"]]["config"]["arch"] == rerun["arch"]  # the id of Tune's successful trial
    assert (rerun["trial_id"] == failed[0]["trial_id"]) == (how == "resume_errored")
    assert saved.best()["value"] == max(r.metrics["val_acc"] for r in grid)


@pytest.mark.slow
def test_a_darts_candidate_that_fails_once_is_resumed_by_restore(ray_session, tmp_path):
    """As ``ssnenas search`` resumes (Tuner.restore(resume_errored=True)): a DARTS candidate fails in
    its second epoch, after its epoch-1 checkpoint; the restored run continues it from there and the
    searcher records its result in place of the failure."""
    from ray import tune

    from trainables.darts import DartsTrainable

    marker = str(tmp_path / "failed-once")

    class FailsOnce(DartsTrainable):
        def step(self):
            if self.iteration == 1 and _claim(marker):
                raise RuntimeError("injected failure in epoch 2")
            return super().step()

    settings = dict(space="darts", store=None, seed=0, budget=2, num_init=2, k=1, epochs=5,
                    metric="best_val_acc", mode="max")
    searcher = make_searcher("npenas-np", **settings)
    trainable = tune.with_resources(FailsOnce, {"cpu": 1})
    train = {"epochs": 2, "channels": 4, "layers": 3, "batch_size": 64, "seed": 0, "bf16": False,
             "torch_threads": 1}
    first = tune.Tuner(
        trainable, param_space={"data": "digits", "data_seed": 0, "train": train},
        tune_config=tune.TuneConfig(search_alg=searcher, metric="best_val_acc", mode="max", num_samples=2,
                                    max_concurrent_trials=2),
        run_config=_run_config(tmp_path, "tune", stop={"training_iteration": 2},
                               checkpoint_config=tune.CheckpointConfig(num_to_keep=1, checkpoint_frequency=1,
                                                                       checkpoint_at_end=True))).fit()
    assert first.num_errors == 1
    assert sorted(r["status"] for r in searcher.history) == ["failed", "ok"]
    grid = tune.Tuner.restore(str(tmp_path / "tune"), trainable=trainable, resume_errored=True).fit()
    assert grid.num_errors == 0 and len(grid) == 2
    saved = make_searcher("npenas-np", **settings)
    saved.restore_from_dir(str(tmp_path / "tune"))
    by_id = {res.metrics["trial_id"]: res for res in grid}
    assert saved.num_suggested == 2 and [r["status"] for r in saved.history] == ["ok", "ok"]
    for r in saved.history:
        res = by_id[r["trial_id"]]
        assert res.metrics["epoch"] == 2 and r["value"] == res.metrics["best_val_acc"]
        assert r["test"] == res.metrics["test_acc"]
        # each epoch trained once: the re-run continued from the epoch-1 checkpoint
        assert sorted(set(res.metrics_dataframe["epoch"])) == [1, 2]
        assert res.metrics_dataframe["training_iteration"].tolist() == [1, 2]


# -- Ray's default storage -----------------------------------------------------------------------------
def test_ray_default_storage_points_into_the_session_folder(ray_default_storage):
    import ray.train.constants
    import ray.tune.experiment.experiment
    import ray.tune.trainable.trainable

    home = os.path.expanduser("~/ray_results")
    for module in (ray.train.constants, ray.tune.trainable.trainable, ray.tune.experiment.experiment):
        assert module.DEFAULT_STORAGE_PATH == str(ray_default_storage) != home


@pytest.mark.slow
def test_a_test_writing_to_ray_default_storage_fails(tmp_path):
    """The conftest guard in a separate pytest run (a clean HOME) that imports Ray only inside a test:
    a bare Trainable, which makes its log folder in Ray's default storage, fails its test, and the
    HOME stays clean."""
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text((Path(__file__).parent / "conftest.py").read_text())
    (suite / "test_writer.py").write_text(textwrap.dedent("""
        import sys

        def test_ray_is_not_imported_yet():  # so the import in the next test goes through the hook
            assert "ray.train.constants" not in sys.modules

        def test_bare_trainable():
            from ray.tune import Trainable

            class Bare(Trainable):
                def step(self):
                    return {"x": 1}

            Bare(config={}).stop()

        def test_clean():
            pass
    """))
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "RAY_AUTH_MODE": "disabled"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
                          cwd=suite, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # the writer's teardown errors (it passed its own asserts), the others do not
    assert "3 passed, 1 error" in proc.stdout
    assert "ERROR test_writer.py::test_bare_trainable - Failed: the test wrote into" in proc.stdout
    assert "Ray's default storage (~/ray_results, redirected to" in proc.stdout  # the full message
    assert not (home / "ray_results").exists()
