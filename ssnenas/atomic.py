"""Atomic writes: write to a temporary sibling, then ``os.replace`` it into place.

Nothing half-written is ever visible under the final name, and a failure removes the temporary.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; on success rename it to ``final``.

    Works for a file or a directory written at the yielded path. On an exception the temporary is
    removed and ``final`` is left as it was.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        yield tmp
        if tmp.is_dir() and final.is_dir():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
        raise


@contextlib.contextmanager
def output_dir(out: str | os.PathLike) -> Iterator[Path]:
    """Make ``out`` for writing and remove it again if it did not exist and the block fails.

    Used by commands whose contract is "no output directory left behind" on bad input; files inside
    should still be written with :func:`atomic_path`.
    """
    out = Path(out)
    existed = out.exists()
    if existed and not out.is_dir():
        from ssnenas.errors import InputError

        raise InputError(f"--out {out}: exists and is not a directory; pass a directory path")
    out.mkdir(parents=True, exist_ok=True)
    try:
        yield out
    except BaseException:
        if not existed:
            shutil.rmtree(out, ignore_errors=True)
        raise


def atomic_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON to ``path`` atomically (run configs and summaries)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")
