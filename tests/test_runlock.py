"""One owner per run folder (ssnenas.runlock): a second holder is refused with one line naming the
first, in one process and across processes; a dead holder's lock is taken over with a note; another
host's lock never is; the lock goes away on exit, exception and Ctrl-C, and only if it is still ours."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ssnenas.errors import InputError, RunFolderBusy
from ssnenas.runlock import (LOCK_FILE, RunLock, hold_run_folder, holder_state, read_lock,
                             refuse_if_held)

REPO = Path(__file__).resolve().parents[1]
HAS_PROC = Path("/proc/self/stat").is_file()


def dead_pid() -> int:
    """The pid of a process that has ended and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_lock(folder: Path, **fields) -> dict:
    """A lock file as another command would have written it (old mtime: not one being written)."""
    info = {"format": "ssnenas-run-lock/1", "host": socket.gethostname(), "pid": os.getpid(),
            "started": "2026-01-02T03:04:05+00:00", "command": "ssnenas benchmark --out RUN",
            "token": "f" * 32, **fields}
    info = {k: v for k, v in info.items() if v is not None}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    path.write_text(json.dumps(info))
    os.utime(path, (time.time() - 60, time.time() - 60))
    return info


def start_child(code: str, *args: str) -> subprocess.Popen:
    """A Python child running ``code`` (dedented) with the repo importable."""
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_lock_content_and_release(tmp_path):
    run = tmp_path / "new" / "run"  # does not exist yet: made for the lock, removed again when empty
    notes = []
    with hold_run_folder(run, "ssnenas benchmark --out run", on_note=notes.append) as lock:
        info = read_lock(run)
        assert info == lock.info
        assert info["host"] == socket.gethostname()
        assert info["pid"] == os.getpid()
        assert info["command"] == "ssnenas benchmark --out run"
        assert len(info["token"]) == 32 and int(info["token"], 16) >= 0
        started = dt.datetime.fromisoformat(info["started"])
        assert started.utcoffset() == dt.timedelta(0)
        assert abs((dt.datetime.now(dt.timezone.utc) - started).total_seconds()) < 60
        if HAS_PROC:
            assert isinstance(info["proc_start"], int)
        assert [p.name for p in run.iterdir()] == [LOCK_FILE]  # no temporary left beside it
        assert lock.note is None and notes == []
    assert read_lock(run) is None
    assert not run.exists()
    assert (tmp_path / "new").is_dir()


def test_existing_folder_is_kept_and_default_command_is_argv(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with hold_run_folder(tmp_path) as lock:
        assert lock.info["command"] == shlex.join(sys.argv)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


def test_second_holder_in_one_process_is_refused(tmp_path):
    with hold_run_folder(tmp_path, "ssnenas benchmark --trials 4") as first:
        before = (tmp_path / LOCK_FILE).read_bytes()
        with pytest.raises(RunFolderBusy) as err:
            with hold_run_folder(tmp_path, "ssnenas benchmark --trials 8"):
                pytest.fail("a second holder got the lock")
        msg = str(err.value)
        assert "\n" not in msg
        assert str(tmp_path) in msg
        assert f"pid {os.getpid()} on host {socket.gethostname()}" in msg
        assert f"since {first.info['started']}" in msg
        assert "ssnenas benchmark --trials 4" in msg
        assert "wait for it, or stop it" in msg
        assert isinstance(err.value, InputError)  # the CLI prints it and exits 2
        assert (tmp_path / LOCK_FILE).read_bytes() == before
        with pytest.raises(InputError, match="holds it already"):
            first.acquire()
    assert read_lock(tmp_path) is None


def test_holder_in_another_process(tmp_path):
    child = start_child("""
        import sys
        from ssnenas.runlock import hold_run_folder
        with hold_run_folder(sys.argv[1], "child holds it"):
            print("held", flush=True)
            sys.stdin.readline()
        print("released", flush=True)
    """, str(tmp_path))
    try:
        assert child.stdout.readline().strip() == "held", child.stderr.read()
        info = read_lock(tmp_path)
        assert info["pid"] == child.pid and info["command"] == "child holds it"
        assert holder_state(info)[0] == "alive"
        with pytest.raises(RunFolderBusy, match=f"pid {child.pid} .*child holds it.*kill {child.pid}"):
            RunLock(tmp_path, "parent").acquire()
        with pytest.raises(RunFolderBusy, match=f"^unpack into {re.escape(str(tmp_path))} refused: .*pid {child.pid}"):
            refuse_if_held(tmp_path, "unpack")
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "released"
        assert child.wait(timeout=30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    refuse_if_held(tmp_path, "unpack")
    with hold_run_folder(tmp_path, "parent") as lock:
        assert read_lock(tmp_path)["token"] == lock.info["token"]


CONTENDER = """
    import sys, time
    from pathlib import Path
    from ssnenas.errors import RunFolderBusy
    from ssnenas.runlock import RunLock
    folder, go, stop = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    try:
        lock = RunLock(folder, "contender", on_note=None).acquire()
    except RunFolderBusy:
        print("busy", flush=True)
        sys.exit(0)
    print("won", flush=True)
    while not stop.exists():
        time.sleep(0.01)
    lock.release()
"""


def race(tmp_path: Path, folder: Path, n: int = 4) -> list[str]:
    """Start ``n`` processes that try to take ``folder`` at the same moment; their answers."""
    go, stop = tmp_path / "go", tmp_path / "stop"
    children = [start_child(CONTENDER, str(folder), str(go), str(stop)) for _ in range(n)]
    try:
        for c in children:
            assert c.stdout.readline().strip() == "ready", c.stderr.read()
        go.touch()
        answers = [c.stdout.readline().strip() for c in children]
        stop.touch()
        for c in children:
            assert c.wait(timeout=60) == 0, c.stderr.read()
    finally:
        for c in children:
            if c.poll() is None:
                c.kill()
                c.wait()
    return answers


def test_processes_racing_for_a_free_folder_one_wins(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    answers = race(tmp_path, run)
    assert sorted(answers) == ["busy", "busy", "busy", "won"]
    assert read_lock(run) is None
    assert [p.name for p in run.iterdir()] == []


def test_processes_racing_to_take_over_a_stale_lock_one_wins(tmp_path):
    run = tmp_path / "run"
    write_lock(run, pid=dead_pid(), proc_start=None)
    answers = race(tmp_path, run)
    assert sorted(answers) == ["busy", "busy", "busy", "won"]
    assert [p.name for p in run.iterdir()] == []  # the stale lock and every aside copy are gone


def test_dead_holder_is_taken_over_with_a_note(tmp_path):
    pid = dead_pid()
    write_lock(tmp_path, pid=pid)
    assert holder_state(read_lock(tmp_path)) == ("dead", "it no longer runs")
    refuse_if_held(tmp_path, "unpack")  # a dead holder does not hold the folder
    notes = []
    with hold_run_folder(tmp_path, "new owner", on_note=notes.append) as lock:
        assert notes == [lock.note]
        assert lock.note.startswith(f"taking over {tmp_path / LOCK_FILE} of dead pid {pid} started "
                                    "2026-01-02T03:04:05+00:00")
        info = read_lock(tmp_path)
        assert info["pid"] == os.getpid() and info["command"] == "new owner"
    assert read_lock(tmp_path) is None


def test_takeover_note_goes_to_stderr_by_default(tmp_path, capsys):
    write_lock(tmp_path, pid=dead_pid())
    with hold_run_folder(tmp_path, "x"):
        pass
    assert capsys.readouterr().err.startswith(f"note: taking over {tmp_path / LOCK_FILE} of dead pid")


@pytest.mark.skipif(not HAS_PROC, reason="process start times come from /proc")
def test_reused_pid_is_a_dead_holder(tmp_path):
    """Our own (live) pid, but the lock was written by a process that started at another time: the pid
    was reused, so the holder is gone."""
    from ssnenas.runlock import _process_start

    start = _process_start(os.getpid())
    write_lock(tmp_path, proc_start=start - 1)
    state, why = holder_state(read_lock(tmp_path))
    assert state == "dead" and "is now another process" in why
    with hold_run_folder(tmp_path, "x", on_note=None) as lock:
        assert "dead pid" in lock.note
    write_lock(tmp_path, proc_start=start)  # the very process: alive
    with pytest.raises(RunFolderBusy):
        hold_run_folder(tmp_path, "x").__enter__()


def test_lock_from_a_previous_boot_is_taken_over(tmp_path):
    write_lock(tmp_path, boot_id="00000000-0000-0000-0000-000000000000")
    state, why = holder_state(read_lock(tmp_path))
    if not Path("/proc/sys/kernel/random/boot_id").is_file():
        pytest.skip("no boot id on this system")
    assert (state, why) == ("dead", "the machine has restarted since")


def test_another_hosts_lock_is_never_taken_over(tmp_path):
    info = write_lock(tmp_path, host="node-7.cluster.example", pid=dead_pid())
    before = (tmp_path / LOCK_FILE).read_bytes()
    with pytest.raises(RunFolderBusy) as err:
        hold_run_folder(tmp_path, "x").__enter__()
    msg = str(err.value)
    assert f"pid {info['pid']} on host node-7.cluster.example since 2026-01-02T03:04:05+00:00" in msg
    assert "(ssnenas benchmark --out RUN)" in msg
    assert f"if it is gone (its machine or container stopped), remove {tmp_path / LOCK_FILE}" in msg
    assert "\n" not in msg
    assert (tmp_path / LOCK_FILE).read_bytes() == before
    with pytest.raises(RunFolderBusy, match="^pack into .* refused: .*node-7"):
        refuse_if_held(tmp_path, "pack")


def test_another_containers_lock_is_never_taken_over(tmp_path):
    write_lock(tmp_path, pid=dead_pid(), pid_ns="pid:[1]")
    if not Path("/proc/self/ns/pid").exists():
        pytest.skip("no pid namespaces on this system")
    assert holder_state(read_lock(tmp_path))[0] == "remote"
    with pytest.raises(RunFolderBusy, match="remove"):
        hold_run_folder(tmp_path, "x").__enter__()


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_released_on_exception_and_interrupt(tmp_path, exc):
    with pytest.raises(type(exc)):
        with hold_run_folder(tmp_path, "x"):
            assert read_lock(tmp_path) is not None
            raise exc
    assert read_lock(tmp_path) is None
    with hold_run_folder(tmp_path, "again"):  # and the folder is free again
        pass


def test_released_only_while_the_token_is_ours(tmp_path):
    with hold_run_folder(tmp_path, "x") as lock:
        write_lock(tmp_path, token="0" * 32, command="someone who took it over")
        assert lock.held
    assert lock.release() is False  # idempotent
    assert read_lock(tmp_path)["command"] == "someone who took it over"


@pytest.mark.parametrize("content, why", [
    ("", "not JSON"),
    ("garbage {", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"host": "h", "pid": "12", "token": "t", "started": "s"}', "field 'pid' is '12'"),
    ('{"host": "h", "pid": 12, "started": "s"}', "field 'token' is None"),
])
def test_malformed_lock_is_one_clear_error(tmp_path, content, why):
    path = tmp_path / LOCK_FILE
    path.write_text(content)
    os.utime(path, (time.time() - 60, time.time() - 60))
    for attempt in (lambda: read_lock(tmp_path), lambda: hold_run_folder(tmp_path, "x").__enter__(),
                    lambda: refuse_if_held(tmp_path, "unpack")):
        with pytest.raises(RunFolderBusy) as err:
            attempt()
        msg = str(err.value)
        assert msg.startswith(f"{path}: not a readable run lock (")
        assert why in msg
        assert msg.endswith(f"if no ssnenas command is working in {tmp_path}, remove {path}")
        assert "\n" not in msg
    assert path.read_text() == content


def test_a_file_is_not_a_run_folder(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError, match="exists and is not a directory"):
        hold_run_folder(f, "x").__enter__()


def test_an_unwritable_place_is_one_line(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match=r"^.*/file/run: cannot make this run folder \(.*\); pass a folder"):
        hold_run_folder(blocker / "run", "x").__enter__()

    def refused(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("ssnenas.runlock._create", refused)  # a read-only folder (root would write anyway)
    with pytest.raises(InputError, match=r"cannot write its lock .*/\.lock \(Permission denied\); pass a run "
                                         "folder you can write to$"):
        hold_run_folder(tmp_path / "run", "x").__enter__()
    assert not (tmp_path / "run").exists()  # the folder it made for the lock is gone again
