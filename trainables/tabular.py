"""Tabular benchmark evaluation: a trial is a lookup of the architecture in a prepared store.

Two forms of the same lookup:
- :func:`tabular_trainable`, a Ray Tune function trainable: ``tune.report({"val_acc", "test_acc"})``
  for ``config["arch"]``; the store comes from ``tune.with_parameters(tabular_trainable, store=store)``
  (a ``BenchmarkStore`` pickles as its path, so workers reopen it) or from ``config["store"]`` (a path);
- :func:`tabular_evaluator`, the ``evaluate`` callable of ``search_algos.run_direct``.

``val_acc``/``test_acc`` are the store's metric under the schema's names: accuracies in percent for
NAS-Bench-101/-201 and DARTS, what the store's metadata names (``metric_label``, ``metric_unit``) for a
TransNAS-Bench-101 task (an SSIM in 0..1, a negative loss), always higher-is-better; searchers given the
store read its unit (``ssnenas.metric_spec``). ``test_acc`` is left out where the store has none (e.g.
NB201 cifar100 with 200 epochs); a missing ``val_acc`` is reported as NaN, which the searchers treat as
a failed trial.
"""

from __future__ import annotations

import functools
import math
import os
from typing import Callable

from ssnenas.errors import InputError
from ssnenas.store import BenchmarkStore


@functools.lru_cache(maxsize=8)
def _open(path: str) -> BenchmarkStore:
    return BenchmarkStore.open(path)


def _store_of(store: BenchmarkStore | str | os.PathLike | None, config: dict) -> BenchmarkStore:
    if store is None:
        store = config.get("store")
    if store is None:
        raise InputError("tabular_trainable needs a store: wrap it as tune.with_parameters(tabular_trainable, "
                         "store=BenchmarkStore.open(DIR)) or put \"store\": DIR in the param_space")
    if isinstance(store, BenchmarkStore):
        return store
    return _open(os.fspath(store))


def lookup(store: BenchmarkStore, arch: str) -> dict:
    """``{"val_acc": ..., "test_acc": ...}`` (the store's metric: percent, SSIM, ...) of ``arch``.

    The arch is parsed by the store's space (a malformed string raises :class:`InputError`) and
    found by its canonical key (a missing one raises ``StoreError`` naming it).
    """
    _, i = store.locate(arch)
    out = {"val_acc": float(store.column("val_acc")[i])}
    test = float(store.column("test_acc")[i])
    if not math.isnan(test):
        out["test_acc"] = test
    return out


def tabular_evaluator(store: BenchmarkStore) -> Callable[[str], dict]:
    """``evaluate(arch) -> {"val_acc", "test_acc"}`` for :func:`search_algos.run_direct`."""
    return functools.partial(lookup, store)


def tabular_trainable(config: dict, store: BenchmarkStore | str | None = None) -> None:
    """Tune function trainable: report the stored values of ``config["arch"]`` once."""
    from ray import tune

    tune.report(lookup(_store_of(store, config), config["arch"]))
