"""The benchmark store: prepared Parquet tables of tabular NAS benchmarks and their converters.

``BenchmarkStore.open(dir)`` gives vectorised key lookups, uniform sampling of stored architectures
and precomputed graph tensors; ``ssnenas data prepare`` (converters in :mod:`.nasbench101` and
:mod:`.nasbench201`) writes the tables. Schema: :mod:`ssnenas.store.table`.
"""

from __future__ import annotations

from ssnenas.store.paths import data_home, default_store_dir
from ssnenas.store.table import CONVERTER_VERSION, SCHEMA_VERSION, BenchmarkStore, load_store, write_store

__all__ = ["CONVERTER_VERSION", "SCHEMA_VERSION", "BenchmarkStore", "data_home", "default_store_dir",
           "load_store", "write_store"]
