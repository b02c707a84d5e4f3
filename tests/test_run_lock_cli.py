"""One owner per run folder, as a user meets it (issue 28.1): a second `ssnenas benchmark` or `ssnenas
search` into a folder a running one holds exits 2 at once with one line naming the holder, and the first
goes on unaffected; `unpack` into a held folder is refused; `pack` and `report` read a held folder."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ssnenas.analysis.runs import finished_tasks
from ssnenas.runlock import read_lock

REPO = Path(__file__).resolve().parents[1]
PACK = REPO / "experiments" / "results" / "benchmark" / "packs" / "nb201-cifar10-valid-600-bananas.parquet"
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
       "PYTHONUNBUFFERED": "1"}


def ssnenas(*argv: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ssnenas", *argv], cwd=REPO, env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, (what, proc.communicate())
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(0.05)


def refused_at_once(argv: list[str], first: subprocess.Popen, run: Path) -> str:
    """Run the second command; check it exits 2 within 10 s with one line naming ``first``."""
    t0 = time.monotonic()
    second = ssnenas(*argv)
    out, err = second.communicate(timeout=60)
    elapsed = time.monotonic() - t0
    assert second.returncode == 2, (out, err)
    assert elapsed < 10, f"refused only after {elapsed:.1f} s"
    assert err.count("\n") == 1 and out == "", err
    assert err.startswith(f"error: {run} is in use by another command: pid {first.pid} on host "
                          f"{socket.gethostname()} since "), err
    assert f"wait for it, or stop it (kill {first.pid}), then run again" in err
    return err


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.slow
def test_a_second_benchmark_into_a_running_ones_folder_exits_2_at_once(synthetic_nb201_store, tmp_path):
    run = tmp_path / "run"
    argv = ["benchmark", "--no-progress", "--space", "nasbench201", "--data", str(synthetic_nb201_store),
            "--algos", "random", "--trials", "400", "--budget", "50", "--out", str(run), "--num-cpus", "1"]
    first = ssnenas(*argv)
    try:
        wait_for(lambda: len(finished_tasks(run)) >= 1, first, "the first benchmark's first result")
        lock = read_lock(run)
        assert lock["pid"] == first.pid and "benchmark" in lock["command"] and str(run) in lock["command"]
        err = refused_at_once(argv, first, run)
        assert "ssnenas benchmark" not in err or "--trials 400" in err  # the holder's command, on one line
        assert first.poll() is None  # the first goes on
        n = len(finished_tasks(run))
        wait_for(lambda: len(finished_tasks(run)) > n + 2, first, "the first benchmark after the refusal")
    finally:
        out, err = stop(first)
    assert first.returncode == 130, err
    kept = len(finished_tasks(run))
    assert err.strip().splitlines()[-1] == (f"interrupted: {kept} of 400 tasks finished and are kept ({run}); "
                                            "re-run the same command to resume")
    assert read_lock(run) is None  # released on Ctrl-C


@pytest.mark.slow
def test_a_second_search_into_a_running_ones_folder_exits_2_at_once(ray_session, tmp_path):
    run = tmp_path / "search"
    address = ray_session.get_runtime_context().gcs_address
    argv = ["search", "--out", str(run), "--address", address, "--budget", "16", "--num-init", "2", "--k", "2",
            "--epochs", "1", "--channels", "4", "--layers", "3", "--batch-size", "64", "--predictor-epochs", "5",
            "--no-progress"]
    first = ssnenas(*argv)
    try:
        wait_for(lambda: (run / "config.json").is_file(), first, "the first search's config.json")
        assert read_lock(run)["pid"] == first.pid
        refused_at_once(argv, first, run)
        assert first.poll() is None
    finally:
        out, err = stop(first)
    assert first.returncode == 130, err
    assert [ln for ln in err.splitlines() if ln.startswith("interrupted: ")]
    assert read_lock(run) is None


HOLDER = textwrap.dedent("""
    import sys, time
    from ssnenas.runlock import hold_run_folder

    with hold_run_folder(sys.argv[1], "ssnenas benchmark --out " + sys.argv[1]):
        print("held", flush=True)
        sys.stdin.read()  # until the test closes it
""")


def test_unpack_refuses_a_held_folder_and_pack_and_report_read_it(tmp_path):
    if not PACK.is_file():
        pytest.skip(f"{PACK} is not in this checkout")
    run = tmp_path / "run"
    assert subprocess.run([sys.executable, "-m", "ssnenas", "unpack", str(PACK), str(run)], cwd=REPO, env=ENV,
                          capture_output=True, text=True).returncode == 0
    files = {k: p.read_bytes() for k, p in finished_tasks(run).items()}
    (run / "results" / "trial=00599").rename(tmp_path / "aside")  # a part the pack still has
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], cwd=REPO, env=ENV, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == "held\n"
        got = subprocess.run([sys.executable, "-m", "ssnenas", "unpack", str(PACK), str(run)], cwd=REPO, env=ENV,
                             capture_output=True, text=True)
        assert got.returncode == 2, got
        assert got.stderr.count("\n") == 1 and got.stderr.startswith(
            f"error: unpack into {run} refused: {run} is in use by another command: pid {holder.pid}"), got.stderr
        assert not (run / "results" / "trial=00599").exists()  # nothing written
        packed = subprocess.run([sys.executable, "-m", "ssnenas", "pack", str(run), str(tmp_path / "p.parquet")],
                                cwd=REPO, env=ENV, capture_output=True, text=True)
        assert packed.returncode == 0 and re.match(r"packed \d+ finished tasks", packed.stdout), packed
        report = subprocess.run([sys.executable, "-m", "ssnenas", "report", str(run), "--no-plot"],
                                cwd=REPO, env=ENV, capture_output=True, text=True)
        assert report.returncode == 0, report.stderr
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert read_lock(run) is None
    done = subprocess.run([sys.executable, "-m", "ssnenas", "unpack", str(PACK), str(run)], cwd=REPO, env=ENV,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert {k: p.read_bytes() for k, p in finished_tasks(run).items()} == files
