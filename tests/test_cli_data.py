"""``ssnenas data``: prepare / info / lookup through the CLI entry point, errors exit 2 and leave nothing."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from ssnenas.cli import main
from ssnenas.store.table import write_store
from nb101_files import REAL_MODELS, ModelRuns, frame, model_payloads, synthetic_runs, write_records


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_prepare_info_lookup_csv(tmp_path, capsys, synthetic_nb101_csv):
    """prepare / info / lookup of a CSV in the nb101_1k.csv layout (generated, 1,000 models)."""
    out = tmp_path / "store"
    rc, text, _ = _run(capsys, "data", "prepare", "nasbench101", "--source", str(synthetic_nb101_csv),
                       "--out", str(out))
    assert rc == 0 and "1000 architectures" in text
    rows = list(csv.DictReader(open(synthetic_nb101_csv)))
    best = max(rows, key=lambda r: float(r["val_acc_108"]))
    rc, text, _ = _run(capsys, "data", "info", str(out), "--json")
    info = json.loads(text)
    assert rc == 0
    assert (info["benchmark"], info["dataset"], info["num_archs"]) == ("nasbench101", "cifar10", 1000)
    assert info["best"] == {"key": best["module_hash"], "val_acc": float(best["val_acc_108"]), "test_acc": None,
                            "arch": info["best"]["arch"]}
    rc, text, _ = _run(capsys, "data", "info", str(out))
    assert rc == 0 and best["module_hash"] in text and "architectures" in text and "1,000" in text
    key = rows[5]["module_hash"]
    rc, text, _ = _run(capsys, "data", "lookup", str(out), "--key", key, "--json")
    row = json.loads(text)
    assert rc == 0 and row["key"] == key and row["val_acc"] == float(rows[5]["val_acc_108"])
    assert row["test_acc"] is None and row["val_acc_12"] == float(rows[5]["val_acc_12"])
    rc, text, _ = _run(capsys, "data", "lookup", str(out), "--key", key)
    assert rc == 0 and text.splitlines()[0].split() == ["key", key]


def test_tfrecord_prepare_default_out(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SSNENAS_DATA", str(tmp_path / "home"))
    models = [ModelRuns(h, a, o, {108: synthetic_runs(i, 108)}) for i, (h, a, o) in enumerate(REAL_MODELS)]
    src = write_records(tmp_path / "nasbench_only108.tfrecord", model_payloads(models))
    rc, _, _ = _run(capsys, "data", "prepare", "nasbench101", "--source", str(src), "--quiet")
    assert rc == 0
    store_dir = tmp_path / "home" / "nasbench101-cifar10"
    rc, text, _ = _run(capsys, "data", "info", str(store_dir), "--json")
    info = json.loads(text)
    runs = models[2].runs[108]  # model 2 has the highest synthetic accuracies
    assert info["num_archs"] == 3 and info["best"]["key"] == REAL_MODELS[2][0]
    assert info["best"]["val_acc"] == pytest.approx(100 * np.mean([r.final[2] for r in runs]))
    assert info["best"]["test_acc"] == pytest.approx(100 * np.mean([r.final[3] for r in runs]))
    rc, text, _ = _run(capsys, "data", "lookup", str(store_dir), "--key", REAL_MODELS[0][0], "--json")
    row = json.loads(text)
    assert row["test_acc_repeats"] == pytest.approx([100 * r.final[3] for r in models[0].runs[108]])


def _bad_tfrecord(tmp_path, kind: str):
    models = [ModelRuns(h, a, o, {108: synthetic_runs(i, 108)}) for i, (h, a, o) in enumerate(REAL_MODELS)]
    data = bytearray(b"".join(frame(p) for p in model_payloads(models)))
    if kind == "crc":
        data[100] ^= 0xFF
    else:
        data = data[:-10]
    path = tmp_path / "nasbench_only108.tfrecord"
    path.write_bytes(bytes(data))
    return path


def _bad_csv(tmp_path, kind: str):
    path = tmp_path / "nb101.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        if kind == "hash":
            w.writerow(["module_hash", "adjacency", "operations", "val_acc_108"])
            w.writerows([[h, a, o, "90.0"] for h, a, o in REAL_MODELS[:2]] + [["f" * 32, *REAL_MODELS[2][1:], "91"]])
        else:
            w.writerow(["module_hash", "operations", "val_acc_108"])
            w.writerows([[h, o, "90.0"] for h, _, o in REAL_MODELS])
    return path


@pytest.mark.parametrize("kind,pattern", [
    ("crc", "fails its CRC32C check"),
    ("truncated", "truncated TFRecord file"),
    ("hash", "line 4: module_hash 'f{32}' does not match"),
    ("column", r"missing column\(s\) adjacency"),
])
def test_bad_nb101_input_exits_2_and_leaves_nothing(tmp_path, capsys, kind, pattern):
    src = _bad_tfrecord(tmp_path, kind) if kind in ("crc", "truncated") else _bad_csv(tmp_path, kind)
    out = tmp_path / "out"
    rc, text, err = _run(capsys, "data", "prepare", "nasbench101", "--source", str(src), "--out", str(out), "--quiet")
    assert rc == 2 and not out.exists() and text == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(src) in lines[0]
    import re

    assert re.search(pattern, lines[0])


def test_missing_source_exits_2(tmp_path, capsys):
    rc, _, err = _run(capsys, "data", "prepare", "nasbench101", "--source", str(tmp_path / "nope.tfrecord"),
                      "--out", str(tmp_path / "out"))
    assert rc == 2 and "no such file" in err and not (tmp_path / "out").exists()


def test_unknown_nb201_dataset_exits_2(tmp_path, capsys, synthetic_nb201_csv):
    out = tmp_path / "out"
    rc, _, err = _run(capsys, "data", "prepare", "nasbench201", "--source", str(synthetic_nb201_csv), "--dataset", "mnist",
                      "--out", str(out))
    assert rc == 2 and "mnist" in err and "--dataset" in err and not out.exists()
    assert len(err.strip().splitlines()) == 1


def test_info_needs_a_selection_when_several(tmp_path, capsys):
    archs = ["0100|input,output", "010001000|input,maxpool3x3,output"]
    for dataset in ("cifar10", "other"):
        write_store(tmp_path, benchmark="nasbench101", dataset=dataset,
                    columns={"key": ["a", "b"], "arch": archs, "val_acc": [50.0, 60.0], "test_acc": [None, None]},
                    source="x", source_fingerprint="y")
    rc, _, err = _run(capsys, "data", "info", str(tmp_path), "--json")
    assert rc == 2 and "--benchmark and --dataset" in err
    rc, text, _ = _run(capsys, "data", "info", str(tmp_path), "--dataset", "other", "--json")
    assert rc == 0 and json.loads(text)["dataset"] == "other" and json.loads(text)["best"]["key"] == "b"
    rc, _, err = _run(capsys, "data", "lookup", str(tmp_path), "--dataset", "other", "--key", "zz")
    assert rc == 2 and "'zz' is not in" in err
    rc, _, err = _run(capsys, "data", "info", str(tmp_path / "absent"))
    assert rc == 2 and "ssnenas data prepare" in err
