"""Progress display that suits where the output goes.

On a terminal: a tqdm bar. Anywhere else (a log file, a pipe, a Ray worker's log): no bar, since
tqdm rewrites its line with carriage returns and a log then keeps every step's redraw (a 150-epoch
SS-CCL pre-training wrote one bar per step); instead :class:`LogProgress` writes a plain line at
most every ``every_s`` seconds and one when it closes.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

#: Seconds between two plain progress lines in a log.
LOG_EVERY_S = 60.0


def on_terminal(stream: TextIO | None = None) -> bool:
    """True when ``stream`` (default stderr) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


class LogProgress:
    """The part of tqdm's interface the project uses (``update``, ``set_postfix``,
    ``set_postfix_str``, ``write``, ``close``, context manager), writing plain lines:
    ``DESC: N/TOTAL UNIT (P%), POSTFIX, T s`` at most every ``every_s`` seconds and at close."""

    def __init__(self, *, total: int | None, desc: str = "", unit: str = "it", initial: int = 0,
                 file: TextIO | None = None, every_s: float = LOG_EVERY_S, enabled: bool = True) -> None:
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.file, self.every_s, self.enabled = file, every_s, enabled
        self.postfix = ""
        self._t0 = self._last = time.monotonic()
        self._closed = False
        self._dirty = False

    def _line(self) -> str:
        done = f"{self.n:,}" if self.total is None else f"{self.n:,}/{self.total:,}"
        share = f" ({100 * self.n / self.total:.1f}%)" if self.total else ""
        post = f", {self.postfix}" if self.postfix else ""
        return f"{self.desc + ': ' if self.desc else ''}{done} {self.unit}{share}{post}, " \
               f"{time.monotonic() - self._t0:.0f} s"

    def _emit(self) -> None:
        print(self._line(), file=self.file or sys.stderr, flush=True)
        self._last = time.monotonic()
        self._dirty = False

    def update(self, n: int = 1) -> None:
        self.n += n
        self._dirty = True
        if self.enabled and time.monotonic() - self._last >= self.every_s:
            self._emit()

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **kwargs: Any) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def write(self, s: str, file: TextIO | None = None) -> None:
        print(s, file=file or self.file or sys.stdout, flush=True)

    def close(self) -> None:
        if not self._closed and self.enabled and self._dirty:
            self._emit()
        self._closed = True

    def __enter__(self) -> "LogProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress_bar(*, total: int | None, desc: str = "", unit: str = "it", enabled: bool = True,
                 file: TextIO | None = None, every_s: float = LOG_EVERY_S, **tqdm_kwargs: Any) -> Any:
    """A tqdm bar when ``file`` (default stderr) is a terminal, else a :class:`LogProgress`;
    ``enabled=False`` shows nothing at all (``--quiet`` / ``--no-progress``)."""
    stream = sys.stderr if file is None else file
    if enabled and on_terminal(stream):
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, file=stream, dynamic_ncols=True, **tqdm_kwargs)
    return LogProgress(total=total, desc=desc, unit=unit, initial=int(tqdm_kwargs.get("initial", 0)),
                       file=file, every_s=every_s, enabled=enabled)
