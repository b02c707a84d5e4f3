"""NAS-Bench-101 converters: official TFRecord files written here in the real format, and CSVs in the layouts
of the real tables (generated; the real tables' facts: tests/test_shared_tables.py)."""

from __future__ import annotations

import csv
import hashlib
import struct

import numpy as np
import pytest

from ssnenas.errors import DataFormatError
from ssnenas.spaces import nasbench101 as nb
from ssnenas.store.nasbench101 import prepare_nasbench101
from ssnenas.store.nb101_proto import model_metrics_class
from ssnenas.store.table import BenchmarkStore
from ssnenas.store.tfrecord import iter_tfrecord, masked_crc32c, write_tfrecord
from nb101_checks import check_csv_store
from nb101_files import (REAL_MODELS, ModelRuns, Run, frame, masked_crc, model_payloads, payload,
                               synthetic_runs, write_records)


def _models(budgets=(108,)) -> list[ModelRuns]:
    return [ModelRuns(h, a, o, {e: synthetic_runs(i, e) for e in budgets}) for i, (h, a, o) in enumerate(REAL_MODELS)]


# -- format building blocks -------------------------------------------------------------------------
def test_crc32c_known_values():
    import google_crc32c

    assert google_crc32c.value(b"123456789") == 0xE3069283  # the CRC-32C check value
    crc = 0xE3069283
    assert masked_crc32c(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    assert masked_crc32c(b"abc") == masked_crc(b"abc")


def test_model_metrics_wire_format():
    msg = model_metrics_class()(trainable_parameters=5, total_time=1.5)
    msg.evaluation_data.add(current_epoch=108.0, validation_accuracy=0.9, checkpoint_path="x")
    expected = (b"\x0a\x15" + b"\x09" + struct.pack("<d", 108.0) + b"\x21" + struct.pack("<d", 0.9) + b"\x32\x01x"
                + b"\x10\x05" + b"\x19" + struct.pack("<d", 1.5))
    assert msg.SerializeToString() == expected


def test_tfrecord_writer_reader_agree(tmp_path):
    payloads = [b"", b"x" * 3, bytes(range(256)) * 70]
    write_tfrecord(tmp_path / "a.tfrecord", payloads)
    write_records(tmp_path / "b.tfrecord", payloads)
    assert (tmp_path / "a.tfrecord").read_bytes() == (tmp_path / "b.tfrecord").read_bytes()
    h = hashlib.sha256()
    assert list(iter_tfrecord(tmp_path / "a.tfrecord", hasher=h, block_size=7)) == payloads
    assert h.hexdigest() == hashlib.sha256((tmp_path / "a.tfrecord").read_bytes()).hexdigest()


# -- TFRecord conversion ----------------------------------------------------------------------------
@pytest.mark.parametrize("interleave", [True, False])
def test_only108_every_field(tmp_path, interleave):
    models = _models()
    src = write_records(tmp_path / "nasbench_only108.tfrecord", model_payloads(models, interleave=interleave))
    path = prepare_nasbench101(src, tmp_path / "out", progress=False)
    assert path == tmp_path / "out" / "nasbench101-cifar10.parquet"
    store = BenchmarkStore.open(tmp_path / "out")
    assert store.num_archs == 3 and store.dataset == "cifar10" and store.benchmark == "nasbench101"
    assert store.keys.tolist() == [h for h, _, _ in REAL_MODELS]  # file order of first appearance
    assert store.metadata["source_fingerprint"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert store.metadata["epoch_budgets"] == [108]
    assert store.metadata["source"] == str(src.resolve())  # absolute: a relative path means nothing later
    for i, (h, adj, ops) in enumerate(REAL_MODELS):
        row = store.row(h)
        runs = models[i].runs[108]
        assert row["arch"] == f"{adj}|{ops}" == nb.SPACE.to_str(nb.arch_from_adjacency(adj, ops))
        assert row["val_acc"] == pytest.approx(100 * np.mean([r.final[2] for r in runs]), abs=1e-12)
        assert row["test_acc"] == pytest.approx(100 * np.mean([r.final[3] for r in runs]), abs=1e-12)
        assert row["val_acc_repeats"] == pytest.approx([100 * r.final[2] for r in runs], abs=1e-12)
        assert row["test_acc_repeats"] == pytest.approx([100 * r.final[3] for r in runs], abs=1e-12)
        assert row["num_repeats"] == 3
        assert row["trainable_parameters"] == runs[0].params
        for j, name in enumerate(("training_time", "train_acc", "val_acc", "test_acc")):
            scale = 1.0 if name == "training_time" else 100.0
            assert row[f"{name}_108"] == pytest.approx(scale * np.mean([r.final[j] for r in runs]), abs=1e-9)
            assert row[f"halfway_{name}_108"] == pytest.approx(scale * np.mean([r.half[j] for r in runs]), abs=1e-9)
        arch = nb.arch_from_adjacency(adj, ops)
        g_ops, g_adj = nb.graph_arrays(arch.array(), arch.ops)
        assert row["graph_ops"] == g_ops.tolist() and row["graph_adj"] == g_adj.tolist()
        assert nb.module_hash(arch.array(), arch.ops) == h
    assert "val_acc_4" not in store.columns


def test_full_file_keeps_every_budget(tmp_path):
    models = _models(budgets=(4, 12, 36, 108))
    src = write_records(tmp_path / "nasbench_full.tfrecord", model_payloads(models))
    store = BenchmarkStore.open(prepare_nasbench101(src, tmp_path / "out", progress=False))
    assert store.metadata["epoch_budgets"] == [4, 12, 36, 108]
    for e in (4, 12, 36, 108):
        expect = [100 * np.mean([r.final[2] for r in m.runs[e]]) for m in models]
        np.testing.assert_allclose(store.column(f"val_acc_{e}"), expect, atol=1e-12)
        expect = [100 * np.mean([r.half[3] for r in m.runs[e]]) for m in models]
        np.testing.assert_allclose(store.column(f"halfway_test_acc_{e}"), expect, atol=1e-12)
    np.testing.assert_array_equal(store.column("val_acc"), store.column("val_acc_108"))


def test_missing_repeat_means_over_present(tmp_path):
    models = _models()
    models[1].runs[108] = models[1].runs[108][:2]
    src = write_records(tmp_path / "x.tfrecord", model_payloads(models))
    store = BenchmarkStore.open(prepare_nasbench101(src, tmp_path / "out", progress=False))
    row = store.row(REAL_MODELS[1][0])
    assert row["num_repeats"] == 2
    assert row["val_acc_repeats"][2] is None
    assert row["val_acc"] == pytest.approx(100 * np.mean([r.final[2] for r in models[1].runs[108]]))


def test_unpruned_spec_is_pruned(tmp_path):
    # a 7-vertex spec whose vertex 5 is dangling (no path to the output): stored in pruned form
    adj = np.zeros((7, 7), dtype=np.uint8)
    adj[0, 1] = adj[1, 6] = adj[0, 5] = 1
    ops = ["input", "conv3x3-bn-relu", "maxpool3x3", "maxpool3x3", "maxpool3x3", "conv1x1-bn-relu", "output"]
    h = nb.module_hash(adj, ops)
    bits = "".join(map(str, adj.ravel()))
    src = write_records(tmp_path / "x.tfrecord", [payload(h, 108, bits, ",".join(ops), r)
                                                  for r in synthetic_runs(0, 108)])
    store = BenchmarkStore.open(prepare_nasbench101(src, tmp_path / "out", progress=False))
    assert store.row(h)["arch"] == "010001000|input,conv3x3-bn-relu,output"
    assert store.row(h)["graph_ops"] == [0, 1, 5, 5, 5, 5, 4]


def _corrupt_and_expect(tmp_path, data: bytes, match: str):
    src = tmp_path / "bad.tfrecord"
    src.write_bytes(data)
    out = tmp_path / "out"
    with pytest.raises(DataFormatError, match=match) as err:
        prepare_nasbench101(src, out, progress=False)
    assert str(src) in str(err.value)
    assert not out.exists()


def test_bad_payload_crc(tmp_path):
    good = b"".join(frame(p) for p in model_payloads(_models()))
    bad = bytearray(good)
    first_len = struct.unpack("<Q", good[:8])[0]
    bad[12 + first_len + 16 + 40] ^= 0x01  # a byte inside the second record's payload
    _corrupt_and_expect(tmp_path, bytes(bad), r"record 1 at byte \d+ fails its CRC32C check \(payload\)")


def test_bad_length_crc(tmp_path):
    bad = bytearray(b"".join(frame(p) for p in model_payloads(_models())))
    bad[0] ^= 0x10
    _corrupt_and_expect(tmp_path, bytes(bad), r"record 0 at byte 0 fails its CRC32C check \(length header\)")


@pytest.mark.parametrize("cut", [5, 200, 1])
def test_truncated_file(tmp_path, cut):
    good = b"".join(frame(p) for p in model_payloads(_models()))
    _corrupt_and_expect(tmp_path, good[:-cut], r"truncated TFRecord file: record 8 .*download it again")


def test_not_a_nasbench_record(tmp_path):
    _corrupt_and_expect(tmp_path, frame(b'["abc", 108, "01", "input"]'), r"record 0 is not a NAS-Bench-101 record")
    h, adj, ops = REAL_MODELS[0]
    _corrupt_and_expect(tmp_path, frame(payload(h, 107, adj, ops, synthetic_runs(0, 108)[0])), r"epoch budget 107")


def test_four_repeats_rejected(tmp_path):
    models = _models()
    models[0].runs[108].append(models[0].runs[108][0])
    _corrupt_and_expect(tmp_path, b"".join(frame(p) for p in model_payloads(models)), "more than 3 repeats")


def test_tfrecord_of_1000_graphs(tmp_path, synthetic_nb101_csv):
    """1,000 graphs (the generated table in the nb101_1k.csv layout) through the TFRecord path: arch
    strings and graph tensors equal the space's."""
    rows = list(csv.DictReader(open(synthetic_nb101_csv)))
    payloads = [payload(r["module_hash"], 108, r["adjacency"], r["operations"], run)
                for i, r in enumerate(rows) for run in synthetic_runs(i % 30, 108)]
    src = write_records(tmp_path / "x.tfrecord", payloads)
    store = BenchmarkStore.open(prepare_nasbench101(src, tmp_path / "out", progress=False))
    assert store.keys.tolist() == [r["module_hash"] for r in rows]
    ops, adj = store.graphs(np.arange(store.num_archs))
    archs = store.column("arch")
    for i, r in enumerate(rows):
        arch = nb.arch_from_adjacency(r["adjacency"], r["operations"])
        g_ops, g_adj = nb.graph_arrays(arch.array(), arch.ops)
        assert archs[i] == nb.SPACE.to_str(arch)
        np.testing.assert_array_equal(ops[i], g_ops)
        np.testing.assert_array_equal(adj[i], g_adj)


# -- CSV conversion ---------------------------------------------------------------------------------
def test_csv_in_the_1k_layout(tmp_path, synthetic_nb101_csv):
    """A table in the layout of nb101_1k.csv (the generated one; the real one's facts:
    tests/test_shared_tables.py): every column kept, no test accuracy, the best model found."""
    with open(synthetic_nb101_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    check_csv_store(synthetic_nb101_csv, rows, tmp_path / "out")


def test_csv_in_the_500_layout_groups_unpruned_rows(tmp_path, synthetic_nb101_unpruned_csv):
    """Unpruned 7x7 specs (the layout of nb101_500.csv) that prune to one model become one row: the mean
    of their numbers, ``num_rows`` of them; the specs that prune to input -> output are one model."""
    from synthetic_tables import NB101_SMALLEST_HASH

    rows = list(csv.DictReader(open(synthetic_nb101_unpruned_csv)))
    store = BenchmarkStore.open(prepare_nasbench101(synthetic_nb101_unpruned_csv, tmp_path / "out"))
    by_hash: dict[str, list[float]] = {}
    for r in rows:
        by_hash.setdefault(r["module_hash"], []).append(float(r["val_acc_108"]))
    assert store.num_archs == len(by_hash) < len(rows) - 100
    keys = list(by_hash)
    np.testing.assert_allclose(store.lookup(keys)["val_acc"], [np.mean(by_hash[k]) for k in keys], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(store.lookup(keys, ("num_rows",))["num_rows"], [len(by_hash[k]) for k in keys])
    assert len(by_hash[NB101_SMALLEST_HASH]) > 10
    assert store.row(NB101_SMALLEST_HASH)["arch"] == "0100|input,output"
    params = {r["module_hash"]: float(r["params_M"]) for r in rows}  # equal in all rows of a model: kept
    np.testing.assert_array_equal(store.lookup(keys, ("params_M",))["params_M"], [params[k] for k in keys])


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_csv_wrong_hash_names_row(tmp_path):
    rows = [[h, a, o, "91.5"] for h, a, o in REAL_MODELS]
    rows[2][0] = "0" * 32
    src = _write_csv(tmp_path / "x.csv", ["module_hash", "adjacency", "operations", "val_acc_108"], rows)
    with pytest.raises(DataFormatError, match=r"line 4: module_hash '0{32}' does not match .*009a0f49"):
        prepare_nasbench101(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_csv_missing_column(tmp_path):
    src = _write_csv(tmp_path / "x.csv", ["module_hash", "adjacency", "val_acc_108"],
                     [[h, a, "91.5"] for h, a, _ in REAL_MODELS])
    with pytest.raises(DataFormatError, match=r"missing column\(s\) operations"):
        prepare_nasbench101(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_csv_without_hash_column_and_with_fractions(tmp_path):
    src = _write_csv(tmp_path / "x.csv", ["adjacency", "operations", "val_acc_108"],
                     [[a, o, "91.5"] for _, a, o in REAL_MODELS])
    store = BenchmarkStore.open(prepare_nasbench101(src, tmp_path / "out"))
    assert sorted(store.keys.tolist()) == sorted(h for h, _, _ in REAL_MODELS)
    src = _write_csv(tmp_path / "y.csv", ["adjacency", "operations", "val_acc_108"],
                     [[a, o, "0.915"] for _, a, o in REAL_MODELS])
    with pytest.raises(DataFormatError, match="fractions"):
        prepare_nasbench101(src, tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_arrays_grow_past_initial_capacity(tmp_path, monkeypatch):
    import ssnenas.store.nasbench101 as conv

    monkeypatch.setattr(conv, "_INITIAL_CAPACITY", 1)
    models = _models(budgets=(12, 108))
    src = write_records(tmp_path / "x.tfrecord", model_payloads(models))
    store = BenchmarkStore.open(prepare_nasbench101(src, tmp_path / "out", progress=False))
    expect = [100 * np.mean([r.final[2] for r in m.runs[12]]) for m in models]
    np.testing.assert_allclose(store.column("val_acc_12"), expect, atol=1e-12)
    assert store.column("trainable_parameters").tolist() == [m.runs[108][0].params for m in models]


@pytest.mark.slow
def test_benchmark_script_small(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "experiments" / "bench_nb101_store.py"
    res = subprocess.run([sys.executable, str(script), "--models", "300", "--max-draws", "1000",
                          "--cache-dir", str(tmp_path), "--json"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["records"] == 900 and out["models"] == 300 and out["convert_records_per_s"] > 0
    assert 0 < out["distinct_real_graphs"] <= 300 and out["lookups_per_s"] > 0
