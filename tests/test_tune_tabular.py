"""The tabular trainable (trainables/tabular.py) and the searchers inside a real ``ray.tune.Tuner``."""

from __future__ import annotations

import math
import re
import textwrap

import numpy as np
import pytest
import torch

import synthetic_tables
from search_algos import NPENAS, run_direct
from ssnenas.errors import InputError, StoreError
from ssnenas.spaces.nasbench201 import arch_to_str
from trainables import tabular
from trainables.tabular import lookup, tabular_evaluator, tabular_trainable


def _doc_examples(obj) -> list[str]:
    """The literal blocks (after a line ending in '::') of an object's docstring, dedented."""
    doc = textwrap.dedent("\n".join(obj.__doc__.splitlines()[1:]))
    return [textwrap.dedent(b) for b in re.findall(r"::\n\n((?:(?: {4}.*)?\n)+)", doc + "\n")]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def store(synthetic_nb201_benchmark):
    return synthetic_nb201_benchmark


def test_lookup_returns_the_generated_numbers(store):
    """Lookups on the synthetic table, whose optimum and values are known exactly (the same lookups of the
    real table's published numbers: tests/test_shared_tables.py)."""
    best = store.best("val_acc")
    assert best["arch"] == arch_to_str(synthetic_tables.OPTIMUM)
    want = synthetic_tables.optimum_values()
    got = lookup(store, best["arch"])
    assert got["val_acc"] == want["cifar10-valid_val_acc"] and got["test_acc"] == want["cifar10_test_acc"]
    empty = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert lookup(store, empty)["val_acc"] == 10.0 and lookup(store, empty)["test_acc"] == 10.0
    assert tabular_evaluator(store)(best["arch"]) == lookup(store, best["arch"])
    with pytest.raises(InputError, match="nor_conv_9x9"):
        lookup(store, "|nor_conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|")


def test_lookup_of_an_arch_missing_from_the_store(store, tmp_path):
    """A partial store (the first 100 cells): a missing architecture raises StoreError naming it."""
    from ssnenas.store import BenchmarkStore, write_store

    cols = {c: store.column(c)[:100] for c in ("key", "arch", "val_acc", "test_acc")}
    cols["test_acc"] = np.full(100, np.nan)  # a dataset without a test column
    write_store(tmp_path, benchmark="nasbench201", dataset="cifar100", columns=cols, source="subset",
                source_fingerprint="0" * 64)
    small = BenchmarkStore.open(tmp_path)
    assert set(lookup(small, cols["arch"][0])) == {"val_acc"}  # no test accuracy: left out
    with pytest.raises(StoreError, match=re.escape(store.column("arch")[200])):
        lookup(small, store.column("arch")[200])


def test_trainable_reports_once_with_either_store_form(store, monkeypatch):
    reported = []
    monkeypatch.setattr("ray.tune.report", lambda metrics, **kw: reported.append(metrics))
    arch = store.column("arch")[7]
    tabular_trainable({"arch": arch}, store=store)
    tabular_trainable({"arch": arch, "store": str(store.path.parent)})
    tabular_trainable({"arch": arch}, store=str(store.path))
    expected = {"val_acc": float(store.column("val_acc")[7]), "test_acc": float(store.column("test_acc")[7])}
    assert reported == [expected] * 3
    assert tabular._open.cache_info().currsize >= 1  # opened once per process, then reused
    with pytest.raises(InputError, match=r"tune.with_parameters\(tabular_trainable"):
        tabular_trainable({"arch": arch})


@pytest.mark.slow
def test_npenas_in_a_tuner_matches_the_direct_driver(store, ray_session, tmp_path):
    from ray import tune

    settings = dict(store=store, seed=5, budget=10, num_init=5, k=5, epochs=10, num_candidates=30)
    searcher = NPENAS(**settings)
    tuner = tune.Tuner(
        tune.with_parameters(tabular_trainable, store=store),
        tune_config=tune.TuneConfig(search_alg=searcher, metric="val_acc", mode="max", num_samples=10,
                                    max_concurrent_trials=3),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="npenas-tuner", verbose=0))
    results = tuner.fit()
    assert len(results) == 10 and results.num_errors == 0
    df = results.get_dataframe()
    for arch, val in zip(df["config/arch"], df["val_acc"]):
        assert val == lookup(store, arch)["val_acc"]
    # the searcher saw every trial; its run equals the direct driver's with the same seed
    assert [r["status"] for r in searcher.history] == ["ok"] * 10
    direct = NPENAS(**settings)
    run_direct(direct, tabular_evaluator(store), 10)
    assert [r["arch"] for r in searcher.history] == [r["arch"] for r in direct.history]
    assert sorted(df["config/arch"]) == sorted(r["arch"] for r in direct.history)
    best = results.get_best_result()
    assert math.isclose(best.metrics["val_acc"], max(df["val_acc"]))


@pytest.mark.slow
def test_npenas_docstring_tuner_example_runs(store, ray_session, tmp_path):
    direct_block, tuner_block = _doc_examples(NPENAS)
    namespace = {"store_dir": str(store.path.parent), "storage_path": str(tmp_path)}
    exec(compile(direct_block, "<NPENAS docstring 1>", "exec"), namespace)
    exec(compile(tuner_block, "<NPENAS docstring 2>", "exec"), namespace)
    df = namespace["results"].get_dataframe()
    assert len(df) == 20 and df["val_acc"].notna().all()
    same = NPENAS(store=store, seed=0, budget=20, epochs=30)
    run_direct(same, tabular_evaluator(store), 20)
    assert sorted(df["config/arch"]) == sorted(r["arch"] for r in same.history)
