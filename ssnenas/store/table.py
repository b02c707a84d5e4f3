"""The benchmark store: one Parquet table per (benchmark, dataset), written once, read many times.

File: ``<dir>/<benchmark>-<dataset>.parquet`` (one row per architecture, rows in the benchmark's key
order), written atomically by :func:`write_store`, opened memory-mapped by :class:`BenchmarkStore`,
which reads a column only when first asked for it.

Schema (every store):

============== ================================ ==========================================================
column         Arrow type                       meaning
============== ================================ ==========================================================
key            string (unique, non-null)        canonical identity (NB101: module hash; NB201: cell
                                                string; DARTS: canonical genotype)
arch           string                           the space's ``to_str`` form (what a Tune config carries)
val_acc        double (nullable)                validation accuracy, percent, mean over seeds/repeats; or
                                                the metric the metadata names (``metric_unit`` not percent)
test_acc       double (nullable, may be all     test accuracy, percent, mean over seeds/repeats (or that
               null)                            metric)
graph_ops      fixed_size_list<int8>[N]         node op indices into the space's ``node_features``
graph_adj      fixed_size_list<uint8>[N*N]      row-major 0/1 adjacency (edge i -> j at ``i*N + j``)
============== ================================ ==========================================================

Benchmark-specific columns follow (NB101: ``val_acc_repeats``/``test_acc_repeats``
(fixed_size_list<double>[3], percent, one per repeat, null where absent), ``num_repeats``,
``trainable_parameters``, and per epoch budget ``e`` present in the source ``train_acc_e``,
``val_acc_e``, ``test_acc_e``, ``training_time_e`` (final, means over repeats) and the same with a
``halfway_`` prefix; see :mod:`ssnenas.store.nasbench101` and :mod:`ssnenas.store.nasbench201`).
A column of shape ``[n, a, b]`` is stored as a fixed-size list of ``a*b`` and reshaped on read.

File metadata (key ``ssnenas``, one JSON object): ``benchmark``, ``dataset``, ``source`` (file
name), ``source_fingerprint`` (sha256 of the source), ``converter_version``, ``schema_version``,
``created`` (UTC ISO time), ``num_archs``, ``space`` (space name), ``num_nodes``, ``node_features``,
``column_shapes`` and whatever the converter adds (``extra_metadata``).
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ssnenas.atomic import atomic_path
from ssnenas.errors import InputError, StoreError
from ssnenas.store.paths import store_file_name

CONVERTER_VERSION = "1.0.0"
SCHEMA_VERSION = 1
META_KEY = b"ssnenas"
REQUIRED_COLUMNS = ("key", "arch", "val_acc", "test_acc")
GRAPH_COLUMNS = ("graph_ops", "graph_adj")
_ARROW_BATCH = 4096  # index_of switches from a dict lookup to Arrow's index_in at this batch size
_BENCHMARK_SPACE = {"nasbench101": "nasbench101", "nasbench201": "nasbench201", "darts": "darts"}


# -- writing -------------------------------------------------------------------------------------------
def _space_for(benchmark: str, extra: dict) -> str:
    return str(extra.get("space") or _BENCHMARK_SPACE.get(benchmark, benchmark))


def _graphs_from_space(space: Any, archs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    n = len(archs)
    ops = np.empty((n, space.num_nodes), dtype=np.int8)
    adj = np.empty((n, space.num_nodes, space.num_nodes), dtype=np.uint8)
    for i, text in enumerate(archs):
        g = space.to_graph(space.from_str(text))
        ops[i] = g.node_ops
        adj[i] = g.adjacency
    return ops, adj


def _to_arrow(name: str, value: Any, n: int, shapes: dict[str, list[int]]) -> pa.Array:
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if isinstance(value, pa.Array):
        arr = value
    else:
        x = value if isinstance(value, np.ndarray) else np.asarray(value)
        if x.dtype.kind in "fiub" and x.ndim >= 2:
            inner = int(np.prod(x.shape[1:]))
            if x.ndim > 2:
                shapes[name] = list(x.shape[1:])
            flat = np.ascontiguousarray(x).reshape(-1)
            arr = pa.FixedSizeListArray.from_arrays(pa.array(flat, from_pandas=True), inner)
        elif x.dtype.kind == "f":
            arr = pa.array(x, from_pandas=True)  # NaN -> null
        elif x.dtype.kind in "iub":
            arr = pa.array(x)
        else:
            arr = pa.array(list(value))
    if len(arr) != n:
        raise InputError(f"store column {name!r} has {len(arr)} rows, column 'key' has {n}; "
                         "every column needs one value per architecture")
    return arr


def write_store(out_dir: Path, *, benchmark: str, dataset: str, columns: dict[str, Any], source: str,
                source_fingerprint: str, extra_metadata: dict | None = None) -> Path:
    """Validate ``columns`` and write ``out_dir/<benchmark>-<dataset>.parquet`` atomically.

    ``columns`` maps names to numpy arrays, lists or pyarrow arrays, one value per architecture, and
    must hold :data:`REQUIRED_COLUMNS` (``test_acc`` may be all NaN/None). Missing ``graph_ops`` /
    ``graph_adj`` are computed from the space (``to_graph(from_str(arch))``). Accuracies must be
    percentages unless ``extra_metadata["metric_unit"]`` says the values are another higher-is-better
    metric (TransNAS-Bench-101: SSIM in 0..1, a negative loss). Returns the written path.
    """
    extra = dict(extra_metadata or {})
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InputError(f"cannot write the {benchmark}/{dataset} store: columns {missing} are missing; "
                         f"a store needs {', '.join(REQUIRED_COLUMNS)}")
    cols = dict(columns)
    keys = cols["key"]
    keys = keys.to_pylist() if isinstance(keys, (pa.Array, pa.ChunkedArray)) else list(keys)
    n = len(keys)
    if n == 0:
        raise InputError(f"cannot write an empty {benchmark}/{dataset} store; the source held no architectures")
    if any(not isinstance(k, str) or not k for k in keys):
        bad = next(i for i, k in enumerate(keys) if not isinstance(k, str) or not k)
        raise InputError(f"store row {bad}: key {keys[bad]!r} is not a non-empty string")
    if len(set(keys)) != n:
        seen: set[str] = set()
        dup = next(k for k in keys if k in seen or seen.add(k))
        raise InputError(f"store key {dup!r} appears more than once; keys must be unique")
    cols["key"] = keys
    space_name = _space_for(benchmark, extra)
    space = None
    if not all(c in cols for c in GRAPH_COLUMNS):
        from ssnenas.spaces import get_space

        space = get_space(space_name)
        archs = cols["arch"]
        archs = archs.to_pylist() if isinstance(archs, (pa.Array, pa.ChunkedArray)) else list(archs)
        cols["graph_ops"], cols["graph_adj"] = _graphs_from_space(space, archs)
    shapes: dict[str, list[int]] = {}
    arrays = {name: _to_arrow(name, value, n, shapes) for name, value in cols.items()}
    percent = extra.get("metric_unit", "percent") == "percent"
    for name in ("val_acc", "test_acc"):
        arrays[name] = arrays[name].cast(pa.float64())
        vals = arrays[name].to_numpy(zero_copy_only=False)
        bad = np.flatnonzero(~np.isnan(vals) & ((vals < 0) | (vals > 100)) & percent)
        if bad.size:
            i = int(bad[0])
            raise InputError(f"store row {i} (key {keys[i]!r}): {name} = {vals[i]} is not a percentage "
                             "in [0, 100]; convert fractions to percent")
    if np.isnan(arrays["val_acc"].to_numpy(zero_copy_only=False)).all():
        raise InputError(f"every val_acc of the {benchmark}/{dataset} store is missing; "
                         "check the source's validation column")
    arrays["graph_ops"] = arrays["graph_ops"].cast(pa.list_(pa.int8(), arrays["graph_ops"].type.list_size))
    num_nodes = arrays["graph_ops"].type.list_size
    arrays["graph_adj"] = arrays["graph_adj"].cast(pa.list_(pa.uint8(), num_nodes * num_nodes))
    shapes.pop("graph_adj", None)
    if "node_features" not in extra:
        if space is None:
            from ssnenas.spaces import get_space

            try:
                space = get_space(space_name)
            except (ImportError, InputError):
                space = None
        extra["node_features"] = list(space.node_features) if space is not None else None
    meta = {
        "benchmark": benchmark,
        "dataset": dataset,
        "source": str(Path(source).expanduser().resolve()),  # absolute: a relative path means nothing later
        "source_fingerprint": source_fingerprint,
        "converter_version": CONVERTER_VERSION,
        "schema_version": SCHEMA_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "num_archs": n,
        "space": space_name,
        "num_nodes": num_nodes,
        "column_shapes": shapes,
        **extra,
    }
    table = pa.table(arrays).replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / store_file_name(benchmark, dataset)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", row_group_size=max(n, 1))
    return path


# -- reading -------------------------------------------------------------------------------------------
def read_metadata(path: str | os.PathLike) -> dict:
    """The ``ssnenas`` metadata of a store file; :class:`StoreError` if it is not one."""
    path = Path(path)
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(f"{path}: not a readable Parquet store ({exc}); prepare it again with "
                         "`ssnenas data prepare`") from exc
    raw = (schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise StoreError(f"{path}: a Parquet file without ssnenas metadata, not a prepared store; "
                         "create one with `ssnenas data prepare`")
    return json.loads(raw)


def _resolve(path: Path, benchmark: str | None, dataset: str | None) -> tuple[Path, dict]:
    def matches(meta: dict) -> bool:
        return (benchmark is None or meta.get("benchmark") == benchmark) and \
               (dataset is None or meta.get("dataset") == dataset)

    if path.is_file():
        meta = read_metadata(path)
        if not matches(meta):
            raise StoreError(f"{path} holds {meta.get('benchmark')}/{meta.get('dataset')}, not "
                             f"{benchmark or '*'}/{dataset or '*'}; pass the right store or selection")
        return path, meta
    if not path.is_dir():
        raise StoreError(f"{path}: no such benchmark store; create it with "
                         "`ssnenas data prepare <benchmark> --source FILE --out DIR`")
    found = list_stores(path)
    if not found:
        raise StoreError(f"{path}: holds no prepared store (*.parquet, here or one folder down); create one "
                         "with `ssnenas data prepare <benchmark> --source FILE --out DIR`")
    chosen = [(p, m) for p, m in found if matches(m)]
    if not chosen:
        raise StoreError(f"{path}: no store for {benchmark or '*'}/{dataset or '*'} (it holds "
                         f"{_listing(path, found)}); pick one with --benchmark/--dataset")
    if len(chosen) > 1:
        raise StoreError(f"{path} holds several stores ({_listing(path, chosen)}); select one with --benchmark "
                         "and --dataset, or pass its folder")
    return chosen[0]


def list_stores(path: str | os.PathLike) -> list[tuple[Path, dict]]:
    """``(file, metadata)`` of the stores in folder ``path``, or, where it holds none itself, in its
    sub-folders (``experiments.prepare_tables`` writes one folder per table under one root)."""
    path = Path(path)

    def scan(pattern: str) -> list[tuple[Path, dict]]:
        return [(p, read_metadata(p)) for p in sorted(path.glob(pattern))
                if not any(part.startswith(".") for part in p.relative_to(path).parts)]

    return scan("*.parquet") or scan("*/*.parquet")


def _listing(root: Path, stores: list[tuple[Path, dict]]) -> str:
    """``benchmark/dataset`` of each store, with its sub-folder when it is not directly in ``root``."""
    return ", ".join(f"{m.get('benchmark')}/{m.get('dataset')}"
                     + (f" in {p.parent.name}/" if p.parent != root else "") for p, m in stores)


class BenchmarkStore:
    """Read-only view of one prepared table, memory-mapped, columns loaded on first use.

    Example::

        store = BenchmarkStore.open(data_home() / "nasbench101-cifar10")
        idx = store.index_of(["00005c142e6f48ac74fdcf73e3439874"])
        acc = store.lookup(keys)["val_acc"]          # percent
        ops, adj = store.graphs(store.sample_indices(100, rng))

    Picklable (it pickles as its path and reopens), so it can go into the Ray object store.
    """

    def __init__(self, path: Path, metadata: dict):
        self.path = Path(path)
        self.metadata = metadata
        self.benchmark: str = metadata["benchmark"]
        self.dataset: str = metadata["dataset"]
        self.fingerprint: str = metadata.get("source_fingerprint", "")
        self._file = pq.ParquetFile(self.path, memory_map=True)
        self.num_archs: int = self._file.metadata.num_rows
        self._names = set(self._file.schema_arrow.names)
        self._cols: dict[str, np.ndarray] = {}
        self._index: dict[str, int] | None = None
        self._key_arrow: pa.Array | None = None
        self._space = None
        self.keys: np.ndarray = self.column("key")

    @classmethod
    def open(cls, path: str | os.PathLike, *, benchmark: str | None = None,
             dataset: str | None = None) -> BenchmarkStore:
        """Open a store file, or the one store in a folder (``benchmark``/``dataset`` select one)."""
        file, meta = _resolve(Path(path).expanduser(), benchmark, dataset)
        return cls(file, meta)

    def __reduce__(self):
        return (BenchmarkStore, (self.path, self.metadata))

    def __len__(self) -> int:
        return self.num_archs

    def __repr__(self) -> str:
        return f"BenchmarkStore({self.benchmark}/{self.dataset}, num_archs={self.num_archs}, path='{self.path}')"

    @property
    def space(self) -> Any:
        """The search-space object of this benchmark (imported on first use)."""
        if self._space is None:
            from ssnenas.spaces import get_space

            self._space = get_space(self.metadata.get("space", self.benchmark))
        return self._space

    @property
    def columns(self) -> list[str]:
        return list(self._file.schema_arrow.names)

    # -- columns ------------------------------------------------------------------------------
    def column(self, name: str) -> np.ndarray:
        """The whole column as numpy (strings: object array; nulls: NaN; lists: ``[n, ...]``)."""
        got = self._cols.get(name)
        if got is not None:
            return got
        if name not in self._names:
            raise StoreError(f"{self.path}: no column {name!r}; available: {', '.join(self.columns)}")
        col = self._file.read(columns=[name], use_threads=False).column(0).combine_chunks()
        if pa.types.is_fixed_size_list(col.type):
            if name == "graph_adj":
                shape = [self.num_nodes, self.num_nodes]
            else:
                shape = self.metadata.get("column_shapes", {}).get(name) or [col.type.list_size]
            values = col.flatten().to_numpy(zero_copy_only=False)  # zero-copy when there are no nulls
            out = values.reshape([len(col)] + list(shape))
        elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_binary(col.type):
            out = np.array(col.to_pylist(), dtype=object)
        else:
            out = col.to_numpy(zero_copy_only=False)
        self._cols[name] = out
        del col
        pa.default_memory_pool().release_unused()  # hand decoding buffers back to the OS
        return out

    @property
    def num_nodes(self) -> int:
        """Padded node count N of the graph columns."""
        return int(self.metadata.get("num_nodes") or self._file.schema_arrow.field("graph_ops").type.list_size)

    # -- keys ---------------------------------------------------------------------------------
    def _key_index(self) -> dict[str, int]:
        if self._index is None:
            self._index = dict(zip(self.keys.tolist(), range(self.num_archs)))
        return self._index

    def _key_array(self) -> pa.Array:
        if self._key_arrow is None:
            self._key_arrow = self._file.read(columns=["key"], use_threads=False).column(0).combine_chunks()
        return self._key_arrow

    def __contains__(self, key: object) -> bool:
        return key in self._key_index()

    def index_of(self, keys: str | Iterable[str], *, missing: str = "raise") -> np.ndarray:
        """int64 row indices of ``keys``; a missing key raises :class:`StoreError` naming it
        (``missing="raise"``) or maps to -1 (``missing="ignore"``)."""
        if missing not in ("raise", "ignore"):
            raise InputError(f"missing={missing!r}; use 'raise' or 'ignore'")
        if isinstance(keys, (pa.Array, pa.ChunkedArray)) or (
                isinstance(keys, (list, np.ndarray)) and len(keys) >= _ARROW_BATCH):
            # large batches: Arrow's C++ hash lookup (index_in), 2-3x the dict path per key
            query = keys if isinstance(keys, (pa.Array, pa.ChunkedArray)) else pa.array(
                keys.tolist() if isinstance(keys, np.ndarray) else keys, type=pa.string())
            found = pc.index_in(query, value_set=self._key_array())
            idx = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
            keys = query
        else:
            if isinstance(keys, str):
                keys = [keys]
            elif isinstance(keys, np.ndarray):
                keys = keys.tolist()
            elif not isinstance(keys, (list, tuple)):
                keys = list(keys)
            get = self._key_index().get
            idx = np.fromiter(map(get, keys, itertools.repeat(-1)), dtype=np.int64, count=len(keys))
        if missing == "raise" and idx.size and idx.min() < 0:
            bad = keys[int(np.argmin(idx))]
            bad = bad.as_py() if isinstance(bad, pa.Scalar) else bad
            raise StoreError(f"key {bad!r} is not in the {self.benchmark}/{self.dataset} store {self.path}; "
                             "check the architecture (for NB101 the key is the module hash)")
        return idx

    def locate(self, arch: str) -> tuple[str, int]:
        """``(key, row)`` of an architecture string, parsed by the store's space (a malformed string
        raises :class:`InputError`, an unknown architecture :class:`StoreError`)."""
        key = self.space.key(self.space.from_str(arch))
        return key, int(self.index_of([key])[0])

    def lookup(self, keys: str | Iterable[str],
               columns: Sequence[str] = ("val_acc", "test_acc")) -> dict[str, np.ndarray]:
        """``{column: values}`` for many keys at once (vectorised; missing keys raise)."""
        idx = self.index_of(keys)
        return {c: self.column(c)[idx] for c in columns}

    def row(self, key: str) -> dict:
        """Every column of one architecture as plain Python values (NaN/null -> None)."""
        i = int(self.index_of([key])[0])
        return self.row_at(i)

    def row_at(self, i: int) -> dict:
        out = {}
        for name in self.columns:
            v = self.column(name)[i]
            if isinstance(v, np.ndarray):
                v = v.tolist()
                v = _nan_to_none(v)
            elif isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and np.isnan(v):
                v = None
            out[name] = v
        return out

    # -- sampling and graphs -------------------------------------------------------------------
    def sample_indices(self, n: int, rng: np.random.Generator, *, replace: bool = False) -> np.ndarray:
        """``n`` uniformly drawn row indices (int64), without replacement unless ``replace``."""
        if n < 0 or (not replace and n > self.num_archs):
            raise InputError(f"cannot draw {n} distinct architectures from a store of {self.num_archs}; "
                             "ask for fewer or pass replace=True")
        return rng.choice(self.num_archs, size=n, replace=replace).astype(np.int64, copy=False)

    def graphs(self, indices: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(node_ops int64 [B, N], adjacency float32 [B, N, N])`` of rows ``indices``."""
        idx = np.asarray(indices, dtype=np.int64)
        ops = self.column("graph_ops")[idx].astype(np.int64)
        adj = self.column("graph_adj")[idx].astype(np.float32)
        return ops, adj

    def features(self, indices: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(one-hot float32 [B, N, F], adjacency float32 [B, N, N])``; F = len(node_features)."""
        ops, adj = self.graphs(indices)
        feats = self.metadata.get("node_features")
        num_features = len(feats) if feats else self.space.num_features
        return np.eye(num_features, dtype=np.float32)[ops], adj

    def best(self, by: str = "val_acc") -> dict:
        """The row with the highest ``by`` (ties: first in key order)."""
        values = np.asarray(self.column(by), dtype=np.float64)
        if np.isnan(values).all():
            raise StoreError(f"{self.path}: column {by!r} holds no values; pick another column")
        return self.row_at(int(np.nanargmax(values)))


def _nan_to_none(v: Any) -> Any:
    if isinstance(v, list):
        return [_nan_to_none(x) for x in v]
    if isinstance(v, float) and v != v:
        return None
    return v


def load_store(path: str | os.PathLike, *, benchmark: str | None = None,
               dataset: str | None = None) -> BenchmarkStore:
    """Alias of :meth:`BenchmarkStore.open`."""
    return BenchmarkStore.open(path, benchmark=benchmark, dataset=dataset)
