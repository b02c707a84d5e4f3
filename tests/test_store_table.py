"""The store core: write_store validation and metadata, BenchmarkStore lookups, sampling, graphs."""

from __future__ import annotations

import pickle

import numpy as np
import pyarrow.parquet as pq
import pytest

from ssnenas.errors import InputError, StoreError
from ssnenas.spaces import nasbench101 as nb
from ssnenas.store import paths
from ssnenas.store.table import CONVERTER_VERSION, BenchmarkStore, load_store, read_metadata, write_store

ARCHS = [
    "0100110001000000010010000010000001000000010000000|input,conv3x3-bn-relu,maxpool3x3,conv3x3-bn-relu,"
    "conv3x3-bn-relu,conv1x1-bn-relu,output",
    "011111000001000100000010000001000000|input,conv3x3-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,"
    "conv3x3-bn-relu,output",
    "0100|input,output",
    "010001000|input,maxpool3x3,output",
]
KEYS = ["00005c142e6f48ac74fdcf73e3439874", "009a0f4922f1f1ef74542d849f60fbf2",
        nb.module_hash(np.array([[0, 1], [0, 0]]), ["input", "output"]),
        nb.module_hash(np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]]), ["input", "maxpool3x3", "output"])]
VAL = np.array([93.0489, 94.6715, 83.3870, 90.0])
TEST = np.array([92.5, np.nan, 82.0, 89.5])


def _write(folder, dataset="cifar10", **extra_cols):
    cols = {"key": KEYS, "arch": ARCHS, "val_acc": VAL, "test_acc": TEST, **extra_cols}
    return write_store(folder, benchmark="nasbench101", dataset=dataset, columns=cols, source="toy.csv",
                       source_fingerprint="f" * 64, extra_metadata={"note": "unit test"})


@pytest.fixture()
def store(tmp_path):
    curves = np.arange(4 * 2 * 3, dtype=np.float32).reshape(4, 2, 3)
    _write(tmp_path, params=np.array([1, 2, 3, 4]), curves=curves)
    return BenchmarkStore.open(tmp_path)


def test_metadata_and_schema(store, tmp_path):
    meta = read_metadata(tmp_path / "nasbench101-cifar10.parquet")
    for field in ("benchmark", "dataset", "source", "source_fingerprint", "converter_version", "schema_version",
                  "created", "num_archs", "space"):
        assert field in meta
    assert meta["num_archs"] == 4 and meta["converter_version"] == CONVERTER_VERSION and meta["note"] == "unit test"
    assert meta["node_features"] == list(nb.NODE_FEATURES) and meta["space"] == "nasbench101"
    assert store.fingerprint == "f" * 64 and store.num_archs == len(store) == 4
    schema = pq.read_schema(store.path)
    ops_t, adj_t = schema.field("graph_ops").type, schema.field("graph_adj").type
    assert (ops_t.list_size, str(ops_t.value_type)) == (7, "int8")
    assert (adj_t.list_size, str(adj_t.value_type)) == (49, "uint8")
    assert schema.field("val_acc").type == "double"
    assert not list(tmp_path.glob(".*"))  # no temporary left


def test_graphs_from_the_space(store):
    ops, adj = store.graphs([0, 1, 2, 3])
    assert ops.dtype == np.int64 and ops.shape == (4, 7) and adj.dtype == np.float32 and adj.shape == (4, 7, 7)
    for i, text in enumerate(ARCHS):
        g = nb.SPACE.to_graph(nb.SPACE.from_str(text))
        np.testing.assert_array_equal(ops[i], g.node_ops)
        np.testing.assert_array_equal(adj[i], g.adjacency)
    feats, adj2 = store.features(np.array([2, 0]))
    assert feats.shape == (2, 7, 6) and feats.dtype == np.float32
    np.testing.assert_array_equal(feats.argmax(-1), ops[[2, 0]])
    assert (feats.sum(-1) == 1).all()
    np.testing.assert_array_equal(adj2, adj[[2, 0]])


def test_lookups(store):
    assert store.index_of([KEYS[3], KEYS[0]]).tolist() == [3, 0]
    assert store.index_of(np.array(KEYS[::-1])).tolist() == [3, 2, 1, 0]
    assert store.index_of(KEYS[1]).tolist() == [1]
    assert store.index_of(["nope", KEYS[2]], missing="ignore").tolist() == [-1, 2]
    with pytest.raises(StoreError, match="'nope' is not in the nasbench101/cifar10 store"):
        store.index_of([KEYS[0], "nope"])
    got = store.lookup([KEYS[1], KEYS[0]])
    np.testing.assert_array_equal(got["val_acc"], VAL[[1, 0]])
    assert np.isnan(got["test_acc"][0]) and got["test_acc"][1] == 92.5
    assert KEYS[2] in store and "nope" not in store
    assert store.keys.tolist() == KEYS


def test_row_best_and_columns(store):
    row = store.row(KEYS[1])
    assert row["key"] == KEYS[1] and row["arch"] == ARCHS[1] and row["val_acc"] == 94.6715
    assert row["test_acc"] is None and row["params"] == 2
    assert row["curves"] == [[6.0, 7.0, 8.0], [9.0, 10.0, 11.0]]
    assert store.column("curves").shape == (4, 2, 3)
    assert store.best()["key"] == KEYS[1]
    assert store.best("test_acc")["key"] == KEYS[0]
    with pytest.raises(StoreError, match="no column 'nope'"):
        store.column("nope")


def test_sampling_is_uniform_and_reproducible(store):
    a = store.sample_indices(4, np.random.default_rng(1))
    assert sorted(a.tolist()) == [0, 1, 2, 3] and a.dtype == np.int64
    b = store.sample_indices(3, np.random.default_rng(7))
    assert b.tolist() == store.sample_indices(3, np.random.default_rng(7)).tolist()
    draws = store.sample_indices(40_000, np.random.default_rng(0), replace=True)
    assert np.abs(np.bincount(draws, minlength=4) / 40_000 - 0.25).max() < 0.01
    with pytest.raises(InputError, match="cannot draw 5 distinct"):
        store.sample_indices(5, np.random.default_rng(0))


def test_pickle_round_trip(store):
    again = pickle.loads(pickle.dumps(store))
    assert again.keys.tolist() == KEYS and again.path == store.path
    np.testing.assert_array_equal(again.column("val_acc"), VAL)


def test_validation_errors(tmp_path):
    base = {"key": KEYS, "arch": ARCHS, "val_acc": VAL, "test_acc": TEST}
    kw = dict(benchmark="nasbench101", dataset="cifar10", source="s", source_fingerprint="x")
    with pytest.raises(InputError, match=r"columns \['test_acc'\] are missing"):
        write_store(tmp_path, columns={k: v for k, v in base.items() if k != "test_acc"}, **kw)
    with pytest.raises(InputError, match="appears more than once"):
        write_store(tmp_path, columns={**base, "key": [KEYS[0]] * 4}, **kw)
    with pytest.raises(InputError, match="not a percentage"):
        write_store(tmp_path, columns={**base, "val_acc": VAL / 100 - 1}, **kw)
    with pytest.raises(InputError, match="has 3 rows"):
        write_store(tmp_path, columns={**base, "extra": [1, 2, 3]}, **kw)
    with pytest.raises(InputError, match="every val_acc"):
        write_store(tmp_path, columns={**base, "val_acc": np.full(4, np.nan)}, **kw)
    assert not list(tmp_path.iterdir())


def test_selecting_among_several_stores(tmp_path):
    _write(tmp_path)
    _write(tmp_path, dataset="other")
    with pytest.raises(StoreError, match="holds several stores .*--benchmark and --dataset"):
        BenchmarkStore.open(tmp_path)
    assert load_store(tmp_path, dataset="other").dataset == "other"
    assert BenchmarkStore.open(tmp_path, benchmark="nasbench101", dataset="cifar10").dataset == "cifar10"
    with pytest.raises(StoreError, match="no store for nasbench201"):
        BenchmarkStore.open(tmp_path, benchmark="nasbench201")
    with pytest.raises(StoreError, match="holds nasbench101/other"):
        BenchmarkStore.open(tmp_path / "nasbench101-other.parquet", dataset="cifar10")


def test_missing_and_foreign_stores(tmp_path):
    with pytest.raises(StoreError, match="no such benchmark store; create it with"):
        BenchmarkStore.open(tmp_path / "absent")
    with pytest.raises(StoreError, match="holds no prepared store"):
        BenchmarkStore.open(tmp_path)
    import pyarrow as pa

    pq.write_table(pa.table({"a": [1]}), tmp_path / "x.parquet")
    with pytest.raises(StoreError, match="not a prepared store"):
        BenchmarkStore.open(tmp_path)


def test_data_home(monkeypatch, tmp_path):
    monkeypatch.setenv("SSNENAS_DATA", str(tmp_path / "d"))
    assert paths.data_home() == tmp_path / "d"
    assert paths.default_store_dir("nasbench101", "cifar10") == tmp_path / "d" / "nasbench101-cifar10"
    monkeypatch.delenv("SSNENAS_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert paths.data_home() == tmp_path / "c" / "ssnenas"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.data_home() == tmp_path / ".cache" / "ssnenas"
