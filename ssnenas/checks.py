"""Checks of the numbers and paths a user gives, each failing with one :class:`InputError` line that
names the flag, the value and the fix.

Why one module: every command takes counts, rates, seeds and paths, and each used to check (or not)
its own way: ``--epochs 0`` fell through ``args.epochs or DEFAULT`` to the full default schedule, a
negative seed reached numpy as a traceback, ``--out`` on an existing file ended in a
``FileExistsError``. The configs of the library (``SSRLConfig``, ``StudyConfig``, ...) and the CLI
commands use these, so a bad value is refused before anything is read or written.

The upper bounds are typo guards, far above any real use (a billion trials, a million epochs), so
that ``--epochs 1000000000000`` is refused instead of running for ever.
"""

from __future__ import annotations

import math
import numbers
import os
import socket
from pathlib import Path
from typing import Any

from ssnenas.errors import InputError, SsnenasError

#: more of anything than this is a typo (architectures, repeats, trials, batch sizes)
MAX_COUNT = 10 ** 9
#: epochs of any training
MAX_EPOCHS = 10 ** 6
#: seeds are whole numbers in [0, 2**63): numpy and torch take them all
MAX_SEED = 2 ** 63 - 1
#: learning rates above this are typos (Adam's useful range ends orders of magnitude below)
MAX_LR = 10.0
#: CPUs or GPUs (of a local Ray, per task, per trial): more than a million is a typo. Only this is
#: refused before Ray starts, not more GPUs than this machine has: a cluster joined with --address has
#: its own
MAX_RESOURCES = 10 ** 6


def check_int(flag: str, value: Any, *, minimum: int = 1, maximum: int = MAX_COUNT, hint: str = "") -> None:
    """``value`` (None: unset, accepted) must be a whole number in [``minimum``, ``maximum``]."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{flag} {value!r}: must be a whole number{hint}")
    if value < minimum:
        raise InputError(f"{flag} {value}: must be >= {minimum}{hint}")
    if value > maximum:
        raise InputError(f"{flag} {value}: must be <= {maximum:,}{hint}")


def check_seed(flag: str, value: Any) -> None:
    """A seed: a whole number in [0, 2**63)."""
    check_int(flag, value, minimum=0, maximum=MAX_SEED, hint=" (seeds are whole numbers from 0 to 2**63 - 1)")


def check_float(flag: str, value: Any, *, minimum: float, maximum: float, above: bool = False,
                below: bool = False, hint: str = "") -> None:
    """``value`` (None: unset) must be finite and in the range: ``above``/``below`` make the
    ends exclusive (``> minimum`` / ``< maximum``)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{flag} {value!r}: must be a number{hint}")
    if not math.isfinite(value):
        raise InputError(f"{flag} {value}: must be a finite number{hint}")
    if value < minimum or (above and value == minimum):
        raise InputError(f"{flag} {value}: must be {'>' if above else '>='} {minimum:g}{hint}")
    if value > maximum or (below and value == maximum):
        raise InputError(f"{flag} {value}: must be {'<' if below else '<='} {maximum:g}{hint}")


def _label(flag: str, path: Path) -> str:
    """``--out PATH``, or ``PATH`` alone for a positional argument (``flag=""``)."""
    return f"{flag} {path}" if flag else str(path)


def _writable_parent(flag: str, path: Path) -> None:
    """The first existing folder above ``path`` must be a folder we may write into."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        if parent.is_symlink():  # a dangling link: mkdir would fail on it
            raise InputError(f"{_label(flag, path)}: {parent} is a broken link; pass a path in an existing folder")
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{_label(flag, path)}: {parent} is a file, not a folder, so nothing can be written "
                         "there; pass a path in a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{_label(flag, path)}: the folder {parent} is not writable; pass a path in a folder "
                         "you may write to")


def check_out_file(flag: str, path: str | os.PathLike | None) -> Path | None:
    """A file to write: not a folder, and in a place that can be written (missing folders are made).
    ``flag=""`` for a positional argument: the message then names the path alone."""
    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{_label(flag, path)}: is a folder; pass a file path (e.g. {path / 'NAME'})")
    _writable_parent(flag, path)
    return path


def check_out_dir(flag: str, path: str | os.PathLike | None) -> Path | None:
    """A folder to write into: an existing folder, or a new one in a place that can be written."""
    if path is None:
        return None
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{_label(flag, path)}: exists and is not a folder; pass a folder path")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise InputError(f"{_label(flag, path)}: the folder is not writable; pass a folder you may write to")
        return path
    _writable_parent(flag, path)
    return path


def check_run_out(flag: str, path: str | os.PathLike | None) -> Path | None:
    """The folder of a run (``benchmark``, ``search``, ``retrain`` ``--out``): :func:`check_out_dir`,
    except that an existing file is left to the run-folder check (:func:`ssnenas.runfolder.holds_run`),
    which refuses it in the words every run command uses. Why here: a path under a file, or in a
    folder that cannot be written, would otherwise pass that check and fail only when the run's lock
    is taken."""
    if path is not None and Path(path).is_file():
        return Path(path)
    return check_out_dir(flag, path)


def check_in_file(flag: str, path: str | os.PathLike | None, *, fix: str = "") -> Path | None:
    """A file to read: it exists and is not a folder."""
    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{_label(flag, path)}: is a folder, not a file{'; ' + fix if fix else ''}")
    if not path.is_file():
        raise InputError(f"{_label(flag, path)}: no such file{'; ' + fix if fix else ''}")
    return path


def naming_flag(flag: str, value: Any, exc: SsnenasError) -> SsnenasError:
    """``exc`` (about the file ``value`` came from) with ``flag`` in front when its message starts
    with ``value`` and does not name the flag yet: the library names the file, the CLI knows the flag."""
    text = str(exc)
    if text.startswith(flag) or not text.startswith(str(value)):
        return exc
    return type(exc)(f"{flag} {text}")


def check_address(address: str | None, flag: str = "--address") -> None:
    """Fail fast, in one line, on a Ray ``HOST:PORT`` that is malformed or that nothing listens on
    (``auto``, ``local``, ``ray://`` addresses and None pass): before a command takes its run folder
    or starts anything, instead of a connection error once it has."""
    if address in (None, "auto", "local") or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"{flag} {address!r}: expected 'auto', 'local' or HOST:PORT of a Ray head node")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except (OSError, OverflowError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise InputError(f"{flag} {address}: no Ray cluster reachable there ({reason}); start one with "
                         "`ray start --head` / `ray up cluster.yaml`, or omit --address for a local Ray") from exc
