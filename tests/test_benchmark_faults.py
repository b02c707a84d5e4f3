"""A benchmark run under faults: a cohort whose worker is killed again and again is retried as smaller
cohorts, down to single trials, and the run finishes by itself with the results of a quiet run; Ctrl-C
says how many tasks are kept and how to resume."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DETERMINISTIC = ["trial", "algorithm", "seed", "query", "arch", "key", "val_acc", "test_acc",
                 "best_val_acc_so_far", "test_acc_of_best_val_so_far", "timing_fits"]
NP_SETTINGS = {"epochs": 5, "num_candidates": 20, "children_per_parent": 10}
#: seconds a cohort task waits before searching: the window in which the test kills its worker
COHORT_DELAY_S = 3.0


def slow_cohort(searchers, evaluators, budget):
    """search_algos' run_cohort after a pause (single trials run without one: they are not killed)."""
    from search_algos import run_cohort

    time.sleep(COHORT_DELAY_S)
    return run_cohort(searchers, evaluators, budget)


def _deterministic(run: Path):
    from ssnenas.analysis.runs import read_results

    return read_results(run).select(DETERMINISTIC).sort_by([("trial", "ascending"), ("query", "ascending")])


@pytest.mark.slow
def test_a_cohort_killed_again_and_again_is_retried_smaller_and_the_run_finishes(
        ray_session, synthetic_nb201_store, tmp_path):
    psutil = pytest.importorskip("psutil")
    import dataclasses

    import ray.cloudpickle

    import search_algos
    from ssnenas.runner import BenchmarkConfig, run_benchmark

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    registry = dataclasses.replace(search_algos.REGISTRY, run_cohort=slow_cohort)
    kills: list[int] = []
    stop = threading.Event()

    def kill_cohort_workers() -> None:
        """Kill every worker of this test's Ray (children of this process) while it runs a cohort task."""
        me = psutil.Process(os.getpid())
        while not stop.is_set():
            for proc in me.children(recursive=True):
                try:
                    if proc.pid not in kills and "ssnenas-benchmark-cohort" in " ".join(proc.cmdline()):
                        proc.kill()
                        kills.append(proc.pid)
                except psutil.Error:
                    continue
            time.sleep(0.05)

    def config(out: Path, cohort_size: int) -> BenchmarkConfig:
        return BenchmarkConfig(space="nasbench201", data=synthetic_nb201_store, algorithms=("npenas-np",), trials=4,
                               budget=20, seed=5, out=out, overrides={"npenas-np": NP_SETTINGS}, progress=False,
                               cohort_size=cohort_size)

    killer = threading.Thread(target=kill_cohort_workers, daemon=True)
    killer.start()
    try:
        summary = run_benchmark(config(tmp_path / "killed", 4), registry)
    finally:
        stop.set()
        killer.join()
    # 4 -> 2 + 2 -> four single trials: three cohorts lost, every one retried smaller, none failed
    assert len(kills) == 3 and summary["cohorts_split"] == 3, (kills, summary)
    assert summary["complete"] and summary["tasks_run"] == 4 and summary["tasks_failed"] == 0
    quiet = run_benchmark(config(tmp_path / "quiet", 4), search_algos.REGISTRY)  # one cohort, nothing killed
    assert quiet["complete"] and quiet["cohorts_split"] == 0
    assert _deterministic(tmp_path / "killed").equals(_deterministic(tmp_path / "quiet"))


@pytest.mark.slow
@pytest.mark.parametrize("stop, sigint", [(signal.SIGINT, signal.SIG_DFL), (signal.SIGTERM, signal.SIG_IGN)],
                         ids=["ctrl-c", "sigterm-in-the-background"])
def test_ctrl_c_says_how_many_tasks_are_kept_and_how_to_resume(synthetic_nb201_store, tmp_path, stop, sigint):
    """SIGINT to a running `ssnenas benchmark`: exit 130 and one line with the kept count and the next step.
    SIGTERM does the same, also in a process started in the background (SIGINT ignored, which the
    command says at its start) -- not Ray's handler, which would kill the workers under the driver."""
    from ssnenas.analysis.runs import finished_tasks

    run = tmp_path / "run"
    trials = 400
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ssnenas", "benchmark", "--no-progress", "--space", "nasbench201",
                             "--data", str(synthetic_nb201_store), "--algos", "random", "--trials", str(trials),
                             "--budget", "50", "--out", str(run), "--num-cpus", "1"],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # an earlier test or a background shell (`cmd &`) can leave SIGINT ignored, which the
                            # child inherits: set as the case needs
                            preexec_fn=lambda: signal.signal(signal.SIGINT, sigint))
    try:
        deadline = time.monotonic() + 240
        while len(finished_tasks(run)) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the benchmark wrote no results in 240 s"
            time.sleep(0.05)
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, (out, err)
    kept = len(finished_tasks(run))
    last = err.strip().splitlines()[-1]
    assert last == (f"interrupted: {kept} of {trials} tasks finished and are kept ({run}); "
                    "re-run the same command to resume"), err
    assert 2 <= kept < trials
    assert re.search(r"\d+/\d+ tasks done", out) is None  # no summary line of a finished run
    notice = f"note: this process ignores SIGINT (started in the background); stop it with `kill {proc.pid}`"
    assert (notice in err) == (sigint == signal.SIG_IGN), err
    assert "Traceback" not in err and "*** SIG" not in err, err
