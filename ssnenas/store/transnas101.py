"""Converter of TransNAS-Bench-101 micro sources (Duan et al., CVPR 2021) into benchmark stores.

One store per task: ``prepare_transnas101(source, task, out)`` reads one of

* a CSV with an ``arch`` column (the official string ``64-41414-a_bc_def``) and metric columns, picked
  by ``val_column`` (default ``<task>_valid_<metric>``, e.g. ``class_scene_valid_top1``) and
  ``test_column`` (optional), e.g. the shared ``tnb101_micro.csv``;
* the official ``transnas-bench_v10141024.pth``: a ``torch.save``d dict (the layout the benchmark's
  ``TransNASBenchAPI`` reads, NASLib's reader too)::

      {"task_list": [task, ...], "metrics_dict": {task: [metric, ...]}, "info_names": [info, ...],
       "data": {"micro": {arch_str: {task: {"total_epochs": int, "model_info": {info: number},
                                             "metrics": {metric: [one value per epoch]}}}},
                "macro": {...}}}

  read as *data* (``torch.load(weights_only=True)``, allowing only numpy scalars and dtypes besides
  torch's plain types), so no code in the file can run; a file naming anything else is refused unless
  ``trust_pickle=True`` (``--trust-pickle``), which unpickles it fully. The value of a metric is its
  **final epoch** (``metrics[m][-1]``), the one NASLib queries; the micro space only is read.

Every metric is higher-is-better, but not all are percentages (:data:`TASK_METRIC`): top-1 and pixel
accuracies are percent, SSIM lies in 0..1, room layout's metric is a negative L2 loss. The store keeps the
value in ``val_acc``/``test_acc`` (the schema's names) and records what it is in the metadata:
``task``, ``metric`` (the official metric or CSV column), ``metric_label`` (an axis label),
``metric_unit`` (``percent``, ``ssim``, ``neg_loss`` or ``unknown``) and ``higher_is_better``.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any, Mapping

from ssnenas.errors import DataFormatError, InputError
from ssnenas.fingerprint import file_sha256
from ssnenas.store.nasbench201 import (_float_cell, _need_columns, _pth_safe_globals, _read_csv, _refusal_reason,
                                       _write)

log = logging.getLogger(__name__)

BENCHMARK = "transnas101-micro"
#: the seven tasks, in the paper's order
TASKS = ("class_object", "class_scene", "room_layout", "jigsaw", "segmentsemantic", "normal", "autoencoder")
#: task -> the metric NASLib queries as its validation "accuracy" (the ``valid_``/``test_`` suffix)
TASK_METRIC = {"class_object": "top1", "class_scene": "top1", "jigsaw": "top1", "room_layout": "neg_loss",
               "segmentsemantic": "acc", "normal": "ssim", "autoencoder": "ssim"}
#: metric suffix -> (what it is, unit); every one is higher-is-better
METRICS = {"top1": ("top-1 accuracy (%)", "percent"), "top5": ("top-5 accuracy (%)", "percent"),
           "acc": ("pixel accuracy (%)", "percent"), "ssim": ("SSIM (0..1)", "ssim"),
           "neg_loss": ("negative L2 loss", "neg_loss")}
NUM_ARCHS = 4096


def check_task(task: str) -> str:
    """``task`` if it is one of :data:`TASKS`, else :class:`InputError` listing them."""
    if task not in TASKS:
        raise InputError(f"--dataset {task!r} is not a TransNAS-Bench-101 task; choose one of "
                         f"{', '.join(TASKS)} (--task is the same flag)")
    return task


def metric_info(task: str, metric: str) -> dict[str, Any]:
    """The metadata that says what a store's values are: ``metric``, ``metric_label``, ``metric_unit``,
    ``higher_is_better``. ``metric`` is an official name (``valid_top1``) or a CSV column
    (``class_scene_valid_top1``); a suffix outside :data:`METRICS` gets unit ``unknown``."""
    match = re.fullmatch(rf"(?:{re.escape(task)}_)?valid_(\w+)", metric)
    what, unit = METRICS.get(match.group(1), (None, "unknown")) if match else (None, "unknown")
    label = f"{task} validation {what}" if what else f"{task} {metric}"
    return {"metric": metric, "metric_label": label, "metric_unit": unit, "higher_is_better": True}


def _space():
    from ssnenas.spaces.transnas101 import SPACE

    return SPACE


def _key(arch: str, where: str) -> tuple[str, str]:
    """(key, arch string) of a micro cell string; :class:`InputError` naming ``where`` otherwise."""
    space = _space()
    try:
        ops = space.parse(arch)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    return space.key(ops), space.to_str(ops)


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------

def _other_task(column: str, task: str) -> str | None:
    """The task a column's name says it belongs to, when that is not ``task``."""
    for other in TASKS:
        if other != task and column.startswith(f"{other}_"):
            return other
    return None


def _from_csv(path: Path, task: str, val_column: str | None, test_column: str | None
              ) -> tuple[dict[str, list], dict]:
    header, rows = _read_csv(path)
    for flag, column in (("--val-column", val_column), ("--test-column", test_column)):
        other = _other_task(column, task) if column else None
        if other:
            raise InputError(f"{flag} {column} holds task {other}, not {task}; pass --dataset {other} or a "
                             f"{task} column")
    default = f"{task}_valid_{TASK_METRIC[task]}"
    val_column = val_column or default
    role = "--val-column" if val_column != default else (
        f"the default validation column of task {task}; pick one with --val-column or another --dataset")
    needed = {"arch": "the TransNAS-Bench-101 string 64-41414-a_bc_def", val_column: role}
    if test_column:
        needed[test_column] = "--test-column"
    _need_columns(path, header, needed)
    cols: dict[str, list] = {"key": [], "arch": [], "val_acc": [], "test_acc": []}
    for row_no, row in enumerate(rows, start=2):  # row 1 is the header
        key, arch = _key(row["arch"] or "", f"{path} row {row_no}")
        cols["key"].append(key)
        cols["arch"].append(arch)
        cols["val_acc"].append(_float_cell(path, row_no, val_column, row[val_column]))
        cols["test_acc"].append(_float_cell(path, row_no, test_column, row[test_column], allow_empty=True)
                                if test_column else None)
    info = metric_info(task, val_column)
    meta = {
        "source_format": "csv",
        "test_columns_left_out": [] if test_column else [c for c in header if c.startswith(f"{task}_test")],
        "val_column": val_column, "test_column": test_column,
        "val_split": val_column, "test_split": test_column,
        "val": f"CSV column {val_column!r} ({info['metric_label']})",
        "test": f"CSV column {test_column!r}" if test_column else "none (no --test-column)",
        **info,
    }
    return cols, meta


# ---------------------------------------------------------------------------------------------
# The official .pth
# ---------------------------------------------------------------------------------------------

def load_official(path: Path, *, trust_pickle: bool = False) -> Any:
    """The dict of a TransNAS-Bench-101 .pth: a weights-only read (no code runs), or with
    ``trust_pickle`` a full unpickling. :class:`DataFormatError` names a refused or unreadable file."""
    import torch

    if not path.is_file():
        raise DataFormatError(f"{path}: file not found; pass the path of transnas-bench_v10141024.pth")
    try:
        if trust_pickle:
            log.warning("unpickling %s with torch.load(weights_only=False) (--trust-pickle): it can run code", path)
            return torch.load(path, map_location="cpu", weights_only=False)
        with torch.serialization.safe_globals(_pth_safe_globals()):  # numpy scalars, as NB201's .pth
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a refused, corrupt or foreign file
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        reason = None if trust_pickle else _refusal_reason(str(exc))  # the global or type the file names
        if reason:
            raise DataFormatError(f"{path}: refused: not plain TransNAS-Bench-101 data ({reason}); a pickle can "
                                  "run code. Only if you trust where this file came from, pass --trust-pickle, "
                                  "or convert a CSV of it instead") from None
        detail = next((ln for ln in lines if "Unsupported" in ln), lines[0] if lines else "")
        raise DataFormatError(f"{path}: cannot be read by torch.load ({type(exc).__name__}: {detail}); the file is "
                              "truncated or not a TransNAS-Bench-101 .pth, re-download it") from None


def _final(values: Any, where: str) -> float:
    """The last epoch's value of a per-epoch metric list, as a finite float."""
    if hasattr(values, "tolist"):  # a tensor or numpy array of per-epoch values
        values = values.tolist()
    if not isinstance(values, (list, tuple)) or not values:
        raise DataFormatError(f"{where}: the metric must be a non-empty per-epoch list, got "
                              f"{type(values).__name__}; the file is corrupt, re-download it")
    try:
        value = float(values[-1])
    except (TypeError, ValueError):
        raise DataFormatError(f"{where}: final value {values[-1]!r} is not a number; the file is corrupt, "
                              "re-download it") from None
    if not math.isfinite(value):
        raise DataFormatError(f"{where}: final value {value} is not finite; the file is corrupt, re-download it")
    return value


def _mapping(obj: Any, key: str, where: str, what: str) -> Any:
    if not isinstance(obj, Mapping) or key not in obj:
        have = ", ".join(map(str, obj)) if isinstance(obj, Mapping) else type(obj).__name__
        raise DataFormatError(f"{where}: no {what} {key!r} (found: {have or 'nothing'}); not a TransNAS-Bench-101 "
                              "file, re-download transnas-bench_v10141024.pth")
    return obj[key]


def _from_official(path: Path, task: str, val_column: str | None, test_column: str | None,
                   trust_pickle: bool) -> tuple[dict[str, list], dict]:
    db = load_official(path, trust_pickle=trust_pickle)
    for name in ("task_list", "metrics_dict", "data"):
        _mapping(db, name, str(path), "top-level entry")
    if task not in db["task_list"]:
        raise DataFormatError(f"{path}: holds no task {task!r} (tasks: {', '.join(map(str, db['task_list']))}); "
                              "pass --dataset with one of them")
    metrics = list(_mapping(db["metrics_dict"], task, f"{path} metrics_dict", "task"))
    val_metric = val_column or f"valid_{TASK_METRIC[task]}"
    test_metric = test_column
    if test_metric is None and val_metric.startswith("valid_"):  # its test twin, where the file has it
        test_metric = "test_" + val_metric[len("valid_"):]
    for flag, metric in (("--val-column", val_metric), ("--test-column", test_column)):
        if metric and metric not in metrics:
            raise InputError(f"{flag} {metric}: no such metric for task {task} in {path}; its metrics: "
                             f"{', '.join(map(str, metrics))}")
    if test_metric not in metrics:
        test_metric = None
    info = metric_info(task, val_metric)
    if info["metric_unit"] == "unknown":
        raise InputError(f"--val-column {val_metric}: not a higher-is-better validation metric; pick one of "
                         f"{', '.join(m for m in metrics if metric_info(task, str(m))['metric_unit'] != 'unknown')}")
    micro = _mapping(db["data"], "micro", f"{path} data", "search space")
    if not isinstance(micro, Mapping):
        raise DataFormatError(f"{path}: data['micro'] must map arch strings to results; re-download the file")
    info_names = [str(n) for n in db.get("info_names", [])]
    cols: dict[str, list] = {"key": [], "arch": [], "val_acc": [], "test_acc": [],
                             **{f"info_{n}": [] for n in info_names}}
    epochs: set[int] = set()
    for arch_str, results in micro.items():
        where = f"{path} arch {arch_str!r}"
        key, arch = _key(str(arch_str), where)
        run = _mapping(results, task, where, "task")
        values = _mapping(run, "metrics", f"{where} [{task}]", "entry")
        cols["key"].append(key)
        cols["arch"].append(arch)
        cols["val_acc"].append(_final(_mapping(values, val_metric, f"{where} [{task}]", "metric"),
                                      f"{where} [{task}] {val_metric}"))
        cols["test_acc"].append(_final(values[test_metric], f"{where} [{task}] {test_metric}")
                                if test_metric and test_metric in values else None)
        model_info = run.get("model_info") if isinstance(run, Mapping) else None
        for name in info_names:
            value = model_info.get(name) if isinstance(model_info, Mapping) else None
            try:
                cols[f"info_{name}"].append(None if value is None else float(value))
            except (TypeError, ValueError):
                cols[f"info_{name}"].append(None)
        if isinstance(run, Mapping) and isinstance(run.get("total_epochs"), int):
            epochs.add(run["total_epochs"])
    if len(cols["key"]) != NUM_ARCHS:
        log.warning("%s: %d micro architectures (the full space has %d)", path, len(cols["key"]), NUM_ARCHS)
    meta = {
        "source_format": "pth",
        "val_split": val_metric, "test_split": test_metric,
        "val": f"{val_metric} at the final epoch ({info['metric_label']})",
        "test": f"{test_metric} at the final epoch" if test_metric else "none (the file has no test metric)",
        "total_epochs": sorted(epochs),
        "info_columns": {f"info_{n}": f"model_info {n!r} of the {task} run" for n in info_names},
        **info,
    }
    return cols, meta


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------

def prepare_transnas101(source: Path, task: str, out: Path, *, val_column: str | None = None,
                        test_column: str | None = None, trust_pickle: bool = False) -> Path:
    """Convert a TransNAS-Bench-101 source into the micro-space store of ``task`` under ``out``.

    ``source`` is a CSV (``val_column`` default ``<task>_valid_<metric>``, ``test_column`` optional) or the
    official .pth (``val_column``/``test_column`` name metrics such as ``valid_top1``; default the
    task's :data:`TASK_METRIC`). :class:`InputError` for a bad argument, :class:`DataFormatError` for a
    bad file; nothing is written then. Returns the store file.
    """
    source, out = Path(source), Path(out)
    check_task(task)
    suffix = source.suffix.lower()
    if source.is_dir():
        raise InputError(f"{source}: a folder; pass a TransNAS-Bench-101 CSV or transnas-bench_v10141024.pth")
    if not source.exists():
        raise InputError(f"{source}: not found; pass a TransNAS-Bench-101 CSV (e.g. tnb101_micro.csv) or "
                         "transnas-bench_v10141024.pth")
    if suffix == ".csv":
        cols, meta = _from_csv(source, task, val_column, test_column)
    elif suffix in (".pth", ".pt"):
        cols, meta = _from_official(source, task, val_column, test_column, trust_pickle)
    else:
        raise InputError(f"{source}: unknown kind of TransNAS-Bench-101 source (expected a .csv or the "
                         "official .pth)")
    meta = {**meta, "task": task, "space": BENCHMARK,
            "columns": {"key": "official TransNAS-Bench-101 string 64-41414-a_bc_def (the space's key)",
                        "arch": "the same string", "val_acc": f"{meta['metric_label']} ({meta['val']})",
                        "test_acc": meta["test"], **meta.pop("info_columns", {})}}
    return _write(out, benchmark=BENCHMARK, dataset=task, cols=cols, source=source,
                  fingerprint=file_sha256(source), meta=meta)


__all__ = ["BENCHMARK", "METRICS", "TASKS", "TASK_METRIC", "check_task", "load_official", "metric_info",
           "prepare_transnas101"]
