"""Closed-domain benchmark runs, as in the NPENAS (arXiv 2003.12857) and SSNENAS (arXiv 2011.00186)
papers: T paired trials of every algorithm on a tabular benchmark, one Ray task per (trial,
algorithm), spread over every CPU/GPU of a Ray cluster. Re-running the same command resumes.

    ssnenas benchmark --space nasbench201 --data ~/.cache/ssnenas/shared/nb201-cifar10-valid \\
        --algos random rea npenas-np --trials 600 --budget 100 --seed 0 --out runs/nb201
    python -m experiments.benchmark ...            # the same command
    ssnenas report runs/nb201                      # tables and the error-bar plot

--data is a store folder: `python -m experiments.prepare_tables` writes the public tables to
~/.cache/ssnenas/shared/<name> ($SSNENAS_DATA/shared/<name> when set), `ssnenas data prepare`
to ~/.cache/ssnenas/<benchmark>-<dataset>.

Design (the clean version of the original's producer/consumer script):
- A trial is paired: every algorithm of trial t starts from the same ``NUM_INITIAL`` architectures,
  drawn from ``SeedSequence([seed, t])``; each (trial, algorithm) task gets its own seed
  ``SeedSequence([seed, t, crc32(algorithm)])`` (recorded in every row), so results depend neither on
  the task-to-worker assignment nor on which other algorithms run.
- Each task runs ``search_algos.run_direct`` (suggest / on_trial_complete in a plain loop; a Tune
  trial would cost more than the lookup it wraps) against the benchmark store and returns its
  per-query table. The **driver** writes each finished task atomically to
  ``RUN/results/trial=TTTTT/algo=NAME.parquet`` as soon as ``ray.wait`` reports it. Writing from the
  driver needs no storage shared by the nodes, and a driver crash loses only unfinished tasks.
- Resume: re-running the same command skips every (trial, algorithm) whose file exists; a different
  config into the same RUN is an error, except adding algorithms: ``--algos`` with all of the run's
  algorithms plus new ones (with any new ``--predictor``) runs only the new ones on the same paired
  trials, and config.json records the extension. Tasks that die with their worker or node are retried by Ray
  (``--max-retries``); a task that raises is reported and left for the next invocation.
- Cohorts (``--cohort-size C``): a task may run C trials of one algorithm in lockstep, their
  predictor fits batched into one model (``search_algos._cohort``); each trial's rows are what a
  task of its own would give, and each trial still gets its own file. The cohort is formed from
  unfinished trials only; a killed cohort is retried whole (sizes keep that to 1-2 minutes).
- The store is read once per worker process: its file is put in the object store once; a worker on
  a node that lacks the file (no shared storage) writes it to a local temporary folder first.
- At the end the share of wall time outside the search itself,
  ``1 - sum(task search time) / (wall time x workers)``, is printed and saved in RUN/summary.json.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import importlib
import json
import math
import socket
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa

from ssnenas.analysis.runs import (CONFIG_FILE, EXTENSIBLE_FIELDS, IDENTITY_FIELDS, SUMMARY_FILE, covers,
                                   finished_tasks, holds_run, identity_diffs, write_result)
from ssnenas.atomic import atomic_json, atomic_path
from ssnenas.cli import add_command, run_command
from ssnenas.compute_platform import compute_platform
from ssnenas.errors import InputError, SsnenasError, StoreError
from ssnenas.ray_connect import connect_ray

NUM_INITIAL = 10
FORMAT_VERSION = 1
INITIAL_SAMPLING = ("space", "store")
#: --predictor names and the algorithms (name prefixes) that take that checkpoint.
PREDICTOR_KINDS = {"ss-rl": "npenas-ssrl", "ss-ccl": "npenas-ssccl"}


# -- configuration ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchmarkConfig:
    """One ``ssnenas benchmark`` invocation (see ``--help`` for each field)."""

    space: str
    data: Path
    algorithms: tuple[str, ...]
    trials: int
    budget: int
    seed: int
    out: Path
    dataset: str | None = None
    address: str | None = None
    gpus_per_task: float = 0.0
    num_cpus: int | None = None
    predictors: dict[str, Path] = field(default_factory=dict)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    initial_sampling: str = "store"
    max_retries: int = 3
    progress: bool = True
    dashboard: bool = False
    cohort_size: int | str = "auto"


def task_seed(base_seed: int, trial: int, algorithm: str) -> int:
    """The seed of task (trial, algorithm): ``SeedSequence([base, trial, crc32(name)])`` → uint32."""
    ss = np.random.SeedSequence([int(base_seed), int(trial), zlib.crc32(algorithm.encode())])
    return int(ss.generate_state(1, np.uint32)[0])


def initial_architectures(space: Any, store: Any, base_seed: int, trial: int, *, n: int = NUM_INITIAL,
                          sampling: str = "store") -> list[str]:
    """The ``n`` distinct initial architectures (strings) shared by every algorithm of ``trial``.

    ``sampling="store"`` draws rows uniformly, as the searchers draw their own random architectures
    from a store; ``"space"`` draws ``space.sample`` (e.g. NB101's random-matrix sampling, which is
    not uniform over benchmark keys) and keeps those whose key is in the store.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(base_seed), int(trial)]))
    if sampling == "store":
        idx = store.sample_indices(n, rng)
        return [str(a) for a in store.column("arch")[idx]]
    out: list[str] = []
    seen: set[str] = set()
    for _ in range(2000 * n):
        arch = space.sample(rng)
        key = space.key(arch)
        if key in seen or key not in store:
            continue
        seen.add(key)
        out.append(space.to_str(arch))
        if len(out) == n:
            return out
    raise StoreError(f"{store.path}: random {space.name} architectures are rarely in this store "
                     f"({store.num_archs} archs, a subset of the space); pass --initial-sampling store")


def _load_backend(backend: Any = None) -> Any:
    """The module (or object) giving ALGORITHMS, make_searcher and run_direct."""
    if backend is not None:
        return backend
    try:
        module = importlib.import_module("search_algos")
    except ImportError as exc:  # pragma: no cover - only in a broken install
        raise InputError(f"the search algorithms cannot be imported ({exc}); install ssnenas with its "
                         "search_algos package") from exc
    missing = [n for n in ("ALGORITHMS", "make_searcher", "run_direct") if not hasattr(module, n)]
    if missing:
        raise InputError(f"search_algos lacks {', '.join(missing)}; this checkout has no search algorithms yet")
    return module


def _open_store(config: BenchmarkConfig, space_name: str) -> Any:
    """The store of ``--data`` for ``--space``, with a clear error when it belongs to another space."""
    from ssnenas.store.table import BenchmarkStore, list_stores

    path = Path(config.data)
    found = list_stores(path) if path.is_dir() else []
    if found:  # pick the store here (flags of this command only: --space and --dataset)
        held = ", ".join(f"{m.get('benchmark')}/{m.get('dataset')}" for _, m in found)
        fits = [(p, m) for p, m in found if config.dataset in (None, m.get("dataset"))]
        if not fits:
            raise StoreError(f"--data {path}: no store for */{config.dataset} (it holds {held}); pass --dataset "
                             f"with one of those datasets, or the folder of a {config.dataset} store")
        ours = [(p, m) for p, m in fits if m.get("space", m.get("benchmark")) == space_name]
        if len(ours) > 1:
            where = ", ".join(f"{m.get('dataset')}" + (f" in {p.parent.name}/" if p.parent != path else "")
                              for p, m in ours)
            raise StoreError(f"--data {path} holds several {space_name} stores ({where}); select one with "
                             "--dataset or pass its folder")
        path = (ours or fits)[0][0]
    try:
        store = BenchmarkStore.open(path)
    except StoreError as exc:
        raise StoreError(f"--data: {exc}") from exc
    if store.metadata.get("space", store.benchmark) != space_name:
        raise StoreError(f"--data {config.data} holds a {store.metadata.get('space', store.benchmark)} store "
                         f"({store.benchmark}/{store.dataset}), not a {space_name} one; pass --space "
                         f"{store.metadata.get('space', store.benchmark)} or the folder of a {space_name} store")
    return store


def _check_address(address: str | None) -> None:
    """Fail fast, in one line, on a ``host:port`` address nothing listens on."""
    if address in (None, "auto", "local") or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--address {address!r}: expected 'auto', 'local' or HOST:PORT of a Ray head node")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as exc:
        raise InputError(f"--address {address}: no Ray cluster reachable there ({exc.strerror or exc}); "
                         "start one with `ray start --head` / `ray up cluster.yaml`, or omit --address "
                         "for a local Ray") from exc


def _predictor_for(algorithm: str, predictors: dict[str, Path]) -> str | None:
    for kind, prefix in PREDICTOR_KINDS.items():
        if algorithm == prefix or algorithm.startswith(prefix + "-"):
            return str(predictors[kind]) if kind in predictors else None
    return None


def _overrides_for(algorithm: str, overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {**overrides.get("*", {}), **overrides.get(algorithm, {})}


def validate(config: BenchmarkConfig, backend: Any = None) -> tuple[Any, Any, dict[str, Any]]:
    """Check every input before anything is written; return ``(backend, store, run_config)``."""
    from ssnenas import __version__
    from ssnenas.fingerprint import file_sha256
    from ssnenas.pretrain.checkpoint import weights_sha256
    from ssnenas.spaces import get_space

    space = get_space(config.space)
    if not config.algorithms:
        raise InputError("--algos: name at least one algorithm")
    dup = sorted({a for a in config.algorithms if config.algorithms.count(a) > 1})
    if dup:
        raise InputError(f"--algos: {', '.join(dup)} given more than once; name each algorithm once")
    if config.trials < 1:
        raise InputError(f"--trials {config.trials}: need at least 1 trial")
    if config.budget < NUM_INITIAL:
        raise InputError(f"--budget {config.budget} is smaller than the initial population of {NUM_INITIAL} "
                         f"architectures; pass --budget {NUM_INITIAL} or more (paper: 150 on NB101, 100 on NB201)")
    if config.seed < 0:
        raise InputError(f"--seed {config.seed}: seeds are non-negative integers")
    if not (config.gpus_per_task >= 0 and math.isfinite(config.gpus_per_task)):
        raise InputError(f"--gpus-per-task {config.gpus_per_task}: pass a fraction >= 0 (e.g. 0.25)")
    if config.initial_sampling not in INITIAL_SAMPLING:
        raise InputError(f"--initial-sampling {config.initial_sampling!r}: choose {' or '.join(INITIAL_SAMPLING)}")
    if config.max_retries < 0:
        raise InputError(f"--max-retries {config.max_retries}: pass 0 or more")
    backend = _load_backend(backend)
    cohorts = cohort_sizes(config, backend)
    _check_algorithm_names(config.algorithms, backend)
    bad = [a for a in config.overrides if a != "*" and a not in config.algorithms]
    if bad:
        raise InputError(f"--set {bad[0]}:...: {bad[0]!r} is not one of --algos ({', '.join(config.algorithms)})")
    predictors = {}
    for kind, path in sorted(config.predictors.items()):
        if kind not in PREDICTOR_KINDS:
            raise InputError(f"--predictor {kind}=...: unknown predictor; use {' or '.join(PREDICTOR_KINDS)}")
        if not Path(path).is_file():
            raise InputError(f"--predictor {kind}={path}: no such checkpoint file; pre-train one with "
                             "`ssnenas pretrain`")
        predictors[kind] = {"path": str(Path(path).resolve()), "sha256": file_sha256(path),
                            "weights_sha256": weights_sha256(path)}
    store = _open_store(config, space.name)
    _check_searcher_settings(config, backend, space.name, store)
    run_config = {
        "kind": "benchmark",
        "format_version": FORMAT_VERSION,
        "space": space.name,
        "benchmark": store.benchmark,
        "dataset": store.dataset,
        "data": str(Path(store.path).resolve()),
        "data_fingerprint": store.fingerprint,
        "algorithms": list(config.algorithms),
        "trials": int(config.trials),
        "budget": int(config.budget),
        "seed": int(config.seed),
        "num_initial": NUM_INITIAL,
        "initial_sampling": config.initial_sampling,
        "predictors": predictors,
        "overrides": {k: dict(sorted(v.items())) for k, v in sorted(config.overrides.items())},
        "gpus_per_task": float(config.gpus_per_task),
        "cohort_size": config.cohort_size,
        "cohort_sizes": cohorts,
        "ssnenas_version": __version__,
    }
    _check_run_folder(config.out, run_config)
    _check_address(config.address)
    return backend, store, run_config


def _check_algorithm_names(algorithms: tuple[str, ...], backend: Any) -> None:
    """Every ``--algos`` name is one the backend knows, in its one spelling: a name of
    ``backend.ALGORITHMS``, or (a backend with ``canonical_algorithm``, as search_algos) a fixed
    variant with its training_nums, ``npenas-ssrl-fixed:20``."""
    known = list(backend.ALGORITHMS)
    canonical = getattr(backend, "canonical_algorithm", None)
    for a in algorithms:
        if canonical is None:
            if a not in known:
                raise InputError(f"--algos: unknown algorithm {a!r}; choose from {', '.join(known)}")
            continue
        try:
            spelled = canonical(a)
        except SsnenasError as exc:
            if a.partition(":")[0].lower() not in known:
                raise InputError(f"--algos: unknown algorithm {a!r}; choose from {', '.join(known)} (a -fixed "
                                 "one may add :N, its training_nums, e.g. npenas-ssrl-fixed:20)") from None
            raise InputError(f"--algos {a}: {exc}") from None
        if spelled != a:
            raise InputError(f"--algos {a}: write it as {spelled} (each algorithm has one spelling, which names "
                             "its result files)")


def cohort_sizes(config: BenchmarkConfig, backend: Any) -> dict[str, int]:
    """Trials per task for each algorithm: ``--cohort-size C`` for every algorithm, or ``auto``: the
    backend's ``COHORT_SIZES`` (1 where it has none), never more than ``--trials``."""
    size = config.cohort_size
    can = hasattr(backend, "run_cohort")
    if size == "auto":
        table = getattr(backend, "COHORT_SIZES", {}) if can else {}
        # a fixed variant with its training_nums (npenas-ssrl-fixed:20) takes its base name's size
        return {a: max(1, min(int(table.get(a, table.get(a.partition(":")[0], 1))), config.trials))
                for a in config.algorithms}
    if isinstance(size, bool) or not isinstance(size, int):
        raise InputError(f"--cohort-size {size!r}: pass a whole number of trials per task, or auto")
    if size < 1:
        raise InputError(f"--cohort-size {size}: pass 1 or more (1 runs one trial per task), or auto")
    if size > config.trials:
        raise InputError(f"--cohort-size {size} is larger than --trials {config.trials}; pass at most "
                         f"{config.trials}, or auto")
    if size > 1 and not can:
        raise InputError(f"--cohort-size {size}: these search algorithms cannot run cohorts (no run_cohort); "
                         "pass --cohort-size 1")
    return {a: size for a in config.algorithms}


def _check_searcher_settings(config: BenchmarkConfig, backend: Any, space: str, store: Any) -> None:
    """Ask the backend to vet each algorithm's settings (an SS variant without its checkpoint, a
    checkpoint of another space, an unknown ``--set`` key) so that they are one clear error before
    anything is submitted, not a failure in every task. Backends without ``check_settings`` skip this."""
    check = getattr(backend, "check_settings", None)
    if check is None:
        return
    for algorithm in config.algorithms:
        try:
            check(algorithm, space=space, store=store, budget=config.budget,
                  predictor_checkpoint=_predictor_for(algorithm, config.predictors),
                  **_overrides_for(algorithm, config.overrides))
        except SsnenasError as exc:
            raise InputError(f"--algos {algorithm}: {exc} (check --predictor and --set)") from None


def _check_run_folder(out: Path, run_config: dict[str, Any]) -> None:
    """Check that ``out`` is new or holds a run of ``run_config`` (or of a part of it, see below).

    A run may be extended: ``--algos`` with all of its algorithms plus new ones (and the new ones'
    checkpoints) runs only the new ones, on the same paired trials (a task's seed and initial
    architectures depend neither on the other algorithms nor on the run they are in).
    """
    out = Path(out)
    if not holds_run(out, "--out "):
        return
    cfg_file = out / CONFIG_FILE
    try:
        old = json.loads(cfg_file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{cfg_file}: unreadable ({exc}); pass a new --out folder") from exc
    added = _extension(old, run_config)
    diffs = [f"{k}: {run_config.get(k)!r} now vs {old.get(k)!r} there"
             for k in identity_diffs(old, run_config) if not (added and k in EXTENSIBLE_FIELDS)]
    if diffs:
        raise InputError(f"--out {out} holds a run with a different config ({'; '.join(diffs)}); repeat its "
                         "original command to resume it (--algos may add algorithms to its own), or pass a "
                         "new --out folder")


def _write_run_config(path: Path, run_config: dict[str, Any], started: str) -> None:
    """Write a new run's config.json, or record an extension (:func:`_check_run_folder`) in the
    existing one: the grown algorithms and checkpoints and an ``extended`` entry; else leave it."""
    if not path.is_file():
        atomic_json(path, {**run_config, "created": started})
        return
    old = json.loads(path.read_text())
    added = _extension(old, run_config)
    if added:
        atomic_json(path, {**old, **{k: run_config[k] for k in EXTENSIBLE_FIELDS},
                            "cohort_sizes": {**old.get("cohort_sizes", {}), **run_config["cohort_sizes"]},
                            "extended": [*old.get("extended", []), {"at": started, "added": added}]})
        return
    # a config written before checkpoints were known by their weights gains their hashes (the files
    # are the same: same_checkpoint compared their sha256), so the run can later move or resume with
    # a re-made checkpoint
    preds = old.get("predictors") or {}
    hashes = {k: v["weights_sha256"] for k, v in run_config["predictors"].items()
              if k in preds and "weights_sha256" not in preds[k]}
    if hashes:
        atomic_json(path, {**old, "predictors": {k: {**v, "weights_sha256": hashes[k]} if k in hashes else v
                                                 for k, v in preds.items()}})


def _extension(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The algorithms and checkpoint kinds ``new`` adds to ``old`` when it only adds (keeps every
    algorithm and checkpoint of ``old`` unchanged and adds at least one algorithm), else []."""
    old_algos, new_algos = old.get("algorithms") or [], new.get("algorithms") or []
    old_preds, new_preds = old.get("predictors") or {}, new.get("predictors") or {}
    if set(old_algos) == set(new_algos) or not covers(new, old):
        return []
    return ([a for a in new_algos if a not in old_algos]
            + [f"--predictor {k}" for k in new_preds if k not in old_preds])


# -- the task ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoreShipment:
    """How a task finds the store: its path, or else its bytes in the object store (boxed in a list
    so Ray does not fetch them for tasks that can read the file)."""

    path: str
    sha256: str
    size: int
    bytes_ref: list = field(default_factory=list)


_STORES: dict[str, Any] = {}  # per worker process: sha256 -> open BenchmarkStore


def open_shipped_store(ship: StoreShipment) -> Any:
    """The store of ``ship``, opened once per worker process (from the object store if need be)."""
    store = _STORES.get(ship.sha256)
    if store is not None:
        return store
    from ssnenas.fingerprint import file_sha256
    from ssnenas.store.table import BenchmarkStore

    path = Path(ship.path)
    if not (path.is_file() and path.stat().st_size == ship.size and file_sha256(path) == ship.sha256):
        path = Path(tempfile.gettempdir()) / f"ssnenas-store-{ship.sha256[:16]}" / Path(ship.path).name
        if not (path.is_file() and file_sha256(path) == ship.sha256):
            import ray

            data = ray.get(ship.bytes_ref[0])
            with atomic_path(path) as tmp:
                tmp.write_bytes(data)
    store = BenchmarkStore.open(path)
    _STORES[ship.sha256] = store
    return store


def _evaluator(store: Any) -> tuple[Callable[[str], dict], list[str], list[str], list[int]]:
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


def _make_searcher(backend: Any, spec: dict[str, Any], store: Any) -> Any:
    return backend.make_searcher(
        spec["algorithm"], space=store.space.name, store=store, seed=spec["seed"], budget=spec["budget"],
        initial_archs=list(spec["initial_archs"]), predictor_checkpoint=spec["predictor_checkpoint"],
        device=spec["device"], **spec["overrides"])


def _result_table(spec: dict[str, Any], store: Any, looked_up: tuple, searcher: Any, search_time: float,
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


def _one_thread() -> None:
    import torch

    # One intra-op thread per task (a task holds one CPU), and a seed reproduces a search only at a
    # fixed thread count: float sums are ordered differently with more threads.
    torch.set_num_threads(1)


def run_task(spec: dict[str, Any], ship: StoreShipment, backend: Any = None) -> pa.Table:
    """Run one (trial, algorithm) search and return its per-query table (see ssnenas.analysis.runs)."""
    t0 = time.perf_counter()
    _one_thread()
    store = open_shipped_store(ship)
    backend = _load_backend(backend)
    looked_up = _evaluator(store)
    t1 = time.perf_counter()
    searcher = _make_searcher(backend, spec, store)
    backend.run_direct(searcher, looked_up[0], spec["budget"])
    search_time = time.perf_counter() - t1
    return _result_table(spec, store, looked_up, searcher, search_time, time.perf_counter() - t0)


def run_cohort_task(specs: list[dict[str, Any]], ship: StoreShipment, backend: Any = None) -> list[pa.Table | str]:
    """Run a cohort: the searches of ``specs`` (one algorithm, C trials) in lockstep with their
    predictor fits batched (``search_algos._cohort.run_cohort``); per spec its table, or a one-line
    error when that search failed (the others are kept). Each table's ``wall_time_s`` and
    ``search_time_s`` are the cohort's divided by C (its share)."""
    t0 = time.perf_counter()
    _one_thread()
    store = open_shipped_store(ship)
    backend = _load_backend(backend)
    looked_up = [_evaluator(store) for _ in specs]
    t1 = time.perf_counter()
    searchers: list[Any] = [_make_searcher(backend, spec, store) for spec in specs]
    outcome = backend.run_cohort(searchers, [lu[0] for lu in looked_up], specs[0]["budget"])
    search_time = (time.perf_counter() - t1) / len(specs)
    wall = (time.perf_counter() - t0) / len(specs)
    out: list[pa.Table | str] = []
    for spec, lu, searcher, result in zip(specs, looked_up, searchers, outcome):
        if isinstance(result, BaseException):
            msg = str(result).strip().splitlines()[-1] if str(result).strip() else ""
            out.append(f"{type(result).__name__}: {msg}")
        else:
            out.append(_result_table(spec, store, lu, searcher, search_time, wall))
    return out


# -- the driver -------------------------------------------------------------------------------------
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


def run_benchmark(config: BenchmarkConfig, *, backend: Any = None,
                  on_result: Callable[[int, str, Path], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the benchmark of ``config``; return the summary also saved as RUN/summary.json.

    ``backend`` replaces the ``search_algos`` module (it must offer ``ALGORITHMS``,
    ``make_searcher`` and ``run_direct``; tests use it). ``on_result(trial, algorithm, path)`` is
    called in the driver after each result file is written.
    """
    from ssnenas.fingerprint import file_sha256

    t_start = time.perf_counter()
    backend, store, run_config = validate(config, backend)
    backend_arg = None if backend is sys.modules.get("search_algos") else backend
    out = Path(config.out)
    space = store.space
    pending_specs: list[dict[str, Any]] = []
    done = finished_tasks(out)
    device = "cuda" if config.gpus_per_task > 0 else "cpu"
    for trial in range(config.trials):
        todo = [a for a in config.algorithms if (trial, a) not in done]
        if not todo:
            continue
        initial = initial_architectures(space, store, config.seed, trial, sampling=config.initial_sampling)
        for algorithm in todo:
            pending_specs.append({
                "trial": trial, "algorithm": algorithm, "seed": task_seed(config.seed, trial, algorithm),
                "budget": config.budget, "initial_archs": initial, "device": device,
                "predictor_checkpoint": _predictor_for(algorithm, config.predictors),
                "overrides": _overrides_for(algorithm, config.overrides),
            })
    total = config.trials * len(config.algorithms)
    n_before = total - len(pending_specs)
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
        _write_run_config(out / CONFIG_FILE, run_config, started)
        ship = StoreShipment(path=str(store.path), sha256=file_sha256(store.path),
                             size=store.path.stat().st_size)
        if pending_specs and not (owned and config.address is None):
            # A private local Ray's workers all read the file itself; elsewhere a node may lack it.
            # (Also: a put object is what a driver whose raylet died tries to recover, and its
            # broken plasma connection then ends the process before the run can say what is kept.)
            ship.bytes_ref.append(ray.put(store.path.read_bytes()))
        options = dict(num_cpus=1, num_gpus=config.gpus_per_task or 0, max_retries=config.max_retries,
                       retry_exceptions=False)
        remote = {"task": ray.remote(run_task).options(**options, name="ssnenas-benchmark-task"),
                  "cohort": ray.remote(run_cohort_task).options(**options, name="ssnenas-benchmark-cohort")}
        tasks = form_cohorts(pending_specs, run_config["cohort_sizes"], config.algorithms)
        slots = _worker_slots(config.gpus_per_task)
        workers = max(1, min(slots, len(tasks)))
        summary["cohort_sizes"] = run_config["cohort_sizes"]
        _drive(remote, tasks, ship, backend_arg, out, run_config, config, summary,
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


class _RunMetrics:
    """The run's dashboard metrics (ssnenas.metrics): queued/completed searches, best errors so far
    and predictor fit time per algorithm. No-ops outside Ray."""

    def __init__(self, out: Path, run_config: dict[str, Any], specs: list[dict[str, Any]]) -> None:
        from ssnenas import metrics

        self.m = metrics
        self.tags = {a: metrics.tags(run=Path(out).name, space=run_config["space"],
                                     dataset=run_config["dataset"], algorithm=a)
                     for a in run_config["algorithms"]}
        self.queued = {a: 0 for a in self.tags}
        for spec in specs:
            self.queued[spec["algorithm"]] += 1
        self.best_val: dict[str, float] = {}
        for a, n in self.queued.items():
            metrics.trials_queued(self.tags[a], n)

    def finished(self, algorithm: str, table: pa.Table | None) -> None:
        """One task of ``algorithm`` left the queue (``table``: its result, None when it failed)."""
        tags = self.tags[algorithm]
        self.queued[algorithm] -= 1
        self.m.trials_queued(tags, self.queued[algorithm])
        if table is None or not len(table):
            return
        self.m.trials_completed(tags)
        val_err = 100.0 - float(table["best_val_acc_so_far"][-1].as_py())
        if val_err < self.best_val.get(algorithm, math.inf):
            self.best_val[algorithm] = val_err
            test = table["test_acc_of_best_val_so_far"][-1].as_py()
            self.m.best_error(tags, val_err, None if test is None else 100.0 - float(test))
        if "timing_predictor_fit_s" in table.column_names:
            fits = table["timing_fits"][0].as_py() if "timing_fits" in table.column_names else 0
            self.m.predictor_fit(tags, float(table["timing_predictor_fit_s"][0].as_py()), int(fits or 0))


def _drive(remote: dict[str, Any], tasks: list[list[dict[str, Any]]], ship: StoreShipment, backend: Any, out: Path,
           run_config: dict[str, Any], config: BenchmarkConfig, summary: dict[str, Any], *, n_before: int,
           total: int, workers: int, on_result: Callable[[int, str, Path], None] | None) -> None:
    """Submit every pending task (a cohort of one or more trials), write each trial's result as its
    task completes, and measure the overhead (filled into ``summary``, also when interrupted)."""
    import ray

    from ssnenas.progress import progress_bar

    meta = {"config_sha256": hashlib.sha256(json.dumps({k: run_config[k] for k in IDENTITY_FIELDS},
                                                       sort_keys=True).encode()).hexdigest(),
            "ssnenas_version": run_config["ssnenas_version"]}
    t0 = time.perf_counter()
    pending = {(remote["task"].remote(t[0], ship, backend) if len(t) == 1 else
                remote["cohort"].remote(t, ship, backend)): t for t in tasks}
    monitor = _RunMetrics(out, run_config, [s for t in tasks for s in t])
    search_sum = wall_sum = 0.0
    nodes: set[str] = set()
    platforms: set[str] = set()
    failures: list[str] = []
    n_run = 0
    bar = progress_bar(total=total, initial=n_before, unit="task", desc="benchmark", enabled=config.progress)
    interrupted = False
    try:
        while pending:
            if summary.get("ray_lost"):
                # Ray is gone: keep the results already back in this process, then stop (each other
                # task would fail the same way; one line at the end says so, not one line a task).
                ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
                pending = {ref: pending[ref] for ref in ready}
            else:
                ready, rest = ray.wait(list(pending), num_returns=1, timeout=1.0)
                if not ready:  # nothing in a second: is there still a Ray to wait for?
                    summary["ray_lost"] = _local_ray_lost()
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
                        monitor.finished(spec["algorithm"], None)
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
                    monitor.finished(spec["algorithm"], table)
                    n_run += 1
                    search_sum += float(table["search_time_s"][0].as_py()) if len(table) else 0.0
                    wall_sum += float(table["wall_time_s"][0].as_py()) if len(table) else 0.0
                    if len(table):
                        nodes.add(table["node_id"][0].as_py())
                        platforms.add(table["platform"][0].as_py())
                    bar.update(1)
                    if on_result is not None:
                        on_result(spec["trial"], spec["algorithm"], path)
    except KeyboardInterrupt:
        interrupted = True
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        bar.close()
        wall = time.perf_counter() - t0
        overhead = (1.0 - search_sum / (wall * workers)) if n_run else None
        summary.update({
            "complete": not failures and not interrupted and not pending and not summary.get("ray_lost"),
            "tasks_run": n_run, "tasks_failed": len(failures), "failures": failures,
            "wall_time_s": round(wall, 3), "workers": workers,
            "sum_search_time_s": round(search_sum, 3), "sum_task_wall_time_s": round(wall_sum, 3),
            "overhead_share": None if overhead is None else round(overhead, 5),
            "node_ids": sorted(nodes), "platforms": sorted(platforms),
        })


# -- command line -----------------------------------------------------------------------------------
def _parse_assignments(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise InputError(f"{flag} {item!r}: expected NAME=VALUE")
        out[name] = value
    return out


def _parse_overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    """``[ALGO:]KEY=VALUE`` → ``{"*" or ALGO: {KEY: json-or-string VALUE}}``."""
    out: dict[str, dict[str, Any]] = {}
    for target, value in _parse_assignments(items, "--set").items():
        algo, sep, key = target.rpartition(":")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(algo if sep else "*", {})[key] = parsed
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", required=True, help="nasbench101, nasbench201 or darts (also nasbench_101, nb101, ...)")
    p.add_argument("--data", required=True, type=Path, metavar="DIR",
                   help="prepared store folder of that space (experiments.prepare_tables or `ssnenas data prepare`)")
    p.add_argument("--dataset", default=None, help="select the store when DIR holds several")
    p.add_argument("--algos", required=True, nargs="+", metavar="ALGO",
                   help="random, rea, bananas, npenas-np, npenas-bo, npenas-ssrl, npenas-ssccl (+ -fixed; a "
                        "-fixed one may add :N, its training_nums: npenas-ssrl-fixed:20)")
    p.add_argument("--trials", required=True, type=int, help="paired trials per algorithm (paper: 600)")
    p.add_argument("--budget", required=True, type=int, help="queries per search (paper: 150 NB101, 100 NB201)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0); task seeds are derived and recorded")
    p.add_argument("--out", required=True, type=Path, metavar="RUN",
                   help="run folder (resumed if it exists; --algos may name more algorithms than the run has, "
                   "to add them)")
    p.add_argument("--address", default=None,
                   help="join a running Ray cluster ('auto' or HOST:PORT); default: start a local Ray")
    p.add_argument("--gpus-per-task", type=float, default=0.0, metavar="F",
                   help="GPU fraction per task (0: CPU only); tasks then search on cuda")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: all)")
    p.add_argument("--predictor", nargs="+", default=[], metavar="KIND=CKPT",
                   help="pre-trained predictor checkpoints: ss-rl=CKPT ss-ccl=CKPT")
    p.add_argument("--set", nargs="+", default=[], metavar="[ALGO:]KEY=VALUE", dest="overrides",
                   help="searcher settings (JSON values), for every algorithm or one: epochs=50 npenas-np:lr=0.01")
    p.add_argument("--initial-sampling", choices=INITIAL_SAMPLING, default="store",
                   help="initial archs uniform over the store's rows (default, as the searchers sample) "
                        "or from the space's sampler")
    p.add_argument("--max-retries", type=int, default=3, help="retries of a task whose worker/node dies (default 3)")
    p.add_argument("--cohort-size", default="auto", metavar="C",
                   help="trials per Ray task, searched in lockstep with their predictor fits batched into one "
                        "model (same results as one trial per task); 1: one trial per task; auto (default): "
                        "per algorithm, 1-2 minutes of work per task (1 for random, rea and bananas)")
    p.add_argument("--dashboard", action="store_true", help="start the Ray dashboard with a local Ray")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace) -> BenchmarkConfig:
    predictors = {k: Path(v) for k, v in _parse_assignments(args.predictor, "--predictor").items()}
    return BenchmarkConfig(
        space=args.space, data=args.data, algorithms=tuple(args.algos), trials=args.trials,
        budget=args.budget, seed=args.seed, out=args.out, dataset=args.dataset, address=args.address,
        gpus_per_task=args.gpus_per_task, num_cpus=args.num_cpus, predictors=predictors,
        overrides=_parse_overrides(args.overrides), initial_sampling=args.initial_sampling,
        max_retries=args.max_retries, progress=not args.quiet, dashboard=args.dashboard,
        cohort_size=_cohort_arg(args.cohort_size))


def _cohort_arg(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


def _command(args: argparse.Namespace) -> int:
    summary = run_benchmark(config_from_args(args))
    if summary.get("already_complete"):
        print(f"{args.out}: all {summary['tasks_total']} tasks are already done; nothing to run "
              f"(`ssnenas report {args.out}` shows the results)")
        return 0
    if summary.get("ray_lost"):
        return 1  # its one line is printed by run_benchmark
    share = summary.get("overhead_share")
    print(f"{summary['tasks_done_before'] + summary['tasks_run']}/{summary['tasks_total']} tasks done "
          f"({summary['tasks_run']} now, {summary['tasks_done_before']} before) in {summary['wall_time_s']:.1f} s "
          f"on {summary['workers']} workers; overhead outside the search: "
          f"{'n/a' if share is None else f'{100 * share:.2f}%'}; results: {args.out}")
    if summary["tasks_failed"]:
        print(f"error: {summary['tasks_failed']} tasks failed (first: {summary['failures'][0]}); "
              "rerun the same command to retry them", file=sys.stderr)
        return 1
    return 0


def register_cli(subparsers: Any) -> None:
    """Add ``ssnenas benchmark`` (entry point group ``ssnenas.commands``)."""
    add_command(subparsers, "benchmark", help="closed-domain benchmark runs on Ray (paired trials)",
                doc=__doc__, add_arguments=add_arguments, func=_command)


def main(argv: list[str] | None = None) -> int:
    """``python -m experiments.benchmark ...`` = ``ssnenas benchmark ...``."""
    return run_command("benchmark", argv)


if __name__ == "__main__":
    sys.exit(main())
