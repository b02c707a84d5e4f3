"""The few exception types a user sees.

Every message names the offending input (file, argument, row) and says what to do about it.
The CLI prints ``error: <message>`` without a traceback and exits with status 2.
"""

from __future__ import annotations


class SsnenasError(Exception):
    """Base class of every user-facing error."""


class InputError(SsnenasError, ValueError):
    """A bad argument or architecture string (unknown dataset, malformed arch, ...)."""


class DataFormatError(SsnenasError):
    """A data file that is missing, truncated, corrupt or not what it claims to be."""


class StoreError(SsnenasError):
    """A prepared benchmark store that is missing, of the wrong kind, or lacks a key."""


class RunFolderBusy(InputError):
    """A run folder that another command holds (its ``.lock``, :mod:`ssnenas.runlock`): two writers
    of one folder would run the same tasks twice and could mix two runs' files."""
