"""TransNAS-Bench-101 micro stores: CSV and official .pth sources (small files written here in the
benchmark's layout), metrics that are not percentages, bad input, a table with the real one's columns (the
real table's facts: tests/test_shared_tables.py), a short benchmark run and the refusal of another space's
pre-training."""

from __future__ import annotations

import csv
import pathlib
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from ssnenas.errors import DataFormatError, InputError, SsnenasError
from ssnenas.spaces.transnas101 import SPACE
from ssnenas.store import BenchmarkStore
from ssnenas.store import transnas101 as tnb

GEN_COLUMNS = {  # task -> the generated CSV's validation column
    "class_object": "class_object_valid_top1", "class_scene": "class_scene_valid_top1",
    "room_layout": "room_layout_valid_neg_loss", "jigsaw": "jigsaw_valid_top1",
    "segmentsemantic": "segmentsemantic_valid_acc", "normal": "normal_valid_ssim",
    "autoencoder": "autoencoder_valid_ssim"}
OP_WEIGHT = {"none": 0.0, "skip_connect": 0.5, "nor_conv_1x1": 1.0, "nor_conv_3x3": 2.0}


def score(arch: tuple[str, ...]) -> float:
    """0 for a cell that outputs zeros, else the sum of its op weights (max 12, all conv3x3)."""
    return sum(OP_WEIGHT[op] for op in arch) if SPACE.output_reachable(arch) else 0.0


def generated_value(task: str, arch: tuple[str, ...]) -> float:
    s = score(arch)
    if task == "room_layout":
        return round(-0.9 + 0.05 * s, 6)  # a negative loss, higher is better
    if task in ("normal", "autoencoder"):
        return round(0.05 + 0.04 * s, 6)  # SSIM in 0..1
    return round(10.0 + 5.0 * s, 6)  # percent


#: the tasks of the real tnb101_micro.csv, in its column order (no room layout, no surface normals, no test column)
REAL_TASKS = ("class_scene", "class_object", "jigsaw", "segmentsemantic", "autoencoder")


def write_generated_csv(path: Path, archs: list | None = None, *, extra: dict | None = None,
                        tasks: tuple[str, ...] = tuple(GEN_COLUMNS), test_column: bool = True) -> Path:
    """A table of the real one's shape (every cell, an ``arch`` column of official strings) with the
    validation columns of ``tasks`` (default all seven) and, with ``test_column``, a class_scene test
    column; ``tasks=REAL_TASKS, test_column=False`` gives the real table's columns."""
    archs = SPACE.all_archs() if archs is None else archs
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["arch", *(GEN_COLUMNS[t] for t in tasks), *(["class_scene_test_top1"] if test_column else [])])
        for arch in archs:
            w.writerow([SPACE.to_str(arch), *(generated_value(t, arch) for t in tasks),
                        *([generated_value("class_scene", arch) - 1.0] if test_column else [])])
        for text, values in (extra or {}).items():
            w.writerow([text, *values])
    return path


@pytest.fixture(scope="module")
def generated_csv(tmp_path_factory) -> Path:
    return write_generated_csv(tmp_path_factory.mktemp("tnb_gen") / "tnb101_generated.csv")


@pytest.fixture(scope="module")
def generated_store(generated_csv, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tnb_store")
    tnb.prepare_transnas101(generated_csv, "room_layout", out)
    return out


def cli(argv: list[str], capsys) -> tuple[int, str, str]:
    from ssnenas.cli import main

    rc = main(argv)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err.strip()


# -- CSV -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", sorted(GEN_COLUMNS))
def test_every_task_from_a_generated_table(task, generated_csv, tmp_path):
    path = tnb.prepare_transnas101(generated_csv, task, tmp_path)
    store = BenchmarkStore.open(tmp_path)
    assert path.name == f"transnas101-micro-{task}.parquet"
    assert (store.benchmark, store.dataset, store.num_archs) == ("transnas101-micro", task, 4096)
    assert store.space is SPACE
    meta = store.metadata
    assert meta["metric"] == GEN_COLUMNS[task] and meta["task"] == task and meta["higher_is_better"] is True
    units = {"room_layout": "neg_loss", "normal": "ssim", "autoencoder": "ssim"}
    assert meta["metric_unit"] == units.get(task, "percent")
    assert meta["metric_label"].startswith(f"{task} validation ")
    want = np.array([generated_value(task, a) for a in SPACE.all_archs()])
    np.testing.assert_allclose(store.column("val_acc"), want)
    assert list(store.keys) == [SPACE.to_str(a) for a in SPACE.all_archs()]
    assert np.isnan(store.column("test_acc")).all()
    best = store.best()
    assert best["key"] == "64-41414-3_33_333"  # the all-conv3x3 cell scores highest on every task
    ops, adj = store.graphs(store.index_of([best["key"]]))
    want_ops, want_adj = SPACE.graph_arrays(SPACE.all_archs()[4095])
    assert ops[0].tolist() == want_ops.tolist() and adj[0].tolist() == want_adj.tolist()


def test_negative_and_fractional_metrics_are_kept(generated_store):
    store = BenchmarkStore.open(generated_store)
    values = store.column("val_acc")
    assert values.max() < 0 and values.min() == pytest.approx(-0.9)  # room layout: a negative loss
    assert store.metadata["metric_label"] == "room_layout validation negative L2 loss"


def test_test_column_and_the_note_about_it(generated_csv, tmp_path):
    tnb.prepare_transnas101(generated_csv, "class_scene", tmp_path / "a")
    assert BenchmarkStore.open(tmp_path / "a").metadata["test_columns_left_out"] == ["class_scene_test_top1"]
    tnb.prepare_transnas101(generated_csv, "class_scene", tmp_path / "b", test_column="class_scene_test_top1")
    store = BenchmarkStore.open(tmp_path / "b")
    np.testing.assert_allclose(store.column("test_acc"), store.column("val_acc") - 1.0)


def test_percent_metrics_are_still_checked(tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text("arch,class_scene_valid_top1\n64-41414-0_00_000,150\n")
    with pytest.raises(InputError, match="not a percentage"):
        tnb.prepare_transnas101(src, "class_scene", tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_cli_prepare_with_task_or_dataset_flag_and_info(generated_csv, tmp_path, capsys):
    for flag, name in (("--task", "transnas101-micro"), ("--dataset", "tnb101-micro")):
        out = tmp_path / flag.strip("-")
        rc, stdout, err = cli(["data", "prepare", name, "--source", str(generated_csv), flag, "autoencoder",
                               "--val-column", "autoencoder_valid_ssim", "--out", str(out)], capsys)
        assert rc == 0, err
        assert "4096 architectures, transnas101-micro/autoencoder" in stdout
    rc, stdout, err = cli(["data", "info", str(tmp_path / "task")], capsys)
    assert rc == 0 and "best val_acc (autoencoder validation SSIM (0..1))  0.5300" in stdout, stdout
    rc, stdout, err = cli(["data", "lookup", str(tmp_path / "task"), "--key", "0_00_000", "--json"], capsys)
    assert rc == 0 and '"key": "64-41414-0_00_000"' in stdout and '"val_acc": 0.05' in stdout


@pytest.mark.parametrize("args, message", [
    (["--task", "surface_normal"], "--dataset 'surface_normal' is not a TransNAS-Bench-101 task; choose one of "
                                   "class_object, class_scene, room_layout, jigsaw, segmentsemantic, normal, "
                                   "autoencoder"),
    (["--task", "jigsaw", "--val-column", "jigsaw_valid_top5"],
     "no column 'jigsaw_valid_top5' (--val-column); columns present: arch, class_object_valid_top1"),
    (["--task", "jigsaw", "--val-column", "class_scene_valid_top1"],
     "--val-column class_scene_valid_top1 holds task class_scene, not jigsaw; pass --dataset class_scene"),
    (["--task", "jigsaw", "--test-column", "nope"], "no column 'nope' (--test-column); columns present: arch,"),
])
def test_cli_bad_input_is_one_line_exit_2_nothing_written(args, message, generated_csv, tmp_path, capsys):
    out = tmp_path / "out"
    rc, stdout, err = cli(["data", "prepare", "transnas101-micro", "--source", str(generated_csv), *args,
                           "--out", str(out)], capsys)
    assert rc == 2 and err.startswith("error: ") and "\n" not in err and message in err, err
    assert not out.exists() or not list(out.rglob("*"))


def test_a_cell_that_is_not_a_micro_code(tmp_path, capsys):
    src = write_generated_csv(tmp_path / "t.csv", SPACE.all_archs()[:5],
                              extra={"64-41414-4_00_000": [1.0] * 8})
    rc, _, err = cli(["data", "prepare", "transnas101-micro", "--source", str(src), "--task", "class_scene",
                      "--out", str(tmp_path / "out")], capsys)
    assert rc == 2 and "\n" not in err and f"{src} row 7: not a TransNAS-Bench-101 micro code: " \
                                           "'64-41414-4_00_000'" in err and "64-41414-a_bc_def" in err, err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*"))


# -- the official .pth -----------------------------------------------------------------------------
OFFICIAL_METRICS = {  # as TransNASBenchAPI.metrics_dict lists them per task
    "class_object": ["train_top1", "train_top5", "train_loss", "valid_top1", "valid_top5", "valid_loss",
                     "test_top1", "test_top5", "test_loss", "time_elapsed"],
    "room_layout": ["train_loss", "train_neg_loss", "valid_loss", "valid_neg_loss", "test_loss", "test_neg_loss",
                    "time_elapsed"],
    "autoencoder": ["train_loss", "train_ssim", "train_l1_loss", "valid_loss", "valid_ssim", "valid_l1_loss",
                    "test_loss", "test_ssim", "test_l1_loss", "time_elapsed"],
}
INFO_NAMES = ["inference_time", "encoder_params", "encoder_FLOPs", "model_params", "model_FLOPs"]
EPOCHS = 4


def official_curve(metric: str, arch_index: int) -> list[float]:
    """Per-epoch values; the final epoch's is ``final_value`` and earlier epochs differ from it."""
    final = final_value(metric, arch_index)
    return [final - 0.01 * (EPOCHS - 1 - e) * (1 + abs(final)) for e in range(EPOCHS)]


def final_value(metric: str, arch_index: int) -> float:
    base = {"top1": 40.0, "top5": 70.0, "neg_loss": -0.8, "ssim": 0.3, "loss": 2.0, "l1_loss": 0.5,
            "elapsed": 100.0}[metric.split("_", 1)[1] if metric != "time_elapsed" else "elapsed"]
    split = {"train": 0.02, "valid": 0.0, "test": -0.01, "time": 0.0}[metric.split("_", 1)[0]]
    return round(base + split + 0.001 * arch_index, 6)


def official_db(archs: list[str], *, extra: dict | None = None) -> dict:
    """A dict in the layout of transnas-bench_v10141024.pth (three tasks, a few archs, both spaces)."""
    data = {"micro": {}, "macro": {"64-1234-basic": {}}}
    for i, arch in enumerate(archs):
        data["micro"][arch] = {
            task: {"total_epochs": EPOCHS,
                   "model_info": {name: float(i + k) for k, name in enumerate(INFO_NAMES)},
                   "metrics": {m: official_curve(m, i) for m in metrics}}
            for task, metrics in OFFICIAL_METRICS.items()}
    return {"metrics_dict": OFFICIAL_METRICS, "info_names": INFO_NAMES, "task_list": list(OFFICIAL_METRICS),
            "data": data, **(extra or {})}


ARCHS = ["64-41414-3_32_132", "64-41414-0_00_000", "64-41414-1_23_021"]


@pytest.fixture(params=["zip", "legacy"])
def official_pth(request, tmp_path) -> Path:
    import torch

    path = tmp_path / "transnas-bench_v10141024.pth"
    torch.save(official_db(ARCHS), path, _use_new_zipfile_serialization=request.param == "zip")
    return path


@pytest.mark.parametrize("task, metric, unit", [("class_object", "valid_top1", "percent"),
                                                ("room_layout", "valid_neg_loss", "neg_loss"),
                                                ("autoencoder", "valid_ssim", "ssim")])
def test_official_file_final_epoch(task, metric, unit, official_pth, tmp_path):
    tnb.prepare_transnas101(official_pth, task, tmp_path / "s")
    store = BenchmarkStore.open(tmp_path / "s")
    assert list(store.keys) == ARCHS
    np.testing.assert_allclose(store.column("val_acc"), [final_value(metric, i) for i in range(3)])
    test = "test_" + metric[len("valid_"):]
    np.testing.assert_allclose(store.column("test_acc"), [final_value(test, i) for i in range(3)])
    np.testing.assert_allclose(store.column("info_encoder_params"), [1.0, 2.0, 3.0])
    meta = store.metadata
    assert (meta["metric"], meta["metric_unit"], meta["val_split"], meta["test_split"]) == (metric, unit, metric, test)
    assert meta["source_format"] == "pth" and meta["total_epochs"] == [EPOCHS]


def test_official_file_other_metric_and_bad_metric(official_pth, tmp_path):
    tnb.prepare_transnas101(official_pth, "class_object", tmp_path / "s", val_column="valid_top5")
    store = BenchmarkStore.open(tmp_path / "s")
    np.testing.assert_allclose(store.column("val_acc"), [final_value("valid_top5", i) for i in range(3)])
    np.testing.assert_allclose(store.column("test_acc"), [final_value("test_top5", i) for i in range(3)])
    with pytest.raises(InputError, match="--val-column valid_mIoU: no such metric for task class_object .*its "
                                         "metrics: train_top1, train_top5"):
        tnb.prepare_transnas101(official_pth, "class_object", tmp_path / "t", val_column="valid_mIoU")
    with pytest.raises(InputError, match="valid_loss: not a higher-is-better validation metric; pick one of "
                                         "valid_top1, valid_top5"):
        tnb.prepare_transnas101(official_pth, "class_object", tmp_path / "t", val_column="valid_loss")
    with pytest.raises(DataFormatError, match="holds no task 'jigsaw' \\(tasks: class_object, room_layout"):
        tnb.prepare_transnas101(official_pth, "jigsaw", tmp_path / "t")
    assert not (tmp_path / "t").exists()


class Foreign:
    """Any class a file names: a weights-only read must refuse to build it."""


def test_official_file_with_code_is_refused_unless_trusted(tmp_path, capsys):
    import torch

    path = tmp_path / "transnas-bench_v10141024.pth"
    torch.save(official_db(ARCHS, extra={"note": pathlib.PurePosixPath("x"), "obj": Foreign()}), path)
    out = tmp_path / "out"
    rc, _, err = cli(["data", "prepare", "transnas101-micro", "--source", str(path), "--task", "autoencoder",
                      "--out", str(out)], capsys)
    assert rc == 2 and "\n" not in err and "refused: not plain TransNAS-Bench-101 data" in err and \
        "--trust-pickle" in err, err
    assert not out.exists()
    rc, stdout, err = cli(["data", "prepare", "transnas101-micro", "--source", str(path), "--task", "autoencoder",
                           "--out", str(out), "--trust-pickle"], capsys)
    assert rc == 0, err
    assert BenchmarkStore.open(out).num_archs == 3


def test_numpy_scalars_are_data(tmp_path):
    import torch

    db = official_db(ARCHS[:1])
    run = db["data"]["micro"][ARCHS[0]]["autoencoder"]
    run["metrics"]["valid_ssim"] = [np.float32(0.25), np.float64(0.5)]
    run["model_info"]["encoder_params"] = np.int64(7)
    torch.save(db, tmp_path / "f.pth")
    store = BenchmarkStore.open(tnb.prepare_transnas101(tmp_path / "f.pth", "autoencoder", tmp_path / "s"))
    assert store.column("val_acc").tolist() == [0.5] and store.column("info_encoder_params").tolist() == [7.0]


@pytest.mark.parametrize("mangle, message", [
    (lambda db: db.pop("metrics_dict"), "no top-level entry 'metrics_dict'"),
    (lambda db: db["data"].pop("micro"), "no search space 'micro' (found: macro)"),
    (lambda db: db["data"]["micro"].update({"64-41414-0_00_00x": db["data"]["micro"][ARCHS[0]]}),
     "arch '64-41414-0_00_00x': not a TransNAS-Bench-101 micro code"),
    (lambda db: db["data"]["micro"][ARCHS[1]]["room_layout"]["metrics"].update({"valid_neg_loss": []}),
     "must be a non-empty per-epoch list"),
    (lambda db: db["data"]["micro"][ARCHS[1]]["room_layout"]["metrics"].update({"valid_neg_loss": [float("nan")]}),
     "is not finite"),
])
def test_official_file_bad_content(mangle, message, tmp_path):
    import torch

    db = official_db(ARCHS)
    mangle(db)
    torch.save(db, tmp_path / "f.pth")
    with pytest.raises(SsnenasError, match=re.escape(message)) as err:
        tnb.prepare_transnas101(tmp_path / "f.pth", "room_layout", tmp_path / "s")
    assert "\n" not in str(err.value) and str(tmp_path / "f.pth") in str(err.value)
    assert not (tmp_path / "s").exists()


def test_not_a_torch_file(tmp_path):
    (tmp_path / "f.pth").write_bytes(pickle.dumps({"data": {}}) + b"junk")
    with pytest.raises(DataFormatError, match="cannot be read by torch.load"):
        tnb.prepare_transnas101(tmp_path / "f.pth", "room_layout", tmp_path / "s")
    with pytest.raises(InputError, match="not found"):
        tnb.prepare_transnas101(tmp_path / "missing.csv", "room_layout", tmp_path / "s")
    with pytest.raises(InputError, match="unknown kind of TransNAS-Bench-101 source"):
        tnb.prepare_transnas101(_touch(tmp_path / "f.json"), "room_layout", tmp_path / "s")


def _touch(path: Path) -> Path:
    path.write_text("{}")
    return path


# -- a table with the real one's columns (the real table's facts: tests/test_shared_tables.py) ------------
def test_a_table_without_a_task_s_column_names_the_columns_present(tmp_path):
    src = write_generated_csv(tmp_path / "tnb101_micro.csv", tasks=REAL_TASKS, test_column=False)
    with pytest.raises(DataFormatError, match="no column 'room_layout_valid_neg_loss' .*columns present: arch, "
                                              "class_scene_valid_top1, class_object_valid_top1"):
        tnb.prepare_transnas101(src, "room_layout", tmp_path / "s")
    assert not (tmp_path / "s").exists()
    store = BenchmarkStore.open(tnb.prepare_transnas101(src, "autoencoder", tmp_path / "s"))
    assert store.num_archs == 4096 and store.metadata["metric_unit"] == "ssim"
    assert store.best()["val_acc"] == pytest.approx(generated_value("autoencoder", SPACE.from_str("64-41414-3_33_333")))


# -- searching the space ---------------------------------------------------------------------------
@pytest.mark.slow
def test_benchmark_run_on_the_space(ray_session, generated_store, tmp_path, capsys):
    """``ssnenas benchmark`` with random, REA and NPENAS-NP on a TransNAS-Bench-101 store (negative metric)."""
    run = tmp_path / "run"
    rc, stdout, err = cli(["benchmark", "--quiet", "--space", "transnas101-micro", "--data", str(generated_store),
                           "--algos", "random", "rea", "npenas-np", "--trials", "2", "--budget", "20",
                           "--out", str(run), "--set", "npenas-np:epochs=5"], capsys)
    assert rc == 0, err
    assert "6/6 tasks done" in stdout
    from ssnenas.analysis.runs import read_results

    t = read_results(run).to_pydict()
    assert len(t["query"]) == 6 * 20
    assert all(-0.9 - 1e-9 <= v <= -0.3 for v in t["val_acc"])
    assert all(SPACE.from_str(a) for a in t["arch"])


def test_another_space_checkpoint_is_refused(generated_store, nb201_checkpoints, tmp_path, capsys):
    """An NB201 pre-training fed to a TransNAS-Bench-101 search: one line, exit 2, nothing written."""
    out = tmp_path / "run"
    rc, _, err = cli(["benchmark", "--quiet", "--space", "transnas101-micro", "--data", str(generated_store),
                      "--algos", "npenas-ssrl", "--trials", "1", "--budget", "20", "--out", str(out),
                      "--predictor", f"ss-rl={nb201_checkpoints['ss-rl']}"], capsys)
    assert rc == 2 and "\n" not in err and "nasbench201" in err and "transnas101-micro" in err, err
    assert not out.exists()
    from search_algos import make_searcher

    store = BenchmarkStore.open(generated_store)
    with pytest.raises(SsnenasError, match="pre-trained for transnas101-micro") as exc:
        make_searcher("npenas-ssccl", space="transnas101-micro", store=store, seed=0, budget=20,
                      predictor_checkpoint=str(nb201_checkpoints["ss-ccl"]))
    assert "\n" not in str(exc.value)
