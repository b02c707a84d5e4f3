"""Asynchronous NPENAS proposals (search_algos/asynchronous.py), the simulated-clock driver
(search_algos/simulated.py) and the packing of candidates per GPU (ssnenas/darts/packing.py)."""

from __future__ import annotations

import argparse
import pickle

import pytest
from ray.tune.search import Searcher

from search_algos import make_searcher
from search_algos.asynchronous import AsyncNPENAS, asynchronous
from search_algos.simulated import nb201_duration, run_simulated
from ssnenas.darts.packing import (ASSUMED_GPU_BYTES, PROCESS_OVERHEAD_BYTES, WORST_GENOTYPE,
                                   candidate_memory_bytes, candidates_per_gpu, saved_activation_bytes)
from ssnenas.errors import InputError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def store(synthetic_nb201_benchmark):
    return synthetic_nb201_benchmark


def _npenas(store, *, budget=14, asynchronous_=False, **kw):
    s = make_searcher("npenas-np", space="nasbench201", store=store, seed=3, budget=budget, epochs=5,
                      num_init=4, k=3, **kw)
    return asynchronous(s) if asynchronous_ else s


def _lookup(store):
    from trainables.tabular import tabular_evaluator

    return tabular_evaluator(store)


# -- asynchronous scheduling ------------------------------------------------------------------------
def test_async_proposes_for_a_free_slot_while_others_run(store):
    """6 slots, num_init 4, k 3. Sync: 4 initial trials, then nothing until all 4 finished. Async: the 2
    slots beyond the initial batch get (random) candidates at once; after one completion, one more."""
    evaluate = _lookup(store)
    for mode in ("sync", "async"):
        s = _npenas(store, asynchronous_=mode == "async")
        s.set_max_concurrency(6)
        got = [s.suggest(f"t{i}") for i in range(6)]
        handed = [g for g in got if isinstance(g, dict)]
        if mode == "sync":
            assert len(handed) == 4 and got[4:] == [None, None]
        else:
            assert len(handed) == 6 and s.timings["fits"] == 0  # nothing finished: random, no fit
        s.on_trial_complete("t0", evaluate(handed[0]["arch"]))
        nxt = s.suggest("t6")
        if mode == "sync":
            assert nxt is None  # the initial batch is still in flight
        else:
            assert isinstance(nxt, dict) and s.timings["fits"] == 1  # one fit on the one finished result
            assert s.history[-1]["batch"] == s.history[-2]["batch"] + 1  # a batch of one: one free slot
            assert s.suggest("t7") is None  # all 6 slots busy again
        keys = [r["key"] for r in s.history]
        assert len(keys) == len(set(keys))


def test_async_fills_several_free_slots_from_one_fit(store):
    evaluate = _lookup(store)
    s = _npenas(store, asynchronous_=True)
    s.set_max_concurrency(3)
    live = {f"t{i}": s.suggest(f"t{i}")["arch"] for i in range(3)}
    for tid in ("t0", "t1"):
        s.on_trial_complete(tid, evaluate(live.pop(tid)))
    fits = s.timings["fits"]
    a, b = s.suggest("t3"), s.suggest("t4")
    assert isinstance(a, dict) and isinstance(b, dict) and s.timings["fits"] == fits + 1
    assert s.suggest("t5") is None


def test_async_twin_keeps_state_settings_and_pickles(store):
    plain = _npenas(store)
    twin = asynchronous(plain)
    assert isinstance(twin, AsyncNPENAS) and twin.asynchronous and twin.k == plain.k and twin.seed == plain.seed
    twin.set_max_concurrency(2)
    twin.suggest("a")
    back = pickle.loads(pickle.dumps(twin))
    assert isinstance(back, AsyncNPENAS) and back.num_suggested == 1
    rea = make_searcher("rea", space="nasbench201", store=store, seed=0, budget=5)
    with pytest.raises(InputError, match="NPENAS"):
        asynchronous(rea)


def test_async_spends_exactly_the_budget_and_finishes(store):
    s = _npenas(store, budget=9, asynchronous_=True)
    run = run_simulated(s, _lookup(store), lambda arch: nb201_duration(arch), slots=4, budget=9)
    assert len(run["trials"]) == 9 and s.suggest("extra") == Searcher.FINISHED
    assert len({t["arch"] for t in run["trials"]}) == 9


# -- the simulated clock ----------------------------------------------------------------------------
def test_simulated_clock_orders_completions_and_measures_busy_time(store):
    """Durations 1, 2, 3, ... by start order on 2 slots of a random search: exact clock arithmetic."""
    s = make_searcher("random", space="nasbench201", store=store, seed=0, budget=4, num_init=2, k=2)
    order: list[str] = []

    def duration(arch):
        order.append(arch)
        return float(len(order))

    run = run_simulated(s, _lookup(store), duration, slots=2, budget=4)
    spans = [(t["start"], t["end"]) for t in run["trials"]]
    # random search is synchronous in batches of k=2: (0-1, 0-2), then the batch starts at 2: (2-5, 2-6)
    assert spans == [(0.0, 1.0), (0.0, 2.0), (2.0, 5.0), (2.0, 6.0)]
    assert run["makespan"] == 6.0 and run["max_running"] == 2
    assert run["busy_fraction"] == pytest.approx((1 + 2 + 3 + 4) / (2 * 6.0))


def test_sync_and_async_under_the_simulated_clock_are_deterministic(store):
    def once(mode):
        s = _npenas(store, budget=12, asynchronous_=mode == "async")
        run = run_simulated(s, _lookup(store), nb201_duration, slots=6, budget=12)
        return [t["arch"] for t in run["trials"]], run["busy_fraction"], run["max_running"]

    sync_a, sync_b, async_a = once("sync"), once("sync"), once("async")
    assert sync_a == sync_b and once("async") == async_a
    assert sync_a[2] == 4 and async_a[2] == 6  # sync never runs more than max(num_init, k) = 4
    assert async_a[1] > sync_a[1]


def test_nb201_duration_model():
    convs = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    empty = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert nb201_duration(convs, jitter=0) == pytest.approx(2.5)
    assert nb201_duration(empty, jitter=0) == pytest.approx(1.0)
    d = nb201_duration(convs, jitter=0.1, seed=4)
    assert 2.25 <= d <= 2.75 and d == nb201_duration(convs, jitter=0.1, seed=4) != nb201_duration(convs, seed=5)


# -- packing ----------------------------------------------------------------------------------------
def test_candidates_per_gpu_takes_the_tightest_limit():
    gib = 1 << 30
    # memory: 0.9 * 40 GiB / 3 GiB = 12; CPUs 15; cap 16
    assert candidates_per_gpu(gpu_bytes=40 * gib, candidate_bytes=3 * gib, cpus_per_gpu=15) == 12
    assert candidates_per_gpu(gpu_bytes=140 * gib, candidate_bytes=3 * gib, cpus_per_gpu=15) == 15  # CPUs
    assert candidates_per_gpu(gpu_bytes=140 * gib, candidate_bytes=3 * gib, cpus_per_gpu=64) == 16  # cap
    assert candidates_per_gpu(gpu_bytes=140 * gib, candidate_bytes=3 * gib, cpus_per_gpu=64, useful=10) == 10
    assert candidates_per_gpu(gpu_bytes=2 * gib, candidate_bytes=3 * gib, cpus_per_gpu=8) == 1  # never 0


def test_memory_model_counts_saved_activations_and_scales_with_the_batch():
    from ssnenas.darts.model import DartsNetwork

    net = DartsNetwork(WORST_GENOTYPE, channels=4, layers=3, num_classes=10, in_channels=3)
    one, two, four = (saved_activation_bytes(net, (3, 8, 8), n) for n in (1, 2, 4))
    # activations grow linearly with the batch, on top of a fixed part (weights saved for the backward)
    per_image = two - one
    assert per_image > 3 * 8 * 8 * 4 and four - one == 3 * per_image and one > per_image
    kw = dict(channels=16, layers=8, input_shape=(3, 32, 32), num_classes=10, dataset_images=60_000)
    small, big = candidate_memory_bytes(batch_size=32, **kw), candidate_memory_bytes(batch_size=64, **kw)
    data = 60_000 * 3 * 32 * 32 * 4
    assert PROCESS_OVERHEAD_BYTES + data < small < big < 2 * small
    assert candidate_memory_bytes(batch_size=64, bf16=True, **kw) < big
    assert ASSUMED_GPU_BYTES == 16 << 30


def test_search_packs_candidates_by_the_memory_model(monkeypatch):
    """``trial_resources``: no --gpus-per-trial on a GPU cluster -> 1/per_gpu GPUs a trial; given -> as given."""
    import ray

    from ssnenas.darts import search as ds

    monkeypatch.setattr(ray, "cluster_resources", lambda: {"GPU": 2.0, "CPU": 16.0})
    monkeypatch.setattr(ds, "gpu_memory_bytes", lambda: 80 << 30)
    p = argparse.ArgumentParser()
    ds.add_arguments(p)
    sync = ds.resolve_settings(p.parse_args([]))  # digits: k 4, num_init 8 -> at most 8 at once: 4 per GPU
    res, slots, plan = ds.trial_resources(sync)
    assert plan["candidates_per_gpu"] == 4 and res["gpu"] == 0.25 and slots == 8
    asy = ds.resolve_settings(p.parse_args(["--async"]))  # all slots useful: 8 CPUs per GPU
    res, slots, plan = ds.trial_resources(asy)
    assert plan["candidates_per_gpu"] == 8 and res["gpu"] == 0.125 and slots == 16
    given = ds.resolve_settings(p.parse_args(["--gpus-per-trial", "1"]))
    res, slots, plan = ds.trial_resources(given)
    assert plan is None and res["gpu"] == 1.0 and slots == 2
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0})
    assert ds.trial_resources(sync) == ({"cpu": 1.0, "gpu": 0.0}, 2, None)
    with pytest.raises(InputError, match="no GPU"):
        ds.trial_resources(given)
    with pytest.raises(InputError, match="--step-mode graph replays CUDA graphs"):
        ds.trial_resources(ds.resolve_settings(p.parse_args(["--step-mode", "graph"])))
