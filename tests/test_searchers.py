"""Searchers (search_algos/): one contract suite every algorithm joins through the ``searcher_case``
fixture, then per-algorithm properties (candidate generation, REA removal rules, NPENAS fixed budget,
BANANAS' sparse first layer, NPENAS beating random search on NAS-Bench-201) and the factory.

Trials are lookups in the synthetic NAS-Bench-201 table (``synthetic_nb201_benchmark``, all 15,625 cells,
tests/synthetic_tables.py), so the suite runs on any clone; predictors use
tiny settings (5 epochs, 20 candidates) so the suite stays fast.
"""

from __future__ import annotations

import math
import pickle
import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from ray.tune.search import Searcher

import search_algos
from search_algos import (ALGORITHMS, BANANAS, NPENAS, REA, NASSearcher, RandomSearch, make_searcher,
                          run_direct)
from search_algos._candidates import best_parents, mutation_candidates
from search_algos.bananas import fit_predict_ensemble
from search_algos.npenas import default_epochs, default_rate
from ssnenas.errors import InputError
from ssnenas.runner.config import checkpoint_kind
from ssnenas.spaces import get_space
from trainables.tabular import tabular_evaluator

NB201 = get_space("nasbench201")
BUDGET = 25
PREDICTOR_FAST = {"epochs": 5, "num_candidates": 20, "children_per_parent": 10}
#: (make_searcher name, overrides): every algorithm, plus REA's aging / batched variant
CASES = {name: {} for name in ALGORITHMS}
CASES.update({
    "bananas": {"epochs": 5, "width": 20, "num_candidates": 20, "children_per_parent": 10},
    "bananas-mape": {"epochs": 5, "width": 20, "num_candidates": 20, "children_per_parent": 10},
    "npenas-np": PREDICTOR_FAST, "npenas-bo": PREDICTOR_FAST, "npenas-ssrl": PREDICTOR_FAST,
    "npenas-ssccl": PREDICTOR_FAST, "ssnenas-plus": PREDICTOR_FAST, "npenas-ssccl-k3-iso": PREDICTOR_FAST,
    "npenas-np-fixed": {**PREDICTOR_FAST, "training_nums": 10},
    "npenas-ssrl-fixed": {**PREDICTOR_FAST, "training_nums": 10},
    "npenas-ssccl-fixed": {**PREDICTOR_FAST, "training_nums": 10},
    "rea": {"population_size": 8, "tournament_size": 3},
})
CASES["rea-aging-k3"] = {"population_size": 8, "tournament_size": 3, "aging": True, "k": 3}


# -- fixtures ------------------------------------------------------------------------------------------

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def store(synthetic_nb201_benchmark):
    return synthetic_nb201_benchmark


@pytest.fixture(scope="module")
def checkpoints(nb201_checkpoints):
    return nb201_checkpoints


def _build(case: str, store, checkpoints, *, seed: int, budget: int = BUDGET, **extra) -> NASSearcher:
    name = "rea" if case.startswith("rea") else case
    kind = checkpoint_kind(name)
    ckpt = None if kind is None else checkpoints[kind]
    kwargs = {"num_init": 5, **({} if name == "rea" else {"k": 5}), **CASES[case], **extra}
    return make_searcher(name, space="nasbench201", store=store, seed=seed, budget=budget,
                         predictor_checkpoint=ckpt, **kwargs)


@pytest.fixture(params=sorted(CASES))
def searcher_case(request, store, checkpoints):
    """``make(seed=..., **overrides)`` for one algorithm; every contract test runs for each."""
    case = request.param
    make = lambda seed=0, **extra: _build(case, store, checkpoints, seed=seed, **extra)  # noqa: E731
    make.case = case
    make.allows_duplicates = case.startswith("rea")
    return make


def _trace(searcher: NASSearcher) -> list[tuple]:
    return [(r["arch"], r["status"], r["value"]) for r in searcher.history]


# -- the contract suite --------------------------------------------------------------------------------
def test_config_shape_and_batch_semantics(searcher_case, store):
    s = searcher_case(seed=1)
    configs = [s.suggest(f"t{i}") for i in range(s.num_init)]
    for c in configs:
        assert set(c) == {"arch"} and isinstance(c["arch"], str)
        assert NB201.key(NB201.from_str(c["arch"])) in store
    assert s.suggest("extra") is None  # the initial batch is in flight
    ev = tabular_evaluator(store)
    for i, c in enumerate(configs[:-1]):
        s.on_trial_complete(f"t{i}", ev(c["arch"]))
        assert s.suggest("extra") is None  # still one in flight
    s.on_trial_complete(f"t{s.num_init - 1}", ev(configs[-1]["arch"]))
    nxt = [s.suggest(f"u{i}") for i in range(s._batch_size())]  # k, or ssnenas-plus's early batch
    assert all(isinstance(c, dict) and set(c) == {"arch"} for c in nxt)
    assert s.suggest("u_extra") is None
    assert s.history[s.num_init]["batch"] == 1


def test_same_seed_same_run_other_seed_differs(searcher_case, store):
    ev = tabular_evaluator(store)
    a, b, c = searcher_case(seed=7), searcher_case(seed=7), searcher_case(seed=8)
    run_direct(a, ev, BUDGET)
    run_direct(b, ev, BUDGET)
    run_direct(c, ev, BUDGET)
    assert len(a.history) == BUDGET
    assert _trace(a) == _trace(b)
    assert [r["arch"] for r in a.history] != [r["arch"] for r in c.history]
    assert a.suggest("more") == Searcher.FINISHED


def test_save_restore_with_trial_in_flight(searcher_case, store, tmp_path):
    ev = tabular_evaluator(store)
    reference = searcher_case(seed=3)
    run_direct(reference, ev, BUDGET)
    s = searcher_case(seed=3)
    run_direct(s, ev, 12)
    in_flight = [c for c in (s.suggest("x1"), s.suggest("x2")) if isinstance(c, dict)]
    assert in_flight and set(s.in_flight) <= {"x1", "x2"}
    s.save(tmp_path / "searcher.pkl")
    fresh = searcher_case(seed=12345)  # restore replaces every piece of state, the seed's too
    fresh.restore(tmp_path / "searcher.pkl")
    assert list(fresh.in_flight) == list(s.in_flight)
    run_direct(fresh, ev, BUDGET)
    assert _trace(fresh) == _trace(reference)
    assert fresh.seed == 3


def test_restore_keeps_an_equal_store_at_another_path(store, tmp_path):
    import shutil

    from ssnenas.store import BenchmarkStore

    ev = tabular_evaluator(store)
    s = RandomSearch(store=store, seed=0, budget=20)
    run_direct(s, ev, 10)
    s.save(tmp_path / "ckpt.pkl")
    (tmp_path / "moved").mkdir()
    shutil.copy(store.path, tmp_path / "moved" / store.path.name)
    moved = BenchmarkStore.open(tmp_path / "moved")
    other = RandomSearch(store=moved, seed=1, budget=20)
    other.restore(tmp_path / "ckpt.pkl")
    assert other.store is moved  # same fingerprint: the instance's own store is kept
    assert pickle.loads(pickle.dumps(s)).store.path == store.path  # plain unpickling reopens the path
    run_direct(other, ev, 20)
    run_direct(s, ev, 20)
    assert _trace(other) == _trace(s)
    with open(tmp_path / "ckpt.pkl", "rb") as fh:
        assert len(fh.read()) < 20_000  # a reference to the store, not the table


def test_pickle_round_trip(searcher_case, store):
    ev = tabular_evaluator(store)
    s = searcher_case(seed=4)
    run_direct(s, ev, 11)
    s.suggest("in-flight")
    clone = pickle.loads(pickle.dumps(s))
    assert clone._rng.bit_generator.state == s._rng.bit_generator.state
    assert torch.equal(clone._torch_gen.get_state(), s._torch_gen.get_state())
    assert clone.space is s.space and clone.store.path == s.store.path
    run_direct(s, ev, BUDGET)
    run_direct(clone, ev, BUDGET)
    assert _trace(clone) == _trace(s)


def test_nan_inf_missing_and_error_results_are_failed_trials(searcher_case, store):
    ev = tabular_evaluator(store)
    calls = {"n": 0}

    def flaky(arch: str) -> dict:
        i = calls["n"]
        calls["n"] += 1
        r = ev(arch)
        if i < 5 or i % 5 == 1:  # the whole initial batch fails, then every fifth trial
            r["val_acc"] = [math.nan, math.inf, -math.inf][i % 3]
        elif i % 7 == 3:
            del r["val_acc"]
        elif i % 11 == 4:
            r["val_acc"] = "not a number"
        return r

    s = searcher_case(seed=5)
    run_direct(s, flaky, BUDGET)
    hist = s.history
    assert len(hist) == BUDGET
    failed = [i for i in range(BUDGET) if i < 5 or i % 5 == 1 or i % 7 == 3 or i % 11 == 4]
    assert [i for i, r in enumerate(hist) if r["status"] == "failed"] == failed
    assert all(r["value"] is None for r in hist if r["status"] == "failed")
    best = s.best()
    assert best is not None and best["status"] == "ok"
    # an error report (result None) is a failed trial too; a failed second report changes nothing
    t = searcher_case(seed=6)
    c = t.suggest("e0")
    t.on_trial_complete("e0", None, error=True)
    t.on_trial_complete("e0", {"val_acc": math.nan})
    assert t.history[0]["status"] == "failed" and t.history[0]["value"] is None


def _drive(searcher: NASSearcher, ev, budget: int, *, fail: int) -> str:
    """Tune's order: a whole batch is handed out, then completed in order; trial ``fail`` errors.
    Returns the failed trial's id."""
    while searcher.num_suggested < budget:
        ids = []
        while (c := searcher.suggest(f"t{searcher.num_suggested}")) not in (None, Searcher.FINISHED):
            ids.append(f"t{searcher.num_suggested - 1}")
        if not ids:
            break
        for trial_id in ids:
            record = searcher.history[int(trial_id[1:])]
            failed = int(trial_id[1:]) == fail
            searcher.on_trial_complete(trial_id, None if failed else ev(record["arch"]), error=failed)
    return f"t{fail}"


def test_a_rerun_failed_trial_takes_its_result_as_if_it_succeeded_first(searcher_case, store, caplog):
    """Tuner.restore(resume_errored=True) runs a failed trial again under its id, restart_errored=True
    under a new one (known by its config/arch); the re-run's result replaces the failure, the
    architecture counts once against the budget."""
    ev = tabular_evaluator(store)
    reference = searcher_case(seed=12)
    run_direct(reference, ev, BUDGET)
    # resumed while its batch is still open (driver killed mid-batch): the batch waits for it, and
    # the whole run equals the one where it never failed
    s = searcher_case(seed=12)
    ids = [f"t{i}" for i in range(5)]
    configs = [s.suggest(i) for i in ids]
    for i, c in zip(ids, configs):
        s.on_trial_complete(i, None if i == "t2" else ev(c["arch"]), error=i == "t2")
    assert s.history[2]["status"] == "failed" and s.num_evaluated == 5
    s.on_trial_result("t2", {"val_acc": 1.0, "config/arch": configs[2]["arch"]})  # the re-run's first report
    assert s.history[2]["status"] == "live" and s.in_flight == {"t2": configs[2]["arch"]}
    assert s.suggest("t5") is None  # the batch is in flight again
    s.on_trial_complete("t2", ev(configs[2]["arch"]))
    run_direct(s, ev, BUDGET)
    assert _trace(s) == _trace(reference) and s.num_suggested == BUDGET
    # restarted under a new id after the run went on (no intermediate report first): the record is
    # revised in place, nothing is added, and it is data from then on
    late = searcher_case(seed=12)
    failed = _drive(late, ev, 10, fail=3)
    arch = late.history[3]["arch"]
    late.on_trial_complete("fresh-id", {**ev(arch), "config/arch": arch})
    h = late.history
    assert h[3]["status"] == "ok" and h[3]["trial_id"] == "fresh-id" and h[3]["value"] == ev(arch)["val_acc"]
    assert [r["status"] for r in h] == ["ok"] * len(h) and late.num_suggested == len(h) >= 10
    assert late.best()["value"] == max(r["value"] for r in h)
    assert any(i == 3 for i, _, _ in late._successes())
    run_direct(late, ev, BUDGET)
    assert late.num_suggested == BUDGET and [r["status"] for r in late.history] == ["ok"] * BUDGET
    late.on_trial_complete(failed, ev(arch))  # its first id was replaced by the restart's
    late.on_trial_complete("fresh-id", {"val_acc": 0.0})
    assert "unknown trial" in caplog.text and "completed twice" in caplog.text
    assert late.history[3]["value"] == ev(arch)["val_acc"] and late.num_suggested == BUDGET
    # pickled with a re-run in flight: the restored copy finishes it the same way
    mid = searcher_case(seed=12)
    _drive(mid, ev, 5, fail=1)
    mid.on_trial_result("t1", {"val_acc": 0.0})
    clone = pickle.loads(pickle.dumps(mid))
    for x in (mid, clone):
        x.on_trial_complete("t1", ev(x.history[1]["arch"]))
        run_direct(x, ev, BUDGET)
    assert _trace(clone) == _trace(mid) == _trace(reference)


def test_rea_population_takes_a_late_rerun_in_proposal_order(store):
    """No member is ever removed (population_size >= budget): the population is every success in
    proposal order, a re-run that succeeded after later batches included."""
    ev = tabular_evaluator(store)
    s = REA(store=store, seed=3, budget=BUDGET, num_init=5, population_size=BUDGET, tournament_size=3)
    _drive(s, ev, 12, fail=2)
    assert [p["arch"] for p in s.population] == [r["arch"] for r in s.history[:11] if r["status"] == "ok"]
    arch = s.history[2]["arch"]
    s.on_trial_complete("restarted", {**ev(arch), "config/arch": arch})
    assert [p["arch"] for p in s.population] == [r["arch"] for r in s.history[:11]]
    run_direct(s, ev, BUDGET)
    assert [p["arch"] for p in s.population] == [r["arch"] for r in s.history[:BUDGET - 1]]


def test_on_trial_complete_twice_and_unknown_trials_are_safe(searcher_case, store, caplog):
    ev = tabular_evaluator(store)
    s = searcher_case(seed=2)
    c = s.suggest("a")
    s.on_trial_complete("a", ev(c["arch"]))
    first = s.history
    s.on_trial_complete("a", {"val_acc": 0.0})
    s.on_trial_complete("never-suggested", {"val_acc": 50.0})
    assert s.history == first
    assert "completed twice" in caplog.text and "unknown trial" in caplog.text


def test_no_duplicate_evaluations_except_rea(searcher_case, store):
    s = searcher_case(seed=9, budget=40)
    run_direct(s, tabular_evaluator(store), 40)
    keys = [r["key"] for r in s.history]
    assert len(keys) == 40
    if not searcher_case.allows_duplicates:
        assert len(set(keys)) == len(keys)


def test_global_rngs_are_untouched(searcher_case, store):
    np_state, torch_state = np.random.get_state(), torch.get_rng_state()
    py_state = random.getstate()
    run_direct(searcher_case(seed=10), tabular_evaluator(store), 15)
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert random.getstate() == py_state


def test_max_concurrency_limits_live_trials(searcher_case, store):
    s = searcher_case(seed=11)
    assert s.set_max_concurrency(2) is True
    assert isinstance(s.suggest("a"), dict) and isinstance(s.suggest("b"), dict)
    assert s.suggest("c") is None
    s.on_trial_complete("a", tabular_evaluator(store)(s.history[0]["arch"]))
    assert isinstance(s.suggest("c"), dict)


# -- base-class checks and messages -------------------------------------------------------------------
def test_missing_space_metric_and_bad_arguments_name_the_fix(store):
    with pytest.raises(InputError, match=r"RandomSearch has no search space.*space='nasbench101'"):
        RandomSearch(seed=0)
    s = RandomSearch(space="nasbench201", metric=None, mode=None, seed=0)
    with pytest.raises(ValueError, match=r"no metric/mode \(metric=None, mode=None\).*TuneConfig"):
        s.suggest("t")
    assert s.set_search_properties("val_acc", "max", {}) is True
    assert isinstance(s.suggest("t"), dict)
    with pytest.raises(InputError, match=r"param_space defines 'arch' \('x'\).*drop 'arch' from param_space"):
        s.set_search_properties(None, None, {"arch": "x"})
    from ray import tune

    # search-space entries are left to Tune (its "unresolved parameters" error); metric/mode untouched
    assert s.set_search_properties("loss", "min", {"lr": tune.uniform(0, 1), "data": "x"}) is False
    assert s.set_search_properties("loss", "min", {"b": {"c": tune.grid_search([1, 2])}}) is False
    assert (s.metric, s.mode) == ("val_acc", "max")
    with pytest.raises(TypeError, match=r"seed must be an int or None, got '1' \(str\)"):
        RandomSearch(space="nasbench201", seed="1")
    with pytest.raises(InputError, match="k must be >= 1, got 0"):
        NPENAS(space="nasbench201", seed=0, k=0)
    with pytest.raises(InputError, match="mode must be 'min' or 'max', got 'up'"):
        REA(space="nasbench201", seed=0, mode="up")
    with pytest.raises(InputError, match="tournament_size=40 exceeds population_size=30"):
        REA(space="nasbench201", seed=0, tournament_size=40)
    with pytest.raises(InputError, match=r"initial_archs\[1\] is '\|bad~0\|'.*nasbench201 architecture"):
        RandomSearch(space="nasbench201", seed=0, initial_archs=[NB201.to_str(NB201.sample(
            np.random.default_rng(0))), "|bad~0|"])
    with pytest.raises(InputError, match="space='nasbench101' but the store"):
        RandomSearch(space="nasbench101", store=store, seed=0)
    with pytest.raises(RuntimeError, match="no searcher checkpoint"):
        RandomSearch(space="nasbench201", seed=0).restore("/nonexistent/ckpt.pkl")


def test_mode_min_ranks_errors(store):
    """With mode "min" the metric is an error: the best trial is the smallest value."""
    err = lambda arch: {"val_err": 100.0 - tabular_evaluator(store)(arch)["val_acc"]}  # noqa: E731
    s = NPENAS(store=store, seed=0, metric="val_err", mode="min", budget=20, **PREDICTOR_FAST)
    run_direct(s, err, 20)
    assert s.best()["value"] == min(r["value"] for r in s.history)


def test_without_a_store_archs_come_from_the_space():
    calls = []

    def evaluate(arch: str) -> dict:
        calls.append(arch)
        return {"val_acc": 10.0 * NB201.from_str(arch).count("nor_conv_3x3")}

    s = NPENAS(space="nasbench201", seed=0, budget=20, **PREDICTOR_FAST)
    run_direct(s, evaluate, 20)
    assert len(set(calls)) == 20


# -- candidate generation (NPENAS, arXiv 2003.12857) ---------------------------------------------------
def _one_edit(a, b) -> bool:
    return sum(x != y for x, y in zip(a, b)) == 1


def test_candidates_one_parent_many_children_on_nb201():
    rng = np.random.default_rng(0)
    parents = [NB201.sample(rng) for _ in range(10)]
    seen = {NB201.key(p) for p in parents}
    cands = mutation_candidates(NB201, parents, seen, rng, num_candidates=100, children_per_parent=100)
    keys = [NB201.key(c) for c in cands]
    assert len(cands) == 100 and len(set(keys)) == 100 and not set(keys) & seen
    owner = [next(j for j, p in enumerate(parents) if _one_edit(p, c)) for c in cands]
    assert owner == sorted(owner)  # parent by parent, best first
    # one NB201 parent has 24 one-edit neighbours: its 100 attempts yield at most 24 candidates
    assert owner.count(0) <= 24 and max(owner) >= 4
    assert len(seen) == 10  # the caller's set is not modified


def test_candidates_respect_store_and_limits():
    rng = np.random.default_rng(1)
    parent = NB201.sample(rng)
    allowed = lambda a: a[0] == parent[0]  # noqa: E731  (a "store" missing most archs)
    cands = mutation_candidates(NB201, [parent], set(), rng, num_candidates=100, children_per_parent=100,
                                is_known=allowed)
    assert cands and all(allowed(c) for c in cands) and len(cands) <= 20
    few = mutation_candidates(NB201, [parent] * 3, set(), rng, num_candidates=5, children_per_parent=100)
    assert len(few) == 5
    succ = [(0, "a", 5.0), (1, "b", 3.0), (2, "c", 5.0), (3, "d", 1.0)]
    assert best_parents(succ, 3) == ["d", "b", "a"]


# -- REA (worst-removal as the original code; aging=True: oldest) --------------------------------------
@pytest.mark.parametrize("aging", [False, True])
def test_rea_population_rule(store, aging):
    s = REA(store=store, seed=0, budget=60, aging=aging)
    run_direct(s, tabular_evaluator(store), 60)
    s._absorb()
    errors = [(100.0 - r["value"], i) for i, r in enumerate(s.history)]
    pop = [(p["error"], p["arch"]) for p in s.population]
    assert len(pop) == 30
    if aging:  # the 30 most recent
        assert [a for _, a in pop] == [r["arch"] for r in s.history[-30:]]
    else:  # worst-removal keeps exactly the 30 best seen so far
        best30 = sorted(errors)[:30]
        assert sorted(e for e, _ in pop) == [e for e, _ in best30]
    assert s.timings["batches"] == 1 + 50  # one child per step after the initial 10


# -- NPENAS specifics (loop, fixed-budget variants, predictor settings) --------------------------------
def test_npenas_fixed_budget_stops_retraining(store):
    ev = tabular_evaluator(store)
    fixed = NPENAS(store=store, seed=0, budget=50, training_nums=20, **PREDICTOR_FAST)
    run_direct(fixed, ev, 50)
    assert fixed.timings["fits"] == 2 and fixed._fit_size == 20  # trained on 10, 20, then kept
    full = NPENAS(store=store, seed=0, budget=50, **PREDICTOR_FAST)
    run_direct(full, ev, 50)
    assert full.timings["fits"] == 4 and full._fit_size == 40
    assert [fixed._fit_batch_size(n) for n in (10, 11, 40)] == [10, 16, 16]
    assert [full._fit_batch_size(n) for n in (10, 11, 40)] == [10, 10, 10]


def test_npenas_settings_per_predictor_and_benchmark(store, checkpoints):
    assert (default_epochs("gin", "nasbench201"), default_epochs("gin-bo", "nasbench201"),
            default_epochs("ss-rl", "nasbench101"), default_epochs("ss-ccl", "nasbench101"),
            default_epochs("ss-ccl", "nasbench201"), default_epochs("ss-ccl", "darts")) == \
        (300, 1000, 150, 200, 150, 300)
    assert [default_rate("nasbench201", d) for d in ("cifar10-valid", "cifar100", "ImageNet16-120")] == \
        [10.0, 30.0, 55.0]
    assert default_rate("nasbench101", None) == 10.0 and default_rate("darts", None) == 15.0
    s = make_searcher("npenas-bo", space="nasbench201", store=store, seed=0, budget=100)
    assert (s.head, s.epochs, s.lr, s.rate, s.k, s.num_init, s.num_candidates, s.children_per_parent,
            s.max_parents) == ("bo", 1000, 0.005, 10.0, 10, 10, 100, 100, 50)
    ss = make_searcher("npenas-ssccl-fixed", space="nasbench201", store=store, seed=0, budget=100,
                       predictor_checkpoint=checkpoints["ss-ccl"])
    assert (ss.head, ss.epochs, ss.training_nums) == ("finetune", 150, 50)
    model = torch.load(checkpoints["ss-ccl"], weights_only=True)["model"]
    assert set(ss.encoder_state) == {k.removeprefix("encoder_q.encoder.") for k in model
                                     if k.startswith("encoder_q.encoder.")}
    assert make_searcher("npenas-ssrl-fixed", space="nasbench101", store=None, seed=0, budget=150,
                         encoder_state=ss.encoder_state).training_nums == 90


def test_npenas_fine_tunes_from_the_pretrained_encoder(store, checkpoints, monkeypatch):
    """Every fit starts from the checkpoint's encoder (nothing frozen: the weights move)."""
    from search_algos.npenas import GinFit

    s = make_searcher("npenas-ssrl", space="nasbench201", store=store, seed=0, budget=15,
                      predictor_checkpoint=checkpoints["ss-rl"], num_init=5, k=5, **PREDICTOR_FAST)
    from ssnenas.pretrain import load_pretrained_encoder

    start = load_pretrained_encoder(checkpoints["ss-rl"], space="nasbench201")
    fits = []
    orig = GinFit.fit_batch.__func__

    def spy(cls, requests):
        out = orig(cls, requests)
        fits.extend(out)
        return out

    monkeypatch.setattr(GinFit, "fit_batch", classmethod(spy))
    run_direct(s, tabular_evaluator(store), 15)
    assert len(fits) == 2
    for p in fits:
        assert all(torch.equal(p.encoder_state[k], start[k]) for k in start)
        enc = p.net.encoder.state_dict()
        assert not torch.equal(enc["mlps.0.lin1.weight"], start["mlps.0.lin1.weight"])


def test_npenas_checkpoint_errors(store, checkpoints):
    with pytest.raises(InputError, match=r"predictor_checkpoint=FILE.*ssnenas pretrain ss-rl --space nasbench201"):
        make_searcher("npenas-ssrl", space="nasbench201", store=store, seed=0, budget=10)
    with pytest.raises(InputError, match=r"predictor='ss-rl' but .*ccl\.pt is a ss-ccl checkpoint"):
        make_searcher("npenas-ssrl", space="nasbench201", store=store, seed=0, budget=10,
                      predictor_checkpoint=checkpoints["ss-ccl"])
    with pytest.raises(InputError, match="apply to 'ss-rl' and 'ss-ccl' only"):
        NPENAS(store=store, seed=0, predictor="gin", predictor_checkpoint=checkpoints["ss-rl"])
    with pytest.raises(InputError, match="predictor='mlp' is unknown; choose one of gin, gin-bo"):
        NPENAS(store=store, seed=0, predictor="mlp")


@pytest.mark.slow
def test_npenas_finds_better_architectures_than_random_search(store):
    """Mean best val accuracy at 50 queries over 16 paired trials (same 10 initial archs)."""
    ev = tabular_evaluator(store)
    arch_col = store.column("arch")
    best = {"random": [], "npenas-np": []}
    for trial in range(16):
        init = [arch_col[i] for i in store.sample_indices(10, np.random.default_rng(1000 + trial))]
        for name in best:
            extra = {"epochs": 50} if name != "random" else {}
            s = make_searcher(name, space="nasbench201", store=store, seed=trial, budget=50,
                              initial_archs=init, **extra)
            best[name].append(max(r["val_acc"] for r in run_direct(s, ev, 50)))
    rs, np_ = np.array(best["random"]), np.array(best["npenas-np"])
    assert np_.mean() - rs.mean() > 0.2, (np_.mean(), rs.mean())
    assert (np_ > rs).sum() >= 10  # wins most paired trials, not only on average


def test_npenas_docstring_example_runs(store):
    """The first example of NPENAS' docstring (the direct driver), executed as written."""
    blocks = _doc_examples(NPENAS)
    namespace = {"store_dir": str(store.path.parent)}
    exec(compile(blocks[0], "<NPENAS docstring>", "exec"), namespace)
    assert len(namespace["history"]) == 30 and namespace["best"]["val_acc"] > 85.0


def _doc_examples(obj) -> list[str]:
    """The literal blocks (after a line ending in '::') of an object's docstring, dedented."""
    doc = textwrap.dedent("\n".join(obj.__doc__.splitlines()[1:]))
    blocks = re.findall(r"::\n\n((?:(?: {4}.*)?\n)+)", doc + "\n")
    return [textwrap.dedent(b) for b in blocks]


def test_other_docstring_examples_run():
    for cls in (RandomSearch, REA, BANANAS):
        (block,) = _doc_examples(cls)
        namespace: dict = {}
        exec(compile(block, f"<{cls.__name__} docstring>", "exec"), namespace)
        assert len(namespace["history"]) == namespace["searcher"].budget


@pytest.mark.slow
def test_same_sequence_in_a_spawned_process(store):
    """Reproducible across processes (no dependence on hash seeds or process state)."""
    code = textwrap.dedent(f"""
        import json
        import torch
        torch.set_num_threads(1)  # as this process (the suite's fixture): same float reductions
        from ssnenas.store import BenchmarkStore
        from search_algos import make_searcher, run_direct
        from trainables.tabular import tabular_evaluator
        store = BenchmarkStore.open({str(store.path)!r})
        s = make_searcher("npenas-bo", space="nasbench201", store=store, seed=21, budget=20,
                          epochs=5, num_candidates=20, children_per_parent=10)
        print(json.dumps([r["arch"] for r in run_direct(s, tabular_evaluator(store), 20)]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    s = make_searcher("npenas-bo", space="nasbench201", store=store, seed=21, budget=20, **PREDICTOR_FAST)
    here = [r["arch"] for r in run_direct(s, tabular_evaluator(store), 20)]
    import json

    assert json.loads(out.stdout.strip().splitlines()[-1]) == here


# -- BANANAS (arXiv 1910.11858, as run by SSNENAS) -----------------------------------------------------
def _mae(pred, target):
    return (pred - target).abs().mean(1)


def _dense_reference(x, y, xp, *, gen, P, layers, width, epochs, bs, lr, loss=_mae):
    """The textbook dense ensemble (every input column trained) drawing the same random numbers;
    ``loss(pred, target)`` is each member's batch loss, ``[P, batch] -> [P]`` (default MAE)."""
    D = x.shape[1]
    lim = lambda a, b: math.sqrt(6.0 / (a + b))  # noqa: E731
    ws = [(torch.rand(P, D, width, generator=gen) * 2 - 1) * lim(D, width)]
    ws += [(torch.rand(P, width, width, generator=gen) * 2 - 1) * lim(width, width) for _ in range(layers - 1)]
    ws += [(torch.rand(P, width, 1, generator=gen) * 2 - 1) * lim(width, 1)]
    bs_ = [torch.zeros(P, 1, w.shape[2]) for w in ws]
    params = [t.requires_grad_() for t in ws + bs_]
    opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.99), eps=1e-7)
    X, Y = torch.as_tensor(x), torch.as_tensor(y, dtype=torch.float32)

    def f(h):
        for i, (w, b) in enumerate(zip(ws, bs_)):
            h = torch.baddbmm(b, h, w)
            h = torch.relu(h) if i < len(ws) - 1 else h
        return h.squeeze(-1)

    for _ in range(epochs):
        order = torch.argsort(torch.rand(P, X.shape[0], generator=gen), dim=1)
        for s in range(0, X.shape[0], bs):
            idx = order[:, s:s + bs]
            opt.zero_grad()
            loss(f(X[idx]), Y[idx]).sum().backward()
            opt.step()
    with torch.no_grad():
        return f(torch.as_tensor(xp).expand(P, -1, -1)).numpy()


def test_bananas_sparse_first_layer_equals_dense_training():
    rng = np.random.default_rng(0)
    archs = [NB201.sample(rng) for _ in range(40)]
    x = np.stack([NB201.encode(a, "path") for a in archs]).astype(np.float32)[:, :400]
    y = (x[:, :50].sum(1) * 1.5 + 5).astype(np.float64)
    xp = np.stack([NB201.encode(NB201.sample(rng), "path") for _ in range(30)]).astype(np.float32)[:, :400]
    assert (~x.any(0)).sum() > 100  # many columns never seen in training
    kw = dict(P=3, layers=3, width=16, epochs=30, bs=8, lr=0.01)
    ours = fit_predict_ensemble(x, y, xp, gen=torch.Generator().manual_seed(5), ensemble_size=3, num_layers=3,
                                width=16, epochs=30, batch_size=8, lr=0.01)
    ref = _dense_reference(x, y, xp, gen=torch.Generator().manual_seed(5), **kw)
    assert ours.shape == (3, 30)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


def test_bananas_ensemble_learns_and_defaults(store):
    rng = np.random.default_rng(1)
    archs = [NB201.sample(rng) for _ in range(80)]
    x = np.stack([NB201.encode(a, "path") for a in archs]).astype(np.float32)
    y = 5.0 + 3.0 * x[:, np.flatnonzero(x.any(0))[:8]].sum(1)
    pred = fit_predict_ensemble(x[:60], y[:60], x[60:], gen=torch.Generator().manual_seed(0), width=20,
                                epochs=150, lr=0.01)
    mean = pred.mean(0)
    assert np.abs(mean - y[60:]).mean() < 0.6 * np.abs(y[60:] - y[:60].mean()).mean()
    assert np.corrcoef(mean, y[60:])[0, 1] > 0.8
    assert pred.std(0).mean() > 0.01  # the members disagree: Thompson sampling has a spread
    b = make_searcher("bananas", space="nasbench201", store=store, seed=0, budget=100)
    assert (b.ensemble_size, b.num_layers, b.width, b.epochs, b.lr, b.batch_size, b.encoding) == \
        (5, 10, 200, 200, 0.001, 32, "path")
    b101 = make_searcher("bananas", space="nasbench101", store=None, seed=0, budget=150)
    assert (b101.width, b101.epochs, b101.lr) == (20, 150, 0.01)


# -- the factory -------------------------------------------------------------------------------------------
def test_factory_names_errors_and_paired_initial_archs(store, checkpoints):
    assert search_algos.ALGORITHMS == ALGORITHMS and len(ALGORITHMS) == 14
    with pytest.raises(InputError, match=r"unknown search algorithm 'npenas'; choose one of random, rea, "):
        make_searcher("npenas", space="nasbench201", store=store, seed=0, budget=10)
    with pytest.raises(InputError, match=r"unknown setting\(s\) tournament_size for NPENAS; valid: "):
        make_searcher("npenas-np", space="nasbench201", store=store, seed=0, budget=10, tournament_size=3)
    init = [store.column("arch")[i] for i in store.sample_indices(10, np.random.default_rng(0))]
    for name in ALGORITHMS:
        s = make_searcher(name, space="nasbench201", store=store, seed=1, budget=20, initial_archs=init,
                          predictor_checkpoint=checkpoints["ss-ccl" if checkpoint_kind(name) == "ss-ccl" else "ss-rl"])
        assert [s.suggest(str(i))["arch"] for i in range(10)] == init, name
    with pytest.raises(InputError, match=r"initial_archs\[1\] .*repeats an earlier architecture"):
        make_searcher("random", space="nasbench201", store=store, seed=0, budget=10,
                      initial_archs=[init[0], init[0]])


def test_store_draws_are_uniform_over_stored_archs(store):
    s = RandomSearch(store=store, seed=0, budget=2000, num_init=10, k=1000)
    run_direct(s, lambda arch: {"val_acc": 1.0}, 2000)
    keys = [r["key"] for r in s.history]
    assert len(set(keys)) == 2000
    index = store.index_of(keys)
    # uniform over the 15,625 rows: the mean row index is near the middle (sd of the mean ~ 100)
    assert abs(index.mean() - (store.num_archs - 1) / 2) < 400
