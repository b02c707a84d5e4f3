"""Checks shared by the tests of a table in the nb101_1k.csv layout: the real one
(tests/test_shared_tables.py) and the generated one (tests/test_encstudy.py, tests/test_store_nasbench101.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssnenas.encstudy import analyse, canonical_nb101
from ssnenas.spaces import get_space
from ssnenas.store.nasbench101 import prepare_nasbench101
from ssnenas.store.table import BenchmarkStore


def check_classes_match_hashes(archs: list, hashes: list[str]) -> None:
    """The module hash is isomorphism-invariant (same hash <-> same canonical class), so the encoding
    analysis counts one class per hash and the key encoding merges and splits nothing."""
    classes = [canonical_nb101(a) for a in archs]
    assert len(set(classes)) == len(set(hashes)) == len(set(zip(classes, hashes)))
    result = analyse(get_space("nasbench101"), archs)
    assert result["unique_up_to_isomorphism"] == len(set(hashes))
    assert result["encodings"]["key"] == {"distinct": len(set(hashes)), "merged": 0, "split": 0}
    assert result["encodings"]["path"]["merged"] > 0  # the path encoding is not injective on NB101


def check_csv_store(csv_path: Path, rows: list[dict], out: Path) -> BenchmarkStore:
    """The store prepared from ``csv_path`` (whose rows are ``rows``) holds its 1,000 models, every column,
    no test accuracy and the best model by val_acc_108."""
    store = BenchmarkStore.open(prepare_nasbench101(csv_path, out))
    assert store.num_archs == 1000 and store.metadata["source_format"] == "csv"
    got = store.lookup([r["module_hash"] for r in rows], ("val_acc", "test_acc", "val_acc_36", "trainable_parameters"))
    np.testing.assert_array_equal(got["val_acc"], [float(r["val_acc_108"]) for r in rows])
    np.testing.assert_array_equal(got["val_acc_36"], [float(r["val_acc_36"]) for r in rows])
    np.testing.assert_array_equal(got["trainable_parameters"], [int(r["trainable_parameters"]) for r in rows])
    assert np.isnan(got["test_acc"]).all()
    best = max(rows, key=lambda r: float(r["val_acc_108"]))
    assert store.best()["key"] == best["module_hash"]
    return store
