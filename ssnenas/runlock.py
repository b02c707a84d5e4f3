"""One owner per run folder: ``FOLDER/.lock`` says which command is writing it.

Two drivers writing one ``--out`` folder would run the same tasks twice and could mix two runs' files,
on one machine or on a cluster's shared file system. A driver therefore holds the folder's lock for its
whole run::

    with hold_run_folder(out, shlex.join(sys.argv)) as lock:
        ...                                   # lock.note: the takeover note, if any

The lock is a small JSON file (host, pid, start time, command line, a random token, and what tells a
dead holder from a live one). It is created the way that is atomic on NFS (v2 included) and local file
systems alike: the content is written to a private temporary file which is then hard-linked to
``.lock`` (``link`` fails when ``.lock`` exists); where hard links are not supported it falls back to
``O_CREAT | O_EXCL``. A reader never sees a half-written lock in the first case and retries briefly in
the second.

A second command gets :class:`~ssnenas.errors.RunFolderBusy`, one line naming the holder and the fix.
A lock whose holder is gone is taken over with a note: same host and pid namespace, and the pid no
longer runs, or runs a process that started after the lock was written (the pid was reused; checked
through ``/proc`` where there is one), or the machine has restarted since (another boot id). A lock
written on another host, or in another container of this host (another pid namespace), is never taken
over: whether its holder lives cannot be told from here.

Readers (``report``, ``pack``) do not take the lock; :func:`read_lock` shows who holds it, and
:func:`refuse_if_held` is the check of a command that must not write into a held folder (``unpack``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import shlex
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

from ssnenas.errors import InputError, RunFolderBusy

LOCK_FILE = ".lock"
LOCK_FORMAT = "ssnenas-run-lock/1"
#: How long a reader retries a lock that is empty or half-written (only the ``O_EXCL`` fallback, on a
#: file system without hard links, writes the file in place).
_PARTIAL_WAIT_S = 1.0
#: How long :meth:`RunLock.acquire` keeps trying while the lock changes hands (another command taking
#: over a dead holder's lock at the same moment) before it gives up.
_ACQUIRE_S = 10.0
#: A takeover marker older than this was left by a command that died while taking over: removed.
_TAKEOVER_STALE_S = 30.0

ALIVE, DEAD, REMOTE = "alive", "dead", "remote"


# -- who is this process ----------------------------------------------------------------------------
def _host() -> str:
    return socket.gethostname() or os.uname().nodename


def _read_text(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _boot_id() -> str | None:
    """This boot of this machine (Linux); a lock from another boot has a dead holder."""
    return _read_text("/proc/sys/kernel/random/boot_id")


def _pid_namespace() -> str | None:
    """The pid namespace (Linux): pids of another container mean nothing here."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _process_start(pid: int) -> int | None:
    """Start time of process ``pid`` in clock ticks since boot (``/proc/PID/stat`` field 22), or None
    where there is no ``/proc``; together with the pid it names one process, not a reused pid."""
    text = _read_text(f"/proc/{pid}/stat")
    if not text or ")" not in text:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name (field 2) may hold spaces and ')'
    try:
        return int(fields[19])  # fields[0] is field 3 (state); starttime is field 22
    except (IndexError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


# -- the lock file ----------------------------------------------------------------------------------
def lock_path(folder: str | os.PathLike) -> Path:
    """``FOLDER/.lock``."""
    return Path(folder) / LOCK_FILE


def _malformed(path: Path, why: str) -> RunFolderBusy:
    return RunFolderBusy(f"{path}: not a readable run lock ({why}); if no ssnenas command is working in "
                         f"{path.parent}, remove {path}")


def _parse(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        info = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _malformed(path, f"not JSON: {exc}") from None
    if not isinstance(info, dict):
        raise _malformed(path, "not a JSON object")
    for name, kind in (("host", str), ("pid", int), ("token", str), ("started", str)):
        value = info.get(name)
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value <= 0):
            raise _malformed(path, f"field {name!r} is {value!r}")
    return info


def _read_file(path: Path) -> dict[str, Any] | None:
    """The parsed lock at ``path``, None when there is none; an empty or invalid file is retried for
    :data:`_PARTIAL_WAIT_S` while it is young (being written in place), then refused."""
    deadline = time.monotonic() + _PARTIAL_WAIT_S
    while True:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise _malformed(path, "a directory") from None
        except OSError as exc:
            raise _malformed(path, str(exc)) from None
        try:
            return _parse(path, raw)
        except RunFolderBusy:
            try:
                young = time.time() - path.stat().st_mtime < 2 * _PARTIAL_WAIT_S
            except FileNotFoundError:
                return None
            if not young or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def read_lock(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The lock of run folder ``folder`` (host, pid, started, command, token, ...), or None when no
    command holds it. Does not take the lock: for readers such as ``report`` and ``pack``. A malformed
    lock raises :class:`RunFolderBusy` naming the file and how to clear it."""
    return _read_file(lock_path(folder))


def holder_state(info: dict[str, Any]) -> tuple[str, str]:
    """``(state, why)`` of a lock's holder: :data:`ALIVE` (or cannot be ruled out on this machine),
    :data:`DEAD` (with why: the note's words), or :data:`REMOTE` (another host or container: never
    taken over automatically)."""
    if info.get("host") != _host():
        return REMOTE, f"written on host {info.get('host')}"
    ns, here_ns = info.get("pid_ns"), _pid_namespace()
    if ns and here_ns and ns != here_ns:
        return REMOTE, f"written in another container of {info.get('host')} ({ns})"
    boot, here_boot = info.get("boot_id"), _boot_id()
    if boot and here_boot and boot != here_boot:
        return DEAD, "the machine has restarted since"
    pid = int(info["pid"])
    if not _pid_alive(pid):
        return DEAD, "it no longer runs"
    recorded, now = info.get("proc_start"), _process_start(pid)
    if recorded is not None and now is not None and recorded != now:
        return DEAD, f"it has ended (pid {pid} is now another process)"
    return ALIVE, "it is running"


def describe(info: dict[str, Any]) -> str:
    """``pid 12 on host h since 2026-01-01T00:00:00+00:00 (ssnenas benchmark ...)``: one line."""
    command = " ".join(str(info.get("command") or "").split())  # one line, whatever it held
    if len(command) > 200:
        command = command[:197] + "..."
    return (f"pid {info.get('pid')} on host {info.get('host')} since {info.get('started')}"
            + (f" ({command})" if command else ""))


def _busy(folder: Path, info: dict[str, Any], state: str, prefix: str = "") -> RunFolderBusy:
    path = lock_path(folder)
    if state == REMOTE:
        fix = (f"wait for it, or stop it on {info.get('host')}; if it is gone (its machine or container "
               f"stopped), remove {path}")
    else:
        fix = f"wait for it, or stop it (kill {info.get('pid')}), then run again"
    return RunFolderBusy(f"{prefix}{folder} is in use by another command: {describe(info)}; {fix}")


def check_free(folder: str | os.PathLike, what: str | None = None) -> None:
    """Raise the :class:`RunFolderBusy` that taking ``folder``'s lock would raise now (a live command
    holds it), without taking it. A driver checks this first, to be refused at once rather than after
    its slower checks, and takes the lock (:func:`hold_run_folder`) before it writes; ``what`` (e.g.
    ``"unpack"``) names an action that only must not write into a held folder. A lock whose holder is
    gone does not refuse (the next driver takes it over), nor does a folder without a lock."""
    folder = Path(folder)
    info = read_lock(folder)
    if info is None:
        return
    state, _ = holder_state(info)
    if state != DEAD:
        raise _busy(folder, info, state, prefix=f"{what} into {folder} refused: " if what else "")


def refuse_if_held(folder: str | os.PathLike, what: str) -> None:
    """:func:`check_free` for the action ``what`` (e.g. ``"unpack"``), named in the refusal."""
    check_free(folder, what)


# -- holding ----------------------------------------------------------------------------------------
def _to_stderr(note: str) -> None:
    print(f"note: {note}", file=sys.stderr, flush=True)


def _create(path: Path, payload: bytes, token: str) -> bool:
    """Create ``path`` holding ``payload`` atomically; False when it exists already."""
    tmp = path.with_name(f"{path.name}.{token}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK):
                return _create_in_place(path, payload)  # no hard links here (some FUSE / SMB mounts)
            # NFS: the link may have been made though its reply was lost; then tmp has two names
            if os.stat(tmp).st_nlink == 2:
                return True
            raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _create_in_place(path: Path, payload: bytes) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as f:
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    return True


class RunLock:
    """The lock of one run folder, held between :meth:`acquire` and :meth:`release` (or a ``with``).

    ``note`` is the takeover note (None when the folder was free); ``info`` the lock's content.
    A folder that did not exist is made, and removed again on release if it is still empty, so a
    command refused after taking the lock leaves nothing behind.
    """

    def __init__(self, folder: str | os.PathLike, command: str | None = None, *,
                 on_note: Callable[[str], None] | None = _to_stderr) -> None:
        self.folder = Path(folder)
        self.path = lock_path(self.folder)
        self.command = command if command is not None else shlex.join(sys.argv)
        self.on_note = on_note
        self.info: dict[str, Any] | None = None
        self.note: str | None = None
        self._made_folder = False

    @property
    def held(self) -> bool:
        return self.info is not None

    def _content(self) -> dict[str, Any]:
        pid = os.getpid()
        info: dict[str, Any] = {
            "format": LOCK_FORMAT,
            "host": _host(),
            "pid": pid,
            "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": self.command,
            "token": uuid.uuid4().hex,
        }
        for name, value in (("proc_start", _process_start(pid)), ("boot_id", _boot_id()),
                            ("pid_ns", _pid_namespace())):
            if value is not None:
                info[name] = value
        return info

    def acquire(self) -> RunLock:
        """Take the folder's lock; :class:`RunFolderBusy` naming the holder when a live command (or one
        on another host) holds it. A dead holder's lock is taken over, with :attr:`note` saying so."""
        if self.held:
            raise InputError(f"{self.path}: this RunLock holds it already; release it first")
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"{self.folder}: exists and is not a directory; pass a run folder")
        info = self._content()
        payload = (json.dumps(info, indent=1, sort_keys=True) + "\n").encode()
        notes = []
        try:
            if not self.folder.exists():
                try:
                    self.folder.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise InputError(f"{self.folder}: cannot make this run folder ({exc.strerror or exc}); "
                                     "pass a folder you can write to") from exc
                self._made_folder = True
            deadline = time.monotonic() + _ACQUIRE_S
            while not self._create(payload, info["token"]):
                if time.monotonic() > deadline:
                    raise RunFolderBusy(f"{self.folder}: its lock {self.path} kept changing hands for {_ACQUIRE_S:g} s "
                                        "while this command tried to take it; another command is starting there: "
                                        "try again")
                other = _read_file(self.path)
                if other is None:  # released meanwhile
                    continue
                state, why = holder_state(other)
                if state != DEAD:
                    raise _busy(self.folder, other, state)
                if self._remove_stale(other):
                    notes.append(f"taking over {self.path} of dead pid {other['pid']} started "
                                 f"{other['started']} on {other['host']} ({why})")
            self.info = info
        except BaseException:
            self._remove_made_folder()
            raise
        if notes:
            self.note = notes[-1]
            if self.on_note is not None:
                self.on_note(self.note)
        return self

    def _create(self, payload: bytes, token: str) -> bool:
        try:
            return _create(self.path, payload, token)
        except OSError as exc:  # unwritable, read-only, a file in the way, ...
            raise InputError(f"{self.folder}: cannot write its lock {self.path} ({exc.strerror or exc}); "
                             "pass a run folder you can write to") from exc

    def _remove_stale(self, stale: dict[str, Any]) -> bool:
        """Remove the dead holder's lock ``stale``; True if this command removed it.

        Only the command that holds the takeover marker (``.lock.takeover``, made like the lock)
        removes, and only when the lock still holds ``stale``'s token: of several commands taking over at
        once, the later ones find the first one's fresh lock there and leave it alone."""
        marker = self.path.with_name(f"{self.path.name}.takeover")
        token = uuid.uuid4().hex
        if not _create(marker, token.encode(), token):
            with contextlib.suppress(FileNotFoundError):
                if time.time() - marker.stat().st_mtime > _TAKEOVER_STALE_S:
                    marker.unlink()  # left by a command that died while taking over
            time.sleep(0.01)
            return False
        try:
            current = _read_file(self.path)
            if current is None or current.get("token") != stale.get("token"):
                return False
            self.path.unlink()
            return True
        finally:
            with contextlib.suppress(OSError):
                if marker.read_bytes() == token.encode():
                    marker.unlink()

    def release(self) -> bool:
        """Remove the lock if it is still ours (same token); True if it was removed. Idempotent."""
        if self.info is None:
            return False
        token, self.info = self.info["token"], None
        try:
            current = _read_file(self.path)
        except RunFolderBusy:
            current = None
        removed = False
        if current is not None and current.get("token") == token:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
                removed = True
        self._remove_made_folder()
        return removed

    def _remove_made_folder(self) -> None:
        if self._made_folder:
            self._made_folder = False
            with contextlib.suppress(OSError):
                self.folder.rmdir()  # only when empty

    def __enter__(self) -> RunLock:
        return self.acquire() if not self.held else self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"RunLock({str(self.folder)!r}, held={self.held})"


@contextlib.contextmanager
def hold_run_folder(folder: str | os.PathLike, command: str | None = None, *,
                    on_note: Callable[[str], None] | None = _to_stderr) -> Iterator[RunLock]:
    """Hold ``folder``'s lock for the ``with`` block (released on exit, also on an exception or
    Ctrl-C). ``command`` is the line recorded for the next command to name (default: ``sys.argv``);
    ``on_note`` receives the takeover note of a dead holder's lock (default: printed to stderr)."""
    lock = RunLock(folder, command, on_note=on_note).acquire()
    try:
        yield lock
    finally:
        lock.release()
