"""What one benchmark run is: its settings (:class:`BenchmarkConfig`) and what follows from them alone
(each task's seed, the paired initial architectures of a trial, each algorithm's checkpoint and
searcher settings).

A trial is paired: every algorithm of trial t starts from the same :data:`NUM_INITIAL` architectures,
drawn from ``SeedSequence([seed, t])``; each (trial, algorithm) task gets its own seed
``SeedSequence([seed, t, crc32(algorithm)])``, so results depend neither on the task-to-worker
assignment nor on which other algorithms run.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssnenas.errors import InputError, StoreError

NUM_INITIAL = 10
FORMAT_VERSION = 1
INITIAL_SAMPLING = ("space", "store")
#: --predictor names and the algorithms (name prefixes) that take that checkpoint.
PREDICTOR_KINDS = {"ss-rl": "npenas-ssrl", "ss-ccl": "npenas-ssccl"}
#: algorithms outside the ``npenas-ss*`` families that fine-tune a pre-trained encoder, by checkpoint kind
FINE_TUNERS = {"ssnenas-plus": "ss-ccl"}  # npenas-ssccl-k3-iso: by its npenas-ssccl prefix


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
    #: seconds of search between two checkpoints of a trial (ssnenas.runner.checkpoints); None: none
    checkpoint_every: float | None = 30.0


def task_seed(base_seed: int, trial: int, algorithm: str) -> int:
    """The seed of task (trial, algorithm): ``SeedSequence([base, trial, crc32(name)])`` -> uint32."""
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


def checkpoint_kind(algorithm: str) -> str | None:
    """The ``--predictor`` kind (``ss-rl``/``ss-ccl``) whose checkpoint ``algorithm`` fine-tunes; None if none."""
    base = algorithm.partition(":")[0]
    if base in FINE_TUNERS:
        return FINE_TUNERS[base]
    for kind, prefix in PREDICTOR_KINDS.items():
        if base == prefix or base.startswith(prefix + "-"):
            return kind
    return None


def predictor_for(algorithm: str, predictors: dict[str, Path]) -> str | None:
    """The checkpoint (path) ``algorithm`` fine-tunes, from ``{--predictor kind: path}``; None if none."""
    kind = checkpoint_kind(algorithm)
    return str(predictors[kind]) if kind in predictors else None


def overrides_for(algorithm: str, overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ``--set`` settings of ``algorithm``: those for every algorithm, then its own."""
    return {**overrides.get("*", {}), **overrides.get(algorithm, {})}


def parse_assignments(items: list[str] | None, flag: str) -> dict[str, str]:
    """``NAME=VALUE`` items of ``flag`` as a dict; :class:`InputError` naming ``flag`` for a bad item."""
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise InputError(f"{flag} {item!r}: expected NAME=VALUE")
        out[name] = value
    return out


def parse_overrides(items: list[str] | None) -> dict[str, dict[str, Any]]:
    """``[ALGO:]KEY=VALUE`` -> ``{"*" or ALGO: {KEY: json-or-string VALUE}}``."""
    out: dict[str, dict[str, Any]] = {}
    for target, value in parse_assignments(items, "--set").items():
        algo, sep, key = target.rpartition(":")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(algo if sep else "*", {})[key] = parsed
    return out


def task_specs(config: BenchmarkConfig, store: Any, done: set[tuple[int, str]] | dict) -> list[dict[str, Any]]:
    """One spec (what a task needs to run one search) per (trial, algorithm) of ``config`` not in ``done``."""
    specs: list[dict[str, Any]] = []
    device = "cuda" if config.gpus_per_task > 0 else "cpu"
    for trial in range(config.trials):
        todo = [a for a in config.algorithms if (trial, a) not in done]
        if not todo:
            continue
        initial = initial_architectures(store.space, store, config.seed, trial, sampling=config.initial_sampling)
        for algorithm in todo:
            specs.append({
                "trial": trial, "algorithm": algorithm, "seed": task_seed(config.seed, trial, algorithm),
                "budget": config.budget, "initial_archs": initial, "device": device,
                "predictor_checkpoint": predictor_for(algorithm, config.predictors),
                "overrides": overrides_for(algorithm, config.overrides),
            })
    return specs
