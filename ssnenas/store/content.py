"""What a benchmark store holds, as a fingerprint: identity by content, not by source file.

A run records the source file's sha256 (``data_fingerprint``), but one CSV prepared with and without
``--test-column`` gives two stores that search alike and report differently (the second has no test
accuracy). :func:`store_identity` fingerprints what a search reads from a store:

=================== ===================================================================================
field               meaning
=================== ===================================================================================
identity_version    version of this fingerprint's definition (a new one re-hashes; compare only equal)
benchmark, dataset  the store's ``benchmark`` / ``dataset`` metadata
space               the search space (its code derives the graph columns from ``arch``)
num_archs           rows
archs_sha256        sha256 of the ``key`` and ``arch`` columns in **store order** (see below)
value_columns       of ``val_acc``, ``test_acc``: those holding at least one value (``["val_acc"]`` for a
                    store prepared without a test column)
values_sha256       sha256 of ``val_acc`` and ``test_acc`` as little-endian float64 in store order
                    (null -> one canonical NaN), so an all-null ``test_acc`` hashes differently from any
                    real one
metrics             what each value column measures, where the store records it (``val_split``,
                    ``test_split``; None where it does not)
=================== ===================================================================================

Why store order and not sorted keys: searches draw architectures by row index
(``BenchmarkStore.sample_indices``: a trial's initial architectures and every random draw of a
searcher), so two stores holding the same keys in another order give other searches from one seed.
Converters write rows in the benchmark's own key order, so re-preparing a file gives the same order.

Columns are read straight from the Parquet file (memory-mapped), not through the store's cached numpy
columns: hashing the Arrow buffers costs about as much as reading them, and nothing stays in memory.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ssnenas.errors import StoreError

IDENTITY_VERSION = 1
#: The columns a benchmark search reads values from (architectures come from ``key`` and ``arch``).
VALUE_COLUMNS = ("val_acc", "test_acc")
ARCH_COLUMNS = ("key", "arch")
#: Fields of :func:`store_identity`, in the order :func:`identity_diff` names them.
IDENTITY_FIELDS = ("identity_version", "benchmark", "space", "dataset", "num_archs", "archs_sha256",
                   "value_columns", "values_sha256", "metrics")


def _hash_strings(h: Any, col: pa.ChunkedArray | pa.Array) -> None:
    """Feed a string column to ``h`` unambiguously: the row count, every length (int64 LE), the bytes,
    and the null mask where there are nulls. Works on the Arrow buffers: no Python object per row."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.large_string())  # e.g. a dictionary-encoded column
    n = len(arr)
    h.update(n.to_bytes(8, "little"))
    if n == 0:
        return
    width = 8 if pa.types.is_large_string(arr.type) else 4
    _validity, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=f"<i{width}", count=n + 1, offset=arr.offset * width)
    h.update(np.diff(offsets).astype("<i8").tobytes())
    h.update(memoryview(data_buf)[int(offsets[0]):int(offsets[-1])])
    if arr.null_count:
        h.update(b"nulls")
        h.update(np.packbits(arr.is_null().to_numpy(zero_copy_only=False)).tobytes())


def _float_values(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """float64 values, nulls (and every NaN) as the one canonical NaN."""
    x = np.asarray(col.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype="<f8")
    nan = np.isnan(x)
    if nan.any():
        x = x.copy()
        x[nan] = np.nan
    return x


def _path_and_metadata(store: Any) -> tuple[Path, dict]:
    if isinstance(store, (str, os.PathLike)):
        from ssnenas.store.table import BenchmarkStore

        store = BenchmarkStore.open(store)
    return Path(store.path), dict(store.metadata)


def store_identity(store: Any) -> dict[str, Any]:
    """The content fingerprint of a store (a ``BenchmarkStore``, or a store file or folder): see the
    module docstring for its fields. JSON-ready; two stores that search alike give equal dicts."""
    path, meta = _path_and_metadata(store)
    try:
        table = pq.ParquetFile(path, memory_map=True).read(columns=list(ARCH_COLUMNS + VALUE_COLUMNS),
                                                             use_threads=False)
    except (OSError, pa.ArrowException, KeyError) as exc:
        raise StoreError(f"{path}: cannot read the columns {', '.join(ARCH_COLUMNS + VALUE_COLUMNS)} ({exc}); "
                         "prepare the store again with `ssnenas data prepare`") from exc
    archs = hashlib.sha256()
    for name in ARCH_COLUMNS:
        archs.update(name.encode() + b"\0")
        _hash_strings(archs, table.column(name))
    values = hashlib.sha256()
    held = []
    for name in VALUE_COLUMNS:
        x = _float_values(table.column(name))
        if not np.isnan(x).all():
            held.append(name)
        values.update(name.encode() + b"\0" + len(x).to_bytes(8, "little"))
        values.update(x.tobytes())
    return {
        "identity_version": IDENTITY_VERSION,
        "benchmark": meta.get("benchmark"),
        "space": meta.get("space", meta.get("benchmark")),
        "dataset": meta.get("dataset"),
        "num_archs": table.num_rows,
        "archs_sha256": archs.hexdigest(),
        "value_columns": held,
        "values_sha256": values.hexdigest(),
        "metrics": {"val_acc": meta.get("val_split"), "test_acc": meta.get("test_split")},
    }


def _short(value: Any) -> str:
    """A hash as its first 12 hex digits (enough to tell two apart in a message), anything else as repr."""
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value[:12] + "..."
    return repr(value)


def identity_diff(old: Mapping[str, Any] | None, new: Mapping[str, Any], *, label: str = "store",
                  fields: Iterable[str] | None = None) -> list[str]:
    """``"store values_sha256: 1f2e3d4c5b6a... now vs 9a8b7c6d5e4f... there"`` for each field in which
    the identity ``new`` (this command's) differs from ``old`` (the run folder's); empty when they agree.

    ``fields`` restricts the comparison (default: every field either side has, in :data:`IDENTITY_FIELDS`
    order, then any others sorted). ``old`` None (a run recorded before identities existed) differs in
    nothing: the caller decides whether to accept such runs. Run configs as a whole are compared by
    :func:`ssnenas.analysis.runs.identity_diffs`; this compares one fingerprint's fields, naming values.
    """
    if old is None:
        return []
    if fields is None:
        keys = set(old) | set(new)
        fields = [k for k in IDENTITY_FIELDS if k in keys] + sorted(keys - set(IDENTITY_FIELDS))
    prefix = f"{label} " if label else ""
    return [f"{prefix}{k}: {_short(new.get(k))} now vs {_short(old.get(k))} there"
            for k in fields if old.get(k) != new.get(k)]


def describe_identity(identity: Mapping[str, Any]) -> str:
    """One line for logs and reports: ``nasbench201/cifar10-valid, 15625 archs, val_acc+test_acc, values 1f2e...``."""
    return (f"{identity.get('benchmark')}/{identity.get('dataset')}, {identity.get('num_archs')} archs, "
            f"{'+'.join(identity.get('value_columns') or []) or 'no values'}, "
            f"archs {_short(identity.get('archs_sha256'))}, values {_short(identity.get('values_sha256'))}")
