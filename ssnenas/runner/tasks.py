"""The work of one Ray task: a (trial, algorithm) search, or a cohort of C trials of one algorithm run
in lockstep with their predictor fits batched, each returning its per-query result table
(:data:`ssnenas.analysis.runs.RESULT_COLUMNS`). The driver writes the tables; tasks write nothing: their
checkpoints go to the driver too (:mod:`ssnenas.runner.checkpoints`)."""

from __future__ import annotations

import math
import sys
import time
from typing import Any, Callable

import numpy as np
import pyarrow as pa

from ssnenas.compute_platform import compute_platform
from ssnenas.runner import checkpoints as ckpt
from ssnenas.runner.registry import AlgorithmRegistry
from ssnenas.runner.shipping import StoreShipment, open_shipped_store


def evaluator(store: Any) -> tuple[Callable[[str], dict], list[str], list[str], list[int]]:
    """A table-lookup ``evaluate(arch)`` and the archs, keys and rows it has looked up, in order."""
    val_col, test_col = store.column("val_acc"), store.column("test_acc")
    archs: list[str] = []
    keys: list[str] = []
    rows: list[int] = []

    def evaluate(arch: str) -> dict[str, float | None]:
        key, i = store.locate(arch)
        archs.append(arch)
        keys.append(key)
        rows.append(i)
        test = float(test_col[i])
        return {"val_acc": float(val_col[i]), "test_acc": None if math.isnan(test) else test}

    return evaluate, archs, keys, rows


def make_searcher(registry: AlgorithmRegistry, spec: dict[str, Any], store: Any) -> Any:
    """The searcher of ``spec`` (its algorithm, seed, paired initial archs, checkpoint and settings)."""
    return registry.make(
        spec["algorithm"], space=store.space.name, store=store, seed=spec["seed"], budget=spec["budget"],
        initial_archs=list(spec["initial_archs"]), predictor_checkpoint=spec["predictor_checkpoint"],
        device=spec["device"], **spec["overrides"])


def result_table(spec: dict[str, Any], store: Any, looked_up: tuple, searcher: Any, search_time: float,
                 wall: float) -> pa.Table:
    """The per-query table of one finished search (see ssnenas.analysis.runs)."""
    from ssnenas.analysis.curves import best_so_far

    _, archs, keys, rows = looked_up
    val_col, test_col = store.column("val_acc"), store.column("test_acc")
    timings = dict(getattr(searcher, "timings", None) or {})
    idx = np.asarray(rows, dtype=np.int64)
    val = val_col[idx].astype(np.float64)
    test = test_col[idx].astype(np.float64)
    best_val, best_test = best_so_far(val, test)
    n = len(idx)
    try:
        import ray

        node_id = ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""
    except Exception:  # pragma: no cover - outside Ray
        node_id = ""
    columns: dict[str, Any] = {
        "trial": pa.array(np.full(n, spec["trial"], dtype=np.int32)),
        "algorithm": pa.array([spec["algorithm"]] * n, type=pa.string()),
        "seed": pa.array(np.full(n, spec["seed"], dtype=np.int64)),
        "query": pa.array(np.arange(1, n + 1, dtype=np.int32)),
        "arch": pa.array(archs, type=pa.string()),
        "key": pa.array(keys, type=pa.string()),
        "val_acc": pa.array(val, from_pandas=True),
        "test_acc": pa.array(test, type=pa.float64(), from_pandas=True),
        "best_val_acc_so_far": pa.array(best_val, from_pandas=True),
        "test_acc_of_best_val_so_far": pa.array(best_test, type=pa.float64(), from_pandas=True),
        "wall_time_s": pa.array(np.full(n, wall)),
        "search_time_s": pa.array(np.full(n, search_time)),
        "node_id": pa.array([node_id] * n, type=pa.string()),
        "platform": pa.array([compute_platform(spec["device"])] * n, type=pa.string()),
    }
    for name in sorted(timings):
        try:
            columns[f"timing_{name}"] = pa.array(np.full(n, float(timings[name])))
        except (TypeError, ValueError):
            continue
    return pa.table(columns)


def one_line(exc: BaseException) -> str:
    """``Type: last line of the message`` of a failed search: what the driver reports for it."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[-1] if text else ''}"


def _one_thread() -> None:
    import torch

    # One intra-op thread per task (a task holds one CPU), and a seed reproduces a search only at a
    # fixed thread count: float sums are ordered differently with more threads.
    torch.set_num_threads(1)


def start_trial(registry: AlgorithmRegistry, spec: dict[str, Any], store: Any,
                sender: ckpt.Sender | None) -> tuple[tuple, Any, Callable[[str], dict], float]:
    """``(looked_up, searcher, evaluate, search time before)`` of one trial: a fresh searcher, or, when
    ``spec`` carries a checkpoint (``spec["checkpoint"]``, attached by the driver), the searcher and
    lookups restored from it; ``evaluate`` checkpoints the trial as it goes when ``sender`` is given
    (:mod:`ssnenas.runner.checkpoints`). A checkpoint that does not restore is dropped with one line
    on stderr: the trial starts from query 0."""
    looked_up = evaluator(store)
    searcher = make_searcher(registry, spec, store)
    before = 0.0
    blob = spec.get("checkpoint")
    if blob is not None:
        try:
            payload = ckpt.decode(blob)
            why = ckpt.mismatch(payload, spec)
            if why:
                raise ValueError(why)
            ckpt.restore(searcher, payload)
            for arch in payload["archs"]:  # the lookups so far, in order, as the result table needs them
                looked_up[0](arch)
            before = float(payload.get("search_time_s") or 0.0)
        except Exception as exc:  # noqa: BLE001 - a bad checkpoint costs its progress, not the trial
            print(f"trial {spec['trial']} {spec['algorithm']}: its checkpoint does not restore ({one_line(exc)}); "
                  "starting it from query 0", file=sys.stderr, flush=True)
            looked_up = evaluator(store)
            searcher = make_searcher(registry, spec, store)
            before = 0.0
    evaluate = ckpt.TrialCheckpoints(spec, searcher, looked_up[1], sender, before).wrap(looked_up[0])
    return looked_up, searcher, evaluate, before


def _sender(inbox: Any, every_s: float | None) -> ckpt.Sender | None:
    return None if inbox is None or every_s is None else ckpt.Sender(inbox, every_s)


def run_task(spec: dict[str, Any], ship: StoreShipment, registry: AlgorithmRegistry, inbox: Any = None,
             every_s: float | None = None) -> pa.Table:
    """Run one (trial, algorithm) search and return its per-query table (see ssnenas.analysis.runs);
    with ``inbox`` (the driver's checkpoint actor) its state is checkpointed every ``every_s`` seconds,
    and a ``spec["checkpoint"]`` is continued."""
    t0 = time.perf_counter()
    _one_thread()
    store = open_shipped_store(ship)
    t1 = time.perf_counter()
    looked_up, searcher, evaluate, before = start_trial(registry, spec, store, _sender(inbox, every_s))
    registry.run_direct(searcher, evaluate, spec["budget"])
    search_time = time.perf_counter() - t1 + before
    return result_table(spec, store, looked_up, searcher, search_time, time.perf_counter() - t0 + before)


def run_cohort_task(specs: list[dict[str, Any]], ship: StoreShipment, registry: AlgorithmRegistry,
                    inbox: Any = None, every_s: float | None = None) -> list[pa.Table | str]:
    """Run a cohort: the searches of ``specs`` (one algorithm, C trials) in lockstep with their
    predictor fits batched (``registry.run_cohort``); per spec its table, or a one-line error when
    that search failed (the others are kept). Each table's ``wall_time_s`` and ``search_time_s`` are
    the cohort's divided by C (its share). Checkpoints as :func:`run_task`, per trial."""
    if registry.run_cohort is None:
        raise TypeError("run_cohort_task needs a registry with run_cohort")
    t0 = time.perf_counter()
    _one_thread()
    store = open_shipped_store(ship)
    t1 = time.perf_counter()
    sender = _sender(inbox, every_s)
    started = [start_trial(registry, spec, store, sender) for spec in specs]
    outcome = registry.run_cohort([s[1] for s in started], [s[2] for s in started], specs[0]["budget"])
    search_time = (time.perf_counter() - t1) / len(specs)
    wall = (time.perf_counter() - t0) / len(specs)
    out: list[pa.Table | str] = []
    for spec, (lu, searcher, _, before), result in zip(specs, started, outcome):
        if isinstance(result, BaseException):
            out.append(one_line(result))
        else:
            out.append(result_table(spec, store, lu, searcher, search_time + before, wall + before))
    return out


def form_cohorts(specs: list[dict[str, Any]], sizes: dict[str, int],
                 algorithms: tuple[str, ...]) -> list[list[dict[str, Any]]]:
    """Group the unfinished (trial, algorithm) specs into tasks: per algorithm, consecutive
    unfinished trials in cohorts of ``sizes[algorithm]``; tasks interleave the algorithms so that
    the first trials of every algorithm finish first (as with one trial per task)."""
    per_algo: dict[str, list[list[dict[str, Any]]]] = {}
    for algorithm in algorithms:
        mine = [s for s in specs if s["algorithm"] == algorithm]
        size = max(1, sizes.get(algorithm, 1))
        per_algo[algorithm] = [mine[i:i + size] for i in range(0, len(mine), size)]
    out: list[list[dict[str, Any]]] = []
    for i in range(max((len(v) for v in per_algo.values()), default=0)):
        out += [chunks[i] for chunks in per_algo.values() if i < len(chunks)]
    return out


def split_cohort(task: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """A lost cohort's trials as two smaller cohorts (halves, the first one the larger), so that the
    next loss costs half the work; a cohort of two becomes two single trials."""
    half = (len(task) + 1) // 2
    return [task[:half], task[half:]]
