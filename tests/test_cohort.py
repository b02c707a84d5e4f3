"""Cohorts (search_algos/_cohort.py): C searches in lockstep whose predictor fits run as one batched
model propose exactly what each search proposes alone, on the real NAS-Bench-201 table.

Predictors use small settings (a few epochs, 20 candidates) so each case takes seconds; the
identity does not depend on the settings (the same code runs, only P differs).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from search_algos import make_searcher, run_direct
from search_algos._cohort import run_cohort
from ssnenas.spaces import get_space
from trainables.tabular import tabular_evaluator

NB201 = get_space("nasbench201")
BUDGET = 30  # initial 10, then fits on 10 and 20 architectures
SMALL = {"num_candidates": 20, "children_per_parent": 10}
CASES = {
    "npenas-np": {**SMALL, "epochs": 8},
    "npenas-bo": {**SMALL, "epochs": 8},
    "npenas-ssrl": {**SMALL, "epochs": 8},
    "npenas-ssccl": {**SMALL, "epochs": 8},
    "npenas-np-fixed": {**SMALL, "epochs": 8, "training_nums": 10},
    "bananas": {**SMALL, "epochs": 6, "width": 40},
    "rea": {"population_size": 8, "tournament_size": 3},
    "random": {},
}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def store(synthetic_nb201_benchmark):
    return synthetic_nb201_benchmark


@pytest.fixture(scope="module")
def checkpoints(nb201_checkpoints):
    return nb201_checkpoints


def _searchers(name, store, checkpoints, trials=range(3)):
    ckpt = checkpoints["ss-rl"] if "ssrl" in name else checkpoints["ss-ccl"] if "ssccl" in name else None
    out = []
    for t in trials:
        initial = [str(a) for a in store.column("arch")[store.sample_indices(10, np.random.default_rng(t))]]
        out.append(make_searcher(name, space="nasbench201", store=store, seed=1000 + t, budget=BUDGET,
                                 initial_archs=initial, predictor_checkpoint=ckpt, **CASES[name]))
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_cohort_proposes_exactly_what_each_search_proposes_alone(name, store, checkpoints):
    alone = _searchers(name, store, checkpoints)
    together = _searchers(name, store, checkpoints)
    expected = [run_direct(s, tabular_evaluator(store), BUDGET) for s in alone]
    got = run_cohort(together, [tabular_evaluator(store)] * len(together), BUDGET)
    assert got == expected  # same trials, same architectures, same results, same order
    for a, b in zip(alone, together):
        assert len(b.history) == BUDGET
        assert [r["arch"] for r in a.history] == [r["arch"] for r in b.history]
        assert a.timings["fits"] == b.timings["fits"]
        assert a._rng.bit_generator.state == b._rng.bit_generator.state  # the RNGs advanced alike
        assert torch.equal(a._torch_gen.get_state(), b._torch_gen.get_state())
    if name not in ("rea", "random"):
        assert alone[0].timings["fits"] == (1 if "fixed" in name else 2)
        # the searches differ from each other (a cohort does not make its members alike)
        assert len({tuple(r["arch"] for r in s.history[10:]) for s in together}) == len(together)


def test_cohort_batches_fits_into_one_model(store, checkpoints, monkeypatch):
    """Three searches, two iterations: two batched fits of P = 3, not six fits."""
    import ssnenas.predictors as predictors

    calls = []
    orig = predictors.fit_many

    def spy(*args, **kwargs):
        calls.append(len(kwargs["seeds"]))
        return orig(*args, **kwargs)

    monkeypatch.setattr(predictors, "fit_many", spy)
    searchers = _searchers("npenas-np", store, checkpoints)
    run_cohort(searchers, [tabular_evaluator(store)] * 3, BUDGET)
    assert calls == [3, 3]
    calls.clear()
    assert run_cohort(_searchers("npenas-np", store, checkpoints), [tabular_evaluator(store)] * 3, BUDGET,
                      max_group=2) and calls == [2, 1, 2, 1]


def test_a_failing_search_loses_only_its_own_work(store, checkpoints):
    alone = _searchers("npenas-np", store, checkpoints, trials=[0, 2])
    expected = [run_direct(s, tabular_evaluator(store), BUDGET) for s in alone]
    good = tabular_evaluator(store)
    count = {"n": 0}

    def flaky(arch):
        count["n"] += 1
        if count["n"] == 15:
            raise OSError("disk gone")
        return good(arch)

    got = run_cohort(_searchers("npenas-np", store, checkpoints), [good, flaky, good], BUDGET)
    assert isinstance(got[1], OSError) and "disk gone" in str(got[1])
    assert [got[0], got[2]] == expected


def test_searches_of_different_sizes_fit_in_separate_groups(store, checkpoints, monkeypatch):
    """A search with a failed trial has fewer training examples: it is fitted apart, still exactly."""
    import ssnenas.predictors as predictors

    good = tabular_evaluator(store)

    def first_fails():
        state = {"n": 0}

        def evaluate(arch):
            state["n"] += 1
            return {**good(arch), "val_acc": float("nan")} if state["n"] == 1 else good(arch)
        return evaluate

    alone = _searchers("npenas-bo", store, checkpoints, trials=[0, 1])
    expected = [run_direct(alone[0], good, BUDGET), run_direct(alone[1], first_fails(), BUDGET)]
    calls = []
    orig = predictors.fit_many
    monkeypatch.setattr(predictors, "fit_many",
                        lambda *a, **k: calls.append(len(k["train_idx"][0])) or orig(*a, **k))
    got = run_cohort(_searchers("npenas-bo", store, checkpoints, trials=[0, 1]), [good, first_fails()], BUDGET)
    assert [[r["arch"] for r in g] for g in got] == [[r["arch"] for r in e] for e in expected]
    assert sorted(calls) == [9, 10, 19, 20]  # four fits of one: the sizes never matched


@pytest.mark.parametrize("head", ["np", "bo", "finetune"])
def test_fit_many_member_equals_its_fit_alone_bit_for_bit(head, store):
    """Odd training-set sizes leave short last batches (n = 15: 10 + 5), where PyTorch's SIMD body
    and scalar tail would otherwise round sigmoid / exp / celu differently."""
    from ssnenas.predictors import Predictor, fit_many

    rng = np.random.default_rng(3)
    idx = rng.choice(store.num_archs, 15 * 5, replace=False)
    x, adj = store.features(idx)
    x, adj = x.astype(np.float32), adj.astype(np.float32)
    y = (100.0 - store.column("val_acc")[idx]).astype(np.float32)
    seeds = [11, 12, 13, 14, 15]
    many = fit_many(NB201.num_features, x, adj, y, seeds=seeds, train_idx=np.arange(75).reshape(5, 15),
                    head=head, rate=10.0, epochs=6)
    for p, (seed, m) in enumerate(zip(seeds, many)):
        rows = slice(15 * p, 15 * (p + 1))
        one = Predictor(NB201.num_features, head=head, rate=10.0).fit(x[rows], adj[rows], y[rows], epochs=6,
                                                                      seed=seed)
        for (k, a), b in zip(one.net.state_dict().items(), m.net.state_dict().values()):
            assert torch.equal(a, b), (head, p, k)


# -- the runner: ssnenas benchmark --cohort-size ---------------------------------------------------------
DETERMINISTIC = ["trial", "algorithm", "seed", "query", "arch", "key", "val_acc", "test_acc",
                 "best_val_acc_so_far", "test_acc_of_best_val_so_far", "timing_fits"]
RUN_ALGOS = ("random", "npenas-np", "bananas")
RUN_OVERRIDES = {"npenas-np": {"epochs": 5, **SMALL}, "bananas": {"epochs": 3, "width": 20, **SMALL}}


def _run_config(store_dir, out, **kw):
    from ssnenas import runner

    args = dict(space="nasbench201", data=store_dir, algorithms=RUN_ALGOS, trials=4, budget=20, seed=3, out=out,
                overrides=RUN_OVERRIDES, progress=False)
    args.update(kw)
    return runner.BenchmarkConfig(**args)


def _deterministic(run):
    from ssnenas.analysis.runs import read_results

    return read_results(run).select(DETERMINISTIC).sort_by([("algorithm", "ascending"), ("trial", "ascending"),
                                                            ("query", "ascending")])


@pytest.mark.slow
def test_benchmark_cohorts_write_the_rows_of_one_trial_per_task(ray_session, synthetic_nb201_store, tmp_path):
    import json
    import shutil

    import search_algos
    from ssnenas import runner
    from ssnenas.analysis.runs import finished_tasks, result_path

    one = runner.run_benchmark(_run_config(synthetic_nb201_store, tmp_path / "one", cohort_size=1), search_algos.REGISTRY)
    four = runner.run_benchmark(_run_config(synthetic_nb201_store, tmp_path / "four", cohort_size=4), search_algos.REGISTRY)
    assert one["cohort_sizes"] == {a: 1 for a in RUN_ALGOS}
    assert four["cohort_sizes"] == {a: 4 for a in RUN_ALGOS}
    assert one["tasks_run"] == four["tasks_run"] == 12 and four["complete"]  # trials are counted, not tasks
    assert _deterministic(tmp_path / "four").equals(_deterministic(tmp_path / "one"))
    config = json.loads((tmp_path / "four" / "config.json").read_text())
    assert config["cohort_size"] == 4 and config["cohort_sizes"]["npenas-np"] == 4

    # resume with another cohort size: only the missing trials run (as one cohort), the rest is kept
    partial = tmp_path / "partial"
    shutil.copytree(tmp_path / "four", partial)
    for trial in (1, 3):
        result_path(partial, trial, "npenas-np").unlink()
    kept = {k: p.read_bytes() for k, p in finished_tasks(partial).items()}
    again = runner.run_benchmark(_run_config(synthetic_nb201_store, partial, cohort_size="auto"), search_algos.REGISTRY)
    assert again["tasks_run"] == 2 and again["tasks_done_before"] == 10 and again["complete"]
    assert all(finished_tasks(partial)[k].read_bytes() == v for k, v in kept.items())
    assert _deterministic(partial).equals(_deterministic(tmp_path / "one"))


def test_cohorts_are_formed_per_algorithm_from_unfinished_trials():
    from ssnenas.runner import form_cohorts

    specs = [{"trial": t, "algorithm": a} for t in (0, 2, 3, 5, 6) for a in ("rea", "npenas-bo")]
    tasks = form_cohorts(specs, {"rea": 1, "npenas-bo": 3}, ("rea", "npenas-bo"))
    assert [[(s["trial"], s["algorithm"]) for s in t] for t in tasks] == [
        [(0, "rea")], [(0, "npenas-bo"), (2, "npenas-bo"), (3, "npenas-bo")], [(2, "rea")],
        [(5, "npenas-bo"), (6, "npenas-bo")], [(3, "rea")], [(5, "rea")], [(6, "rea")]]


def test_auto_cohort_sizes_per_algorithm_and_capped_by_trials(synthetic_nb201_store, tmp_path):
    import search_algos
    from ssnenas import runner

    sizes = runner.cohort_sizes(_run_config(synthetic_nb201_store, tmp_path, algorithms=("random", "rea", "npenas-bo"),
                                            trials=600), search_algos.REGISTRY)
    assert sizes == {"random": 1, "rea": 1, "npenas-bo": search_algos.COHORT_SIZES["npenas-bo"]}
    assert runner.cohort_sizes(_run_config(synthetic_nb201_store, tmp_path, trials=3), search_algos.REGISTRY)["npenas-np"] == 3
    # a fixed variant with its training_nums takes its base name's size
    assert search_algos.REGISTRY.auto_cohort_size("npenas-ssrl-fixed:20", 600) == \
        search_algos.COHORT_SIZES["npenas-ssrl-fixed"]


@pytest.mark.parametrize("value, message", [
    ("0", "--cohort-size 0: pass 1 or more (1 runs one trial per task), or auto"),
    ("-2", "--cohort-size -2: pass 1 or more"),
    ("5", "--cohort-size 5 is larger than --trials 4; pass at most 4, or auto"),
    ("many", "--cohort-size 'many': pass a whole number of trials per task, or auto"),
])
def test_bad_cohort_size_is_one_line_exit_2_and_writes_nothing(value, message, synthetic_nb201_store, tmp_path, capsys):
    from ssnenas.cli import main

    argv = ["benchmark", "--quiet", "--space", "nasbench201", "--data", str(synthetic_nb201_store), "--algos", "random",
            "npenas-np", "--trials", "4", "--budget", "20", "--out", str(tmp_path / "run"), "--cohort-size", value]
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: ") and "\n" not in err and message in err, err
    assert not (tmp_path / "run").exists()


def test_a_backend_without_cohorts_runs_one_trial_per_task_or_says_so(synthetic_nb201_store, tmp_path):
    from ssnenas import runner
    from ssnenas.errors import InputError

    registry = runner.AlgorithmRegistry(names=("random",), make=make_searcher, run_direct=run_direct,
                                        cohort_sizes={"random": 8})
    assert not registry.runs_cohorts and registry.auto_cohort_size("random", 100) == 1
    config = _run_config(synthetic_nb201_store, tmp_path / "run", algorithms=("random",), overrides={})
    assert runner.cohort_sizes(config, registry) == {"random": 1}
    with pytest.raises(InputError, match=r"^--cohort-size 2: these search algorithms cannot run cohorts"):
        runner.cohort_sizes(_run_config(synthetic_nb201_store, tmp_path / "run", algorithms=("random",), cohort_size=2),
                            registry)


class DiesOnce:
    """The real search algorithms, but the first cohort task's worker process dies after its work."""

    def __init__(self, marker):
        self.marker = str(marker)

    def run_cohort(self, *args):
        import os

        out = run_cohort(*args)
        if not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(1)  # killed: everything this task did is lost
        return out

    def registry(self):
        import dataclasses

        import search_algos

        return dataclasses.replace(search_algos.REGISTRY, run_cohort=self.run_cohort, cohort_sizes={})


@pytest.mark.slow
def test_a_killed_cohort_is_retried_and_loses_only_its_own_work(ray_session, synthetic_nb201_store, tmp_path):
    import sys

    import ray.cloudpickle

    import search_algos
    from ssnenas import runner

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    kw = dict(algorithms=("npenas-np",), overrides={"npenas-np": RUN_OVERRIDES["npenas-np"]}, trials=2)
    summary = runner.run_benchmark(_run_config(synthetic_nb201_store, tmp_path / "run", cohort_size=2, **kw),
                                   DiesOnce(tmp_path / "died").registry())
    assert (tmp_path / "died").exists()  # the first attempt was killed
    assert summary["complete"] and summary["tasks_run"] == 2 and summary["tasks_failed"] == 0
    assert summary["cohorts_split"] == 1  # retried as two single trials
    runner.run_benchmark(_run_config(synthetic_nb201_store, tmp_path / "one", cohort_size=1, **kw), search_algos.REGISTRY)
    assert _deterministic(tmp_path / "run").equals(_deterministic(tmp_path / "one"))
