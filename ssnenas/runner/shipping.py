"""How a task on any node finds the benchmark store: read once per worker process, from its own path
where the node has the file, else from its bytes put once in the Ray object store (written to a local
temporary folder first: a cluster need not share storage)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ssnenas.atomic import atomic_path


@dataclass(frozen=True)
class StoreShipment:
    """How a task finds the store: its path, or else its bytes in the object store (boxed in a list
    so Ray does not fetch them for tasks that can read the file)."""

    path: str
    sha256: str
    size: int
    bytes_ref: list = field(default_factory=list)


_STORES: dict[str, Any] = {}  # per worker process: sha256 -> open BenchmarkStore


def open_shipped_store(ship: StoreShipment) -> Any:
    """The store of ``ship``, opened once per worker process (from the object store if need be)."""
    store = _STORES.get(ship.sha256)
    if store is not None:
        return store
    from ssnenas.fingerprint import file_sha256
    from ssnenas.store.table import BenchmarkStore

    path = Path(ship.path)
    if not (path.is_file() and path.stat().st_size == ship.size and file_sha256(path) == ship.sha256):
        path = Path(tempfile.gettempdir()) / f"ssnenas-store-{ship.sha256[:16]}" / Path(ship.path).name
        if not (path.is_file() and file_sha256(path) == ship.sha256):
            import ray

            data = ray.get(ship.bytes_ref[0])
            with atomic_path(path) as tmp:
                tmp.write_bytes(data)
    store = BenchmarkStore.open(path)
    _STORES[ship.sha256] = store
    return store
