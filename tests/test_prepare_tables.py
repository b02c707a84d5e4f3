"""The foundation's main job: every shared table prepared and summarised with known optima."""

from __future__ import annotations

import pytest

from experiments.prepare_tables import main, prepare_all
from conftest import SHARED_DATA, shared_file


def test_prepare_all_shared_tables(tmp_path, capsys):
    shared_file("nasbench201/nb201_200epoch.csv")
    rows = {r["name"]: r for r in prepare_all(SHARED_DATA, tmp_path)}
    c10 = rows["nb201-cifar10-valid"]
    assert c10["num_archs"] == 15625 and c10["best_val_acc"] == pytest.approx(91.57)
    assert c10["best_test_acc"] == pytest.approx(94.30, abs=0.005)  # shared/data/README.md
    assert rows["nb201-cifar100"]["best_val_acc"] == pytest.approx(73.26)
    assert rows["nb201-cifar100"]["best_test_acc"] is None
    assert rows["nb101-1k"]["num_archs"] == 1000 and rows["darts-500"]["num_archs"] == 500
    assert main(["--shared", str(SHARED_DATA), "--out", str(tmp_path / "again")]) == 0
    assert "nb201-cifar10-valid" in capsys.readouterr().out


def test_missing_shared_folder_is_one_clear_error(tmp_path, capsys):
    assert main(["--shared", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--shared" in err[0] and "no such folder" in err[0]
