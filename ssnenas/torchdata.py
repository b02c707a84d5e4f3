"""Files of tensors and plain values: written by ``torch.save``, read by ``torch.load(weights_only=True)``.

The project's own state files (DARTS trainer checkpoints, searcher states) hold only tensors, ``None``,
bools, numbers, strings, bytes and lists / tuples / sets / dicts of them, so reading one runs no code
from the file: a checkpoint or run folder someone sent cannot carry a payload. What the searchers keep
beyond that (numpy generators, arrays and scalars) is written as tagged plain values by
:func:`to_plain` and rebuilt by :func:`from_plain`.

A file that needs full unpickling (written before these formats, or crafted) is refused with one
line naming it and the fix; ``trust_pickle=True`` (``--trust-pickle``) reads it anyway, for files
the user trusts.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from ssnenas.atomic import atomic_path
from ssnenas.errors import DataFormatError

log = logging.getLogger(__name__)

_PLAIN = (type(None), bool, int, float, complex, str, bytes, torch.Tensor, torch.dtype, torch.device,
          torch.Size)
_TAG = "__ssnenas__"


def to_plain(obj: Any, where: str = "state") -> Any:
    """``obj`` with numpy generators, arrays and scalars replaced by tagged plain values; ``TypeError``
    naming the place (``where``) of anything else that would need pickling."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, np.generic):
        return {_TAG: "np.scalar", "dtype": obj.dtype.str, "value": obj.item()}
    if isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biufc":
            raise TypeError(f"{where}: a numpy array of dtype {obj.dtype} cannot be stored as data")
        return {_TAG: "np.ndarray", "dtype": obj.dtype.str, "data": torch.from_numpy(np.array(obj, copy=True))}
    if isinstance(obj, np.random.Generator):
        return {_TAG: "np.Generator", "state": obj.bit_generator.state}
    if isinstance(obj, torch.Generator):
        return {_TAG: "torch.Generator", "state": obj.get_state()}
    if isinstance(obj, dict):
        if _TAG in obj:
            raise TypeError(f"{where}: a dict with the reserved key {_TAG!r}")
        items = {k: to_plain(v, f"{where}[{k!r}]") for k, v in obj.items()}
        return OrderedDict(items) if isinstance(obj, OrderedDict) else items
    if isinstance(obj, list):
        return [to_plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, tuple) and type(obj) is tuple:
        return tuple(to_plain(v, f"{where}[{i}]") for i, v in enumerate(obj))
    if isinstance(obj, (set, frozenset)):
        return {_TAG: "set", "items": [to_plain(v, f"{where}{{}}") for v in obj]}
    raise TypeError(f"{where}: a {type(obj).__module__}.{type(obj).__qualname__} cannot be stored as data "
                    "(tensors, numbers, strings and containers of them only)")


def from_plain(obj: Any) -> Any:
    """Inverse of :func:`to_plain`."""
    if isinstance(obj, dict):
        tag = obj.get(_TAG)
        if tag is None:
            items = {k: from_plain(v) for k, v in obj.items()}
            return OrderedDict(items) if isinstance(obj, OrderedDict) else items
        if tag == "np.scalar":
            return np.dtype(obj["dtype"]).type(obj["value"])
        if tag == "np.ndarray":
            return obj["data"].numpy().astype(np.dtype(obj["dtype"]), copy=False)
        if tag == "np.Generator":
            state = obj["state"]
            gen = np.random.Generator(getattr(np.random, state["bit_generator"])())
            gen.bit_generator.state = state
            return gen
        if tag == "torch.Generator":
            gen = torch.Generator()
            gen.set_state(obj["state"])
            return gen
        if tag == "set":
            return {from_plain(v) for v in obj["items"]}
        raise DataFormatError(f"unknown tagged value {tag!r} in a data file")
    if isinstance(obj, list):
        return [from_plain(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(from_plain(v) for v in obj)
    return obj


def save_data(path: str | os.PathLike, obj: Any) -> None:
    """``torch.save`` ``obj`` (checked plain: :func:`check_plain`) to ``path`` atomically."""
    check_plain(obj)
    buf = io.BytesIO()
    torch.save(obj, buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())


def check_plain(obj: Any, where: str = "state") -> None:
    """``TypeError`` naming the first value in ``obj`` that ``torch.load(weights_only=True)`` would refuse."""
    if isinstance(obj, _PLAIN):
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            check_plain(k, f"{where} key")
            check_plain(v, f"{where}[{k!r}]")
        return
    if isinstance(obj, (list, tuple, set, frozenset)) and type(obj) in (list, tuple, set, frozenset):
        for i, v in enumerate(obj):
            check_plain(v, f"{where}[{i}]")
        return
    raise TypeError(f"{where}: a {type(obj).__module__}.{type(obj).__qualname__} is not plain data")


def refusal(path: str | os.PathLike, what: str, *, hint: str = "") -> DataFormatError:
    """The one-line refusal of a file that needs unpickling."""
    return DataFormatError(
        f"{path}: {what} that is not plain data (reading it needs unpickling, which can run code from the "
        f"file); only if you trust where it came from, pass --trust-pickle{hint}")


def load_data(path: str | os.PathLike, what: str, *, trust_pickle: bool = False, hint: str = "",
              map_location: Any = "cpu") -> Any:
    """The content of a :func:`save_data` file, read with ``torch.load(weights_only=True)``.

    A file that only full unpickling reads is refused (:func:`refusal`, ``what`` says what it should
    be, ``hint`` follows the ``--trust-pickle`` advice) unless ``trust_pickle``: then it is read with
    ``torch.load(weights_only=False)``, or, for a plain ``pickle.dump`` file, ``pickle.load``.
    A missing, truncated or foreign file is a :class:`DataFormatError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file ({what})")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if not _needs_pickle(exc, path):
            raise DataFormatError(f"{path}: not a readable {what} ({_first_line(exc)})") from None
        if not trust_pickle:
            raise refusal(path, what, hint=hint) from None
    except Exception as exc:  # truncated, not a torch file, ...
        raise DataFormatError(f"{path}: not a readable {what} ({type(exc).__name__}: {_first_line(exc)})") from None
    log.warning("unpickling %s (--trust-pickle): a pickle runs whatever code it names", path)
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception:
        with open(path, "rb") as fh:  # a plain pickle.dump file (torch's legacy reader wants a magic number)
            return pickle.load(fh)


def _needs_pickle(exc: BaseException, path: Path) -> bool:
    """True when ``torch.load(weights_only=True)`` refused ``path`` because it needs full unpickling: it
    names a global outside the allowed types, or it is a pickle (protocol 2+ starts with 0x80) of a
    protocol torch's data reader does not take; anything else is a damaged or foreign file."""
    text = str(exc)
    if "GLOBAL" in text or "Unsupported global" in text or "Unsupported class" in text:
        return True
    with open(path, "rb") as fh:
        return fh.read(1) == b"\x80"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


_trusted = 0


@contextlib.contextmanager
def trusting_pickles() -> Iterator[None]:
    """Inside this block, loaders asked without an explicit ``trust_pickle`` trust pickles (the
    ``--trust-pickle`` of a command whose files are read deep inside a library, e.g. a searcher
    state that ``ray.tune.Tuner.restore`` loads)."""
    global _trusted
    _trusted += 1
    try:
        yield
    finally:
        _trusted -= 1


def pickles_trusted() -> bool:
    """True inside :func:`trusting_pickles`."""
    return _trusted > 0
