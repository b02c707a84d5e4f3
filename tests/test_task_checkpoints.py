"""Task checkpoints (ssnenas.runner.checkpoints, issue 28.3): a search task saves each trial's state as
data; a trial continued from any of its checkpoints ends with the rows of the uninterrupted one; a
cohort whose worker is killed, and a run whose driver is SIGKILLed mid-cohort, continue from their
checkpoints (the query they resumed at is > 0) and end equal to a quiet run."""

from __future__ import annotations

import dataclasses
import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
import torch

import search_algos
from ssnenas.analysis.runs import finished_tasks, read_results
from ssnenas.fingerprint import file_sha256
from ssnenas.runner import BenchmarkConfig, run_benchmark, task_specs
from ssnenas.runner import checkpoints as ckpt
from ssnenas.runner.shipping import StoreShipment
from ssnenas.runner.tasks import run_task
from ssnenas.runlock import read_lock

REPO = Path(__file__).resolve().parents[1]
BUDGET = 30  # the initial 10, then proposals after fits on 10 and 20 architectures
SMALL = {"num_candidates": 20, "children_per_parent": 10}
CASES = {
    "random": {},
    "rea": {"population_size": 8, "tournament_size": 3},
    "bananas": {**SMALL, "epochs": 3, "width": 20},
    "npenas-np": {**SMALL, "epochs": 5},
    "npenas-bo": {**SMALL, "epochs": 5},
    # keeps its predictor once trained on 10 architectures: the weights must be in the checkpoint
    "npenas-np-fixed": {**SMALL, "epochs": 5, "training_nums": 10},
}
NP_SETTINGS = {"epochs": 5, **SMALL}
#: seconds each lookup of a cohort waits in the runs below: a window in which the tests interrupt it
SLOW_S = 0.04

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def deterministic(table: pa.Table) -> pa.Table:
    """A result table without what measures time or place (wall/search/timing seconds, node)."""
    keep = [c for c in table.column_names
            if c not in ("wall_time_s", "search_time_s", "node_id") and not (c.startswith("timing_") and c.endswith("_s"))]
    return table.select(keep)


def run_rows(run: Path) -> pa.Table:
    return deterministic(read_results(run)).sort_by([("trial", "ascending"), ("algorithm", "ascending"),
                                                     ("query", "ascending")])


class Recorder(ckpt.Inbox):
    """An inbox in this process that also keeps every checkpoint it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.all: list[tuple[int, bytes]] = []

    def put(self, trial: int, algorithm: str, query: int, blob: bytes) -> None:
        self.all.append((query, blob))
        super().put(trial, algorithm, query, blob)


def slow_cohort(searchers, evaluators, budget):
    """search_algos' run_cohort with every lookup taking SLOW_S longer (the rows do not change)."""
    def slow(evaluate):
        def wrapped(arch):
            time.sleep(SLOW_S)
            return evaluate(arch)
        return wrapped

    return search_algos.run_cohort(searchers, [slow(e) for e in evaluators], budget)


import ray.cloudpickle  # noqa: E402

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def config(store: Path, out: Path, **kw) -> BenchmarkConfig:
    args = dict(space="nasbench201", data=store, algorithms=("npenas-np",), trials=4, budget=BUDGET, seed=5,
                out=out, overrides={"npenas-np": NP_SETTINGS}, progress=False, cohort_size=4, checkpoint_every=0)
    return BenchmarkConfig(**{**args, **kw})


@pytest.fixture(scope="module")
def quiet_run(ray_session, synthetic_nb201_store, tmp_path_factory) -> Path:
    """The 4-trial npenas-np run as one cohort, without checkpoints or faults."""
    out = tmp_path_factory.mktemp("quiet") / "run"
    summary = run_benchmark(config(synthetic_nb201_store, out, checkpoint_every=None), search_algos.REGISTRY)
    assert summary["complete"] and summary["resumed_from_checkpoints"] == []
    assert not (out / ckpt.CHECKPOINTS_DIR).exists()
    return out


# -- one trial, outside Ray ---------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", list(CASES))
def test_a_trial_continued_from_any_checkpoint_ends_as_the_uninterrupted_one(algorithm, synthetic_nb201_store,
                                                                           synthetic_nb201_benchmark):
    store = synthetic_nb201_benchmark
    cfg = config(synthetic_nb201_store, Path("unused"), algorithms=(algorithm,), overrides={algorithm: CASES[algorithm]})
    spec = task_specs(cfg, store, {})[1]  # trial 1
    ship = StoreShipment(path=str(store.path), sha256=file_sha256(store.path), size=store.path.stat().st_size)
    quiet = deterministic(run_task(spec, ship, search_algos.REGISTRY))
    inbox = Recorder()
    checked = deterministic(run_task(spec, ship, search_algos.REGISTRY, inbox, 0.0))
    assert checked.equals(quiet)  # taking checkpoints changes nothing
    assert [q for q, _ in inbox.all] == list(range(BUDGET))  # every_s=0: before every lookup
    for query in (7, 10, 23, BUDGET - 1):  # inside the initial batch, at its end, inside a proposal, last
        blob = inbox.all[query][1]
        payload = torch.load(io.BytesIO(blob), weights_only=True)  # data: nothing to unpickle
        assert payload["query"] == query and len(payload["archs"]) == query and payload["trial"] == 1
        resumed = deterministic(run_task({**spec, "checkpoint": blob}, ship, search_algos.REGISTRY))
        assert resumed.equals(quiet), (algorithm, query)


def test_a_checkpoint_of_another_trial_is_not_continued(synthetic_nb201_store, synthetic_nb201_benchmark, capfd):
    store = synthetic_nb201_benchmark
    specs = task_specs(config(synthetic_nb201_store, Path("unused"), algorithms=("random",), overrides={}), store, {})
    ship = StoreShipment(path=str(store.path), sha256=file_sha256(store.path), size=store.path.stat().st_size)
    inbox = Recorder()
    run_task(specs[0], ship, search_algos.REGISTRY, inbox, 0.0)
    quiet = deterministic(run_task(specs[2], ship, search_algos.REGISTRY))
    got = deterministic(run_task({**specs[2], "checkpoint": inbox.all[15][1]}, ship, search_algos.REGISTRY))
    assert got.equals(quiet)
    assert "its checkpoint does not restore (ValueError: its trial is 0, the trial's 2)" in capfd.readouterr().err


# -- a cohort's worker killed, the driver killed --------------------------------------------------------
def _max_query(run: Path) -> int:
    best = -1
    for path in (run / ckpt.CHECKPOINTS_DIR).glob("*/*.pt"):
        try:
            best = max(best, ckpt.decode(path.read_bytes())["query"])
        except Exception:  # noqa: BLE001 - being replaced this instant
            continue
    return best


@pytest.mark.slow
def test_a_cohort_whose_worker_is_killed_continues_from_its_checkpoints(ray_session, quiet_run,
                                                                        synthetic_nb201_store, tmp_path):
    psutil = pytest.importorskip("psutil")
    registry = dataclasses.replace(search_algos.REGISTRY, run_cohort=slow_cohort)
    run = tmp_path / "killed"
    kills: list[int] = []
    stop = threading.Event()

    def kill_one_cohort_worker() -> None:
        """Once a trial has checkpointed past query 12, kill the worker of one running cohort (once)."""
        me = psutil.Process(os.getpid())
        while not stop.is_set() and not kills:
            if _max_query(run) >= 12:
                for proc in me.children(recursive=True):
                    try:
                        if "ssnenas-benchmark-cohort" in " ".join(proc.cmdline()):
                            proc.kill()
                            kills.append(proc.pid)
                            break
                    except psutil.Error:
                        continue
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one_cohort_worker, daemon=True)
    killer.start()
    try:  # two cohorts of 2: the killed one goes on as two single trials, each from its checkpoint
        summary = run_benchmark(config(synthetic_nb201_store, run, cohort_size=2), registry)
    finally:
        stop.set()
        killer.join()
    assert len(kills) == 1 and summary["cohorts_split"] == 1, summary
    assert summary["complete"] and summary["tasks_run"] == 4 and summary["tasks_failed"] == 0
    resumed = summary["resumed_from_checkpoints"]
    assert len(resumed) == 2 and all(r["query"] > 0 for r in resumed), resumed
    assert run_rows(run).equals(run_rows(quiet_run))
    assert not (run / ckpt.CHECKPOINTS_DIR).exists()  # a finished trial's checkpoint is removed


DRIVER = textwrap.dedent("""
    import dataclasses, sys
    from pathlib import Path

    import search_algos
    from ssnenas.runner import BenchmarkConfig, run_benchmark
    from test_task_checkpoints import config, slow_cohort

    store, out, address = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    registry = dataclasses.replace(search_algos.REGISTRY, run_cohort=slow_cohort)
    run_benchmark(config(store, out, address=address), registry)
""")


@pytest.mark.slow
def test_a_driver_killed_mid_cohort_resumes_from_the_cohorts_checkpoints(ray_session, quiet_run,
                                                                         synthetic_nb201_store, tmp_path, capfd):
    run = tmp_path / "run"
    address = ray_session.get_runtime_context().gcs_address
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(synthetic_nb201_store), str(run), address],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while _max_query(run) < 12:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no checkpoint past query 12 in 180 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert finished_tasks(run) == {}  # killed mid-cohort: nothing finished, the checkpoints are there
    left = {p.parent.name for p in (run / ckpt.CHECKPOINTS_DIR).glob("*/*.pt")}
    assert left and read_lock(run)["pid"] == proc.pid  # the dead driver's lock is still there
    spent_before = sum(ckpt.decode(p.read_bytes())["search_time_s"] for p in (run / ckpt.CHECKPOINTS_DIR).glob("*/*.pt"))
    capfd.readouterr()
    summary = run_benchmark(config(synthetic_nb201_store, run), search_algos.REGISTRY)
    assert "taking over" in capfd.readouterr().err and read_lock(run) is None
    assert summary["complete"] and summary["tasks_run"] == 4
    resumed = summary["resumed_from_checkpoints"]
    assert len(resumed) == len(left) and all(r["query"] > 0 for r in resumed), resumed
    assert run_rows(run).equals(run_rows(quiet_run))
    assert not (run / ckpt.CHECKPOINTS_DIR).exists()
    # the overhead counts only the search time of this invocation, not what the dead one had spent
    rows = read_results(run).group_by(["trial", "algorithm"]).aggregate([("search_time_s", "max")])
    this_run = sum(rows["search_time_s_max"].to_pylist()) - spent_before
    assert summary["sum_search_time_s"] == pytest.approx(this_run, abs=0.01)


# -- the sender never waits in Ray ------------------------------------------------------------------------
def _checkpointing_task(inbox, trial: int, seconds: float) -> tuple[float, float]:
    """A task that sends a checkpoint every 10 ms for ``seconds`` (long enough for Ray to start a worker for
    a task waiting for a CPU); returns when it ran."""
    sender, start = ckpt.Sender(inbox, 0.0), time.time()
    query = 0
    spec = {"trial": trial, "algorithm": "npenas-np"}
    while time.time() - start < seconds:
        if sender.ready(spec):
            sender.send(spec, b"state", query)
        query += 1
        time.sleep(0.01)
    assert not sender.broken
    return start, time.time()


class SlowInbox(ckpt.Inbox):
    """An inbox that takes 50 ms a put, as one on a busy driver node may."""

    def put(self, trial: int, algorithm: str, query: int, blob: bytes) -> None:
        time.sleep(0.05)
        super().put(trial, algorithm, query, blob)


def test_checkpointing_tasks_never_run_more_at_once_than_the_cpus(ray_session):
    """A task blocked in ray.get or ray.wait lends its CPU: with puts awaited, a third task started beside
    two that checkpoint (three searches on two CPUs). Sent without waiting, at most two run at once."""
    inbox = ray_session.remote(SlowInbox).options(num_cpus=0).remote()
    task = ray_session.remote(num_cpus=1)(_checkpointing_task)
    cpus = int(ray_session.cluster_resources()["CPU"])
    spans = ray_session.get([task.remote(inbox, trial, 3.0) for trial in range(cpus + 1)], timeout=120)
    running = most = 0
    for _, step in sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans],
                          key=lambda e: (e[0], e[1])):
        running += step
        most = max(most, running)
    assert most <= cpus, spans
    latest = ray_session.get(inbox.take.remote())
    assert sorted(trial for trial, _ in latest) == list(range(cpus + 1))  # every task's checkpoints arrived
    assert all(query > 0 for query, _ in latest.values())


class _Future:
    """An ObjectRef of a put (``future()``) and its future in one."""

    def __init__(self, done: bool = False, error: Exception | None = None) -> None:
        self._done, self._error = done, error

    def future(self) -> "_Future":
        return self

    def done(self) -> bool:
        return self._done

    def result(self):
        if self._error:
            raise self._error


def _inbox_answering(future: _Future, sent: list | None = None):
    """An inbox stand-in whose every ``put.remote`` records its arguments in ``sent`` and returns ``future``."""
    put = type("Put", (), {"remote": lambda self, *args: (sent if sent is not None else []).append(args) or future})()
    return type("Inbox", (), {"put": put})()


@pytest.mark.parametrize("future, timeout_s", [(_Future(done=True, error=RuntimeError("actor died")), 60.0),
                                               (_Future(done=False), 0.0)])
def test_a_lost_or_silent_inbox_turns_checkpoints_off_with_one_line(future, timeout_s, capfd):
    sent = []
    sender = ckpt.Sender(_inbox_answering(future, sent), 0.0, answer_timeout_s=timeout_s)
    spec = {"trial": 0, "algorithm": "npenas-np"}
    assert sender.ready(spec)
    sender.send(spec, b"a", 1)
    time.sleep(0.01)
    assert not sender.ready(spec) and not sender.ready(spec)  # the first put's answer: an error, or none in time
    sender.send(spec, b"b", 2)
    assert sender.broken and sent == [(0, "npenas-np", 1, b"a")]
    assert capfd.readouterr().err.count("checkpoints off for this task: the run's inbox is unreachable") == 1


def test_a_trial_sends_its_next_checkpoint_once_the_last_is_answered():
    pending = _Future(done=False)
    sender = ckpt.Sender(_inbox_answering(pending), 0.0)
    one, other = {"trial": 0, "algorithm": "rea"}, {"trial": 1, "algorithm": "rea"}
    sender.send(one, b"a", 1)
    assert not sender.ready(one) and sender.ready(other)  # one put in flight per trial
    pending._done = True
    assert sender.ready(one) and not sender.broken
