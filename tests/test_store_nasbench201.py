"""NAS-Bench-201 (.pth / NATS folder / CSV) and DARTS-CSV converters.

Small files are written in exactly the official nesting (tests/nb201_files.py); every recorded field
is read back and compared with the numbers the writer put in. CSVs in the layouts of the real tables are
generated (tests/synthetic_tables.py); the real tables' published facts (best cifar10-valid val 91.57 with
test 94.30; best cifar100 val 73.26) are checked in tests/test_shared_tables.py.
"""

from __future__ import annotations

import bz2
import collections
import fractions
import math
import os
import pickle
import tracemalloc
import types
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from nb201_files import (EVAL_SETS, SEEDS, arch_string, epoch_time, example_archs, final_acc, flop_of,
                         latency_of, params_of, seeds_of, write_nats_folder, write_nb201_pth)
from ssnenas.atomic import output_dir
from ssnenas.errors import DataFormatError, InputError
from ssnenas.store import nasbench201 as nb
from ssnenas.store.nb201_pickle import ALLOWED_GLOBALS, RestrictedUnpickler, load_pbz2

V11 = "NAS-Bench-201-v1_1-096897.pth"
V10 = "NAS-Bench-201-v1_0-e61699.pth"
TEST_SET = {"cifar10-valid": "ori-test", "cifar100": "x-test", "ImageNet16-120": "x-test"}


def read_store(path: Path) -> dict[str, list]:
    """Columns of the written Parquet table (``path`` is the file or the folder holding it)."""
    path = Path(path)
    if path.is_dir():
        (path,) = sorted(path.glob("*.parquet"))
    return pq.read_table(path).to_pydict()


def prepare(source, dataset, out, **kw):
    """Call the converter the way the CLI does: inside ssnenas.atomic.output_dir."""
    with output_dir(out) as o:
        return nb.prepare_nasbench201(source, dataset, o, **kw)


def expected_schedule(index: int, dataset: str, epochs: int) -> dict:
    seeds = seeds_of(index, epochs, dataset)
    vals = [final_acc(index, dataset, "x-valid", s, epochs) for s in seeds]
    tests = [final_acc(index, dataset, TEST_SET[dataset], s, epochs) for s in seeds]
    lats = [x for s in seeds if (lat := latency_of(index, s)) for x in [sum(lat) / len(lat)]]
    return {"seeds": list(seeds), "val_seeds": vals, "test_seeds": tests, "val": np.mean(vals),
            "test": np.mean(tests), "params": params_of(index, dataset), "flops": flop_of(index, dataset),
            "latency": np.mean(lats) if lats else None,
            "train_time": np.mean([epochs * epoch_time(s) for s in seeds])}


def check_table(cols: dict, archs: list[str], dataset: str, *, has_12: bool) -> None:
    """Every recorded field of every arch equals what the writer stored."""
    assert cols["arch"] == archs and cols["key"] == archs and cols["index"] == list(range(len(archs)))
    for i in range(len(archs)):
        full = expected_schedule(i, dataset, 200)
        assert cols["seeds"][i] == full["seeds"]
        assert cols["val_acc_seeds"][i] == pytest.approx(full["val_seeds"])
        assert cols["test_acc_seeds"][i] == pytest.approx(full["test_seeds"])
        assert cols["val_acc"][i] == pytest.approx(full["val"])
        assert cols["test_acc"][i] == pytest.approx(full["test"])
        assert cols["params_M"][i] == pytest.approx(full["params"])
        assert cols["flops_M"][i] == pytest.approx(full["flops"])
        assert cols["latency_s"][i] == pytest.approx(full["latency"])
        assert cols["train_time_s"][i] == pytest.approx(full["train_time"])
        if has_12:
            less = expected_schedule(i, dataset, 12)
            assert cols["seeds_12"][i] == less["seeds"]
            assert cols["val_acc_12_seeds"][i] == pytest.approx(less["val_seeds"])
            assert cols["test_acc_12_seeds"][i] == pytest.approx(less["test_seeds"])
            assert cols["val_acc_12"][i] == pytest.approx(less["val"])
            assert cols["test_acc_12"][i] == pytest.approx(less["test"])
            assert cols["train_time_12_s"][i] == pytest.approx(less["train_time"])
        else:
            for name in ("val_acc_12", "test_acc_12", "seeds_12", "val_acc_12_seeds", "train_time_12_s"):
                assert cols[name][i] is None


# -- fixtures: one .pth and one NATS folder per session (torch.save of 200-epoch states takes ~1 s) ----------

ARCHS = example_archs(5)


@pytest.fixture(scope="module")
def pth_v11(tmp_path_factory) -> Path:
    return write_nb201_pth(tmp_path_factory.mktemp("pth") / V11, ARCHS)


@pytest.fixture(scope="module")
def nats_folder(tmp_path_factory) -> Path:
    return write_nats_folder(tmp_path_factory.mktemp("nats") / "NATS-tss-v1_0-3ffb9-simple", ARCHS)


# -- datasets ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["cifar10", "CIFAR100", "imagenet", ""])
def test_unknown_dataset_is_refused_and_leaves_no_output(name, pth_v11, tmp_path):
    out = tmp_path / "store"
    with pytest.raises(InputError) as err:
        prepare(pth_v11, name, out)
    msg = str(err.value)
    assert "--dataset" in msg and all(d in msg for d in nb.DATASETS)
    assert "\n" not in msg
    assert not out.exists()


# -- official .pth -----------------------------------------------------------------------------

def test_pth_cifar10_valid_every_field(pth_v11, tmp_path):
    cols = read_store(prepare(pth_v11, "cifar10-valid", tmp_path / "s"))
    check_table(cols, ARCHS, "cifar10-valid", has_12=True)
    # literal values of arch 0 (3 seeds): x-valid 80.25/80.75/81.25, ori-test 81.0/81.5/82.0
    assert cols["val_acc"][0] == pytest.approx(80.75) and cols["test_acc"][0] == pytest.approx(81.5)
    assert cols["val_acc_seeds"][0] == pytest.approx([80.25, 80.75, 81.25])
    assert cols["seeds"][0] == [777, 888, 999] and cols["seeds_12"][0] == [777, 888]
    assert cols["val_acc_12"][0] == pytest.approx(60.5) and cols["test_acc_12"][0] == pytest.approx(61.25)
    assert cols["train_time_s"][0] == pytest.approx((400 + 500 + 600) / 3)  # Σ 200 epochs, mean over seeds
    assert cols["train_time_12_s"][0] == pytest.approx((24 + 30) / 2)
    assert cols["latency_s"][0] == pytest.approx(0.011)  # seed 888 has no latency: mean of the measured
    assert cols["params_M"][0] == pytest.approx(0.101) and cols["flops_M"][0] == pytest.approx(10.01)


def test_pth_store_metadata_and_graphs(pth_v11, tmp_path):
    from ssnenas.fingerprint import file_sha256
    from ssnenas.spaces import nasbench201 as space
    from ssnenas.store.table import BenchmarkStore

    store = BenchmarkStore.open(prepare(pth_v11, "ImageNet16-120", tmp_path / "s"))
    meta = store.metadata
    assert (meta["benchmark"], meta["dataset"], meta["num_archs"]) == ("nasbench201", "ImageNet16-120", 5)
    assert meta["source_format"] == "pth" and meta["source_fingerprint"] == file_sha256(pth_v11)
    assert (meta["val_split"], meta["test_split"]) == ("x-valid", "x-test")
    assert "200-epoch" in meta["val"] and "12-epoch" in meta["val_12"] and meta["merged_duplicate_rows"] == 0
    assert set(meta["columns"]) <= set(store.columns)
    ops, adj = store.graphs([3])
    want_ops, want_adj = space.graph_arrays(space.parse_arch(ARCHS[3]))
    assert ops[0].tolist() == list(want_ops) and adj[0].tolist() == np.asarray(want_adj, np.float32).tolist()
    assert store.row(ARCHS[1])["seeds"] == [777, 888]


@pytest.mark.parametrize("dataset", ["cifar100", "ImageNet16-120"])
def test_pth_test_split_is_x_test(dataset, pth_v11, tmp_path):
    cols = read_store(prepare(pth_v11, dataset, tmp_path / "s"))
    check_table(cols, ARCHS, dataset, has_12=True)
    # x-test (+0.5) and not ori-test (+1.0): arch 2 has one seed
    assert cols["test_acc"][2] == pytest.approx(final_acc(2, dataset, "x-test", 777, 200))
    assert cols["test_acc"][2] != pytest.approx(final_acc(2, dataset, "ori-test", 777, 200))


def test_pth_v10_layout_has_12_epochs_only_on_cifar10_valid(tmp_path):
    pth = write_nb201_pth(tmp_path / V10, ARCHS[:3], less_datasets=("cifar10-valid",), numpy_scalars=False)
    check_table(read_store(prepare(pth, "cifar100", tmp_path / "a")), ARCHS[:3], "cifar100", has_12=False)
    check_table(read_store(prepare(pth, "cifar10-valid", tmp_path / "b")), ARCHS[:3], "cifar10-valid",
                has_12=True)


def test_pth_is_read_as_data_whatever_its_name(pth_v11, tmp_path, monkeypatch):
    """A file name grants no trust: an official-format .pth under any name is read with
    torch.load(weights_only=True); --trust-pickle switches to the full unpickler."""
    renamed = tmp_path / "my-copy.pth"
    renamed.write_bytes(pth_v11.read_bytes())
    import torch

    called = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: called.append(k) or real_load(*a, **k))
    check_table(read_store(prepare(renamed, "cifar10-valid", tmp_path / "data")), ARCHS, "cifar10-valid",
                has_12=True)
    assert called == [{"map_location": "cpu", "weights_only": True}]
    called.clear()
    cols = read_store(prepare(renamed, "cifar10-valid", tmp_path / "ok", trust_pickle=True))
    assert called == [{"map_location": "cpu", "weights_only": False}]
    check_table(cols, ARCHS, "cifar10-valid", has_12=True)


def test_pth_holding_another_type_needs_trust_flag(tmp_path):
    """A class outside the allowed numpy scalars is refused by name of the global, even under the
    official file name, and read with --trust-pickle."""
    import torch

    path = tmp_path / V11
    torch.save({"meta_archs": ARCHS[:1], "arch2infos": {0: fractions.Fraction(1, 3)}}, path)
    with pytest.raises(DataFormatError, match=r"refused: .*fractions.Fraction.*--trust-pickle") as err:
        prepare(path, "cifar10-valid", tmp_path / "refused")
    assert "\n" not in str(err.value) and not (tmp_path / "refused").exists()
    with pytest.raises(DataFormatError, match="arch 0"):  # unpickled, then its layout is checked
        prepare(path, "cifar10-valid", tmp_path / "trusted", trust_pickle=True)


def test_pth_load_logs_a_memory_warning(pth_v11, tmp_path, caplog):
    with caplog.at_level("WARNING", logger="ssnenas.store.nasbench201"):
        prepare(pth_v11, "cifar10-valid", tmp_path / "s")
    assert any("weights_only=True" in r.getMessage() and "30 GB" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING", logger="ssnenas.store.nasbench201"):
        prepare(pth_v11, "cifar10-valid", tmp_path / "t", trust_pickle=True)
    assert any("trusted pickle" in r.getMessage() and "30 GB" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("payload", [
    [1, 2, 3],
    {"meta_archs": ["x"]},
    {"arch2infos": {}, "evaluated_indexes": []},
    {"meta_archs": ARCHS[:1], "arch2infos": {0: {"less": {}}}, "evaluated_indexes": [0]},
    {"meta_archs": ARCHS[:2], "arch2infos": {}, "evaluated_indexes": []},
])
def test_pth_wrong_structure(payload, tmp_path):
    import torch

    path = tmp_path / V11
    torch.save(payload, path)
    out = tmp_path / "s"
    with pytest.raises(DataFormatError) as err:
        prepare(path, "cifar10-valid", out)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert not out.exists()


def test_pth_corrupt_file(tmp_path):
    path = tmp_path / V11
    path.write_bytes(b"not a torch file at all")
    with pytest.raises(DataFormatError, match="torch.load"):
        prepare(path, "cifar10-valid", tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_pth_missing_eval_set_names_arch_and_key(tmp_path):
    import torch

    from nb201_files import arch_results_state

    state = arch_results_state(0, ARCHS[0], 200, ("cifar10-valid",))
    for rc in state["all_results"].values():
        rc["eval_acc1es"] = {k: v for k, v in rc["eval_acc1es"].items() if not k.startswith("ori-test")}
    path = tmp_path / V11
    torch.save({"meta_archs": ARCHS[:1], "arch2infos": {0: {"full": state}}, "evaluated_indexes": [0]}, path)
    with pytest.raises(DataFormatError, match=r"arch 0 .*'ori-test@199'"):
        prepare(path, "cifar10-valid", tmp_path / "s")


def test_pth_12_epoch_numbers_without_x_valid_are_left_null(tmp_path):
    import torch

    from nb201_files import arch_results_state

    less = arch_results_state(0, ARCHS[0], 12, ("cifar10-valid",))
    for rc in less["all_results"].values():
        rc["eval_acc1es"] = {k: v for k, v in rc["eval_acc1es"].items() if not k.startswith("x-valid")}
    infos = {0: {"less": less, "full": arch_results_state(0, ARCHS[0], 200, ("cifar10-valid",))}}
    path = tmp_path / V11
    torch.save({"meta_archs": ARCHS[:1], "arch2infos": infos, "evaluated_indexes": [0]}, path)
    cols = read_store(prepare(path, "cifar10-valid", tmp_path / "s"))
    check_table(cols, ARCHS[:1], "cifar10-valid", has_12=False)


def test_pth_malformed_arch_string(tmp_path):
    bad = "|nor_conv_3x3~0|+|bogus~0|none~1|+|none~0|none~1|none~2|"
    path = write_nb201_pth(tmp_path / V11, [bad], numpy_scalars=False)
    with pytest.raises(InputError) as err:
        prepare(path, "cifar10-valid", tmp_path / "s")
    assert "arch 0" in str(err.value) and str(path) in str(err.value)
    assert not (tmp_path / "s").exists()


# -- NATS-Bench topology folder ---------------------------------------------------------------------

@pytest.mark.parametrize("dataset", nb.DATASETS)
def test_nats_every_field_and_same_as_pth(dataset, nats_folder, pth_v11, tmp_path):
    cols = read_store(prepare(nats_folder, dataset, tmp_path / "nats"))
    check_table(cols, ARCHS, dataset, has_12=True)
    assert cols == read_store(prepare(pth_v11, dataset, tmp_path / "pth"))


def test_nats_reader_is_lazy_one_file_per_arch(nats_folder, monkeypatch):
    loaded = []
    monkeypatch.setattr(nb, "load_pbz2", lambda p: loaded.append(Path(p).name) or load_pbz2(p))
    records = nb.iter_nats_archs(nats_folder, "cifar10-valid")
    assert isinstance(records, types.GeneratorType) and loaded == []
    first = next(records)
    assert first.index == 0 and loaded == ["meta.pickle.pbz2", "000000.pickle.pbz2"]
    second = next(records)
    assert second.index == 1 and loaded[-1] == "000001.pickle.pbz2" and len(loaded) == 3
    # a record keeps scalars only, never the file's dict
    assert all(isinstance(getattr(first.full, f), (int, float, tuple)) for f in ("epochs", "val_seeds", "params_M"))


def test_nats_memory_does_not_grow_with_arch_count(tmp_path):
    """Peak traced memory while streaming 24 archs stays near that of 4 (one file alive at a time)."""
    small = write_nats_folder(tmp_path / "small", example_archs(4), datasets=("cifar10-valid",))
    big = write_nats_folder(tmp_path / "big", example_archs(24), datasets=("cifar10-valid",))

    def peak(folder):
        tracemalloc.start()
        collections.deque(nb.iter_nats_archs(folder, "cifar10-valid"), maxlen=0)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    one_file = len(pickle.dumps(load_pbz2(small / "000000.pickle.pbz2")))
    peak(small)  # warm-up: lazy imports (tqdm, ...) are not what is measured
    p_small, p_big = peak(small), peak(big)
    print(f"peak traced memory: 4 archs {p_small / 1e6:.2f} MB, 24 archs {p_big / 1e6:.2f} MB "
          f"(one arch file: {one_file / 1e6:.2f} MB as pickle bytes)")
    assert p_big < p_small + one_file  # keeping the dicts would add ~20 x one file


def test_nats_missing_arch_file(nats_folder, tmp_path):
    import shutil

    folder = tmp_path / "nats"
    shutil.copytree(nats_folder, folder)
    (folder / "000003.pickle.pbz2").unlink()
    with pytest.raises(DataFormatError, match=r"1 of 5 arch files .*000003\.pickle\.pbz2"):
        prepare(folder, "cifar10-valid", tmp_path / "s")
    assert not (tmp_path / "s").exists()
    (folder / "meta.pickle.pbz2").unlink()
    with pytest.raises(DataFormatError, match="meta.pickle.pbz2"):
        prepare(folder, "cifar10-valid", tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_nats_truncated_arch_file(nats_folder, tmp_path):
    import shutil

    folder = tmp_path / "nats"
    shutil.copytree(nats_folder, folder)
    data = (folder / "000001.pickle.pbz2").read_bytes()
    (folder / "000001.pickle.pbz2").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"000001\.pickle\.pbz2.*re-extract"):
        prepare(folder, "cifar10-valid", tmp_path / "s")
    assert not (tmp_path / "s").exists()


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_restricted_unpickler_refuses_code_and_allows_the_needed_types(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "000000.pickle.pbz2"
    with bz2.open(evil, "wb") as f:
        pickle.dump({"200": _Evil()}, f, protocol=4)
    with pytest.raises(DataFormatError, match=r"(posix|nt)\.system"):
        load_pbz2(evil)
    assert not (tmp_path / "pwned").exists()
    ok = tmp_path / "ok.pbz2"
    value = {("cifar10", 777): collections.OrderedDict(a=np.float64(1.5), b=np.int64(3)),
             "s": {1, 2}, "f": frozenset([3]), "d": collections.defaultdict(list, x=[1]), "c": 1 + 2j}
    with bz2.open(ok, "wb") as f:
        pickle.dump(value, f, protocol=4)
    assert load_pbz2(ok) == value
    assert not {("builtins", "eval"), ("builtins", "getattr"), ("os", "system")} & ALLOWED_GLOBALS
    import io

    with pytest.raises(DataFormatError, match="builtins.getattr"):
        RestrictedUnpickler(io.BytesIO(pickle.dumps(getattr, protocol=4)), source="x").load()


# -- CSV sources ------------------------------------------------------------------------------------

def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_csv_columns_and_duplicates(tmp_path):
    a, b = ARCHS[0], ARCHS[1]
    src = write_csv(tmp_path / "t.csv", "index,arch,c10v_val,c10_test",
                    [f'0,"{a}",90.0,93.0', f'1,"{b}",80.0,', f'2,"{a}",91.0,94.0'])
    cols = read_store(prepare(src, "cifar10-valid", tmp_path / "s", val_column="c10v_val",
                              test_column="c10_test"))
    assert cols["key"] == [a, b] and cols["arch"] == [a, b] and cols["index"] == [0, 1]
    assert cols["val_acc"] == pytest.approx([90.5, 80.0])  # duplicate key: mean
    assert cols["test_acc"][0] == pytest.approx(93.5) and cols["test_acc"][1] is None
    cols = read_store(prepare(src, "cifar10-valid", tmp_path / "s2", val_column="c10v_val"))
    assert cols["test_acc"] == [None, None]


def test_csv_bad_inputs(tmp_path):
    a = ARCHS[0]
    src = write_csv(tmp_path / "t.csv", "arch,cifar100_val_acc", [f'"{a}",70.0', '"|nor_conv_3x3~0|+|oops|",71'])
    with pytest.raises(DataFormatError, match=r"no column 'nope' \(--val-column\)"):
        prepare(src, "cifar100", tmp_path / "s", val_column="nope")
    with pytest.raises(DataFormatError, match=r"no column 'x' \(--test-column\)"):
        prepare(src, "cifar100", tmp_path / "s", test_column="x")
    with pytest.raises(InputError, match=r"t\.csv row 3"):
        prepare(src, "cifar100", tmp_path / "s")  # default --val-column cifar100_val_acc
    src2 = write_csv(tmp_path / "u.csv", "arch,cifar100_val_acc", [f'"{a}",abc'])
    with pytest.raises(DataFormatError, match=r"u\.csv row 2: column 'cifar100_val_acc' = 'abc'"):
        prepare(src2, "cifar100", tmp_path / "s")
    (tmp_path / "nats").mkdir()
    with pytest.raises(InputError, match="CSV sources only"):
        nb.prepare_nasbench201(tmp_path / "nats", "cifar100", tmp_path / "s", val_column="x")
    assert not (tmp_path / "s").exists()


def test_nb201_csv_cifar10_valid(synthetic_nb201_csv, tmp_path):
    """The generated table in the nb201_200epoch.csv layout (the real one's facts: tests/test_shared_tables.py)."""
    import synthetic_tables

    want = synthetic_tables.optimum_values()
    cols = read_store(prepare(synthetic_nb201_csv, "cifar10-valid", tmp_path / "s",
                              val_column="cifar10-valid_val_acc", test_column="cifar10_test_acc"))
    assert len(cols["key"]) == 15_625 == len(set(cols["key"]))
    best = int(np.argmax(cols["val_acc"]))
    assert cols["val_acc"][best] == want["cifar10-valid_val_acc"]
    assert cols["test_acc"][best] == want["cifar10_test_acc"] == max(cols["test_acc"])
    assert sum(v == 10.0 for v in cols["val_acc"]) == 341  # the cut-off cells sit at chance


def test_nb201_csv_cifar100_val_only(synthetic_nb201_csv, tmp_path):
    import synthetic_tables

    cols = read_store(prepare(synthetic_nb201_csv, "cifar100", tmp_path / "s"))
    assert len(cols["key"]) == 15_625
    assert max(cols["val_acc"]) == synthetic_tables.optimum_values()["cifar100_val_acc"]
    assert all(t is None for t in cols["test_acc"])


# -- DARTS CSV -----------------------------------------------------------------------------------

def test_darts_csv(synthetic_darts_csv, tmp_path):
    """A table in the nb301_500.csv layout (generated: 500 keys, 10 rows repeating a key in another string):
    one row per canonical key, repeated keys averaged, the first row's numbers kept."""
    import csv

    from ssnenas.spaces import darts

    rows = list(csv.DictReader(open(synthetic_darts_csv, newline="")))
    with output_dir(tmp_path / "s") as o:
        cols = read_store(nb.prepare_darts_csv(synthetic_darts_csv, o))
    by_key = collections.defaultdict(list)
    for r in rows:
        by_key[darts.SPACE.key(darts.parse_genotype(r["genotype"]))].append(float(r["val_acc"]))
    assert len(cols["key"]) == len(set(cols["key"])) == len(by_key) == 500 < len(rows)
    assert all(t is None for t in cols["test_acc"])
    assert cols["val_acc"] == pytest.approx([np.mean(by_key[k]) for k in cols["key"]])
    first = rows[0]
    assert cols["key"][0] == darts.SPACE.key(darts.parse_genotype(first["genotype"]))
    assert cols["arch"][0] == first["genotype"]
    assert cols["params_M"][0] == pytest.approx(float(first["params_M"]))
    assert cols["flops_M"][0] == pytest.approx(float(first["flops_M"]))


def test_darts_csv_bad_inputs(tmp_path):
    src = write_csv(tmp_path / "d.csv", "genotype,val_acc,params_M", ['"x",1,2'])
    with pytest.raises(DataFormatError, match="flops_M"):
        nb.prepare_darts_csv(src, tmp_path / "s")
    src = write_csv(tmp_path / "e.csv", "genotype,val_acc,params_M,flops_M", ['"Genotype(normal=[oops",1,2,3'])
    with pytest.raises(InputError, match=r"e\.csv row 2"):
        nb.prepare_darts_csv(src, tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_arch_string_helper_matches_official_order():
    assert arch_string(("a", "b", "c", "d", "e", "f")) == "|a~0|+|b~0|c~1|+|d~0|e~1|f~2|"
    assert set(EVAL_SETS["cifar10-valid"]) == {"x-valid", "ori-test"} and SEEDS == (777, 888, 999)
    assert math.isclose(final_acc(0, "cifar10-valid", "x-valid", 777, 200), 80.25)
