"""The real benchmark tables in ../shared/data: one test per table runs every check of its published facts
(shared/data/README.md) and of the project on it (official hashes, official strings and index order, the
optima, the counts, the stores and commands made from it), and skips with its reason where the table is
absent, as on a user's clone. The tests of behaviour run on generated tables (tests/synthetic_tables.py)
in the same layouts, so a clone without ../shared skips only these few tests."""

from __future__ import annotations

import csv
import dataclasses
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import synthetic_tables
from experiments.prepare_tables import prepare_all
from ssnenas.cli import main
from ssnenas.errors import DataFormatError, InputError
from ssnenas.store import BenchmarkStore

#: what prepare_all must show for each real table (shared/data/README.md)
PREPARED = {
    "nb201-cifar10-valid": {"num_archs": 15625, "best_val_acc": 91.57, "best_test_acc": 94.30},
    "nb201-cifar100": {"num_archs": 15625, "best_val_acc": 73.26, "best_test_acc": None},
    "nb101-1k": {"num_archs": 1000},
    "nb101-500": {"num_archs": 292},  # 500 rows, 208 of them repeat an architecture
    "darts-500": {"num_archs": 500},
}
#: the smallest NB101 cell, input -> output: 55 of the specs in nb101_500.csv prune to it
NB101_SMALLEST_HASH = "043721b9c7fe8c5fad811d47d83132ec"
TNB_BEST_SCENE = "64-41414-3_32_132"  # the class_scene optimum of the TransNAS-Bench-101 micro table
TNB_TASK_COLUMNS = ("class_scene_valid_top1", "class_object_valid_top1", "jigsaw_valid_top1",
                    "segmentsemantic_valid_acc", "autoencoder_valid_ssim")
COMMITTED = Path(__file__).resolve().parents[1] / "experiments" / "results" / "benchmark" / "packs"


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _run(capsys, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _check_prepared(relative: str, source: Path, tmp_path: Path) -> None:
    """prepare_all on a shared folder holding only ``source`` (at ``relative``) shows :data:`PREPARED`."""
    shared = tmp_path / "prepare_all" / "shared"
    (shared / relative).parent.mkdir(parents=True)
    (shared / relative).symlink_to(source)
    rows = {r["name"]: r for r in prepare_all(shared, tmp_path / "prepare_all" / "stores")}
    assert rows and set(rows) <= set(PREPARED)
    for name, row in rows.items():
        facts = PREPARED[name]
        assert row["num_archs"] == facts["num_archs"], name
        if "best_val_acc" in facts:
            assert row["best_val_acc"] == pytest.approx(facts["best_val_acc"])
            if facts["best_test_acc"] is None:
                assert row["best_test_acc"] is None
            else:
                assert row["best_test_acc"] == pytest.approx(facts["best_test_acc"], abs=0.005)


# -- NAS-Bench-101 ------------------------------------------------------------------------------------
def test_nb101_1k_facts(nb101_1k_csv, tmp_path, capsys):
    """nb101_1k.csv: the project's hashing reproduces all 1,000 official module hashes (and its canonical
    form splits the table as they do); the store, the CLI and prepare_all hold its 1,000 models."""
    from nb101_checks import check_classes_match_hashes, check_csv_store
    from ssnenas.spaces.nasbench101 import SPACE, arch_from_adjacency, module_hash

    rows = _rows(nb101_1k_csv)
    assert list(rows[0]) == list(synthetic_tables.NB101_COLUMNS)  # the generated table's layout is this one's
    # the official module hash on every row
    assert len(rows) == 1000
    archs = []
    for r in rows:
        arch = arch_from_adjacency(r["adjacency"], r["operations"])
        # the stored form is already pruned: parsing keeps it bit for bit
        assert SPACE.to_str(arch) == f"{r['adjacency']}|{r['operations']}"
        assert SPACE.key(arch) == r["module_hash"], r
        n = arch.num_vertices
        raw = np.array(list(r["adjacency"]), dtype=np.uint8).reshape(n, n)
        assert module_hash(raw, r["operations"].split(",")) == r["module_hash"]
        archs.append(arch)

    # the canonical form: same hash <-> same class on the real table
    check_classes_match_hashes(archs, [r["module_hash"] for r in rows])

    # the store
    check_csv_store(nb101_1k_csv, rows, tmp_path / "out")
    best = max(rows, key=lambda r: float(r["val_acc_108"]))

    # the CLI: prepare, info, lookup
    out = tmp_path / "store"
    rc, text, _ = _run(capsys, "data", "prepare", "nasbench101", "--source", nb101_1k_csv, "--out", out)
    assert rc == 0 and "1000 architectures" in text
    rc, text, _ = _run(capsys, "data", "info", out, "--json")
    info = json.loads(text)
    assert rc == 0
    assert (info["benchmark"], info["dataset"], info["num_archs"]) == ("nasbench101", "cifar10", 1000)
    assert info["best"] == {"key": best["module_hash"], "val_acc": float(best["val_acc_108"]), "test_acc": None,
                            "arch": info["best"]["arch"]}
    rc, text, _ = _run(capsys, "data", "info", out)
    assert rc == 0 and best["module_hash"] in text and "architectures" in text and "1,000" in text
    key = rows[5]["module_hash"]
    rc, text, _ = _run(capsys, "data", "lookup", out, "--key", key, "--json")
    row = json.loads(text)
    assert rc == 0 and row["key"] == key and row["val_acc"] == float(rows[5]["val_acc_108"])
    assert row["test_acc"] is None and row["val_acc_12"] == float(rows[5]["val_acc_12"])

    _check_prepared("nasbench101/nb101_1k.csv", nb101_1k_csv, tmp_path)


def test_nb101_500_facts(nb101_500_csv, tmp_path, capsys):
    """nb101_500.csv: its 500 unpruned specs hash (after pruning) to the listed module hashes and make 292
    models (208 rows repeat one; 55 specs prune to input -> output), in the store, the CLI and prepare_all."""
    from ssnenas.spaces.nasbench101 import SPACE, arch_from_adjacency, module_hash
    from ssnenas.store.nasbench101 import prepare_nasbench101

    rows = _rows(nb101_500_csv)
    assert list(rows[0]) == list(synthetic_tables.NB101_UNPRUNED_COLUMNS)
    assert NB101_SMALLEST_HASH == synthetic_tables.NB101_SMALLEST_HASH
    # the official module hash after pruning
    pruned_away = 0
    for r in rows:
        raw = np.array(list(r["adjacency"]), dtype=np.uint8).reshape(7, 7)
        ops = r["operations"].split(",")
        assert module_hash(raw, ops) == r["module_hash"], r
        arch = arch_from_adjacency(r["adjacency"], r["operations"])
        assert SPACE.key(arch) == r["module_hash"]
        assert SPACE.is_valid(arch)
        pruned_away += arch.num_vertices < 7
    assert pruned_away > 400  # this table stores unpruned 7x7 specs: the pruning really is exercised

    # the store: rows of one model merged
    store_dir = tmp_path / "out"
    store = BenchmarkStore.open(prepare_nasbench101(nb101_500_csv, store_dir))
    by_hash: dict[str, list[float]] = {}
    for r in rows:
        by_hash.setdefault(r["module_hash"], []).append(float(r["val_acc_108"]))
    assert store.num_archs == len(by_hash) == 292
    keys = list(by_hash)
    np.testing.assert_allclose(store.lookup(keys)["val_acc"], [np.mean(by_hash[k]) for k in keys], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(store.lookup(keys, ("num_rows",))["num_rows"], [len(by_hash[k]) for k in keys])
    # the 55 specs that prune to input -> output are one model
    assert len(by_hash[NB101_SMALLEST_HASH]) == 55
    assert store.row(NB101_SMALLEST_HASH)["arch"] == "0100|input,output"

    # the CLI says how many rows were duplicates
    rc, out, _ = _run(capsys, "data", "info", store_dir, "--json")
    info = json.loads(out)
    assert (info["num_archs"], info["num_source_rows"], info["merged_duplicate_rows"]) == (292, len(rows), 208)
    assert len(rows) == 500
    assert info["source"] == str(nb101_500_csv.resolve())  # absolute, not relative to where it was run
    rc, out, _ = _run(capsys, "data", "info", store_dir)
    assert "292 distinct from 500 source rows; 208 rows repeated an architecture" in out
    rc, out, _ = _run(capsys, "data", "prepare", "nasbench_101", "--source", nb101_500_csv, "--out", tmp_path / "s")
    assert rc == 0 and "(292 distinct architectures from 500 source rows;" in out

    _check_prepared("nasbench101/nb101_500.csv", nb101_500_csv, tmp_path)


# -- NAS-Bench-201 ------------------------------------------------------------------------------------
def test_nb201_facts(nb201_csv, nb201_12epoch_csv, nb201_store, nb201_benchmark, tmp_path, one_torch_thread):
    """nb201_200epoch.csv and nb201_12epoch.csv: every official cell string in official index order; the
    200-epoch optimum (cifar10-valid val 91.57 with test 94.30, cifar10 test 94.37, cifar100 val 73.26,
    341 cut-off cells at 10 %) in its stores, prepare_all and the tabular lookup; a predictor learns its
    ranking; the committed 600-trial runs, made on it, resume from their packs."""
    from ssnenas.spaces import nasbench201 as nb
    from ssnenas.store.nasbench201 import prepare_nasbench201
    from test_predictors import nb201_fit_tau
    from trainables.tabular import lookup, tabular_evaluator

    space = nb.SPACE
    assert list(_rows(nb201_csv)[0]) == list(synthetic_tables.CSV_COLUMNS)  # the generated table's layout
    # official strings and index order, in both CSVs
    archs = space.all_archs()
    assert len(archs) == 15625 and len(set(archs)) == 15625
    for path in (nb201_csv, nb201_12epoch_csv):
        csv_rows = [(int(r["index"]), r["arch"]) for r in _rows(path)]
        assert len(csv_rows) == 15625
        assert len({nb.parse_arch(text) for _, text in csv_rows}) == 15625
        for _, text in csv_rows:
            assert nb.arch_to_str(nb.parse_arch(text)) == text
            assert space.key(space.from_str(text)) == text
        assert [nb.arch_to_str(archs[index]) for index, _ in csv_rows] == [t for _, t in csv_rows]

    # the cifar10-valid store (val x-valid, test cifar10 ori-test)
    cols = pq.read_table(next(nb201_store.glob("*.parquet"))).to_pydict()
    assert len(cols["key"]) == 15_625 == len(set(cols["key"]))
    best = int(np.argmax(cols["val_acc"]))
    assert cols["val_acc"][best] == pytest.approx(91.57)
    assert round(cols["test_acc"][best], 2) == 94.30
    assert max(cols["test_acc"]) == pytest.approx(94.3733)  # the NB201 paper's cifar10 optimum 94.37
    assert sum(v == 10.0 for v in cols["val_acc"]) >= 341  # disconnected cells sit at 10.0

    # the cifar100 store: validation only
    out = tmp_path / "c100"
    out.mkdir()
    prepare_nasbench201(nb201_csv, "cifar100", out)
    cols = pq.read_table(next(out.glob("*.parquet"))).to_pydict()
    assert len(cols["key"]) == 15_625
    assert max(cols["val_acc"]) == pytest.approx(73.26)
    assert all(t is None for t in cols["test_acc"])

    _check_prepared("nasbench201/nb201_200epoch.csv", nb201_csv, tmp_path)

    # the tabular trainable's lookup returns the published numbers
    store = nb201_benchmark
    best_row = store.best("val_acc")
    got = lookup(store, best_row["arch"])
    assert got["val_acc"] == 91.57 and round(got["test_acc"], 2) == 94.30
    # the empty cell (every edge "none") is one of the disconnected cells sitting at 10 %
    empty = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert lookup(store, empty)["val_acc"] == pytest.approx(10.0, abs=0.5)
    assert tabular_evaluator(store)(best_row["arch"]) == lookup(store, best_row["arch"])
    with pytest.raises(InputError, match="nor_conv_9x9"):
        lookup(store, "|nor_conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|")

    # a GIN predictor fitted on 100 cells ranks 500 others
    tau = nb201_fit_tau(nb201_csv)
    assert tau > 0.4, tau

    _check_committed_packs_resume(nb201_store, tmp_path / "resume")


def _check_committed_packs_resume(nb201_store: Path, tmp_path: Path) -> None:
    """A run recorded before stores were fingerprinted (no ``store`` in its config) still resumes: its
    packs unpack, and its command is accepted as a resume of it (compared by the source file's
    fingerprint), with only the tasks no pack held left to run; fewer trials are refused."""
    import search_algos
    from ssnenas.analysis.runpack import read_pack, unpack_run
    from ssnenas.analysis.runs import finished_tasks
    from ssnenas.runner import BenchmarkConfig, task_specs, validate
    from ssnenas.store.content import store_identity

    packs = [COMMITTED / "nb201-cifar10-valid-600.parquet", COMMITTED / "nb201-cifar10-valid-600-bananas.parquet"]
    assert all(p.is_file() for p in packs), f"the committed packs {[p.name for p in packs]} are missing"
    packed = read_pack(packs[1])[0]["config"]  # the six algorithms' run, extended with bananas
    assert "store" not in packed
    run = tmp_path / "run"
    written = sum(unpack_run(p, run)["written"] for p in packs)
    cfg = BenchmarkConfig(space="nasbench201", data=nb201_store, algorithms=tuple(packed["algorithms"]),
                          trials=packed["trials"], budget=packed["budget"], seed=packed["seed"], out=run,
                          predictors={"ss-rl": COMMITTED / "ssrl_nb201.pt", "ss-ccl": COMMITTED / "ccl_N10000.pt"},
                          progress=False)
    store, run_config = validate(cfg, search_algos.REGISTRY)  # the same run: accepted
    assert run_config["store"] == store_identity(nb201_store)
    assert len(task_specs(cfg, store, finished_tasks(run))) == 600 * 7 - written
    with pytest.raises(InputError, match=r"trials: 500 now vs 600 there"):
        validate(dataclasses.replace(cfg, trials=500), search_algos.REGISTRY)


# -- DARTS (NAS-Bench-301 data) ------------------------------------------------------------------------
def test_darts_500_facts(darts_csv, tmp_path):
    """nb301_500.csv: 500 genotypes of distinct canonical keys that round-trip through the parser; its
    store keeps them with the first row's published numbers; prepare_all counts 500."""
    from ssnenas.atomic import output_dir
    from ssnenas.spaces import darts
    from ssnenas.store.nasbench201 import prepare_darts_csv

    rows = _rows(darts_csv)
    assert list(rows[0]) == list(synthetic_tables.DARTS_COLUMNS)  # the generated table's layout
    genotypes = [r["genotype"] for r in rows]
    assert len(genotypes) == 500
    keys = set()
    for text in genotypes:
        g = darts.parse_genotype(text)
        assert darts.SPACE.is_valid(g)
        assert darts.genotype_to_str(g) == text and darts.SPACE.from_str(darts.SPACE.to_str(g)) == g
        key = darts.SPACE.key(g)
        assert darts.SPACE.key(darts.parse_genotype(key)) == key
        keys.add(key)
        paths = [len(darts.cell_paths(cell)) for cell in g.cells]
        assert all(2 <= n <= 18 for n in paths)
    assert len(keys) == 500

    with output_dir(tmp_path / "s") as o:
        prepare_darts_csv(darts_csv, o)
    cols = pq.read_table(next((tmp_path / "s").glob("*.parquet"))).to_pydict()
    n = len(cols["key"])
    assert n == len(set(cols["key"])) and 490 <= n <= 500
    assert all(t is None for t in cols["test_acc"])
    first = cols["arch"][0]
    assert cols["key"][0] == darts.SPACE.key(darts.parse_genotype(first))
    assert first.startswith("Genotype(normal=[('sep_conv_5x5', 0), ('sep_conv_3x3', 1)")
    assert cols["val_acc"][0] == pytest.approx(93.9011)
    assert cols["params_M"][0] == pytest.approx(1.204906) and cols["flops_M"][0] == pytest.approx(202.774016)

    _check_prepared("darts/nb301_500.csv", darts_csv, tmp_path)


# -- TransNAS-Bench-101 micro ----------------------------------------------------------------------------
def test_tnb101_micro_facts(tnb101_csv, tmp_path):
    """tnb101_micro.csv: every cell once in code order with five tasks; the data README's maxima (class_scene
    54.94 at 64-41414-3_32_132, class_object 45.59, jigsaw 95.37, segmentsemantic 94.61, autoencoder SSIM
    0.577) and what the cut-off cells score, in the table and in each task's store; no room layout."""
    from ssnenas.spaces.transnas101 import SPACE
    from ssnenas.store import transnas101 as tnb
    from test_store_transnas101 import GEN_COLUMNS, REAL_TASKS

    rows = _rows(tnb101_csv)
    assert len(rows) == 4096
    assert [r["arch"] for r in rows] == [SPACE.to_str(a) for a in SPACE.all_archs()]
    assert list(rows[0]) == ["arch", *TNB_TASK_COLUMNS]
    assert TNB_TASK_COLUMNS == tuple(GEN_COLUMNS[t] for t in REAL_TASKS)  # what its generated twin writes

    # maxima, and what the cut-off cells score: one value on four tasks (all 169 of them, not only the 64
    # with node 3 cut), but not on the autoencoder, whose SSIM varies among them
    by_arch = {r["arch"]: r for r in rows}
    best = max(rows, key=lambda r: float(r["class_scene_valid_top1"]))
    assert best["arch"] == TNB_BEST_SCENE and float(best["class_scene_valid_top1"]) == pytest.approx(54.94, abs=5e-3)
    maxima = {c: max(float(r[c]) for r in rows) for c in TNB_TASK_COLUMNS}
    assert maxima["class_object_valid_top1"] == pytest.approx(45.59, abs=5e-3)
    assert maxima["jigsaw_valid_top1"] == pytest.approx(95.37, abs=5e-3)
    assert maxima["segmentsemantic_valid_acc"] == pytest.approx(94.61, abs=5e-3)
    assert maxima["autoencoder_valid_ssim"] == pytest.approx(0.577, abs=5e-4)
    values = defaultdict(set)
    for arch in SPACE.all_archs():
        if not SPACE.output_reachable(arch):
            for c in TNB_TASK_COLUMNS:
                values[c].add(by_arch[SPACE.to_str(arch)][c])
    assert {c: len(v) for c, v in values.items()} == {
        "class_scene_valid_top1": 1, "class_object_valid_top1": 1, "jigsaw_valid_top1": 1,
        "segmentsemantic_valid_acc": 1, "autoencoder_valid_ssim": 56}
    assert float(next(iter(values["class_scene_valid_top1"]))) == pytest.approx(7.48, abs=5e-3)

    # each task's store
    for task, best_arch, best_value, unit in (
            ("class_scene", TNB_BEST_SCENE, 54.94, "percent"), ("class_object", None, 45.59, "percent"),
            ("jigsaw", None, 95.37, "percent"), ("segmentsemantic", None, 94.61, "percent"),
            ("autoencoder", None, 0.577, "ssim")):
        store = BenchmarkStore.open(tnb.prepare_transnas101(tnb101_csv, task, tmp_path / task))
        assert store.num_archs == 4096 and store.metadata["metric_unit"] == unit, task
        row = store.best()
        assert row["val_acc"] == pytest.approx(best_value, abs=5e-3), task
        if best_arch:
            assert row["arch"] == best_arch
        zero = store.row("64-41414-0_00_000")["val_acc"]
        assert (zero == pytest.approx(7.48, abs=5e-3)) if task == "class_scene" else zero is not None

    # the table has no room-layout column, and says which columns it has
    with pytest.raises(DataFormatError, match="no column 'room_layout_valid_neg_loss' .*columns present: arch, "
                                              "class_scene_valid_top1, class_object_valid_top1"):
        tnb.prepare_transnas101(tnb101_csv, "room_layout", tmp_path / "room_layout")
