"""The foundation's main job: every shared table prepared and summarised with known optima."""

from __future__ import annotations

import json

import pytest

import synthetic_tables
from conftest import SHARED_DATA, shared_file
from experiments.prepare_tables import TABLES, main, prepare_all

#: what each real table's store must show (shared/data/README.md)
FACTS = {
    "nb201-cifar10-valid": {"num_archs": 15625, "best_val_acc": 91.57, "best_test_acc": 94.30},
    "nb201-cifar100": {"num_archs": 15625, "best_val_acc": 73.26, "best_test_acc": None},
    "nb101-1k": {"num_archs": 1000},
    "nb101-500": {"num_archs": 292},  # 500 rows, 208 of them repeat an architecture
    "darts-500": {"num_archs": 500},
}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> dict[str, dict]:
    """prepare_all over ../shared/data once; only requested once a table was found there."""
    return {r["name"]: r for r in prepare_all(SHARED_DATA, tmp_path_factory.mktemp("tables"))}


@pytest.mark.parametrize("name, relative", [(name, relative) for name, relative, _ in TABLES],
                         ids=[name for name, _, _ in TABLES])
def test_prepare_all_shared_tables(name, relative, request):
    """Each real table that ../shared/data holds is prepared with its known facts; a missing one skips
    with its reason (a shared folder may hold only some of them)."""
    shared_file(relative)
    row = request.getfixturevalue("prepared")[name]
    facts = FACTS[name]
    assert row["num_archs"] == facts["num_archs"]
    if "best_val_acc" in facts:
        assert row["best_val_acc"] == pytest.approx(facts["best_val_acc"])
        if facts["best_test_acc"] is None:
            assert row["best_test_acc"] is None
        else:
            assert row["best_test_acc"] == pytest.approx(facts["best_test_acc"], abs=0.005)


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
