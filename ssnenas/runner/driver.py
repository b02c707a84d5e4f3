"""The benchmark driver: run (or resume) a run on Ray, one task per (trial, algorithm) or per cohort.

- Each task runs :func:`ssnenas.runner.tasks.run_task` (a search in a plain suggest /
  on_trial_complete loop: a Tune trial would cost more than the lookup it wraps) against the store;
  the **driver** writes each finished trial atomically to ``RUN/results/trial=TTTTT/algo=NAME.parquet``
  as soon as ``ray.wait`` reports it: no storage shared by the nodes is needed, and a driver crash
  loses only unfinished tasks.
- One owner: the run folder is held (``RUN/.lock``, :mod:`ssnenas.runlock`) from after the inputs are
  checked to the end; a second command into it is refused at once, naming this one.
- Resume: re-running the same command skips every (trial, algorithm) whose file exists, and continues
  every other trial from its checkpoint, if it has one.
- Checkpoints (:mod:`ssnenas.runner.checkpoints`): tasks send their trials' searcher states to the
  driver's inbox actor every ``--checkpoint-every`` seconds of search; the driver writes them to
  RUN/checkpoints/ (no storage shared by the nodes needed) and drops each once its result is written.
- Faults: a single-trial task that dies with its worker or node is resubmitted by the driver
  (``--max-retries`` times) from its trial's latest checkpoint; a cohort whose worker or node dies is
  resubmitted as two smaller cohorts (halves, down to single trials), each trial from its checkpoint,
  so a loss costs less work each time and a trial counts as failed only once it failed alone; a task
  that raises is reported and left for the next invocation. A cohort's trials give the rows they give
  alone, and a restored trial the rows it gives uninterrupted, so none of this changes a result.
- When the local Ray itself is lost (its raylet died) the run keeps what came back and ends with one
  line saying what is kept and that re-running resumes.
- At the end the share of wall time outside the search itself,
  ``1 - sum(task search time) / (wall time x workers)``, is printed and saved in RUN/summary.json.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Callable

from ssnenas.analysis.runs import (CONFIG_FILE, SUMMARY_FILE, finished_tasks, result_identity_sha256,
                                   write_result)
from ssnenas.atomic import atomic_json
from ssnenas.ray_connect import connect_ray
from ssnenas.runlock import hold_run_folder
from ssnenas.runner.config import BenchmarkConfig, task_specs
from ssnenas.runner import checkpoints as ckpt
from ssnenas.runner.folder import check_run_folder, write_run_config
from ssnenas.runner.metrics import RunMetrics
from ssnenas.runner.registry import AlgorithmRegistry
from ssnenas.runner.shipping import StoreShipment
from ssnenas.runner.tasks import form_cohorts, run_cohort_task, run_task, split_cohort
from ssnenas.runner.validate import validate
from ssnenas.stop_signals import sigterm_stops_like_ctrl_c


def run_benchmark(config: BenchmarkConfig, registry: AlgorithmRegistry, *,
                  on_result: Callable[[int, str, Path], None] | None = None,
                  command: str | None = None) -> dict[str, Any]:
    """Run (or resume) the benchmark of ``config`` with the searchers of ``registry``
    (``search_algos.REGISTRY``; tests pass their own); return the summary also saved as RUN/summary.json.

    ``on_result(trial, algorithm, path)`` is called in the driver after each result file is written.
    The run folder is held (:func:`ssnenas.runlock.hold_run_folder`, ``command`` recorded in its lock;
    default ``sys.argv``) from after the inputs are checked to the end: a second command into it is
    refused with :class:`~ssnenas.errors.RunFolderBusy` naming this one.
    """
    t_start = time.perf_counter()
    store, run_config = validate(config, registry)  # every input, before anything is written
    out = Path(config.out)
    with hold_run_folder(out, command if command is not None else shlex.join(sys.argv)):
        check_run_folder(out, run_config)  # again, now that no other command can write it
        return _run_held(config, registry, store, run_config, on_result, t_start)


def _run_held(config: BenchmarkConfig, registry: AlgorithmRegistry, store: Any, run_config: dict[str, Any],
              on_result: Callable[[int, str, Path], None] | None, t_start: float) -> dict[str, Any]:
    """:func:`run_benchmark` once the run folder is held."""
    from ssnenas.fingerprint import file_sha256

    out = Path(config.out)
    finished = finished_tasks(out)
    pending_specs = task_specs(config, store, finished)
    total = config.trials * len(config.algorithms)
    n_before = total - len(pending_specs)
    if (out / ckpt.CHECKPOINTS_DIR).is_dir():
        ckpt.clean_finished(out, finished)
    if not pending_specs and (out / CONFIG_FILE).is_file():
        # Nothing left to run: say so without starting (or joining) Ray; summary.json keeps the
        # numbers of the invocation that did the work.
        return {"complete": True, "already_complete": True, "tasks_total": total, "tasks_done_before": total,
                "tasks_run": 0, "tasks_failed": 0, "failures": [], "ray_lost": None}

    import ray

    owned = connect_ray(config.address, num_cpus=config.num_cpus, dashboard=config.dashboard)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    summary: dict[str, Any] = {}
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_run_config(out / CONFIG_FILE, run_config, started)
        ship = StoreShipment(path=str(store.path), sha256=file_sha256(store.path),
                             size=store.path.stat().st_size)
        if pending_specs and not (owned and config.address is None):
            # A private local Ray's workers all read the file itself; elsewhere a node may lack it.
            # (Also: a put object is what a driver whose raylet died tries to recover, and its
            # broken plasma connection then ends the process before the run can say what is kept.)
            ship.bytes_ref.append(ray.put(store.path.read_bytes()))
        options = dict(num_cpus=1, num_gpus=config.gpus_per_task or 0, retry_exceptions=False, max_retries=0)
        # A lost task is resubmitted by the driver (_drive), with its trials' latest checkpoints: a
        # single trial up to --max-retries times, a cohort as smaller cohorts.
        remote = {"task": ray.remote(run_task).options(**options, name="ssnenas-benchmark-task"),
                  "cohort": ray.remote(run_cohort_task).options(**options, name="ssnenas-benchmark-cohort")}
        tasks = form_cohorts(pending_specs, run_config["cohort_sizes"], config.algorithms)
        slots = _worker_slots(config.gpus_per_task)
        workers = max(1, min(slots, len(tasks)))
        summary["cohort_sizes"] = run_config["cohort_sizes"]
        with sigterm_stops_like_ctrl_c():  # here, after Ray's connect installed its own SIGTERM handler
            _drive(remote, tasks, ship, registry, out, run_config, config, summary,
                   n_before=n_before, total=total, workers=workers, on_result=on_result)
    finally:
        if summary:
            lost = summary.get("ray_lost")
            summary.update({"started": started, "tasks_total": total, "tasks_done_before": n_before,
                            "total_wall_time_s": round(time.perf_counter() - t_start, 3),
                            "ssnenas_version": run_config["ssnenas_version"],
                            "cluster": {"error": f"Ray stopped: {lost}"} if lost else _cluster_info()})
            atomic_json(out / SUMMARY_FILE, summary)
        if summary.get("ray_lost"):
            print(ray_lost_message(summary, out), file=sys.stderr, flush=True)
        if owned:
            if summary.get("ray_lost"):
                _shutdown_lost_ray()
            else:
                ray.shutdown()
    return summary


def _start_inbox(config: BenchmarkConfig) -> Any:
    """The run's checkpoint inbox (:class:`ssnenas.runner.checkpoints.Inbox`), a CPU-less actor on the
    driver's node; None when checkpoints are off."""
    if config.checkpoint_every is None:
        return None
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    try:
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
    except Exception:  # noqa: BLE001 - a client driver has no node of its own: anywhere will do
        here = "DEFAULT"
    return ray.remote(ckpt.Inbox).options(num_cpus=0, max_restarts=0, scheduling_strategy=here).remote()


def _drive(remote: dict[str, Any], tasks: list[list[dict[str, Any]]], ship: StoreShipment,
           registry: AlgorithmRegistry, out: Path, run_config: dict[str, Any], config: BenchmarkConfig,
           summary: dict[str, Any], *, n_before: int, total: int, workers: int,
           on_result: Callable[[int, str, Path], None] | None) -> None:
    """Submit every pending task (a cohort of one or more trials), write each trial's result as its
    task completes, keep the trials' checkpoints, resubmit a lost task from them (a cohort as smaller
    ones), and measure the overhead (filled into ``summary``, also when interrupted)."""
    import ray

    from ssnenas.progress import progress_bar

    # the identity without what a run may grow: a task's file is the same in a grown run as in one
    # made at its size
    meta = {"config_sha256": result_identity_sha256(run_config), "ssnenas_version": run_config["ssnenas_version"]}
    t0 = time.perf_counter()
    pending: dict[Any, list[dict[str, Any]]] = {}
    bar = progress_bar(total=total, initial=n_before, unit="task", desc="benchmark", enabled=config.progress)
    shelf = ckpt.Shelf(out, bar.write)
    shelf.load([s for t in tasks for s in t])
    inbox = _start_inbox(config) if tasks else None
    finished: set[tuple[int, str]] = set()
    last_drain = time.monotonic()
    taking: list[Any] = []  # the inbox's reply in flight (an actor still starting may take seconds)

    def drain(wait_s: float = 0.0) -> None:
        """Write what the inbox held when its last reply left it (asking it again once that reply is
        here); wait up to ``wait_s`` for the reply. Without an inbox, or once it is gone, nothing."""
        nonlocal inbox, last_drain
        last_drain = time.monotonic()
        if inbox is None:
            return
        if not taking:
            taking.append(inbox.take.remote())
        ready, _ = ray.wait(taking, timeout=wait_s)
        if not ready:
            return
        try:
            got = ray.get(taking.pop())
        except Exception as exc:  # noqa: BLE001 - the run goes on without checkpoints
            bar.write(f"checkpoints off: the run's inbox is gone ({type(exc).__name__})")
            inbox = None
            return
        shelf.store(got, finished)

    def drain_all() -> None:
        """Everything the inbox holds now (a reply asked for before now may miss the latest puts)."""
        drain(10.0)
        drain(10.0)

    def submit(task: list[dict[str, Any]]) -> None:
        task = shelf.attach(task)
        args = (ship, registry, inbox, config.checkpoint_every)
        ref = (remote["task"].remote(task[0], *args) if len(task) == 1 else remote["cohort"].remote(task, *args))
        pending[ref] = task

    for task in tasks:
        submit(task)
    monitor = RunMetrics(out, run_config, [s for t in tasks for s in t])
    search_sum = wall_sum = 0.0
    nodes: set[str] = set()
    platforms: set[str] = set()
    failures: list[str] = []
    retries: dict[tuple[int, str], int] = {}
    n_run = splits = 0
    interrupted = False
    wait_s = min(1.0, ckpt.DRAIN_EVERY_S) if inbox is not None else 1.0
    try:
        while pending:
            if summary.get("ray_lost"):
                # Ray is gone: keep the results already back in this process, then stop (each other
                # task would fail the same way; one line at the end says so, not one line a task).
                ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
                pending = {ref: pending[ref] for ref in ready}
            else:
                ready, rest = ray.wait(list(pending), num_returns=1, timeout=wait_s)
                if not ready:  # nothing for a while: is there still a Ray to wait for?
                    summary["ray_lost"] = _local_ray_lost()
                if time.monotonic() - last_drain >= ckpt.DRAIN_EVERY_S and not summary.get("ray_lost"):
                    drain()
                if not ready:
                    continue
                if rest:
                    more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
                    ready += more
            for ref in ready:
                task = pending.pop(ref)
                try:
                    got = ray.get(ref)
                    results = [got] if len(task) == 1 else got
                except ray.exceptions.RayError as exc:
                    lost = _ray_lost(exc)
                    if lost or summary.get("ray_lost"):
                        summary["ray_lost"] = summary.get("ray_lost") or lost
                        for spec in task:  # every trial of the task left the queue, unfinished
                            monitor.finished(spec["algorithm"], None)
                        continue
                    if _task_lost(exc):
                        drain_all()  # its trials' last checkpoints, to continue from
                        if len(task) > 1:
                            # the cohort's worker or node died: its trials again, as smaller cohorts
                            parts = split_cohort(task)
                            splits += 1
                            bar.write(f"lost a cohort of {len(task)} {task[0]['algorithm']} trials "
                                      f"({type(exc).__name__}); retrying them as cohorts of "
                                      f"{' and '.join(str(len(p)) for p in parts)}")
                            for part in parts:
                                submit(part)
                            continue
                        key = (task[0]["trial"], task[0]["algorithm"])
                        retries[key] = retries.get(key, 0) + 1
                        if retries[key] <= config.max_retries:
                            submit(task)
                            continue
                    cause = getattr(exc, "cause", None) or exc
                    msg = str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
                    results = [f"{type(cause).__name__}: {msg}"] * len(task)
                for spec, table in zip(task, results):
                    if isinstance(table, str):
                        failures.append(f"trial {spec['trial']} {spec['algorithm']}: {table}")
                        bar.write(f"failed: {failures[-1]}")
                        bar.set_postfix(failed=len(failures))
                        monitor.finished(spec["algorithm"], None)
                        continue
                    path = write_result(out, spec["trial"], spec["algorithm"], table, meta)
                    finished.add((spec["trial"], spec["algorithm"]))
                    shelf.discard(spec["trial"], spec["algorithm"])
                    monitor.finished(spec["algorithm"], table)
                    n_run += 1
                    # a trial resumed from an earlier invocation's checkpoint counts only this one's time
                    before = shelf.spent_before.pop((spec["trial"], spec["algorithm"]), 0.0)
                    search_sum += float(table["search_time_s"][0].as_py()) - before if len(table) else 0.0
                    wall_sum += float(table["wall_time_s"][0].as_py()) if len(table) else 0.0
                    if len(table):
                        nodes.add(table["node_id"][0].as_py())
                        platforms.add(table["platform"][0].as_py())
                    bar.update(1)
                    if on_result is not None:
                        on_result(spec["trial"], spec["algorithm"], path)
    except KeyboardInterrupt:
        interrupted = True
        # what the tasks checkpointed so far is kept; queued tasks are dropped, running ones get a
        # KeyboardInterrupt; not force=True, which can abort this process inside Ray (a reply of a
        # task it killed meanwhile) before the run says what it kept
        with contextlib.suppress(Exception):
            drain_all()
        for ref in pending:
            ray.cancel(ref)
        raise
    finally:
        bar.close()
        if inbox is not None and not summary.get("ray_lost"):
            with contextlib.suppress(Exception):
                ray.kill(inbox)
        wall = time.perf_counter() - t0
        overhead = (1.0 - search_sum / (wall * workers)) if n_run else None
        summary.update({
            "complete": not failures and not interrupted and not pending and not summary.get("ray_lost"),
            "tasks_run": n_run, "tasks_failed": len(failures), "failures": failures,
            "cohorts_split": splits, "tasks_retried": sum(retries.values()),
            "resumed_from_checkpoints": shelf.resumed,
            "wall_time_s": round(wall, 3), "workers": workers,
            "sum_search_time_s": round(search_sum, 3), "sum_task_wall_time_s": round(wall_sum, 3),
            "overhead_share": None if overhead is None else round(overhead, 5),
            "node_ids": sorted(nodes), "platforms": sorted(platforms),
        })


def _task_lost(exc: BaseException) -> bool:
    """Whether a task's error says it was lost with its worker or node (crashed, killed, out of
    memory, its object lost) rather than raised by the search (a ``RayTaskError``) or cancelled."""
    import ray

    return not isinstance(exc, (ray.exceptions.RayTaskError, ray.exceptions.TaskCancelledError,
                                ray.exceptions.GetTimeoutError))


def _worker_slots(gpus_per_task: float) -> int:
    import ray

    res = ray.cluster_resources()
    cpus = int(res.get("CPU", 0))
    if gpus_per_task > 0:
        return max(1, min(cpus, int(res.get("GPU", 0) / gpus_per_task + 1e-9)))
    return max(1, cpus)


def _cluster_info() -> dict[str, Any]:
    import ray

    try:
        return {"nodes": sum(1 for n in ray.nodes() if n.get("Alive")),
                "resources": {k: v for k, v in sorted(ray.cluster_resources().items()) if k in ("CPU", "GPU")}}
    except Exception as exc:  # the cluster went away: the summary is still worth writing
        return {"error": f"{type(exc).__name__}: {exc}"}


def _shutdown_lost_ray() -> None:
    """Shut down the local Ray whose raylet died, keeping the run's closing line the last one.

    With its raylet gone, Ray may print its own diagnostics during the shutdown (lost objects, missed
    heartbeats), which name no next step, and may end the driver itself (status 1, the status this
    command returns anyway) once its plasma connection breaks; the diagnostics still reach Ray's log
    files, so the terminal's stdout/stderr are parked on /dev/null meanwhile and restored afterwards."""
    import os

    import ray

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        ray.shutdown()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def ray_lost_message(summary: dict[str, Any], out: Path) -> str:
    """The one line a run whose Ray stopped under it ends with: what is kept and how to go on."""
    done = summary["tasks_done_before"] + summary["tasks_run"]
    return (f"error: Ray stopped mid-run ({summary['ray_lost']}); {done}/{summary['tasks_total']} tasks finished "
            f"and are kept in {out}; re-run the same command to resume the other "
            f"{summary['tasks_total'] - done}")


def _local_ray_lost() -> str | None:
    """Why the local Ray this driver started is gone (its raylet process exited), else None.
    Ray's own processes are looked at through its private ``Node`` (no public API tells this);
    a driver that joined a cluster gets None and relies on the tasks' errors."""
    try:
        import ray
        from ray._private import ray_constants

        node = ray._private.worker._global_node
        infos = node.all_processes.get(ray_constants.PROCESS_TYPE_RAYLET) if node is not None else None
        if infos and all(info.process.poll() is not None for info in infos):
            return "this node's raylet died"
    except Exception:  # noqa: BLE001 - a Ray without these internals: rely on the tasks' errors
        return None
    return None


def _ray_lost(exc: BaseException) -> str | None:
    """Why Ray as a whole is gone for this driver (its node's raylet died: a killed agent takes the
    raylet with it), or None for the failure of one task (which Ray retries or we report)."""
    import ray

    if isinstance(exc, ray.exceptions.LocalRayletDiedError):
        return "this node's raylet died"
    return None
