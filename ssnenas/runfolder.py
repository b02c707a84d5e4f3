"""Run folders: whether an ``--out`` folder is new, holds a run to resume, or must be refused.

Shared by the two drivers (the benchmark runner, ``ssnenas.runner``, and the DARTS search) and by
``unpack``, so that every command that writes a run folder applies the same rules:

- a missing folder, or one holding only hidden files (``.DS_Store``), is new: a run goes there;
- a folder with a ``config.json`` holds a run: it may be resumed only by a run of the same kind
  whose identity fields agree (each driver says which fields those are);
- a file, or a non-empty folder without ``config.json``, is refused: writing there could mix a run
  into other files.

Every refusal is one :class:`~ssnenas.errors.InputError` line that names the folder and the fix.

A folder a command is writing is held by it (``FOLDER/.lock``, :mod:`ssnenas.runlock`): the drivers
hold their ``--out`` for their whole run, and :func:`check_not_in_use` is the check of a command that
must not write into a folder another command holds (``unpack``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping

from ssnenas.errors import InputError

CONFIG_FILE = "config.json"


def holds_run(folder: Path, label: str = "", *, what: str = "benchmark run") -> bool:
    """Whether ``folder`` holds a run (its ``config.json``); False when it is missing or empty (a new
    run goes there). :class:`InputError`, its message prefixed by ``label`` (e.g. ``"--out "``), when it
    is a file or a non-empty folder that is not a run (``what`` names the kind of run expected)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{label}{folder}: exists and is not a directory; pass a run folder")
    if (folder / CONFIG_FILE).is_file():
        return True
    if folder.is_dir() and any(not p.name.startswith(".") for p in folder.iterdir()):
        raise InputError(f"{label}{folder}: a non-empty folder that is not a {what}; pass a new folder")
    return False


def existing_run(folder: Path, label: str = "--out ", *, kind: str | None = None,
                 what: str = "benchmark run") -> dict[str, Any] | None:
    """The ``config.json`` of the run in ``folder``, or None when ``folder`` is new (:func:`holds_run`).

    With ``kind``, a run of another kind (a benchmark run where a DARTS search is asked for, say) is
    refused; an unreadable config is refused too: a damaged run is not silently overwritten."""
    folder = Path(folder)
    if not holds_run(folder, label, what=what):
        return None
    path = folder / CONFIG_FILE
    try:
        old = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: unreadable ({exc}); pass a new {label.strip() or 'run'} folder") from exc
    if not isinstance(old, dict):
        raise InputError(f"{path}: not a run config (a JSON object was expected); pass a new "
                         f"{label.strip() or 'run'} folder")
    if kind is not None and old.get("kind") != kind:
        raise InputError(f"{label}{folder}: holds a run of kind {old.get('kind')!r}, not a {what}; "
                         f"pass another {label.strip() or 'run'} folder")
    return old


def differences(old: Mapping[str, Any], new: Mapping[str, Any], fields: Iterable[str],
                defaults: Mapping[str, Any] | None = None) -> list[str]:
    """``"FIELD: NEW now vs OLD there"`` for each of ``fields`` whose value differs (an old config
    lacking a field has its value from ``defaults``: written before the field existed)."""
    defaults = defaults or {}
    return [f"{k}: {new.get(k)!r} now vs {old.get(k, defaults.get(k))!r} there"
            for k in fields if old.get(k, defaults.get(k)) != new.get(k)]


def check_not_in_use(folder: Path, what: str) -> None:
    """Refuse (:class:`~ssnenas.errors.RunFolderBusy`, one line naming the holder) ``what`` (e.g.
    ``"unpack"``) into ``folder`` while another live command holds its lock; a lock of this very
    process (a command that took the lock itself before writing) or of a dead holder does not refuse."""
    import os

    from ssnenas.runlock import holder_state, read_lock, refuse_if_held

    info = read_lock(folder)
    if info is not None and info.get("pid") == os.getpid() and holder_state(info)[0] == "alive":
        return
    refuse_if_held(folder, what)


def refuse_other_run(folder: Path, diffs: list[str], *, label: str = "--out ", what: str = "run",
                     resume: str = "repeat its original command to resume it") -> None:
    """Raise the one-line refusal of a run folder whose run differs in ``diffs`` (no-op when empty)."""
    if diffs:
        raise InputError(f"{label}{folder} holds a {what} with a different config ({'; '.join(diffs)}); "
                         f"{resume}, or pass a new {label.strip() or 'run'} folder")
