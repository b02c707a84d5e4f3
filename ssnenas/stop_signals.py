"""SIGTERM stops a long command the way Ctrl-C does.

Why: a scheduler (SLURM, Kubernetes, systemd, ``kill PID``) asks a job to stop with SIGTERM, and a command
started in the background by a script (``nohup cmd &`` without job control) inherits SIGINT *ignored*, so
SIGTERM is then the only polite signal left. Ray's own driver handler answers SIGTERM by killing its
workers under the driver and exiting, which skips the command's "interrupted: N finished and are kept"
path. Inside :func:`sigterm_stops_like_ctrl_c` the first SIGTERM runs what SIGINT would run now (Tune's
graceful stop during a search, ``KeyboardInterrupt`` elsewhere, also when SIGINT is ignored); a second one
gets the handler that was there before (Ray's: stop at once).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType


def sigint_ignored() -> bool:
    """Whether this process ignores SIGINT (inherited from a background start), so Ctrl-C / ``kill -INT``
    cannot stop it."""
    return signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def say_if_sigint_ignored() -> None:
    """Print, to stderr, the one line a long command gives at its start when SIGINT is ignored: how to stop
    it instead (SIGTERM, see :func:`sigterm_stops_like_ctrl_c`)."""
    if sigint_ignored():
        print(f"note: this process ignores SIGINT (started in the background); stop it with `kill {os.getpid()}` "
              "(SIGTERM), which keeps what finished as Ctrl-C does", file=sys.stderr, flush=True)


@contextlib.contextmanager
def sigterm_stops_like_ctrl_c() -> Iterator[None]:
    """Within the block, SIGTERM does what SIGINT's current handler does (``KeyboardInterrupt`` when that
    is the default or ignored); the handler before the block is restored after it, and after the first
    SIGTERM, so a second one stops the process the old way. Outside the main thread it does nothing
    (Python delivers signals to the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.getsignal(signal.SIGTERM)
    if before is None:  # a handler installed outside Python: the default is the nearest we can restore
        before = signal.SIG_DFL

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, before)
        on_sigint = signal.getsignal(signal.SIGINT)
        if callable(on_sigint) and on_sigint is not signal.default_int_handler:
            on_sigint(signal.SIGINT, frame)  # e.g. Ray Tune's handler: it stops the experiment gracefully
            return
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)
