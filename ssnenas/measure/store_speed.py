"""How fast and lean the NAS-Bench-101 store is: conversion throughput and memory, load time, key lookups.

A synthetic ``nasbench_only108.tfrecord`` in the exact official format is generated (once, cached): real,
valid, pruned NB101 graphs with their real module hashes (random specs, pruned, deduplicated by hash),
3 repeats each with made-up accuracies. Where fewer distinct graphs were generated than models asked for,
graphs are reused under distinct synthetic keys (md5 of a counter), flagged in the result. Then, each in a
fresh process so peak RSS is its own:

1. ``prepare_nasbench101`` on it: records/s and peak RSS (targets: >= 40,000 rec/s, <= 1 GiB);
2. ``BenchmarkStore.open`` + key index + ``val_acc``/``test_acc`` columns: seconds and RSS growth
   (targets: <= 1 s, <= 200 MB);
3. batch ``lookup`` of 1,000,000 random keys: lookups/s (target: >= 1,000,000/s).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ssnenas.atomic import atomic_json

FULL_MODELS = 423_624
TARGETS = {"convert_records_per_s": 40_000, "convert_peak_rss_mb": 1024, "load_s": 1.0, "load_rss_mb": 200,
           "lookups_per_s": 1_000_000}


# -- synthetic source -----------------------------------------------------------------------------
def _random_specs(seed: int, draws: int) -> list[tuple[str, str, str]]:
    """(hash, pruned adjacency bits, ops) of ``draws`` random valid specs (duplicates included)."""
    from ssnenas.errors import InputError
    from ssnenas.spaces import nasbench101 as nb

    rng = np.random.default_rng(seed)
    out = []
    iu = np.triu_indices(7, 1)
    while len(out) < draws:
        m = np.zeros((7, 7), dtype=np.uint8)
        if rng.random() < 0.15:  # any random spec (pruning makes these small graphs)
            m[iu] = rng.random(21) < rng.uniform(0.2, 0.5)
        else:  # every vertex on an input->output path: a 7-vertex pruned spec
            for j in range(1, 7):
                m[rng.integers(0, j), j] = 1
            for i in range(0, 6):
                m[i, rng.integers(i + 1, 7)] = 1
            extra = int(rng.integers(0, 4))
            for _ in range(extra):
                i = int(rng.integers(0, 6))
                m[i, rng.integers(i + 1, 7)] = 1
            if m.sum() > 9:
                continue
        ops = ["input"] + [nb.OPS[i] for i in rng.integers(0, 3, 5)] + ["output"]
        try:
            arch = nb.arch_from_spec(m, ops)
        except InputError:
            continue
        bits = "".join(str(b) for row in arch.matrix for b in row)
        out.append((nb.module_hash(arch.array(), arch.ops), bits, ",".join(arch.ops)))
    return out


def generate_graphs(num: int, *, seed: int = 0, workers: int = 2, max_draws: int | None = None) -> tuple[list, int]:
    """``num`` models: distinct real graphs first, then reused graphs with synthetic keys.

    Returns ``(models, distinct_real)``.
    """
    from multiprocessing import Pool

    max_draws = max_draws or int(num * 2.5) + 40_000
    seen: dict[str, tuple[str, str, str]] = {}
    chunk = max(100, min(20_000, num // workers + 1, max_draws // workers + 1))
    seeds = iter(range(seed * 1_000_003, seed * 1_000_003 + 10_000_000))
    drawn = 0
    with Pool(workers) as pool:
        while len(seen) < num and drawn < max_draws:
            batch = pool.starmap(_random_specs, [(next(seeds), chunk) for _ in range(workers)])
            for specs in batch:
                for spec in specs:
                    seen.setdefault(spec[0], spec)
            drawn += chunk * workers
            print(f"  generated {len(seen):,} distinct graphs from {drawn:,} draws", file=sys.stderr)
    models = list(seen.values())[:num]
    distinct = len(models)
    i = 0
    while len(models) < num:
        _, bits, ops = models[i % distinct]
        models.append((hashlib.md5(f"synthetic-{i}".encode()).hexdigest(), bits, ops))
        i += 1
    return models, distinct


def write_source(path: Path, models: list, *, seed: int = 0, repeats: int = 3) -> None:
    """The models as an official-format tfrecord: ``repeats`` runs each at 108 epochs, made-up accuracies."""
    from ssnenas.store.nb101_proto import model_metrics_class
    from ssnenas.store.tfrecord import append_tfrecord

    mm = model_metrics_class()
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".partial")

    def payloads():
        for h, bits, ops in models:
            base = rng.uniform(0.80, 0.95)
            params = int(rng.integers(200_000, 50_000_000))
            for r in range(repeats):
                msg = mm(trainable_parameters=params, total_time=float(rng.uniform(1000, 5000)))
                for epoch in (0.0, 54.0, 108.0):
                    acc = base * epoch / 108.0 + rng.normal(0, 0.003)
                    msg.evaluation_data.add(current_epoch=epoch, training_time=epoch * 20.0 + r,
                                            train_accuracy=min(acc + 0.05, 1.0), validation_accuracy=acc,
                                            test_accuracy=acc - 0.005,
                                            checkpoint_path=f"gs://nasbench/{h}/repeat_{r + 1}/model.ckpt-{int(epoch)}")
                raw = base64.b64encode(msg.SerializeToString()).decode("ascii")
                yield json.dumps([h, 108, bits, ops, raw]).encode("utf-8")

    with open(tmp, "wb") as f:
        append_tfrecord(f, payloads())
    os.replace(tmp, path)


def cached_source(num: int, cache: Path, seed: int, max_draws: int | None = None) -> tuple[Path, dict]:
    """The synthetic source of ``num`` models under ``cache`` (generated on first use) and its info."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"nasbench_only108_synthetic_{num}_s{seed}.tfrecord"
    info_path = path.with_suffix(".json")
    if path.exists() and info_path.exists():
        return path, json.loads(info_path.read_text())
    t = time.perf_counter()
    models, distinct = generate_graphs(num, seed=seed, max_draws=max_draws)
    t_graphs = time.perf_counter() - t
    write_source(path, models, seed=seed)
    info = {"models": num, "distinct_real_graphs": distinct, "records": 3 * num,
            "bytes": path.stat().st_size, "graph_generation_s": round(t_graphs, 1),
            "generation_s": round(time.perf_counter() - t, 1)}
    atomic_json(info_path, info)
    return path, info


class StepFailed(RuntimeError):
    """A measurement's child process failed; the message holds its stderr."""


# -- measurements, each in a fresh process ----------------------------------------------------------
_CONVERT = """
import json, resource, sys, time
from ssnenas.store.nasbench101 import prepare_nasbench101
t = time.perf_counter()
prepare_nasbench101(sys.argv[1], sys.argv[2], progress=False)
dt = time.perf_counter() - t
print(json.dumps({"s": dt, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_LOAD = """
import json, sys, time
import numpy as np
import pyarrow, pyarrow.parquet
from ssnenas.store.table import BenchmarkStore

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

before = rss()
t = time.perf_counter()
store = BenchmarkStore.open(sys.argv[1])
store.index_of(store.keys[:1])
store.column("val_acc"); store.column("test_acc")
load_s = time.perf_counter() - t
load_rss = rss() - before
rng = np.random.default_rng(0)
keys = store.keys[rng.integers(0, store.num_archs, 1_000_000)].tolist()
t = time.perf_counter()
out = store.lookup(keys)
lookup_s = time.perf_counter() - t
assert len(out["val_acc"]) == len(keys)
t = time.perf_counter()
ops, adj = store.graphs(store.sample_indices(min(10_000, store.num_archs), rng))
graphs_s = time.perf_counter() - t
print(json.dumps({"load_s": load_s, "load_rss_mb": load_rss, "rss_total_mb": rss(), "lookup_s": lookup_s,
                  "lookups": len(keys), "graphs_10k_s": graphs_s, "num_archs": store.num_archs}))
"""


def _child(code: str, *args: str) -> dict:
    """Run one measurement in a fresh interpreter (its peak RSS its own); its last stdout line is JSON."""
    root = Path(__file__).resolve().parents[2]  # the folder holding the ssnenas package
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=False)
    if res.returncode != 0:
        raise StepFailed(f"benchmark step failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def measure(models: int = FULL_MODELS, *, cache_dir: Path, seed: int = 0, max_draws: int | None = 240_000
            ) -> dict[str, Any]:
    """Generate (or reuse) the source, then convert, load and look up, each in a fresh process; the result
    holds every figure and ``targets_met`` (figure -> bool against :data:`TARGETS`)."""
    source, info = cached_source(models, cache_dir, seed, max_draws)
    with tempfile.TemporaryDirectory() as tmp:
        conv = _child(_CONVERT, str(source), str(Path(tmp) / "store"))
        load = _child(_LOAD, str(Path(tmp) / "store"))
        store_mb = sum(p.stat().st_size for p in (Path(tmp) / "store").iterdir()) / 2**20
    result = {
        "source": str(source), "models": models, "records": info["records"],
        "distinct_real_graphs": info["distinct_real_graphs"], "source_mb": info["bytes"] / 2**20,
        "convert_s": conv["s"], "convert_records_per_s": info["records"] / conv["s"],
        "convert_peak_rss_mb": conv["peak_rss_mb"], "store_mb": store_mb,
        "load_s": load["load_s"], "load_rss_mb": load["load_rss_mb"], "load_rss_total_mb": load["rss_total_mb"],
        "lookups_per_s": load["lookups"] / load["lookup_s"], "graphs_10k_s": load["graphs_10k_s"],
    }
    result["targets_met"] = {
        "convert_records_per_s": result["convert_records_per_s"] >= TARGETS["convert_records_per_s"],
        "convert_peak_rss_mb": result["convert_peak_rss_mb"] <= TARGETS["convert_peak_rss_mb"],
        "load_s": result["load_s"] <= TARGETS["load_s"],
        "load_rss_mb": result["load_rss_mb"] <= TARGETS["load_rss_mb"],
        "lookups_per_s": result["lookups_per_s"] >= TARGETS["lookups_per_s"],
    }
    return result


def report(result: dict[str, Any]) -> list[str]:
    """The human-readable lines of a :func:`measure` result."""
    return [
        f"source: {result['records']:,} records ({result['models']:,} models x 3, "
        f"{result['distinct_real_graphs']:,} distinct real graphs), {result['source_mb']:.0f} MB",
        f"convert: {result['convert_s']:.1f} s = {result['convert_records_per_s']:,.0f} records/s, "
        f"peak RSS {result['convert_peak_rss_mb']:.0f} MB; store {result['store_mb']:.1f} MB",
        f"load:    {result['load_s']:.3f} s, +{result['load_rss_mb']:.0f} MB RSS "
        f"(process total {result['load_rss_total_mb']:.0f} MB)",
        f"lookup:  {result['lookups_per_s']:,.0f} keys/s (batch of 1,000,000); "
        f"graphs of 10k archs {result['graphs_10k_s'] * 1e3:.1f} ms",
        "targets met: " + ", ".join(f"{k}={v}" for k, v in result["targets_met"].items()),
    ]
