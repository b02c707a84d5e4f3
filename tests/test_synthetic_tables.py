"""The synthetic NAS-Bench-201 table (tests/synthetic_tables.py) has the properties the tests of
behaviour rely on: every cell once in official order, the cut-off cells at chance, isomorphic cells
alike, one known optimum, and a store prepared from it like the real one; the generated NAS-Bench-101 and
DARTS tables have the real tables' layouts."""

from __future__ import annotations

import csv
from collections import defaultdict

import numpy as np

import synthetic_tables as st
from ssnenas.encstudy import canonical_nb201
from ssnenas.spaces.nasbench201 import all_archs, arch_to_str


def _rows(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_cell_once_in_official_order_with_the_real_columns(synthetic_nb201_csv):
    with open(synthetic_nb201_csv, newline="") as fh:
        assert next(csv.reader(fh)) == list(st.CSV_COLUMNS)
    rows = _rows(synthetic_nb201_csv)
    assert [int(r["index"]) for r in rows] == list(range(15625))
    assert [r["arch"] for r in rows] == [arch_to_str(a) for a in all_archs()]


def test_cut_off_cells_sit_at_chance_and_isomorphic_cells_are_alike():
    archs = all_archs()
    cols = st.accuracies(archs)
    values = defaultdict(set)
    for i, arch in enumerate(archs):
        values[canonical_nb201(arch)].add(tuple(float(cols[c][i]) for c in st.CSV_COLUMNS[2:]))
    assert all(len(v) == 1 for v in values.values())  # one set of accuracies per isomorphism class
    cut_off = [i for i, arch in enumerate(archs) if canonical_nb201(arch) == ()]
    assert len(cut_off) == 341
    for name, chance in st.CHANCE.items():
        assert set(cols[name][cut_off].tolist()) == {chance}
        connected = np.delete(cols[name], cut_off)
        assert connected.min() > 2 * chance  # every connected cell learns something
    # distinct classes differ: the jitter separates cells the additive score ties
    distinct = {next(iter(v)) for v in values.values()}
    assert len(distinct) == len(values)


def test_one_clear_optimum_in_every_column():
    archs = all_archs()
    cols = st.accuracies(archs)
    want = st.optimum_values()
    for name, col in cols.items():
        order = np.argsort(col)
        assert archs[order[-1]] == st.OPTIMUM and col[order[-1]] == want[name]
        assert col[order[-1]] - col[order[-2]] >= 0.03  # a margin no rounding can close
    # resembles the real table's spread: most connected cells between 84 and 90 on cifar10-valid
    val = cols["cifar10-valid_val_acc"][cols["cifar10-valid_val_acc"] > 10]
    assert 0.4 < np.mean((val > 84) & (val < 90)) < 0.8


def test_the_store_holds_the_table(synthetic_nb201_csv, synthetic_nb201_benchmark):
    store = synthetic_nb201_benchmark
    assert (store.benchmark, store.dataset, store.num_archs) == ("nasbench201", "cifar10-valid", 15625)
    best = store.best("val_acc")
    want = st.optimum_values()
    assert best["arch"] == arch_to_str(st.OPTIMUM)
    assert best["val_acc"] == want["cifar10-valid_val_acc"] and best["test_acc"] == want["cifar10_test_acc"]
    rows = {r["arch"]: r for r in _rows(synthetic_nb201_csv)}
    keys = store.column("arch")
    vals, tests = store.column("val_acc"), store.column("test_acc")
    for i in np.random.default_rng(0).choice(store.num_archs, 50, replace=False):
        row = rows[str(keys[i])]
        assert vals[i] == float(row["cifar10-valid_val_acc"]) and tests[i] == float(row["cifar10_test_acc"])


# -- the generated NAS-Bench-101 and DARTS tables ---------------------------------------------------------
def test_nb101_tables_have_the_real_layouts_and_official_hashes(synthetic_nb101_csv, synthetic_nb101_unpruned_csv,
                                                                tmp_path):
    from ssnenas.spaces.nasbench101 import SPACE, arch_from_adjacency

    with open(synthetic_nb101_csv, newline="") as fh:
        assert next(csv.reader(fh)) == list(st.NB101_COLUMNS)
    rows = _rows(synthetic_nb101_csv)
    assert len({r["module_hash"] for r in rows}) == len(rows) == 1000
    sizes = [len(r["operations"].split(",")) for r in rows]
    assert sum(n == 7 for n in sizes) > 600 and min(sizes) >= 4  # mostly 7-vertex cells, like the real table
    for r in rows:
        arch = arch_from_adjacency(r["adjacency"], r["operations"])
        assert SPACE.to_str(arch) == f"{r['adjacency']}|{r['operations']}" and SPACE.key(arch) == r["module_hash"]
        v = [float(r[f"val_acc_{e}"]) for e in (4, 12, 36, 108)]
        assert v == sorted(v) and 80 < v[3] < 100 and int(r["trainable_parameters"]) > 0
    with open(synthetic_nb101_unpruned_csv, newline="") as fh:
        assert next(csv.reader(fh)) == list(st.NB101_UNPRUNED_COLUMNS)
    unpruned = _rows(synthetic_nb101_unpruned_csv)
    assert len(unpruned) == 500 and all(len(r["adjacency"]) == 49 for r in unpruned)
    assert 200 < len({r["module_hash"] for r in unpruned}) < 400  # the real nb101_500.csv: 292
    assert sum(r["module_hash"] == st.NB101_SMALLEST_HASH for r in unpruned) > 10
    # deterministic: the same bytes again
    assert st.write_nb101_csv(tmp_path / "a.csv").read_bytes() == synthetic_nb101_csv.read_bytes()
    assert st.write_nb101_unpruned_csv(tmp_path / "b.csv").read_bytes() == synthetic_nb101_unpruned_csv.read_bytes()


def test_darts_table_has_the_real_layout_and_repeats_ten_keys(synthetic_darts_csv, tmp_path):
    from ssnenas.spaces import darts

    with open(synthetic_darts_csv, newline="") as fh:
        assert next(csv.reader(fh)) == list(st.DARTS_COLUMNS)
    rows = _rows(synthetic_darts_csv)
    keys = [darts.SPACE.key(darts.parse_genotype(r["genotype"])) for r in rows]
    assert len(rows) == 510 and len(set(keys[:500])) == 500 and set(keys[500:]) <= set(keys[:500])
    assert len({r["genotype"] for r in rows}) == 510  # the repeats are other strings of the same key
    assert all(90 < float(r["val_acc"]) < 100 for r in rows)
    assert st.write_darts_csv(tmp_path / "d.csv").read_bytes() == synthetic_darts_csv.read_bytes()
