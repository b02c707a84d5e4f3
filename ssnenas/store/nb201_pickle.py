"""Restricted unpickling of the NATS-Bench topology files (``*.pickle.pbz2``).

A NATS-Bench ``NATS-tss-v1_0-3ffb9-simple`` folder holds bz2-compressed pickles (protocol 4) of plain
state dicts (the files the ``nats_bench`` package reads). Plain ``pickle.load`` would run whatever a
file names, so this module unpickles with an allow-list: the builtin containers/scalars and
``collections`` types the files need, plus numpy scalars (``numpy._core.multiarray.scalar`` with its ``numpy.dtype``). Anything else
(a class, a function such as ``os.system``) is refused with a :class:`DataFormatError` before it is
called. NumPy arrays are not on the list: the files hold numbers and lists only.
"""

from __future__ import annotations

import bz2
import importlib
import os
import pickle
from pathlib import Path
from typing import Any

from ssnenas.errors import DataFormatError

#: (module, name) pairs a file may reference; everything else is refused.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    *(("builtins", name) for name in (
        "dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "str", "bytes",
        "bytearray", "bool", "NoneType")),
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),   # files written with numpy < 2
    ("numpy._core.multiarray", "scalar"),  # files written with numpy >= 2
})


def _numpy_scalar():
    """``numpy._core.multiarray.scalar`` (numpy 2) or ``numpy.core.multiarray.scalar`` (numpy 1),
    imported without touching the deprecated ``numpy.core`` alias on numpy 2."""
    try:
        return importlib.import_module("numpy._core.multiarray").scalar
    except ModuleNotFoundError:  # numpy < 2
        return importlib.import_module("numpy.core.multiarray").scalar


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only :data:`ALLOWED_GLOBALS`.

    ``source`` names the file in the refusal message.
    """

    def __init__(self, file, *, source: str | os.PathLike = "<stream>") -> None:
        super().__init__(file)
        self._source = str(source)

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise DataFormatError(
                f"{self._source}: refuses to unpickle global {module}.{name} (only builtin containers, "
                "collections types and numpy scalars are allowed in NATS-Bench files); is this really a "
                "NATS-Bench topology file? Re-download NATS-tss-v1_0-3ffb9-simple")
        if name == "scalar":
            return _numpy_scalar()
        if module == "numpy":
            import numpy

            return numpy.dtype
        return super().find_class(module, name)


def load_pbz2(path: str | os.PathLike) -> Any:
    """Unpickle one bz2-compressed pickle with :class:`RestrictedUnpickler`.

    Raises :class:`DataFormatError` naming ``path`` when the file is missing, not bz2, truncated, not
    a pickle, or references a global outside the allow-list.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: file not found; the NATS-Bench folder is incomplete, re-extract "
                              "NATS-tss-v1_0-3ffb9-simple.tar")
    try:
        with bz2.open(path, "rb") as f:
            return RestrictedUnpickler(f, source=path).load()
    except DataFormatError:
        raise
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError,
            IndexError, KeyError) as exc:
        raise DataFormatError(f"{path}: not a readable bz2 pickle ({type(exc).__name__}: {exc}); the file "
                              "is corrupt or truncated, re-extract NATS-tss-v1_0-3ffb9-simple.tar") from exc

