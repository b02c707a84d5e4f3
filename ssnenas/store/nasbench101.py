"""NAS-Bench-101 converters: the official TFRecord files and the NB101 CSV tables -> a store.

``val_acc`` / ``test_acc`` are the means over the (three) repeats of the final validation / test
accuracy at the 108-epoch budget, in percent. The full file's other budgets
(4, 12, 36) are kept as ``{train_acc,val_acc,test_acc,training_time}_{e}`` (final, means over
repeats) plus the same with a ``halfway_`` prefix; ``val_acc_repeats`` / ``test_acc_repeats`` keep
the three 108-epoch repeats. CSV sources (``nb101_1k.csv`` / ``nb101_500.csv`` layout) carry one
validation number per model and no test accuracy (``test_acc`` null); their ``module_hash`` column,
when present, is recomputed from the graph and must match; rows of the same graph are averaged.

The TFRecord reader streams (memory = the per-model arrays, ~200 B per model per budget, plus one
16 MiB block) and keeps Python work per record to a split, a base64 decode and one upb protobuf
parse. Graph tensors are computed once per distinct adjacency string and per distinct op list
with the space's own :func:`~ssnenas.spaces.nasbench101.graph_arrays` (the padding rule treats
edges and ops separately), and specs are checked once per distinct adjacency string.
"""

from __future__ import annotations

import binascii
import csv
import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ssnenas.atomic import output_dir
from ssnenas.errors import DataFormatError, InputError
from ssnenas.fingerprint import file_sha256
from ssnenas.store.nb101_proto import model_metrics_class
from ssnenas.store.table import write_store
from ssnenas.store.tfrecord import iter_tfrecord

BENCHMARK = "nasbench101"
DATASET = "cifar10"
EPOCH_BUDGETS = (4, 12, 36, 108)
FINAL_BUDGET = 108
NUM_REPEATS = 3
# per (model, budget, repeat): halfway then final {training_time, train_acc, val_acc, test_acc}
_METRICS = ("training_time", "train_acc", "val_acc", "test_acc")
_INITIAL_CAPACITY = 1 << 16
#: Largest record accepted: an official record (hash, budget, adjacency, ops and one run's metrics in
#: base64) is about 1-2 KB, so 1 MiB is generous and still rejects a non-TFRecord file at once.
MAX_RECORD_BYTES = 1 << 20
_CSV_VAL_COLUMNS = ("val_acc_108", "val_acc")
_CSV_TEST_COLUMNS = ("test_acc_108", "test_acc")


# -- graphs and arch strings for the stored (pruned) specs --------------------------------------------
def _space_module() -> Any:
    from ssnenas.spaces import nasbench101

    return nasbench101


def _graph_tables(adj_strings: list[str], ops_strings: list[str]) -> tuple[np.ndarray, np.ndarray,
                                                                          np.ndarray, np.ndarray, np.ndarray]:
    """Padded adjacency per distinct adjacency string and node ops per distinct op list.

    Returns ``(adj [A, 7, 7] uint8, adj_n [A], adj_ok [A] bool, ops [O, 7] int8, ops_n [O])``:
    ``adj_ok`` says the matrix is a valid spec already in pruned form (so the stored string is the
    arch string); ops lists that are not valid raise :class:`DataFormatError` later per model.
    """
    nb = _space_module()
    size = nb.MAX_VERTICES
    adj, adj_n, adj_ok = nb.padded_adjacency_batch(adj_strings)
    ops = np.zeros((len(ops_strings), size), dtype=np.int8)
    ops_n = np.zeros(len(ops_strings), dtype=np.int64)
    for i, text in enumerate(ops_strings):
        names = text.split(",")
        n = len(names)
        ok = 2 <= n <= size and names[0] == nb.INPUT and names[-1] == nb.OUTPUT \
            and all(op in nb.OPS for op in names[1:-1])
        if not ok:
            ops_n[i] = -1
            continue
        ops_n[i] = n
        chain = np.eye(n, k=1, dtype=np.uint8)
        ops[i] = nb.graph_arrays(chain, names)[0]
    return adj, adj_n, adj_ok, ops, ops_n


def _graphs_and_archs(adj_ids: np.ndarray, ops_ids: np.ndarray, adj_strings: list[str],
                      ops_strings: list[str], keys: list[str], path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per-model ``graph_ops [n, 7]``, ``graph_adj [n, 7, 7]`` and arch strings."""
    nb = _space_module()
    adj_tab, adj_n, adj_ok, ops_tab, ops_n = _graph_tables(adj_strings, ops_strings)
    graph_adj = adj_tab[adj_ids]
    graph_ops = ops_tab[ops_ids]
    fast = adj_ok[adj_ids] & (adj_n[adj_ids] == ops_n[ops_ids])
    archs = [f"{adj_strings[a]}|{ops_strings[o]}" for a, o in zip(adj_ids.tolist(), ops_ids.tolist())]
    for i in np.flatnonzero(~fast).tolist():
        adj_s, ops_s = adj_strings[adj_ids[i]], ops_strings[ops_ids[i]]
        try:
            arch = nb.arch_from_adjacency(adj_s, ops_s)
        except InputError as exc:
            raise DataFormatError(f"{path}: model {keys[i]} has an invalid NAS-Bench-101 spec ({exc}); "
                                  "the file is not an official NAS-Bench-101 file") from None
        archs[i] = nb.SPACE.to_str(arch)
        graph_ops[i], graph_adj[i] = nb.graph_arrays(arch.array(), arch.ops)
    return graph_ops, graph_adj, archs


# -- TFRecord -----------------------------------------------------------------------------------------
def _slow_parts(payload: bytes) -> list[bytes]:
    """Parse a payload with json when the quote-split fast path does not apply."""
    items = json.loads(payload.decode("utf-8"))
    if not isinstance(items, list) or len(items) != 5:
        raise ValueError("payload is not a JSON list of 5 items")
    h, epochs, adj, ops, metrics = items
    return [b"[", str(h).encode(), f",{int(epochs)},".encode(), str(adj).encode(), b",",
            str(ops).encode(), b",", str(metrics).encode(), b"]"]


def read_tfrecord(path: str | os.PathLike, *, check_crc: bool = True,
                  progress: bool | None = None) -> tuple[dict[str, Any], str, list[int]]:
    """Stream an official NB101 TFRecord file into store columns.

    Returns ``(columns, sha256 of the file, epoch budgets present)``.
    """
    from google.protobuf.message import DecodeError
    from tqdm import tqdm

    path = Path(path)
    parse = model_metrics_class().FromString
    b64 = binascii.a2b_base64
    hasher = hashlib.sha256()
    index: dict[bytes, int] = {}
    keys: list[bytes] = []
    adj_index: dict[bytes, int] = {}
    ops_index: dict[bytes, int] = {}
    model_adj: list[int] = []
    model_ops: list[int] = []
    slot_of: dict[bytes, int] = {}
    cap = _INITIAL_CAPACITY
    dense: list[np.ndarray | None] = [None] * len(EPOCH_BUDGETS)  # [cap, repeat, 8] float64 per budget
    views: list[memoryview | None] = [None] * len(EPOCH_BUDGETS)  # their bytes, written by struct
    pack = struct.Struct("=8d").pack_into
    counts = bytearray(cap * len(EPOCH_BUDGETS))
    params = np.zeros(cap, dtype=np.int64)
    n = 0
    rec_no = -1
    size = path.stat().st_size if path.exists() else 0
    bar = tqdm(total=size, unit="B", unit_scale=True, desc=f"reading {path.name}",
               disable=None if progress is None else not progress, leave=False)
    consumed = 0
    try:
        for rec_no, payload in enumerate(iter_tfrecord(path, check_crc=check_crc, hasher=hasher,
                                                                   max_record=MAX_RECORD_BYTES)):
            try:
                parts = payload.split(b'"')
                if len(parts) != 9:
                    parts = _slow_parts(payload)
                key = parts[1]
                idx = index.get(key)
                new = idx is None
                if new:
                    idx = n
                    if idx == cap:
                        cap *= 2
                        counts.extend(bytes(len(counts)))
                        params = np.concatenate([params, np.zeros_like(params)])
                        for s, arr in enumerate(dense):
                            if arr is not None:
                                dense[s] = np.concatenate([arr, np.full_like(arr, np.nan)])
                                views[s] = memoryview(dense[s]).cast("B")
                    index[key] = idx
                    keys.append(key)
                    n += 1
                    a = adj_index.get(parts[3])
                    if a is None:
                        a = adj_index[parts[3]] = len(adj_index)
                    model_adj.append(a)
                    o = ops_index.get(parts[5])
                    if o is None:
                        o = ops_index[parts[5]] = len(ops_index)
                    model_ops.append(o)
                slot = slot_of.get(parts[2])
                if slot is None:
                    epochs = int(parts[2].strip(b", \t"))
                    if epochs not in EPOCH_BUDGETS:
                        raise ValueError(f"epoch budget {epochs} is not one of {EPOCH_BUDGETS}")
                    slot = slot_of[parts[2]] = EPOCH_BUDGETS.index(epochs)
                view = views[slot]
                if view is None:
                    dense[slot] = np.full((cap, NUM_REPEATS, 8), np.nan)
                    view = views[slot] = memoryview(dense[slot]).cast("B")
                c = idx * 4 + slot
                rep = counts[c]
                if rep >= NUM_REPEATS:
                    raise ValueError(f"more than {NUM_REPEATS} repeats of model {key.decode()} at "
                                     f"{EPOCH_BUDGETS[slot]} epochs")
                counts[c] = rep + 1
                m = parse(b64(parts[7]))
                ev = m.evaluation_data
                h = ev[1]
                f = ev[2]
                pack(view, (idx * NUM_REPEATS + rep) * 64, h.training_time, h.train_accuracy,
                     h.validation_accuracy, h.test_accuracy, f.training_time, f.train_accuracy,
                     f.validation_accuracy, f.test_accuracy)
                if new:
                    params[idx] = m.trainable_parameters
            except (ValueError, IndexError, KeyError, UnicodeDecodeError, DecodeError, binascii.Error) as exc:
                raise DataFormatError(
                    f"{path}: record {rec_no} is not a NAS-Bench-101 record ({type(exc).__name__}: {exc}); "
                    "pass nasbench_only108.tfrecord or nasbench_full.tfrecord as --source") from None
            consumed += len(payload) + 16
            if not rec_no & 0xFFFF:
                bar.update(consumed - bar.n)
    finally:
        bar.close()
    if n == 0:
        raise DataFormatError(f"{path}: holds no records; pass nasbench_only108.tfrecord or "
                              "nasbench_full.tfrecord as --source")
    budgets = [EPOCH_BUDGETS[s] for s, arr in enumerate(dense) if arr is not None]
    if FINAL_BUDGET not in budgets:
        raise DataFormatError(f"{path}: no record has the {FINAL_BUDGET}-epoch budget, so there is no final "
                              "accuracy; pass nasbench_only108.tfrecord or nasbench_full.tfrecord")
    key_strs = [k.decode("ascii") for k in keys]
    columns = _tfrecord_columns(key_strs, dense, counts, params[:n], n, np.asarray(model_adj),
                                np.asarray(model_ops), [k.decode() for k in adj_index],
                                [k.decode() for k in ops_index], path)
    return columns, hasher.hexdigest(), budgets


def _tfrecord_columns(keys: list[str], dense: list[np.ndarray | None], counts: bytearray, params: np.ndarray,
                      n: int, model_adj: np.ndarray, model_ops: np.ndarray, adj_strings: list[str],
                      ops_strings: list[str], path: Path) -> dict[str, Any]:
    graph_ops, graph_adj, archs = _graphs_and_archs(model_adj, model_ops, adj_strings, ops_strings, keys, path)
    reps = np.frombuffer(bytes(counts), dtype=np.uint8).reshape(-1, len(EPOCH_BUDGETS))[:n]
    final = dense[EPOCH_BUDGETS.index(FINAL_BUDGET)][:n]
    cols: dict[str, Any] = {
        "key": keys,
        "arch": archs,
        "val_acc": _mean(final[:, :, 6]) * 100.0,
        "test_acc": _mean(final[:, :, 7]) * 100.0,
        "val_acc_repeats": final[:, :, 6] * 100.0,
        "test_acc_repeats": final[:, :, 7] * 100.0,
        "num_repeats": reps[:, EPOCH_BUDGETS.index(FINAL_BUDGET)].astype(np.int8),
        "trainable_parameters": params,
        "graph_ops": graph_ops,
        "graph_adj": graph_adj,
    }
    for s, arr in enumerate(dense):
        if arr is None:
            continue
        e = EPOCH_BUDGETS[s]
        arr = arr[:n]
        for phase, offset in (("halfway_", 0), ("", 4)):
            for j, name in enumerate(_METRICS):
                values = _mean(arr[:, :, offset + j])
                cols[f"{phase}{name}_{e}"] = values * 100.0 if name.endswith("acc") else values
    return cols


def _mean(x: np.ndarray) -> np.ndarray:
    """Mean over the repeat axis ignoring missing repeats (NaN where none)."""
    count = np.sum(~np.isnan(x), axis=1)
    total = np.nansum(x, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


# -- CSV ----------------------------------------------------------------------------------------------
def _number(text: str, path: Path, line: int, column: str) -> float:
    try:
        return float(text) if text.strip() != "" else float("nan")
    except ValueError:
        raise DataFormatError(f"{path}: line {line}, column {column!r}: {text!r} is not a number; "
                              "fix or remove that row") from None


def read_csv(path: str | os.PathLike) -> tuple[dict[str, Any], str]:
    """Read a table in the ``nb101_1k.csv`` / ``nb101_500.csv`` layout into store columns.

    Required: ``adjacency``, ``operations`` and ``val_acc_108`` (or ``val_acc``); optional
    ``module_hash`` (checked), ``test_acc_108``/``test_acc``, any further numeric columns (kept).
    Rows whose graphs prune to the same architecture (``nb101_500.csv`` lists unpruned specs, each
    with one randomly queried repeat) become one model: numbers are the mean over those rows and
    ``num_rows`` counts them; the first row's pruned graph is the stored arch.
    """
    nb = _space_module()
    path = Path(path)
    try:
        f = open(path, newline="")
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot open ({exc.strerror}); pass an existing CSV with --source") from None
    with f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        val_col = next((c for c in _CSV_VAL_COLUMNS if c in header), None)
        missing = [c for c in ("adjacency", "operations") if c not in header]
        if val_col is None:
            missing.append(" or ".join(_CSV_VAL_COLUMNS))
        if missing:
            raise DataFormatError(
                f"{path}: missing column(s) {', '.join(missing)} (found {', '.join(header) or 'no header'}); "
                "the NB101 CSV layout needs adjacency, operations and val_acc_108 (module_hash optional)")
        test_col = next((c for c in _CSV_TEST_COLUMNS if c in header), None)
        extra_cols = [c for c in header if c not in ("adjacency", "operations", "module_hash", val_col, test_col)]
        keys: list[str] = []
        archs: list[str] = []
        graphs_ops: list[np.ndarray] = []
        graphs_adj: list[np.ndarray] = []
        sums: list[list[list[float]]] = []  # per model: the number rows of every CSV row of that graph
        first_line: dict[str, int] = {}
        for row_no, row in enumerate(reader):
            line = row_no + 2  # 1-based, after the header
            try:
                arch = nb.arch_from_adjacency(row["adjacency"] or "", row["operations"] or "")
            except InputError as exc:
                raise DataFormatError(f"{path}: line {line}: {exc}; fix or remove that row") from None
            key = nb.module_hash(arch.array(), arch.ops)
            given = (row.get("module_hash") or "").strip()
            if "module_hash" in header and given != key:
                raise DataFormatError(
                    f"{path}: line {line}: module_hash {given!r} does not match the hash of its graph "
                    f"({key}); the row's graph or hash is wrong, fix or remove that row")
            values = [_number(row[val_col], path, line, val_col),
                      _number(row[test_col], path, line, test_col) if test_col else float("nan")]
            values += [_number(row[c], path, line, c) for c in extra_cols]
            slot = first_line.get(key)
            if slot is not None:  # another (unpruned) spec of the same graph: one more repeat's numbers
                sums[slot].append(values)
                continue
            first_line[key] = len(keys)
            keys.append(key)
            archs.append(nb.SPACE.to_str(arch))
            g_ops, g_adj = nb.graph_arrays(arch.array(), arch.ops)
            graphs_ops.append(g_ops)
            graphs_adj.append(g_adj)
            sums.append([values])
    if not keys:
        raise DataFormatError(f"{path}: holds a header but no rows; pass a CSV with NB101 models")
    table = np.array([_combine_rows(rows) for rows in sums])
    val_arr = table[:, 0]
    if np.nanmax(val_arr) <= 1.0:
        raise DataFormatError(f"{path}: column {val_col!r} holds fractions (max {np.nanmax(val_arr)}); "
                              "the NB101 CSV layout uses percent, multiply by 100")
    columns: dict[str, Any] = {
        "key": keys, "arch": archs, "val_acc": val_arr, "test_acc": table[:, 1],
        "graph_ops": np.stack(graphs_ops), "graph_adj": np.stack(graphs_adj),
        "num_rows": np.array([len(rows) for rows in sums], dtype=np.int32),
    }
    for j, c in enumerate(extra_cols):
        arr = table[:, 2 + j]
        if not np.isnan(arr).any() and np.all(arr == np.round(arr)) and np.abs(arr).max() < 2**53:
            arr = arr.astype(np.int64)
        columns[c] = arr
    return columns, file_sha256(path)


def _combine_rows(rows: list[list[float]]) -> np.ndarray:
    """Column means over the rows of one graph, ignoring NaN; columns equal in all rows are kept as is."""
    arr = np.asarray(rows, dtype=np.float64)
    if len(arr) == 1:
        return arr[0]
    out = arr[0].copy()
    same = np.all((arr == arr[0]) | (np.isnan(arr) & np.isnan(arr[0])), axis=0)
    for j in np.flatnonzero(~same):
        col = arr[:, j][~np.isnan(arr[:, j])]
        out[j] = col.mean() if col.size else np.nan
    return out


# -- entry point --------------------------------------------------------------------------------------
def _is_csv(path: Path) -> bool:
    if path.suffix.lower() == ".csv":
        return True
    if path.suffix.lower() in (".tfrecord", ".tfrecords"):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return False
    return head.lstrip().lower().startswith((b"module_hash", b"adjacency", b'"module_hash', b'"adjacency'))


def prepare_nasbench101(source: str | os.PathLike, out: str | os.PathLike, *, check_crc: bool = True,
                        progress: bool | None = None) -> Path:
    """Convert an official NB101 TFRecord file or an NB101 CSV into ``out/nasbench101-cifar10.parquet``.

    On any error nothing is left behind (a new ``out`` folder is removed again).
    """
    source = Path(source).expanduser()
    if not source.is_file():
        raise InputError(f"--source {source}: no such file; pass nasbench_only108.tfrecord, "
                         "nasbench_full.tfrecord or an NB101 CSV")
    with output_dir(out) as folder:
        if _is_csv(source):
            columns, fingerprint = read_csv(source)
            extra = {"source_format": "csv", "epoch_budgets": [FINAL_BUDGET],
                     "val_split": "validation, final epoch of the 108-epoch budget (CSV value)",
                     "test_split": None}
        else:
            columns, fingerprint, budgets = read_tfrecord(source, check_crc=check_crc, progress=progress)
            extra = {"source_format": "tfrecord", "epoch_budgets": budgets, "num_repeats": NUM_REPEATS,
                     "val_split": "validation, final epoch of the 108-epoch budget, mean over repeats",
                     "test_split": "test, final epoch of the 108-epoch budget, mean over repeats"}
        extra["accuracy_unit"] = "percent"
        if "num_rows" in columns:  # CSV: rows that prune to an architecture listed earlier are merged
            extra["num_source_rows"] = int(np.sum(columns["num_rows"]))
            extra["merged_duplicate_rows"] = extra["num_source_rows"] - len(columns["key"])
        return write_store(folder, benchmark=BENCHMARK, dataset=DATASET, columns=columns, source=str(source),
                           source_fingerprint=fingerprint, extra_metadata=extra)


__all__ = ["BENCHMARK", "DATASET", "EPOCH_BUDGETS", "prepare_nasbench101", "read_csv", "read_tfrecord"]
