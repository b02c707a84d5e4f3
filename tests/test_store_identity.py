"""Identity by content (ssnenas.store.content): one NB201 CSV prepared with and without --test-column
gives two identities; preparing it again gives the same one; a changed value or row order changes it;
identity_diff names each differing field in one line."""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from nb201_files import example_archs
from ssnenas.store import BenchmarkStore, write_store
from ssnenas.store.content import _hash_strings, describe_identity, identity_diff, store_identity
from ssnenas.store.nasbench201 import prepare_nasbench201

N = 60
HEADER = ["index", "arch", "cifar10-valid_val_acc", "cifar100_val_acc", "cifar10_test_acc"]


def write_csv(path: Path, *, change: tuple[int, str, str] | None = None) -> Path:
    """A small CSV in the shared nb201_200epoch.csv's columns; ``change`` = (row, column, new text)."""
    rows = [[str(i), arch, f"{80 + 0.1 * i:.4f}", f"{50 + 0.2 * i:.4f}", f"{85 + 0.05 * i:.4f}"]
            for i, arch in enumerate(example_archs(N))]
    if change is not None:
        row, column, text = change
        rows[row][HEADER.index(column)] = text
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([HEADER, *rows])
    return path


def prepare(csv_path: Path, out: Path, *, test: bool) -> BenchmarkStore:
    prepare_nasbench201(csv_path, "cifar10-valid", out, val_column="cifar10-valid_val_acc",
                        test_column="cifar10_test_acc" if test else None)
    return BenchmarkStore.open(out)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return write_csv(tmp_path_factory.mktemp("csv") / "nb201_small.csv")


@pytest.fixture(scope="module")
def with_test(source, tmp_path_factory) -> BenchmarkStore:
    return prepare(source, tmp_path_factory.mktemp("with_test"), test=True)


@pytest.fixture(scope="module")
def without_test(source, tmp_path_factory) -> BenchmarkStore:
    return prepare(source, tmp_path_factory.mktemp("without_test"), test=False)


def test_identity_fields(with_test):
    ident = store_identity(with_test)
    assert ident["identity_version"] == 1
    assert (ident["benchmark"], ident["space"], ident["dataset"]) == ("nasbench201", "nasbench201", "cifar10-valid")
    assert ident["num_archs"] == N
    assert ident["value_columns"] == ["val_acc", "test_acc"]
    assert re.fullmatch(r"[0-9a-f]{64}", ident["archs_sha256"])
    assert re.fullmatch(r"[0-9a-f]{64}", ident["values_sha256"])
    assert ident["metrics"] == {"val_acc": "cifar10-valid_val_acc", "test_acc": "cifar10_test_acc"}
    # a store file or its folder give the same identity as the opened store
    assert store_identity(with_test.path) == ident
    assert store_identity(with_test.path.parent) == ident
    assert describe_identity(ident).startswith(f"nasbench201/cifar10-valid, {N} archs, val_acc+test_acc, archs ")


def test_values_hash_is_the_documented_bytes(with_test):
    """values_sha256 = sha256 over, per value column, name NUL, row count (int64 LE), float64 LE values."""
    h = hashlib.sha256()
    for name in ("val_acc", "test_acc"):
        x = np.asarray(with_test.column(name), dtype="<f8")
        h.update(name.encode() + b"\0" + len(x).to_bytes(8, "little") + x.tobytes())
    assert store_identity(with_test)["values_sha256"] == h.hexdigest()


def test_with_and_without_test_column_differ(with_test, without_test):
    a, b = store_identity(with_test), store_identity(without_test)
    assert with_test.fingerprint == without_test.fingerprint  # the same source file: the old identity
    assert a["archs_sha256"] == b["archs_sha256"]
    assert b["value_columns"] == ["val_acc"]
    assert a["values_sha256"] != b["values_sha256"]
    diffs = identity_diff(a, b)
    assert diffs == [
        "store value_columns: ['val_acc'] now vs ['val_acc', 'test_acc'] there",
        f"store values_sha256: {b['values_sha256'][:12]}... now vs {a['values_sha256'][:12]}... there",
        "store metrics: {'val_acc': 'cifar10-valid_val_acc', 'test_acc': None} now vs "
        "{'val_acc': 'cifar10-valid_val_acc', 'test_acc': 'cifar10_test_acc'} there",
    ]
    assert all("\n" not in d for d in diffs)


def test_preparing_again_gives_the_same_identity(source, with_test, tmp_path):
    again = prepare(source, tmp_path / "again", test=True)
    assert again.metadata["created"] is not None and again.path != with_test.path
    assert store_identity(again) == store_identity(with_test)
    assert identity_diff(store_identity(with_test), store_identity(again)) == []


def test_a_changed_value_changes_only_the_values_hash(with_test, tmp_path):
    changed = write_csv(tmp_path / "changed.csv", change=(17, "cifar10-valid_val_acc", "81.2345"))
    other = store_identity(prepare(changed, tmp_path / "store", test=True))
    base = store_identity(with_test)
    assert other["archs_sha256"] == base["archs_sha256"]
    assert other["values_sha256"] != base["values_sha256"]
    assert [d.split(":")[0] for d in identity_diff(base, other)] == ["store values_sha256"]
    # a change in a column the search does not read leaves the identity alone
    unread = write_csv(tmp_path / "unread.csv", change=(17, "cifar100_val_acc", "1.0"))
    assert store_identity(prepare(unread, tmp_path / "unread", test=True)) == base


def rewrite(store: BenchmarkStore, folder: Path, rows: np.ndarray) -> Path:
    """``store``'s rows ``rows`` (in that order) written as a new store with the same split metadata."""
    columns = {name: store.column(name)[rows] for name in ("key", "arch", "val_acc", "test_acc",
                                                          "graph_ops", "graph_adj")}
    splits = {k: store.metadata[k] for k in ("val_split", "test_split")}
    return write_store(folder, benchmark="nasbench201", dataset="cifar10-valid", columns=columns,
                       source="x.csv", source_fingerprint="0", extra_metadata=splits)


def test_row_order_is_part_of_the_identity(with_test, tmp_path):
    """Searches draw rows by index, so the same rows in another order search differently."""
    n = with_test.num_archs
    same = store_identity(rewrite(with_test, tmp_path / "same", np.arange(n)))
    flipped = store_identity(rewrite(with_test, tmp_path / "flipped", np.arange(n)[::-1]))
    assert same == store_identity(with_test)  # the source file's name and hash play no part
    assert [d.split(":")[0] for d in identity_diff(same, flipped)] == ["store archs_sha256",
                                                                       "store values_sha256"]


def test_fewer_archs_differ_in_count_and_hashes(with_test, tmp_path):
    part = rewrite(with_test, tmp_path / "part", np.arange(N - 1))
    fields = [d.split(":")[0] for d in identity_diff(store_identity(with_test), store_identity(part))]
    assert fields == ["store num_archs", "store archs_sha256", "store values_sha256"]


def test_identity_diff_conventions():
    old = {"a": 1, "values_sha256": "ab" * 32}
    assert identity_diff(None, old) == []  # a run recorded before identities: the caller decides
    assert identity_diff(old, dict(old)) == []
    assert identity_diff(old, {"a": 2, "values_sha256": "ab" * 32, "b": [1]}, label="") == [
        "a: 2 now vs 1 there", "b: [1] now vs None there"]
    assert identity_diff(old, {"a": 2}, fields=["values_sha256"], label="checkpoint") == [
        f"checkpoint values_sha256: None now vs {'ab' * 6}... there"]


def strings_digest(arr) -> str:
    h = hashlib.sha256()
    _hash_strings(h, arr)
    return h.hexdigest()


def test_string_hash_is_framed_and_type_independent():
    values = ["ab", "c", "", "déf"]
    base = strings_digest(pa.array(values, pa.string()))
    assert strings_digest(pa.array(values, pa.large_string())) == base
    assert strings_digest(pa.chunked_array([values[:1], values[1:]], pa.string())) == base
    assert strings_digest(pa.array(values).dictionary_encode()) == base
    assert strings_digest(pa.array(["x", *values], pa.string()).slice(1)) == base  # a non-zero offset
    assert strings_digest(pa.array(["a", "bc", "", "déf"])) != base  # same bytes, other boundaries
    assert strings_digest(pa.array(["ab", "c", None, "déf"])) != base  # a null is not an empty string
