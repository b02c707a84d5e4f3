"""Converters of NAS-Bench-201 sources (and the DARTS CSV) into benchmark stores.

``prepare_nasbench201(source, dataset, out)`` reads one of

* the official ``NAS-Bench-201-v1_0-e61699.pth`` / ``NAS-Bench-201-v1_1-096897.pth``: a ``torch.save``d dict
  (the layout of the official NAS-Bench-201 release, read by its ``nas_201_api``). It is read as *data*:
  ``torch.load(..., weights_only=True)`` with only the numpy scalar and dtype types it holds allowed
  (:data:`PTH_SAFE_GLOBALS`), so no code can run from it whatever its name; a file that names anything
  else is refused unless ``trust_pickle=True`` / ``--trust-pickle``, which unpickles it fully
  (``weights_only=False``, runs whatever the file names). The whole dict is read at once: the v1_1 file
  needs about **30 GB of RAM** (v1_0 an estimated 10-15 GB); on a smaller machine use the NATS folder.
* a NATS-Bench topology folder ``NATS-tss-v1_0-3ffb9-simple`` (the layout that the ``nats_bench`` package
  reads): ``meta.pickle.pbz2`` plus one ``{index:06d}.pickle.pbz2`` per arch, read arch by arch (constant
  memory) with the restricted unpickler of :mod:`ssnenas.store.nb201_pickle` (no code can run from these
  files).
* a CSV with an ``arch`` column and accuracy columns picked by ``val_column`` (default
  ``<dataset>_val_acc``) and ``test_column`` (optional), e.g. the shared ``nb201_200epoch.csv``.

Numbers (as NAS-Bench-201, arXiv 2001.00326, defines them), accuracies in percent:
  val  = mean over seeds of ``x-valid`` at the final epoch of the 200-epoch schedule (``'full'`` / hp ``'200'``);
  test = ``ori-test`` for cifar10-valid (CIFAR-10 test set, trained on the train split),
         ``x-test`` for cifar100 and ImageNet16-120;
  the same from the 12-epoch schedule (``'less'`` / hp ``'12'``) where the source has it, per-seed values
  and seeds, params (M) and FLOPs (M) (seed means), latency (s, mean of the measured ones) and
  train time (s) = per seed Σ_epochs train_times, then the mean over seeds.

``prepare_darts_csv(source, out)`` converts a DARTS-space CSV (genotype, val_acc, params_M, flops_M).

Duplicate keys in a source (two rows whose architecture has the same canonical key): one row is kept
per key, with the first row's strings and lists and the **mean** of every numeric column; the number
of merged rows is logged and stored in the metadata (``merged_duplicate_rows``).
"""

from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ssnenas.errors import DataFormatError, InputError
from ssnenas.fingerprint import file_sha256, folder_fingerprint
from ssnenas.store.nb201_pickle import load_pbz2

log = logging.getLogger(__name__)

DATASETS = ("cifar10-valid", "cifar100", "ImageNet16-120")
#: The two official file names (named in messages; a name grants no trust: every .pth is read as data).
OFFICIAL_PTH_NAMES = ("NAS-Bench-201-v1_0-e61699.pth", "NAS-Bench-201-v1_1-096897.pth")
NUM_ARCHS = 15_625
VAL_SET = "x-valid"
TEST_SET = {"cifar10-valid": "ori-test", "cifar100": "x-test", "ImageNet16-120": "x-test"}

#: What each column of a NAS-Bench-201 store holds (stored in the metadata).
COLUMN_DOCS = {
    "key": "canonical NB201 cell string (the search-space key)",
    "arch": "official NB201 cell string",
    "index": "official NAS-Bench-201 architecture index",
    "val_acc": "x-valid accuracy %, final epoch of the 200-epoch schedule, mean over seeds",
    "test_acc": "test accuracy % (ori-test for cifar10-valid, x-test otherwise), 200 epochs, mean over seeds",
    "seeds": "training seeds of the 200-epoch runs",
    "val_acc_seeds": "per-seed x-valid accuracy %, 200 epochs (order of seeds)",
    "test_acc_seeds": "per-seed test accuracy %, 200 epochs (order of seeds)",
    "params_M": "parameters (millions), mean over seeds",
    "flops_M": "FLOPs (millions), mean over seeds",
    "latency_s": "inference latency (s), mean over the runs that measured it; null if none did",
    "train_time_s": "training time (s) of the 200-epoch schedule: sum of per-epoch train times, mean over seeds",
    "val_acc_12": "x-valid accuracy %, final epoch of the 12-epoch schedule, mean over seeds (null if absent)",
    "test_acc_12": "test accuracy %, 12-epoch schedule, mean over seeds (null if absent)",
    "seeds_12": "training seeds of the 12-epoch runs",
    "val_acc_12_seeds": "per-seed x-valid accuracy %, 12 epochs",
    "test_acc_12_seeds": "per-seed test accuracy %, 12 epochs",
    "train_time_12_s": "training time (s) of the 12-epoch schedule: sum of per-epoch train times, mean over seeds",
}


def check_dataset(dataset: str) -> str:
    """Return ``dataset`` if it is one of :data:`DATASETS`, else raise :class:`InputError`.

    Plain ``cifar10`` is refused: it is trained on train+valid and has no validation split.
    """
    if dataset not in DATASETS:
        hint = (" (plain cifar10 has no validation split; use cifar10-valid)" if dataset == "cifar10" else "")
        raise InputError(f"--dataset {dataset!r} is not a NAS-Bench-201 dataset{hint}; "
                         f"choose one of {', '.join(DATASETS)}")
    return dataset


# ---------------------------------------------------------------------------------------------
# Numbers of one architecture
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScheduleNumbers:
    """What one training schedule (200 or 12 epochs) of one arch on one dataset gives."""

    epochs: int
    seeds: tuple[int, ...]
    val_seeds: tuple[float, ...]
    test_seeds: tuple[float | None, ...]
    params_M: float
    flops_M: float
    latency_s: float | None
    train_time_s: float | None

    @property
    def val(self) -> float:
        return _mean(self.val_seeds)

    @property
    def test(self) -> float | None:
        return None if any(t is None for t in self.test_seeds) else _mean(self.test_seeds)


@dataclass(frozen=True)
class ArchRecord:
    """The scalars kept per arch; nothing else of the source survives the read."""

    index: int
    arch: str
    full: ScheduleNumbers
    less: ScheduleNumbers | None


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _require(state: Mapping, key: str, where: str) -> Any:
    if not isinstance(state, Mapping) or key not in state:
        raise DataFormatError(f"{where}: missing field {key!r}; not a NAS-Bench-201 ArchResults/ResultsCount "
                              "state, re-download the benchmark file")
    return state[key]


def _final_eval(rc: Mapping, setname: str, epochs: int, where: str, *, required: bool) -> float | None:
    """Top-1 accuracy of eval set ``setname`` at the last epoch (key ``'<set>@<epochs-1>'``)."""
    accs = _require(rc, "eval_acc1es", where)
    value = accs.get(f"{setname}@{epochs - 1}") if isinstance(accs, Mapping) else None
    if value is None:
        if required:
            have = sorted({str(k).split("@")[0] for k in accs}) if isinstance(accs, Mapping) else []
            raise DataFormatError(f"{where}: no eval accuracy '{setname}@{epochs - 1}' (eval sets present: "
                                  f"{', '.join(have) or 'none'}); the file is not a complete NAS-Bench-201 file")
        return None
    return float(value)


def _latency(rc: Mapping) -> float | None:
    lat = rc.get("latency")
    if lat is None:
        return None
    values = [float(x) for x in (lat if isinstance(lat, (list, tuple)) else [lat])]
    return _mean(values) if values else None


def _train_time(rc: Mapping, epochs: int) -> float | None:
    times = rc.get("train_times")
    if not isinstance(times, Mapping) or not times:
        return None
    try:
        return math.fsum(float(times[i]) for i in range(epochs))
    except KeyError:
        return None


def schedule_numbers(state: Mapping, dataset: str, *, where: str, required: bool) -> ScheduleNumbers | None:
    """Read one ArchResults state (as saved by the official ``nas_201_api``) for ``dataset``.

    Returns ``None`` when the schedule has no runs on ``dataset`` and ``required`` is false (e.g. the
    12-epoch runs of v1_0 exist only for cifar10-valid) or lacks the final x-valid number; a missing
    test number gives ``None``. With ``required`` each of these raises :class:`DataFormatError`.
    """
    dataset_seed = _require(state, "dataset_seed", where)
    all_results = _require(state, "all_results", where)
    if not isinstance(dataset_seed, Mapping) or dataset not in dataset_seed:
        if not required:
            return None
        have = ", ".join(map(str, dataset_seed)) if isinstance(dataset_seed, Mapping) else "none"
        raise DataFormatError(f"{where}: no runs on dataset {dataset!r} (datasets present: {have}); "
                              "not a complete NAS-Bench-201 file")
    seeds, vals, tests, params, flops, lats, times = [], [], [], [], [], [], []
    epochs = None
    for seed in dataset_seed[dataset]:
        rc_where = f"{where} run ({dataset}, seed {seed})"
        if (dataset, seed) not in all_results:
            raise DataFormatError(f"{rc_where}: listed in dataset_seed but missing from all_results; "
                                  "the file is corrupt, re-download it")
        rc = all_results[(dataset, seed)]
        rc_epochs = int(_require(rc, "epochs", rc_where))
        epochs = rc_epochs if epochs is None else epochs
        seeds.append(int(seed))
        val = _final_eval(rc, VAL_SET, rc_epochs, rc_where, required=required)
        if val is None:  # an optional schedule without a final x-valid number: treat it as absent
            log.debug("%s: no '%s@%d'; 12-epoch numbers left null", rc_where, VAL_SET, rc_epochs - 1)
            return None
        vals.append(val)
        tests.append(_final_eval(rc, TEST_SET[dataset], rc_epochs, rc_where, required=required))
        params.append(float(_require(rc, "params", rc_where)))
        flops.append(float(_require(rc, "flop", rc_where)))
        lats.append(_latency(rc))
        times.append(_train_time(rc, rc_epochs))
    if not seeds:
        if not required:
            return None
        raise DataFormatError(f"{where}: dataset {dataset!r} lists no seeds; not a complete NAS-Bench-201 file")
    measured = [x for x in lats if x is not None and x > 0]  # the official API drops latencies <= 0
    return ScheduleNumbers(
        epochs=int(epochs), seeds=tuple(seeds), val_seeds=tuple(vals), test_seeds=tuple(tests),
        params_M=_mean(params), flops_M=_mean(flops),
        latency_s=_mean(measured) if measured else None,
        train_time_s=None if any(t is None for t in times) else _mean(times))


def arch_record(index: int, arch: str, hp_states: Mapping[str, Mapping], dataset: str, *,
                where: str, full_key: str, less_key: str) -> ArchRecord:
    """Build the :class:`ArchRecord` of one arch from its ``{schedule: ArchResults-state}`` dict."""
    if not isinstance(hp_states, Mapping) or full_key not in hp_states:
        raise DataFormatError(f"{where}: no {full_key!r} (200-epoch) results; not a NAS-Bench-201 file, "
                              "re-download it")
    full_state = hp_states[full_key]
    stored = full_state.get("arch_str") if isinstance(full_state, Mapping) else None
    if stored is not None and stored != arch:
        raise DataFormatError(f"{where}: arch_str {stored!r} differs from meta_archs entry {arch!r}; "
                              "the file is corrupt, re-download it")
    full = schedule_numbers(full_state, dataset, where=f"{where} [{full_key}]", required=True)
    less = None
    if less_key in hp_states:
        less = schedule_numbers(hp_states[less_key], dataset, where=f"{where} [{less_key}]", required=False)
    return ArchRecord(index=int(index), arch=str(arch), full=full, less=less)


# ---------------------------------------------------------------------------------------------
# Readers: each yields ArchRecords one by one
# ---------------------------------------------------------------------------------------------

def _progress(iterable: Iterable, total: int, desc: str) -> Iterable:
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return iterable
    return tqdm(iterable, total=total, desc=desc, unit="arch", disable=None, leave=False)


def _pth_safe_globals() -> list[Any]:
    """What a NAS-Bench-201 .pth may name besides torch's own plain types: numpy scalars (under their
    numpy 1 and numpy 2 module names), ``numpy.dtype`` and the numeric dtype classes a scalar's dtype
    is rebuilt with. No array, no object dtype, no callable that does more than build a number."""
    import importlib

    import numpy as np

    try:
        scalar = importlib.import_module("numpy._core.multiarray").scalar
    except ModuleNotFoundError:  # numpy < 2
        scalar = importlib.import_module("numpy.core.multiarray").scalar
    dtype_classes = {type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDG"} - {np.dtype}
    return [(scalar, "numpy._core.multiarray.scalar"), (scalar, "numpy.core.multiarray.scalar"), np.dtype,
            *sorted(dtype_classes, key=lambda t: t.__name__)]


#: Names of the globals a .pth may hold (for the docs and tests; the objects come from _pth_safe_globals).
PTH_SAFE_GLOBALS = ("numpy._core.multiarray.scalar", "numpy.core.multiarray.scalar", "numpy.dtype",
                    "numpy.dtypes.<numeric>DType")


def _refusal_reason(message: str) -> str | None:
    """The line of torch's weights-only refusal that names a global or type the file holds, or None
    when the refusal is about the bytes themselves (not a pickle: a corrupt or foreign file)."""
    if "Weights only load failed" not in message:
        return None
    for line in message.splitlines():
        if "GLOBAL" in line or "Can only build" in line:
            return line.strip().rstrip(".")
    return None


def load_trusted_pth(path: Path, *, trust_pickle: bool = False) -> Any:
    """The dict of a NAS-Bench-201 .pth, read as data (``torch.load(weights_only=True)`` allowing only
    :func:`_pth_safe_globals`); with ``trust_pickle`` fully unpickled (``weights_only=False``).

    Why not by name: a file name says nothing about where a file came from, and the official files'
    sha256 is not published; a weights-only read refuses code whatever the file is called, and reads
    the real layout (plain dicts, lists, tuples, floats and numpy scalars) all the same.
    """
    import torch

    if trust_pickle:
        log.warning("unpickling %s with torch.load(weights_only=False) (--trust-pickle): a trusted pickle "
                    "(it can run code); the v1_1 file needs about 30 GB of RAM, use the "
                    "NATS-tss-v1_0-3ffb9-simple folder on smaller machines", path)
    else:
        log.warning("reading %s with torch.load(weights_only=True) (data only, no code runs); the v1_1 file "
                    "needs about 30 GB of RAM, use the NATS-tss-v1_0-3ffb9-simple folder on smaller machines",
                    path)
    try:
        if trust_pickle:
            return torch.load(path, map_location="cpu", weights_only=False)
        with torch.serialization.safe_globals(_pth_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise DataFormatError(f"{path}: file not found; pass the path of NAS-Bench-201-v1_1-096897.pth") from exc
    except Exception as exc:  # torch raises many types for a corrupt archive
        reason = None if trust_pickle else _refusal_reason(str(exc))
        if reason:
            raise DataFormatError(
                f"{path}: refused: not plain NAS-Bench-201 data ({reason}); a pickle can run "
                "code. Only if you trust where this file came from, pass --trust-pickle; or convert a "
                "NATS-tss-v1_0-3ffb9-simple folder instead") from None
        detail = next((ln.strip() for ln in str(exc).splitlines() if "Unsupported" in ln), None) or \
            (str(exc).splitlines()[0] if str(exc) else "")
        raise DataFormatError(f"{path}: cannot be read by torch.load ({type(exc).__name__}: {detail}); the file "
                              "is truncated or not a NAS-Bench-201 .pth, re-download it") from exc


def iter_pth_archs(path: Path, dataset: str, *, trust_pickle: bool = False) -> Iterator[ArchRecord]:
    """Yield the :class:`ArchRecord` of every arch of a NAS-Bench-201 .pth (index order)."""
    data = load_trusted_pth(path, trust_pickle=trust_pickle)
    if not isinstance(data, Mapping) or not {"meta_archs", "arch2infos"} <= set(data):
        got = sorted(map(str, data)) if isinstance(data, Mapping) else type(data).__name__
        raise DataFormatError(f"{path}: not a NAS-Bench-201 file (top level must be a dict with 'meta_archs' "
                              f"and 'arch2infos', got {got}); pass NAS-Bench-201-v1_1-096897.pth or v1_0")
    meta_archs, arch2infos = data["meta_archs"], data["arch2infos"]
    if not isinstance(meta_archs, Sequence) or not isinstance(arch2infos, Mapping):
        raise DataFormatError(f"{path}: 'meta_archs' must be a list and 'arch2infos' a dict; not a "
                              "NAS-Bench-201 file, re-download it")
    missing = [i for i in range(len(meta_archs)) if i not in arch2infos]
    if missing:
        raise DataFormatError(f"{path}: {len(missing)} of {len(meta_archs)} archs have no results in "
                              f"'arch2infos' (first: index {missing[0]}); the file is incomplete, re-download it")
    for index in _progress(range(len(meta_archs)), len(meta_archs), "NAS-Bench-201 .pth"):
        yield arch_record(index, meta_archs[index], arch2infos[index], dataset,
                          where=f"{path} arch {index}", full_key="full", less_key="less")


def nats_arch_file(folder: Path, index: int) -> Path:
    return folder / f"{index:06d}.pickle.pbz2"


def iter_nats_archs(folder: Path, dataset: str) -> Iterator[ArchRecord]:
    """Yield the :class:`ArchRecord` of every arch of a NATS-Bench topology folder, one file at a time.

    Only the current arch's dict is alive at any moment, so memory stays constant over the 15,625
    files. Every arch file is checked to exist before the first is read.
    """
    meta_path = folder / "meta.pickle.pbz2"
    if not meta_path.is_file():
        raise DataFormatError(f"{folder}: no meta.pickle.pbz2; not a NATS-Bench topology folder "
                              "(pass the extracted NATS-tss-v1_0-3ffb9-simple directory)")
    meta = load_pbz2(meta_path)
    if not isinstance(meta, Mapping) or not isinstance(meta.get("meta_archs"), Sequence):
        raise DataFormatError(f"{meta_path}: no 'meta_archs' list; not a NATS-Bench topology meta file, "
                              "re-extract NATS-tss-v1_0-3ffb9-simple")
    meta_archs = list(meta["meta_archs"])
    del meta
    missing = [i for i in range(len(meta_archs)) if not nats_arch_file(folder, i).is_file()]
    if missing:
        raise DataFormatError(f"{folder}: {len(missing)} of {len(meta_archs)} arch files are missing (first: "
                              f"{nats_arch_file(folder, missing[0]).name}); re-extract NATS-tss-v1_0-3ffb9-simple")
    for index in _progress(range(len(meta_archs)), len(meta_archs), "NATS-Bench topology"):
        path = nats_arch_file(folder, index)
        hp_states = load_pbz2(path)
        record = arch_record(index, meta_archs[index], hp_states, dataset,
                             where=f"{path}", full_key="200", less_key="12")
        del hp_states  # keep nothing of the file but the record
        yield record


# ---------------------------------------------------------------------------------------------
# Columns, keys and duplicates
# ---------------------------------------------------------------------------------------------

def _nb201_key(arch: str, where: str) -> tuple[str, str]:
    """(key, arch string) of an NB201 cell string; a malformed one raises InputError naming ``where``."""
    from ssnenas.spaces import nasbench201 as nb201

    try:
        ops = nb201.parse_arch(arch)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    return nb201.SPACE.key(ops), nb201.SPACE.to_str(ops)


def _records_to_columns(records: Iterable[ArchRecord], source: Path) -> dict[str, list]:
    cols: dict[str, list] = {name: [] for name in COLUMN_DOCS}
    for rec in records:
        key, arch = _nb201_key(rec.arch, f"{source} arch {rec.index}")
        full, less = rec.full, rec.less
        row = {
            "key": key, "arch": arch, "index": rec.index,
            "val_acc": full.val, "test_acc": full.test, "seeds": list(full.seeds),
            "val_acc_seeds": list(full.val_seeds), "test_acc_seeds": list(full.test_seeds),
            "params_M": full.params_M, "flops_M": full.flops_M, "latency_s": full.latency_s,
            "train_time_s": full.train_time_s,
            "val_acc_12": less.val if less else None, "test_acc_12": less.test if less else None,
            "seeds_12": list(less.seeds) if less else None,
            "val_acc_12_seeds": list(less.val_seeds) if less else None,
            "test_acc_12_seeds": list(less.test_seeds) if less else None,
            "train_time_12_s": less.train_time_s if less else None,
        }
        for name, value in row.items():
            cols[name].append(value)
    return cols


def merge_duplicate_keys(cols: dict[str, list]) -> tuple[dict[str, list], int]:
    """One row per ``cols['key']``: the first row's strings/lists/ints, the mean of float columns.

    A float column's mean ignores nulls (null only if every merged row is null). Returns the merged
    columns and the number of rows merged away.
    """
    keys = cols["key"]
    groups: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    dropped = len(keys) - len(groups)
    if not dropped:
        return cols, 0
    out: dict[str, list] = {name: [] for name in cols}
    for rows in groups.values():
        for name, values in cols.items():
            first = values[rows[0]]
            if isinstance(first, float) or (first is None and any(isinstance(values[r], float) for r in rows)):
                present = [values[r] for r in rows if values[r] is not None]
                out[name].append(math.fsum(present) / len(present) if present else None)
            else:
                out[name].append(first)
    return out, dropped


def _write(out: Path, *, benchmark: str, dataset: str, cols: dict[str, list], source: Path,
           fingerprint: str, meta: dict) -> Path:
    from ssnenas.store.table import write_store

    cols, dropped = merge_duplicate_keys(cols)
    if dropped:
        log.warning("%s: %d rows share a key with an earlier row; kept one row per key (numbers averaged)",
                    source, dropped)
    if not cols["key"]:
        raise DataFormatError(f"{source}: holds no architectures; pass a non-empty benchmark file")
    meta = {**meta, "merged_duplicate_rows": dropped, "num_source_rows": len(cols["key"]) + dropped}
    return write_store(out, benchmark=benchmark, dataset=dataset, columns=_typed(cols), source=str(source),
                       source_fingerprint=fingerprint, extra_metadata=meta)


_INT_COLUMNS = {"index"}
_INT_LIST_COLUMNS = {"seeds", "seeds_12"}
_STR_COLUMNS = {"key", "arch"}


def _typed(cols: dict[str, list]) -> dict[str, Any]:
    """Arrow arrays with explicit types: per-seed lists have varying lengths (1-3 seeds) and a column
    may be all null (no 12-epoch runs), which numpy/pyarrow inference would get wrong."""
    import pyarrow as pa

    out: dict[str, Any] = {}
    for name, values in cols.items():
        if name in _STR_COLUMNS:
            kind = pa.string()
        elif name in _INT_COLUMNS:
            kind = pa.int64()
        elif name in _INT_LIST_COLUMNS:
            kind = pa.list_(pa.int64())
        elif name.endswith("_seeds"):
            kind = pa.list_(pa.float64())
        else:
            kind = pa.float64()
        out[name] = pa.array(values, type=kind)
    return out


# ---------------------------------------------------------------------------------------------
# CSV sources
# ---------------------------------------------------------------------------------------------

def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    if not path.is_file():
        raise DataFormatError(f"{path}: file not found; pass the path of an existing CSV file")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataFormatError(f"{path}: not a readable CSV ({exc}); pass a UTF-8 CSV file") from exc
    return header, rows


def _need_columns(path: Path, header: list[str], needed: dict[str, str]) -> None:
    """``needed`` maps column name -> the argument or role that asked for it."""
    for column, role in needed.items():
        if column not in header:
            raise DataFormatError(f"{path}: no column {column!r} ({role}); columns present: "
                                  f"{', '.join(header) or 'none'}")


def _float_cell(path: Path, row_no: int, column: str, text: str | None, *, allow_empty: bool = False
                ) -> float | None:
    if text is None or text.strip() == "":
        if allow_empty:
            return None
        raise DataFormatError(f"{path} row {row_no}: column {column!r} is empty; fill it or drop the row")
    try:
        value = float(text)
    except ValueError:
        raise DataFormatError(f"{path} row {row_no}: column {column!r} = {text!r} is not a number; "
                              "fix the row") from None
    if not math.isfinite(value):
        raise DataFormatError(f"{path} row {row_no}: column {column!r} = {text!r} is not finite; fix the row")
    return value


def _test_columns(header: list[str], dataset: str) -> list[str]:
    """CSV columns that look like test accuracies of ``dataset``: ``<dataset>_test...`` or, NB201's
    convention, of its base dataset (cifar10-valid's test split is cifar10's test set)."""
    stems = {dataset.lower(), dataset.split("-")[0].lower()}
    return [c for c in header if "test" in c.lower() and any(c.lower().startswith(f"{stem}_") for stem in stems)]


def _nb201_from_csv(path: Path, dataset: str, val_column: str | None, test_column: str | None
                    ) -> tuple[dict[str, list], dict]:
    val_column = val_column or f"{dataset}_val_acc"
    header, rows = _read_csv(path)
    needed = {"arch": "the NB201 cell string", val_column: "--val-column"}
    if test_column:
        needed[test_column] = "--test-column"
    _need_columns(path, header, needed)
    has_index = "index" in header
    cols: dict[str, list] = {"key": [], "arch": [], "val_acc": [], "test_acc": []}
    if has_index:
        cols["index"] = []
    for row_no, row in enumerate(rows, start=2):  # row 1 is the header
        key, arch = _nb201_key(row["arch"] or "", f"{path} row {row_no}")
        cols["key"].append(key)
        cols["arch"].append(arch)
        cols["val_acc"].append(_float_cell(path, row_no, val_column, row[val_column]))
        cols["test_acc"].append(_float_cell(path, row_no, test_column, row[test_column], allow_empty=True)
                                if test_column else None)
        if has_index:
            try:
                cols["index"].append(int(row["index"]))
            except (TypeError, ValueError):
                raise DataFormatError(f"{path} row {row_no}: index {row['index']!r} is not an integer; "
                                      "fix the row") from None
    meta = {
        "source_format": "csv",
        "test_columns_left_out": [] if test_column else _test_columns(header, dataset),
        "val_column": val_column, "test_column": test_column,
        "val_split": val_column, "test_split": test_column,
        "val": f"CSV column {val_column!r} (percent)",
        "test": f"CSV column {test_column!r} (percent)" if test_column else "none (no --test-column)",
        "columns": {k: COLUMN_DOCS[k] for k in cols},
    }
    return cols, meta


# ---------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------

def prepare_nasbench201(source: Path, dataset: str, out: Path, *, val_column: str | None = None,
                        test_column: str | None = None, trust_pickle: bool = False) -> Path:
    """Convert a NAS-Bench-201 source into the store of ``dataset`` under ``out``; return its path.

    ``source`` is the official .pth (read as data, see the module docstring; a file holding anything
    else is refused unless ``trust_pickle``), a NATS-Bench topology folder, or a CSV (``val_column``,
    default ``<dataset>_val_acc``; ``test_column`` optional). Raises :class:`InputError` for a bad
    argument and :class:`DataFormatError` for a bad file; nothing is written then.
    """
    source, out = Path(source), Path(out)
    check_dataset(dataset)
    if source.is_dir():
        kind = "nats"
    elif source.suffix.lower() in (".pth", ".pt"):
        kind = "pth"
    elif source.suffix.lower() == ".csv":
        kind = "csv"
    elif not source.exists():
        raise InputError(f"{source}: not found; pass NAS-Bench-201-v1_1-096897.pth, a NATS-tss-v1_0-3ffb9-simple "
                         "folder or a CSV")
    else:
        raise InputError(f"{source}: unknown kind of NAS-Bench-201 source (expected a .pth file, a "
                         "NATS-tss-v1_0-3ffb9-simple folder, or a .csv); a .tar must be extracted first")
    if kind != "csv" and (val_column or test_column):
        raise InputError("--val-column/--test-column apply to CSV sources only; drop them for a "
                         f"{'.pth' if kind == 'pth' else 'NATS folder'} source")

    if kind == "csv":
        cols, meta = _nb201_from_csv(source, dataset, val_column, test_column)
        fingerprint = file_sha256(source)
    else:
        if kind == "pth":
            records = iter_pth_archs(source, dataset, trust_pickle=trust_pickle)
            fingerprint = None  # hashed after the read has checked the file
        else:
            records = iter_nats_archs(source, dataset)
            fingerprint = folder_fingerprint(source)
        cols = _records_to_columns(records, source)
        if fingerprint is None:
            fingerprint = file_sha256(source)
        meta = {
            "source_format": kind,
            "val": f"{VAL_SET}, final epoch of the 200-epoch schedule ('full' / hp '200'), mean over seeds, percent",
            "test": f"{TEST_SET[dataset]}, final epoch of the 200-epoch schedule, mean over seeds, percent",
            "val_12": f"{VAL_SET}, final epoch of the 12-epoch schedule ('less' / hp '12'), mean over seeds",
            "test_12": f"{TEST_SET[dataset]}, final epoch of the 12-epoch schedule, mean over seeds",
            "columns": dict(COLUMN_DOCS),
        }
        if len(cols["key"]) != NUM_ARCHS:
            log.warning("%s: %d architectures (the full NAS-Bench-201 space has %d)", source,
                        len(cols["key"]), NUM_ARCHS)
    if kind != "csv":
        meta["val_split"], meta["test_split"] = VAL_SET, TEST_SET[dataset]
    return _write(out, benchmark="nasbench201", dataset=dataset, cols=cols, source=source,
                  fingerprint=fingerprint, meta=meta)


DARTS_COLUMNS = ("genotype", "val_acc", "params_M", "flops_M")


def prepare_darts_csv(source: Path, out: Path) -> Path:
    """Convert a DARTS-space CSV (``genotype,val_acc,params_M,flops_M``) into the ``darts``/``cifar10`` store.

    key = canonical genotype (``SPACE.key``), arch = the genotype string, val_acc in percent (CIFAR-10,
    NAS-Bench-301 as stored by NASLib), test_acc null; rows with the same key are merged (mean).
    """
    from ssnenas.spaces import darts

    source, out = Path(source), Path(out)
    header, rows = _read_csv(source)
    _need_columns(source, header, {c: "the DARTS CSV layout genotype,val_acc,params_M,flops_M"
                                   for c in DARTS_COLUMNS})
    cols: dict[str, list] = {"key": [], "arch": [], "val_acc": [], "test_acc": [], "params_M": [], "flops_M": []}
    for row_no, row in enumerate(rows, start=2):
        try:
            genotype = darts.parse_genotype(row["genotype"] or "")
        except InputError as exc:
            raise InputError(f"{source} row {row_no}: {exc}") from None
        cols["key"].append(darts.SPACE.key(genotype))
        cols["arch"].append(darts.SPACE.to_str(genotype))
        cols["val_acc"].append(_float_cell(source, row_no, "val_acc", row["val_acc"]))
        cols["test_acc"].append(None)
        cols["params_M"].append(_float_cell(source, row_no, "params_M", row["params_M"], allow_empty=True))
        cols["flops_M"].append(_float_cell(source, row_no, "flops_M", row["flops_M"], allow_empty=True))
    meta = {
        "source_format": "csv",
        "val": "CSV column 'val_acc': CIFAR-10 validation accuracy %, NAS-Bench-301 data as stored by NASLib",
        "test": "none (the source has no test accuracy)",
        "val_split": "val_acc", "test_split": None,
        "columns": {"key": "canonical DARTS genotype (SPACE.key)", "arch": "genotype string",
                    "val_acc": "validation accuracy %", "test_acc": "null", "params_M": "parameters (millions)",
                    "flops_M": "FLOPs (millions)"},
    }
    return _write(out, benchmark="darts", dataset="cifar10", cols=cols, source=source,
                  fingerprint=file_sha256(source), meta=meta)


__all__ = ["DATASETS", "OFFICIAL_PTH_NAMES", "ArchRecord", "ScheduleNumbers", "check_dataset",
           "iter_nats_archs", "iter_pth_archs", "prepare_darts_csv", "prepare_nasbench201"]
