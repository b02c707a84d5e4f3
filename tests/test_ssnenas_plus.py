"""ssnenas-plus (search_algos/ssnenas_plus.py): early small batches, neighbour candidates, isomorphism
skipping, its registry name and its bad-input messages."""

from __future__ import annotations

import numpy as np
import pytest

from search_algos import REGISTRY, make_searcher, run_cohort, run_direct
from search_algos.ssnenas_plus import SSNENASPlus
from ssnenas.encstudy import canonical_nb201
from ssnenas.errors import InputError
from trainables.tabular import tabular_evaluator

INIT = 10


@pytest.fixture(scope="module")
def store(synthetic_nb201_benchmark):
    return synthetic_nb201_benchmark


def _initial(store, seed: int) -> list[str]:
    texts = store.column("arch")
    return [texts[i] for i in store.sample_indices(INIT, np.random.default_rng(seed)).tolist()]


def _plus(store, nb201_checkpoints, seed: int = 0, budget: int = 30, **settings):
    settings.setdefault("epochs", 3)
    return make_searcher("ssnenas-plus", space="nasbench201", store=store, seed=seed, budget=budget,
                         initial_archs=_initial(store, seed), predictor_checkpoint=str(nb201_checkpoints["ss-ccl"]),
                         **settings)


def _batch_sizes(searcher) -> list[int]:
    """Sizes of the batches a searcher proposed, from its records' batch numbers."""
    sizes: dict[int, int] = {}
    for r in searcher._records:
        sizes[r["batch"]] = sizes.get(r["batch"], 0) + 1
    return [sizes[b] for b in sorted(sizes)]


def test_early_batches_are_early_k_until_early_until_then_k(store, nb201_checkpoints):
    s = _plus(store, nb201_checkpoints, budget=40, early_k=4, early_until=22, k=7)
    history = run_direct(s, tabular_evaluator(store), budget=40)
    assert len(history) == 40
    # 10 initial, then 4 while fewer than 22 queries are spent (10, 14, 18 -> 22), then 7s, capped by the budget
    assert _batch_sizes(s) == [10, 4, 4, 4, 7, 7, 4]
    assert s.timings["fits"] == 6


def test_skip_isomorphic_never_requeries_a_known_computation(store, nb201_checkpoints):
    s = _plus(store, nb201_checkpoints, budget=60, skip_isomorphic=True)
    history = run_direct(s, tabular_evaluator(store), budget=60)
    classes = [canonical_nb201(s.space.from_str(r["arch"])) for r in history[INIT:]]
    initial = {canonical_nb201(s.space.from_str(a)) for a in _initial(store, 0)}
    assert len(set(classes)) == len(classes)  # no two proposals of one class
    assert not initial & set(classes)  # none of the initial cells' classes again


def test_without_skipping_the_same_seed_may_repeat_classes_but_is_reproducible(store, nb201_checkpoints):
    runs = [[r["arch"] for r in run_direct(_plus(store, nb201_checkpoints), tabular_evaluator(store), budget=30)]
            for _ in range(2)]
    assert runs[0] == runs[1]


def test_neighbour_parents_add_every_unseen_neighbour_of_the_best_cells(store, nb201_checkpoints):
    s = _plus(store, nb201_checkpoints, neighbour_parents=2, num_candidates=5, children_per_parent=1)
    run_direct(s, tabular_evaluator(store), budget=10)  # the initial batch only
    successes = s._successes()
    pool = {s.space.key(a) for a in s._candidates(successes, 10)}
    best = sorted(successes, key=lambda t: (t[2], t[0]))[:2]
    expected = {s.space.key(n) for _, a, _ in best for n in s.space.neighbours(a)} - set(s._seen)
    assert expected <= pool
    assert len(pool) <= 10 + len(expected)  # 5 mutants topped up with random cells to the 10 asked for


def test_a_cohort_proposes_what_each_search_proposes_alone(store, nb201_checkpoints):
    settings = {"early_k": 5, "early_until": 30, "skip_isomorphic": True}
    alone = [[r["arch"] for r in run_direct(_plus(store, nb201_checkpoints, seed=s, budget=35, **settings),
                                            tabular_evaluator(store), budget=35)] for s in (1, 2)]
    searchers = [_plus(store, nb201_checkpoints, seed=s, budget=35, **settings) for s in (1, 2)]
    together = run_cohort(searchers, [tabular_evaluator(store)] * 2, 35)
    assert [[r["arch"] for r in h] for h in together] == alone


def test_registered_under_its_name_and_alias_with_the_npenas_ssccl_checkpoint(store, nb201_checkpoints):
    from search_algos import algorithm_settings
    from ssnenas.runner.config import checkpoint_kind

    assert {"ssnenas-plus", "npenas-ssccl-k3-iso"} <= set(REGISTRY.names)
    cls, settings = algorithm_settings("ssnenas-plus", "nasbench201")
    assert (cls, settings) == algorithm_settings("npenas-ssccl-k3-iso", "nasbench201")
    assert cls is SSNENASPlus and settings == {"predictor": "ss-ccl", "early_k": 3, "early_until": 50,
                                               "skip_isomorphic": True, "epochs": 100}
    s = make_searcher("ssnenas-plus", space="nasbench201", store=store, seed=0, budget=100,
                      predictor_checkpoint=str(nb201_checkpoints["ss-ccl"]))
    assert (s.early_k, s.early_until, s.skip_isomorphic, s.epochs, s.k) == (3, 50, True, 100, 10)
    assert checkpoint_kind("ssnenas-plus") == checkpoint_kind("npenas-ssccl-k3-iso") == "ss-ccl"
    assert checkpoint_kind("npenas-ssrl-fixed:20") == "ss-rl"
    assert checkpoint_kind("rea") is None


@pytest.mark.parametrize("settings, words", [
    ({"predictor": "gin"}, ["predictor='gin'", "ss-ccl"]),
    ({"early_k": 0}, ["early_k"]),
    ({"neighbour_parents": -1}, ["neighbour_parents"]),
    ({"early_until": "x"}, ["early_until"]),
])
def test_bad_settings_name_the_setting(store, nb201_checkpoints, settings, words):
    with pytest.raises((InputError, TypeError)) as err:  # a wrong type is a TypeError, as every searcher's
        _plus(store, nb201_checkpoints, **settings)
    assert all(w in str(err.value) for w in words)


def test_without_a_checkpoint_the_cli_names_the_flag_and_starts_nothing(synthetic_nb201_store, tmp_path, capsys):
    from ssnenas.cli import main

    out = tmp_path / "run"
    rc = main(["benchmark", "--quiet", "--space", "nasbench201", "--data", str(synthetic_nb201_store),
               "--algos", "ssnenas-plus", "--trials", "1", "--budget", "20", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and "--predictor ss-ccl=FILE" in err[0] and "ssnenas-plus" in err[0]
    assert not out.exists()


def test_an_unknown_algorithm_lists_the_known_ones_including_the_alias(synthetic_nb201_store, tmp_path, capsys):
    from ssnenas.cli import main

    rc = main(["benchmark", "--quiet", "--space", "nasbench201", "--data", str(synthetic_nb201_store),
               "--algos", "ssnenas-pluss", "--trials", "1", "--budget", "20", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    known = err.partition("choose from ")[2]
    assert rc == 2 and "ssnenas-pluss" in err and "ssnenas-plus" in known and "local-search" in known
    assert not (tmp_path / "r").exists()


def test_the_darts_search_takes_it_and_names_the_missing_flag(tmp_path):
    import argparse

    from ssnenas.cli.search import make_search_searcher
    from ssnenas.darts.search import add_arguments, resolve_settings
    from ssnenas.pretrain import CCLConfig, arch_set, train_ccl
    from ssnenas.spaces import get_space

    p = argparse.ArgumentParser()
    add_arguments(p)
    config = resolve_settings(p.parse_args(["--algorithm", "ssnenas-plus"]))
    assert config.algorithm == "ssnenas-plus"
    with pytest.raises(InputError, match=r"--algorithm ssnenas-plus .*pass --predictor ss-ccl=FILE"):
        make_search_searcher(config)
    darts = get_space("darts")
    archs = arch_set("darts", [darts.sample(np.random.default_rng(i)) for i in range(40)])
    train_ccl(archs, tmp_path / "ccl.pt", config=CCLConfig(batch_size=40, train_samples=8, batch_step=4,
                                                           min_negative_size=30, epochs=1),
              device="cpu", progress=False)
    config = resolve_settings(p.parse_args(["--algorithm", "ssnenas-plus", "--predictor", f"ss-ccl={tmp_path / 'ccl.pt'}"]))
    searcher = make_search_searcher(config)
    assert isinstance(searcher, SSNENASPlus) and searcher.space.name == "darts" and searcher.early_k == 3
