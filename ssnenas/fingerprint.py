"""Content fingerprints recorded with every prepared table, checkpoint and run."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """sha256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def folder_fingerprint(path: str | os.PathLike) -> str:
    """sha256 over the sorted (name, size) list of a folder: cheap, and changes when files do."""
    h = hashlib.sha256()
    for p in sorted(Path(path).iterdir()):
        if p.is_file():
            h.update(f"{p.name}\0{p.stat().st_size}\n".encode())
    return h.hexdigest()
