"""A benchmark whose local Ray dies mid-run (a killed Ray agent takes the raylet with it) ends with
one line saying what is kept and that re-running resumes; the resumed run equals an uninterrupted
one. A finished run re-run says so without starting Ray."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments import benchmark as bm
from ssnenas.runner import driver
from ssnenas.analysis.report import build_report

REPO = Path(__file__).resolve().parents[1]
TRIALS, BUDGET = 40, 20


def _argv(store: Path, out: Path) -> list[str]:
    return ["--quiet", "--space", "nasbench201", "--data", str(store), "--algos", "random",
            "--trials", str(TRIALS), "--budget", str(BUDGET), "--seed", "3", "--out", str(out)]


def _comparable(report: dict) -> dict:
    """The report without the run's path and its timings (which differ between two runs)."""
    algos = {a: {k: v for k, v in e.items() if not k.startswith(("wall_time_s", "search_time_s"))}
             for a, e in report["algorithms"].items()}
    return {**{k: v for k, v in report.items() if k != "run"}, "algorithms": algos}


@pytest.mark.slow
def test_a_killed_local_ray_ends_in_one_line_and_the_rerun_resumes(ray_session, synthetic_nb201_store, tmp_path):
    psutil = pytest.importorskip("psutil")
    run = tmp_path / "killed"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ssnenas", "benchmark", *_argv(synthetic_nb201_store, run),
                             "--num-cpus", "1"], env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while len(list((run / "results").rglob("*.parquet"))) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the benchmark wrote no results in 240 s"
            time.sleep(0.02)
        # Only this subprocess's own Ray: the agents are children of its raylet, itself a child of
        # the driver (the session-wide Ray of the other tests lives in this test process).
        # The raylet goes down with its agent; its worker would finish the tasks already leased to
        # it before noticing, so it is killed too (else a fast machine could finish the run first).
        ours = psutil.Process(proc.pid).children(recursive=True)
        agents = [p for p in ours if "DashboardAgent" in p.name()]
        workers = [p for p in ours if "ssnenas-benchmark-task" in p.name() or "ray::IDLE" in p.name()]
        assert agents, [p.name() for p in ours]
        for victim in [*agents, *workers]:
            victim.kill()
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    kept = len(list((run / "results").rglob("*.parquet")))
    assert proc.returncode == 1, (out, err)
    last = err.strip().splitlines()[-1]
    assert last == (f"error: Ray stopped mid-run (this node's raylet died); {kept}/{TRIALS} tasks finished and "
                    f"are kept in {run}; re-run the same command to resume the other {TRIALS - kept}"), err
    assert 2 <= kept < TRIALS
    assert "failed: trial" not in out  # not one line per lost task

    from ssnenas.cli import main

    assert main(["benchmark", *_argv(synthetic_nb201_store, run)]) == 0  # the same command (on this session's Ray)
    whole = tmp_path / "whole"
    assert main(["benchmark", *_argv(synthetic_nb201_store, whole)]) == 0
    assert _comparable(build_report(run)) == _comparable(build_report(whole))
    assert build_report(run)["algorithms"]["random"]["num_trials"] == TRIALS


def test_a_finished_run_says_so_without_starting_ray(ray_session, synthetic_nb201_store, tmp_path, capsys, monkeypatch):
    run = tmp_path / "r"
    argv = ["--quiet", "--space", "nasbench201", "--data", str(synthetic_nb201_store), "--algos", "random",
            "--trials", "2", "--budget", "12", "--out", str(run)]
    assert bm.main(argv) == 0
    summary = (run / "summary.json").read_bytes()
    capsys.readouterr()

    def no_ray(*args, **kwargs):
        raise AssertionError("a finished run started Ray")

    monkeypatch.setattr(driver, "connect_ray", no_ray)
    assert bm.main(argv) == 0
    out = capsys.readouterr().out
    assert out == f"{run}: all 2 tasks are already done; nothing to run (`ssnenas report {run}` shows the results)\n"
    assert (run / "summary.json").read_bytes() == summary  # the numbers of the run that did the work


def lose_cohort(searchers, evaluators, budget):
    """A cohort task that fails the way a task does when this node's raylet dies (see the test below)."""
    raise RuntimeError("simulated loss of this node's raylet")


def test_a_lost_cohort_task_returned_first_ends_the_run_counting_each_of_its_trials(
        ray_session, synthetic_nb201_store, tmp_path, monkeypatch, capsys):
    """The first task back is a cohort lost with Ray: the run ends with its one line (no
    UnboundLocalError), and every trial of that cohort leaves the dashboard's queue, not one."""
    import dataclasses

    import ray.cloudpickle

    import search_algos
    from ssnenas.runner import BenchmarkConfig, run_benchmark
    from ssnenas.runner.metrics import RunMetrics

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    monkeypatch.setattr(driver, "_ray_lost",
                        lambda exc: "this node's raylet died" if "simulated loss" in str(exc) else None)
    left: list[tuple[str, bool]] = []
    real_finished = RunMetrics.finished

    def finished(self, algorithm, table):
        left.append((algorithm, table is None))
        real_finished(self, algorithm, table)

    monkeypatch.setattr(RunMetrics, "finished", finished)
    registry = dataclasses.replace(search_algos.REGISTRY, run_cohort=lose_cohort)
    run = tmp_path / "run"
    config = BenchmarkConfig(space="nasbench201", data=synthetic_nb201_store, algorithms=("npenas-np",), trials=3,
                             budget=12, seed=1, out=run, progress=False, cohort_size=3)
    summary = run_benchmark(config, registry)
    assert summary["ray_lost"] == "this node's raylet died" and not summary["complete"]
    assert summary["tasks_run"] == 0 and summary["tasks_failed"] == 0 and summary["cohorts_split"] == 0
    assert left == [("npenas-np", True)] * 3
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (f"error: Ray stopped mid-run (this node's raylet died); 0/3 tasks finished and are kept in "
                    f"{run}; re-run the same command to resume the other 3")
