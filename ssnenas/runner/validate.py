"""Every input of a benchmark run checked before anything is written or submitted: one
:class:`~ssnenas.errors.InputError` / :class:`~ssnenas.errors.StoreError` line naming the flag and the
fix, instead of a failure in every task."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ssnenas.checks import (MAX_COUNT, MAX_RESOURCES, check_address, check_float, check_int, check_run_out,
                            check_seed)
from ssnenas.errors import InputError, SsnenasError, StoreError
from ssnenas.runner.config import (FORMAT_VERSION, INITIAL_SAMPLING, NUM_INITIAL, PREDICTOR_KINDS, BenchmarkConfig,
                                   checkpoint_kind, overrides_for, predictor_for)
from ssnenas.runner.folder import check_run_folder
from ssnenas.runner.registry import AlgorithmRegistry

#: paired trials of one run (the papers run 600): each trial's initial architectures are drawn before
#: the first task starts, so a typo such as 10**12 would hang the driver there
MAX_TRIALS = 10 ** 6


def validate(config: BenchmarkConfig, registry: AlgorithmRegistry) -> tuple[Any, dict[str, Any]]:
    """Check every input of ``config`` against ``registry``; return ``(store, run_config)``, the opened
    store and what config.json records."""
    from ssnenas import __version__
    from ssnenas.fingerprint import file_sha256
    from ssnenas.pretrain.checkpoint import weights_sha256
    from ssnenas.spaces import get_space

    if not isinstance(registry, AlgorithmRegistry):
        raise TypeError(f"registry must be an AlgorithmRegistry (search_algos.REGISTRY), not {type(registry).__name__}")
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
    # upper bounds (typo guards, ssnenas.checks) and the rest: all before the store is read, the
    # folder's lock taken or Ray started
    check_int("--trials", config.trials, maximum=MAX_TRIALS, hint=" (paper: 600)")
    check_int("--budget", config.budget, maximum=MAX_COUNT)
    check_seed("--seed", config.seed)
    check_float("--gpus-per-task", config.gpus_per_task, minimum=0.0, maximum=MAX_RESOURCES,
                hint=" (a fraction of a GPU per task such as 0.25; 0: CPU only)")
    check_int("--num-cpus", config.num_cpus, maximum=MAX_RESOURCES)
    check_int("--max-retries", config.max_retries, minimum=0)
    check_run_out("--out", config.out)
    every = config.checkpoint_every
    if every is not None and (isinstance(every, bool) or not isinstance(every, (int, float))
                              or not (math.isfinite(every) and every >= 0)):
        raise InputError(f"--checkpoint-every {every!r}: pass the seconds of search between two checkpoints of "
                         f"a trial, 0 or more (default 30)")
    cohorts = cohort_sizes(config, registry)
    check_algorithm_names(config.algorithms, registry)
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
        try:
            weights = weights_sha256(path)
        except SsnenasError as exc:  # not a checkpoint: one line that names the flag as well as the file
            raise InputError(f"--predictor {kind}={path}: {exc}") from None
        predictors[kind] = {"path": str(Path(path).resolve()), "sha256": file_sha256(path),
                            "weights_sha256": weights}
    store = open_store(config, space.name)
    check_searcher_settings(config, registry, space.name, store)
    from ssnenas.metric_spec import metric_of_store
    from ssnenas.store.content import store_identity
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
        # what the store holds (architectures, value columns, a hash of them): a run is the same only on
        # a store of the same content, whatever file it was prepared from (ssnenas.store.content)
        "store": store_identity(store),
        # what its numbers are (percent, SSIM, a negative loss): reports and plots label them with it;
        # not an identity field (the store's content already is)
        "metric": metric_of_store(store).to_dict(),
    }
    check_run_folder(config.out, run_config)
    check_address(config.address)
    return store, run_config


def open_store(config: BenchmarkConfig, space_name: str) -> Any:
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


def check_algorithm_names(algorithms: tuple[str, ...], registry: AlgorithmRegistry) -> None:
    """Every ``--algos`` name is one the registry knows, in its one spelling: a name of
    ``registry.names``, or (a registry with ``canonical``, as search_algos') a fixed variant with its
    training_nums, ``npenas-ssrl-fixed:20``."""
    known = list(registry.names)
    for a in algorithms:
        if registry.canonical is None:
            if a not in known:
                raise InputError(f"--algos: unknown algorithm {a!r}; choose from {', '.join(known)}")
            continue
        try:
            spelled = registry.canonical(a)
        except SsnenasError as exc:
            if a.partition(":")[0].lower() not in known:
                raise InputError(f"--algos: unknown algorithm {a!r}; choose from {', '.join(known)} (a -fixed "
                                 "one may add :N, its training_nums, e.g. npenas-ssrl-fixed:20)") from None
            raise InputError(f"--algos {a}: {exc}") from None
        if spelled != a:
            raise InputError(f"--algos {a}: write it as {spelled} (each algorithm has one spelling, which names "
                             "its result files)")


def cohort_sizes(config: BenchmarkConfig, registry: AlgorithmRegistry) -> dict[str, int]:
    """Trials per task for each algorithm: ``--cohort-size C`` for every algorithm, or ``auto``: the
    registry's default per algorithm (:meth:`AlgorithmRegistry.auto_cohort_size`)."""
    size = config.cohort_size
    if size == "auto":
        return {a: registry.auto_cohort_size(a, config.trials) for a in config.algorithms}
    if isinstance(size, bool) or not isinstance(size, int):
        raise InputError(f"--cohort-size {size!r}: pass a whole number of trials per task, or auto")
    if size < 1:
        raise InputError(f"--cohort-size {size}: pass 1 or more (1 runs one trial per task), or auto")
    if size > config.trials:
        raise InputError(f"--cohort-size {size} is larger than --trials {config.trials}; pass at most "
                         f"{config.trials}, or auto")
    if size > 1 and not registry.runs_cohorts:
        raise InputError(f"--cohort-size {size}: these search algorithms cannot run cohorts (no run_cohort); "
                         "pass --cohort-size 1")
    return {a: size for a in config.algorithms}


def check_searcher_settings(config: BenchmarkConfig, registry: AlgorithmRegistry, space: str, store: Any) -> None:
    """Have the registry vet each algorithm's settings (an SS variant without its checkpoint, a
    checkpoint of another space, an unknown ``--set`` key) so that they are one clear error before
    anything is submitted, not a failure in every task. A registry without ``check`` skips this."""
    if registry.check is None:
        return
    for algorithm in config.algorithms:
        kind = checkpoint_kind(algorithm)
        if kind is not None and kind not in config.predictors:
            raise InputError(f"--algos {algorithm} fine-tunes a pre-trained {kind.upper()} encoder and no "
                             f"--predictor {kind}=FILE was given; pass --predictor {kind}=FILE (make one with "
                             f"`ssnenas pretrain {kind} --space {space} --out FILE`)")
        try:
            registry.check(algorithm, space=space, store=store, budget=config.budget,
                           predictor_checkpoint=predictor_for(algorithm, config.predictors),
                           **overrides_for(algorithm, config.overrides))
        except SsnenasError as exc:
            raise InputError(f"--algos {algorithm}: {exc} (check --predictor and --set)") from None
