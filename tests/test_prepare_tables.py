"""The foundation's main job: every shared table prepared and summarised with known optima (on generated
tables here; the real tables' numbers: tests/test_shared_tables.py)."""

from __future__ import annotations

import json
from pathlib import Path

import synthetic_tables
from experiments.prepare_tables import TABLES, main, prepare_all


def test_every_table_of_a_full_folder_is_prepared(synthetic_nb201_csv, synthetic_nb101_csv,
                                                  synthetic_nb101_unpruned_csv, synthetic_darts_csv, tmp_path):
    """A shared folder holding every known table (generated ones, in the real layouts; the real tables'
    numbers: tests/test_shared_tables.py): each is prepared, in TABLES order, with its count and optimum."""
    import csv

    shared = tmp_path / "shared"
    for relative, src in (("nasbench201/nb201_200epoch.csv", synthetic_nb201_csv),
                          ("nasbench101/nb101_1k.csv", synthetic_nb101_csv),
                          ("nasbench101/nb101_500.csv", synthetic_nb101_unpruned_csv),
                          ("darts/nb301_500.csv", synthetic_darts_csv)):
        (shared / relative).parent.mkdir(parents=True, exist_ok=True)
        (shared / relative).symlink_to(src)
    rows = {r["name"]: r for r in prepare_all(shared, tmp_path / "stores")}
    assert list(rows) == [name for name, _, _ in TABLES]
    want = synthetic_tables.optimum_values()
    assert (rows["nb201-cifar10-valid"]["num_archs"], rows["nb201-cifar10-valid"]["best_val_acc"],
            rows["nb201-cifar10-valid"]["best_test_acc"]) == (15625, want["cifar10-valid_val_acc"],
                                                             want["cifar10_test_acc"])
    assert (rows["nb201-cifar100"]["best_val_acc"], rows["nb201-cifar100"]["best_test_acc"]) == (
        want["cifar100_val_acc"], None)
    nb101 = list(csv.DictReader(open(synthetic_nb101_csv)))
    best = max(nb101, key=lambda r: float(r["val_acc_108"]))
    assert (rows["nb101-1k"]["num_archs"], rows["nb101-1k"]["best_key"]) == (1000, best["module_hash"])
    assert rows["nb101-1k"]["best_val_acc"] == float(best["val_acc_108"]) and rows["nb101-1k"]["best_test_acc"] is None
    unpruned = {r["module_hash"] for r in csv.DictReader(open(synthetic_nb101_unpruned_csv))}
    assert rows["nb101-500"]["num_archs"] == len(unpruned) < 500
    assert rows["darts-500"]["num_archs"] == 500 and rows["darts-500"]["best_test_acc"] is None
    assert all(r["benchmark"] for r in rows.values()) and all(Path(r["path"]).is_file() for r in rows.values())


def test_a_folder_with_some_tables_prepares_those_and_lists_only_them(synthetic_nb201_csv, tmp_path, capsys):
    """A shared folder holding only the NB201 table (the synthetic one here): both of its stores are
    prepared with the table's optimum, the other tables are left out, and main prints them."""
    shared = tmp_path / "shared"
    (shared / "nasbench201").mkdir(parents=True)
    (shared / "nasbench201" / "nb201_200epoch.csv").symlink_to(synthetic_nb201_csv)
    rows = {r["name"]: r for r in prepare_all(shared, tmp_path / "stores")}
    assert sorted(rows) == ["nb201-cifar10-valid", "nb201-cifar100"]
    want = synthetic_tables.optimum_values()
    c10 = rows["nb201-cifar10-valid"]
    assert c10["num_archs"] == 15625 and c10["best_val_acc"] == want["cifar10-valid_val_acc"]
    assert c10["best_test_acc"] == want["cifar10_test_acc"]
    assert rows["nb201-cifar100"]["best_val_acc"] == want["cifar100_val_acc"]
    assert rows["nb201-cifar100"]["best_test_acc"] is None
    assert main(["--shared", str(shared), "--out", str(tmp_path / "again"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in printed] == ["nb201-cifar10-valid", "nb201-cifar100"]
    assert main(["--shared", str(shared), "--out", str(tmp_path / "again")]) == 0
    assert "nb201-cifar10-valid" in capsys.readouterr().out


def test_missing_shared_folder_is_one_clear_error(tmp_path, capsys):
    assert main(["--shared", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--shared" in err[0] and "no such folder" in err[0]
