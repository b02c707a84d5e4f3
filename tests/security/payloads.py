"""Harmless payloads for the security tests: objects that, if a reader unpickles them, create a marker
file (and do nothing else). A test writes its payload under ``tmp_path`` and asserts that the marker
never appears and that the command refused the file with one line.

``Touch(marker)`` pickles as a call of ``os.system("touch MARKER")`` (``posix.system`` on Linux), the
classic gadget: a reader that resolves any global runs it. ``touch_marker_pickle`` returns such a
pickle's bytes, ``wrap`` puts the payload inside a container the reader expects.
"""

from __future__ import annotations

import os
import pickle
import shlex
from pathlib import Path
from typing import Any


class Touch:
    """Unpickling this runs ``touch MARKER``."""

    def __init__(self, marker: str | os.PathLike) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {shlex.quote(self.marker)}",))


def touch_marker_pickle(marker: str | os.PathLike, *, inside: Any = None, protocol: int = 2) -> bytes:
    """Pickled bytes that run ``touch MARKER`` when loaded; ``inside`` (a dict) gets the payload under
    its ``"payload"`` key, so the file looks like the expected container at first sight."""
    obj: Any = Touch(marker)
    if inside is not None:
        obj = {**inside, "payload": obj}
    return pickle.dumps(obj, protocol=protocol)


def assert_no_marker(marker: str | os.PathLike) -> None:
    """The payload did not run."""
    assert not Path(marker).exists(), f"the payload ran: {marker} exists"
