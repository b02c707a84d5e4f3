"""Inputs a new user gets wrong or reads first: bounded TFRecord records, malformed architecture
strings, store folders of folders, de-duplicated rows, space aliases, left-out test columns,
absolute source paths, and the build requirement."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from ssnenas.cli import main

REPO = Path(__file__).resolve().parents[1]


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def nb101_500_store(synthetic_nb101_unpruned_csv, tmp_path_factory):
    """Store of the generated table in the nb101_500.csv layout (unpruned specs, repeated models)."""
    from ssnenas.store.nasbench101 import prepare_nasbench101

    return prepare_nasbench101(synthetic_nb101_unpruned_csv, tmp_path_factory.mktemp("nb101_500")).parent


def test_random_bytes_without_crc_check_fail_in_one_line(tmp_path, capsys):
    src = tmp_path / "nasbench_only108.tfrecord"
    src.write_bytes(bytes(range(256)) * 800)  # length header 0x0706050403020100: ~5e17 bytes announced
    rc, _, err = _run(capsys, "data", "prepare", "nasbench101", "--source", src, "--no-crc-check",
                      "--out", tmp_path / "out")
    assert rc == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: --source {src}: record 0 at byte 0 announces 506,097,522,914,230,528 payload bytes")
    assert not (tmp_path / "out").exists()


def test_a_record_longer_than_the_rest_of_the_file_is_truncation(tmp_path):
    from ssnenas.errors import DataFormatError
    from ssnenas.store.tfrecord import iter_tfrecord

    path = tmp_path / "a.tfrecord"
    path.write_bytes((1000).to_bytes(8, "little") + bytes(4) + b"x" * 50)
    with pytest.raises(DataFormatError, match=r"record 0 at byte 0 is cut off \(1,000 payload bytes announced, "
                                              r"50 present\)"):
        list(iter_tfrecord(path, check_crc=False))


def test_lookup_takes_keys_or_architectures_and_names_a_malformed_one(nb101_500_store, capsys):
    from ssnenas.store.table import BenchmarkStore

    store = BenchmarkStore.open(nb101_500_store)
    key, arch = store.row_at(3)["key"], store.row_at(3)["arch"]
    rc, out, _ = _run(capsys, "data", "lookup", nb101_500_store, "--key", arch, "--json")
    assert rc == 0 and json.loads(out)["key"] == key
    rc, _, err = _run(capsys, "data", "lookup", nb101_500_store, "--key", "0110|input,conv")
    assert rc == 2 and err.count("\n") == 1
    assert ("--key '0110|input,conv' is not in the nasbench101/cifar10 store as a key, and as an architecture "
            "string it is malformed NAS-Bench-101 architecture string") in err
    assert "e.g. '0110000100010000|input,conv3x3-bn-relu,maxpool3x3,output'" in err


def test_info_and_prepare_say_how_many_rows_were_duplicates(synthetic_nb101_unpruned_csv, nb101_500_store,
                                                           tmp_path, capsys):
    src = synthetic_nb101_unpruned_csv
    rows = list(csv.DictReader(open(src)))
    distinct = len({r["module_hash"] for r in rows})
    assert distinct < len(rows)
    rc, out, _ = _run(capsys, "data", "info", nb101_500_store, "--json")
    info = json.loads(out)
    assert (info["num_archs"], info["num_source_rows"], info["merged_duplicate_rows"]) == (
        distinct, len(rows), len(rows) - distinct)
    assert info["source"] == str(src.resolve())  # absolute, not relative to where it was run
    rc, out, _ = _run(capsys, "data", "info", nb101_500_store)
    assert (f"{distinct} distinct from {len(rows)} source rows; {len(rows) - distinct} rows repeated an "
            "architecture") in out
    rc, out, _ = _run(capsys, "data", "prepare", "nasbench_101", "--source", src, "--out", tmp_path / "s")
    assert rc == 0 and f"({distinct} distinct architectures from {len(rows)} source rows;" in out


def test_a_folder_of_store_folders_is_searched_and_listed(nb101_500_store, synthetic_nb201_store, tmp_path,
                                                         capsys):
    root = tmp_path / "stores"
    root.mkdir()
    (root / "nb101-500").symlink_to(nb101_500_store)
    (root / "nb201-cifar10-valid").symlink_to(synthetic_nb201_store)
    rc, _, err = _run(capsys, "data", "info", root)
    assert rc == 2 and "nasbench101/cifar10 in nb101-500/, nasbench201/cifar10-valid in nb201-cifar10-valid/" in err
    rc, out, _ = _run(capsys, "data", "info", root, "--benchmark", "nasbench_201", "--json")
    assert rc == 0 and json.loads(out)["dataset"] == "cifar10-valid"


def test_original_space_names_are_aliases():
    from ssnenas.spaces import get_space

    assert get_space("nasbench_101").name == "nasbench101"
    assert get_space("nasbench_201").name == "nasbench201"
    assert get_space("darts").name == "darts"


def test_benchmark_dataset_hint_names_only_its_own_flags(synthetic_nb201_store, tmp_path, capsys):
    rc, _, err = _run(capsys, "benchmark", "--space", "nasbench_201", "--data", synthetic_nb201_store, "--dataset",
                      "cifar100", "--algos", "random", "--trials", "1", "--budget", "20", "--out", tmp_path / "r")
    assert rc == 2 and "--benchmark" not in err
    assert "no store for */cifar100 (it holds nasbench201/cifar10-valid); pass --dataset with one of those" in err


def test_synthetic_nb201_csv_names_the_test_column_it_left_out(synthetic_nb201_csv, tmp_path, capsys):
    rc, out, _ = _run(capsys, "data", "prepare", "nasbench201", "--source", synthetic_nb201_csv, "--dataset", "cifar10-valid",
                      "--out", tmp_path / "a")
    assert rc == 0
    assert "note: no test accuracy stored; the CSV has cifar10_test_acc: add --test-column cifar10_test_acc" in out
    rc, out, _ = _run(capsys, "data", "prepare", "nasbench201", "--source", synthetic_nb201_csv, "--dataset", "cifar10-valid",
                      "--test-column", "cifar10_test_acc", "--out", tmp_path / "b")
    assert rc == 0 and "note:" not in out
    rc, out, _ = _run(capsys, "data", "prepare", "nasbench201", "--source", synthetic_nb201_csv, "--dataset", "cifar100",
                      "--out", tmp_path / "c")
    assert rc == 0 and "note:" not in out  # cifar10's test column is not cifar100's


def test_build_requirement_understands_the_license_string():
    """``license = "Apache-2.0"`` (a PEP 639 SPDX string) needs setuptools >= 77.0, the first release
    that implements PEP 639 (setuptools changelog, v77.0.0); older ones reject or misread it."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"
    reqs = [r for r in project["build-system"]["requires"] if re.match(r"setuptools\b", r)]
    assert reqs and re.fullmatch(r"setuptools\s*>=\s*(\d+)(\.\d+)*", reqs[0].replace(" ", "")), reqs
    assert int(re.search(r">=\s*(\d+)", reqs[0]).group(1)) >= 77


def test_benchmark_finds_its_store_in_a_folder_of_store_folders(nb101_500_store, synthetic_nb201_store, tmp_path):
    """`--data STORES` (prepare_tables' root) picks the store of --space / --dataset in its sub-folders."""
    import search_algos
    from ssnenas import runner as bm
    from ssnenas.errors import StoreError

    root = tmp_path / "stores"
    root.mkdir()
    (root / "nb101-500").symlink_to(nb101_500_store)
    (root / "nb201-cifar10-valid").symlink_to(synthetic_nb201_store)
    config = bm.BenchmarkConfig(space="nasbench_201", data=root, algorithms=("random",), trials=1, budget=20,
                                seed=0, out=tmp_path / "run")
    store, run_config = bm.validate(config, search_algos.REGISTRY)
    assert (store.benchmark, store.dataset, run_config["space"]) == ("nasbench201", "cifar10-valid", "nasbench201")
    (root / "again").mkdir()
    (root / "again" / "x.parquet").symlink_to(next(synthetic_nb201_store.glob("*.parquet")))
    with pytest.raises(StoreError, match=r"several nasbench201 stores \(cifar10-valid in again/, cifar10-valid "
                                            r"in nb201-cifar10-valid/\); select one with --dataset or pass its folder"):
        bm.validate(config, search_algos.REGISTRY)
