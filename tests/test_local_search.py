"""Local search (search_algos/local_search.py, arXiv 2005.02960) and the spaces' one-edit neighbourhoods.

The contract every searcher keeps (batches, failed trials, save/restore, pickle, RNGs) is checked by
tests/test_searchers.py, which runs it for every name in ``ALGORITHMS``, ``local-search`` included.
Here: the neighbourhoods, the walk itself (first better neighbour, restarts at local optima, never a
cell twice, the paired initial cells first), save/restore mid-walk, the Tune driver and a short
``ssnenas benchmark`` run. Trials are lookups in the synthetic NAS-Bench-201 table (tests/synthetic_tables.py).
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from ray.tune.search import Searcher

from search_algos import ALGORITHMS, REGISTRY, LocalSearch, make_searcher, run_direct
from ssnenas.spaces import get_space
from ssnenas.spaces.nasbench101 import arch_from_spec
from synthetic_tables import OPTIMUM
from test_searchers import _doc_examples, _trace
from trainables.tabular import lookup, tabular_evaluator, tabular_trainable

NB201 = get_space("nasbench201")
INIT = 10


@pytest.fixture(scope="module")
def store(synthetic_nb201_benchmark):
    return synthetic_nb201_benchmark


@pytest.fixture(scope="module")
def values(store) -> dict[str, float]:
    """val_acc of every cell of the synthetic table, by arch string."""
    return dict(zip(store.column("arch").tolist(), store.column("val_acc").tolist()))


def _hamming(a, b) -> int:
    return sum(x != y for x, y in zip(a, b))


def _initial(store, seed: int) -> list[str]:
    texts = store.column("arch")
    return [texts[i] for i in store.sample_indices(INIT, np.random.default_rng(seed)).tolist()]


# -- neighbourhoods -------------------------------------------------------------------------------------
def test_nb201_neighbours_are_the_24_one_edit_changes():
    rng = np.random.default_rng(0)
    every = NB201.all_archs()
    for arch in [NB201.sample(rng) for _ in range(20)] + [OPTIMUM]:
        nbrs = NB201.neighbours(arch)
        assert len(nbrs) == 6 * 4 == len({NB201.key(n) for n in nbrs})
        assert arch not in nbrs
        assert set(nbrs) == {c for c in every if _hamming(c, arch) == 1}  # exactly the one-edit cells
        # mutate samples from this neighbourhood and nothing else
        assert {NB201.mutate(arch, rng) for _ in range(300)} <= set(nbrs)
    tnb = get_space("transnas101-micro")
    cell = tnb.sample(rng)
    assert len(tnb.neighbours(cell)) == 6 * 3 and all(_hamming(c, cell) == 1 for c in tnb.neighbours(cell))


def test_nb101_neighbours_flip_one_edge_or_change_one_op():
    nb101 = get_space("nasbench101")
    chain = arch_from_spec([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "conv3x3-bn-relu", "output"])
    nbrs = nb101.neighbours(chain)
    # removing either edge disconnects the output; adding input -> output is one neighbour, the other
    # two ops on the middle vertex two more
    assert sorted(nb101.to_str(n) for n in nbrs) == sorted([
        "011001000|input,conv3x3-bn-relu,output", "010001000|input,conv1x1-bn-relu,output",
        "010001000|input,maxpool3x3,output"])
    rng = np.random.default_rng(1)
    for _ in range(10):
        arch = nb101.sample(rng)
        nbrs = nb101.neighbours(arch)
        keys = [nb101.key(n) for n in nbrs]
        assert nbrs and len(set(keys)) == len(keys) and nb101.key(arch) not in keys
        assert all(nb101.is_valid(n) and n.num_vertices <= arch.num_vertices for n in nbrs)
        v = arch.num_vertices
        assert len(nbrs) <= v * (v - 1) // 2 + 2 * (v - 2)


def test_darts_neighbours_change_one_op_or_one_input():
    darts = get_space("darts")
    rng = np.random.default_rng(2)
    for _ in range(5):
        g = darts.sample(rng)
        nbrs = darts.neighbours(g)
        keys = [darts.key(n) for n in nbrs]
        assert len(set(keys)) == len(keys) and darts.key(g) not in keys and all(darts.is_valid(n) for n in nbrs)
        edits = 0
        for cell in g.cells:
            for e, (op, inp) in enumerate(cell):
                edits += 7 + sum(1 for i in range(e // 2 + 2) if i not in (inp, cell[e ^ 1][1]))
        assert edits - 4 <= len(nbrs) <= edits  # a few edits may give the same canonical genotype
        for n in nbrs:
            changed = [(a, b) for ca, cb in zip(g.cells, n.cells) for a, b in zip(ca, cb) if a != b]
            assert len(changed) == 1 and _hamming(*changed[0]) == 1  # one edge, its op or its input


# -- the walk -------------------------------------------------------------------------------------------
def _replay(history: list[dict], values: dict[str, float], *, init: list[str]) -> list[set[str]]:
    """Check a k = 1 local-search history against the algorithm, independently of its code; return,
    per restart, the cells that can have been the local optimum it left.

    From the best initial cell every query is an unseen neighbour of the current cell, and the walk
    moves at the first better one. A query that is no neighbour is a restart, legal only when every
    neighbour of the current cell was evaluated and none is better. The walk may also move, without a
    query, to an evaluated better neighbour (its value is known), at a point of its random order the
    history does not show: so the replay follows every cell the walk can stand on."""
    archs = [r["arch"] for r in history]
    assert archs[:len(init)] == init  # the paired initial cells first, in their order
    evaluated = set(init)
    cands = {min(init, key=lambda a: (-values[a], init.index(a)))}
    optima: list[set[str]] = []

    def nbrs(text: str) -> set[str]:
        return {NB201.to_str(n) for n in NB201.neighbours(NB201.from_str(text))}

    def closure(texts: set[str]) -> set[str]:  # with the cells reachable by free moves
        out, frontier = set(texts), list(texts)
        while frontier:
            here = frontier.pop()
            for n in nbrs(here) & evaluated:
                if values[n] > values[here] and n not in out:
                    out.add(n)
                    frontier.append(n)
        return out

    for i, q in enumerate(archs[len(init):], len(init)):
        assert q not in evaluated, f"query {i}: {q} queried twice"
        here = closure(cands)
        from_here = {c for c in here if q in nbrs(c)}
        if not from_here:  # a restart: some cell the walk can stand on is a local optimum
            at_optimum = {c for c in here if nbrs(c) <= evaluated and all(values[n] <= values[c] for n in nbrs(c))}
            assert at_optimum, f"query {i}: a restart while every possible current cell has unvisited neighbours"
            optima.append(at_optimum)
            from_here = {q}
        evaluated.add(q)
        cands = {q if values[q] > values[c] else c for c in from_here}  # first improvement: move at once
    return optima


def test_first_better_neighbour_then_a_restart_at_the_optimum(store, values):
    """A constructed walk on the synthetic table: the start S is the optimum with one edge set to
    another op, chosen so that the optimum is S's only better neighbour. The walk queries S's
    neighbours until it meets the optimum, moves there at once, queries the optimum's unvisited
    neighbours (none is better: it is the global optimum), then restarts from one unseen cell."""
    opt = NB201.to_str(OPTIMUM)
    assert values[opt] == max(values.values())

    def better_nbrs(text):
        return [n for n in map(NB201.to_str, NB201.neighbours(NB201.from_str(text))) if values[n] > values[text]]

    start = next(n for n in map(NB201.to_str, NB201.neighbours(NB201.from_str(opt))) if better_nbrs(n) == [opt])
    near = {NB201.to_str(n) for n in NB201.neighbours(NB201.from_str(opt))} | {opt}
    others = [a for a in _initial(store, 3) if a not in near and values[a] < values[start]][:INIT - 1]
    init = others[:4] + [start] + others[4:]
    positions = set()
    for seed in range(6):
        s = LocalSearch(store=store, seed=seed, budget=60, initial_archs=init)
        archs = [r["arch"] for r in run_direct(s, tabular_evaluator(store), 60)]
        assert archs[:INIT] == init
        p = archs.index(opt)
        positions.add(p)
        start_nbrs = {NB201.to_str(n) for n in NB201.neighbours(NB201.from_str(start))}
        assert set(archs[INIT:p + 1]) <= start_nbrs  # neighbours of S up to the optimum
        rest = {NB201.to_str(n) for n in NB201.neighbours(NB201.from_str(opt))} - set(archs[:p + 1])
        q_end = p + 1 + len(rest)
        assert set(archs[p + 1:q_end]) == rest  # then every unvisited neighbour of the optimum
        assert s.local_optima[0]["arch"] == opt and s.local_optima[0]["error"] == 100.0 - values[opt]
        restart = archs[q_end]
        assert restart not in archs[:q_end]
        assert _replay(s.history, values, init=init)[0] == {opt}
    assert len(positions) > 2  # the visiting order is random (seeded), not the fixed enumeration


@pytest.mark.parametrize("seed", [0, 1])
def test_a_long_run_follows_the_algorithm_and_never_repeats_a_cell(store, values, seed):
    init = _initial(store, 100 + seed)
    s = make_searcher("local-search", space="nasbench201", store=store, seed=seed, budget=400, initial_archs=init)
    run_direct(s, tabular_evaluator(store), 400)
    keys = [r["key"] for r in s.history]
    assert len(keys) == 400 == len(set(keys))
    optima = _replay(s.history, values, init=init)
    assert len(optima) >= 2  # restarts happened and each was legal
    assert len(s.local_optima) == len(optima)
    assert all(o["arch"] in possible for o, possible in zip(s.local_optima, optima))


def test_paired_initial_archs_first_and_the_walk_starts_at_their_best(store, values):
    init = _initial(store, 7)
    s = make_searcher("local-search", space="nasbench201", store=store, seed=1, budget=20, initial_archs=init)
    assert (s.k, s.num_init, s.full_neighbourhood) == (1, INIT, False)
    ev = tabular_evaluator(store)
    for i in range(INIT):
        assert s.suggest(f"t{i}") == {"arch": init[i]}
    assert s.suggest("wait") is None  # the initial batch is in flight
    for i in range(INIT):
        s.on_trial_complete(f"t{i}", ev(init[i]))
    first = s.suggest("t10")["arch"]
    best = max(init, key=lambda a: values[a])
    assert s.current["arch"] == best and _hamming(NB201.from_str(first), NB201.from_str(best)) == 1
    assert s.suggest("t11") is None  # k = 1: one query at a time


def test_failed_start_restarts_and_failed_neighbours_are_passed_over(store):
    ev = tabular_evaluator(store)
    s = LocalSearch(store=store, seed=2, budget=40, num_init=3)
    calls = []

    def flaky(arch: str) -> dict:
        calls.append(arch)
        return {"val_acc": float("nan")} if len(calls) <= 4 or len(calls) % 3 == 0 else ev(arch)

    run_direct(s, flaky, 40)
    h = s.history
    assert [r["status"] for r in h[:4]] == ["failed"] * 4  # the initial batch and the first restart
    assert h[4]["status"] == "ok" and s.best()["status"] == "ok"
    assert len({r["key"] for r in h}) == 40  # failed cells are never queried again
    assert not any(o["arch"] in {r["arch"] for r in h if r["status"] == "failed"} for o in s.local_optima)


def test_full_neighbourhood_moves_to_the_best_neighbour(store, values):
    init = _initial(store, 11)
    start = max(init, key=lambda a: values[a])
    nbrs = {NB201.to_str(n) for n in NB201.neighbours(NB201.from_str(start))}
    m = len(nbrs - set(init))
    s = LocalSearch(store=store, seed=0, budget=INIT + m + 1, initial_archs=init, full_neighbourhood=True)
    archs = [r["arch"] for r in run_direct(s, tabular_evaluator(store), INIT + m)]
    assert set(archs[INIT:]) == nbrs - set(init)  # the whole neighbourhood, whatever it finds on the way
    assert s.current["arch"] == start
    nxt = s.suggest("next")["arch"]  # the move happens when the next batch is proposed
    best = max(nbrs, key=lambda a: values[a])
    assert values[best] > values[start]  # (this start is no local optimum)
    assert s.current["arch"] == best and nxt in {NB201.to_str(n) for n in NB201.neighbours(NB201.from_str(best))}


def test_batches_of_k_neighbours_move_at_the_first_better_one(store, values):
    init = _initial(store, 5)
    s = LocalSearch(store=store, seed=4, budget=50, initial_archs=init, k=4)
    run_direct(s, tabular_evaluator(store), 50)
    h = s.history
    batches = itertools.groupby(h[INIT:], key=lambda r: r["batch"])
    current = max(init, key=lambda a: values[a])
    for _, group in batches:
        group = [r["arch"] for r in group]
        assert len(group) <= 4
        if all(_hamming(NB201.from_str(a), NB201.from_str(current)) == 1 for a in group):
            better = [a for a in group if values[a] > values[current]]
            if better:
                current = better[0]  # the first better one in visiting order, not the best of the batch
        else:  # a restart: a batch of one
            assert len(group) == 1
            current = group[0]
    assert len({r["key"] for r in h}) == 50


# -- state, drivers, benchmark --------------------------------------------------------------------------
@pytest.mark.parametrize("stop", [INIT, 17, 33])
def test_save_restore_mid_walk_gives_the_same_continuation(store, tmp_path, stop):
    ev = tabular_evaluator(store)
    init = _initial(store, 9)
    reference = LocalSearch(store=store, seed=3, budget=80, initial_archs=init)
    run_direct(reference, ev, 80)
    s = LocalSearch(store=store, seed=3, budget=80, initial_archs=init)
    run_direct(s, ev, stop)
    in_flight = s.suggest("x")
    assert isinstance(in_flight, dict)
    s.save(tmp_path / "ls.pt")
    # the state is data: plain containers, strings and numbers, loadable without pickle
    data = torch.load(tmp_path / "ls.pt", weights_only=True)
    state = data["state"]
    assert data["class"] == "LocalSearch" and isinstance(state["_queue"], list)
    assert all(isinstance(t, str) for t in state["_queue"]) and isinstance(state["_batch_kinds"], list)
    fresh = LocalSearch(store=store, seed=999, budget=80, initial_archs=_initial(store, 1))
    fresh.restore(tmp_path / "ls.pt")
    assert fresh.in_flight == {"x": in_flight["arch"]} and fresh.current == s.current
    run_direct(fresh, ev, 80)
    assert _trace(fresh) == _trace(reference)
    assert fresh.local_optima == reference.local_optima


@pytest.mark.slow
def test_tune_driver_matches_the_direct_driver(store, ray_session, tmp_path):
    from ray import tune

    settings = dict(store=store, seed=6, budget=30, initial_archs=_initial(store, 2))
    searcher = LocalSearch(**settings)
    tuner = tune.Tuner(
        tune.with_parameters(tabular_trainable, store=store),
        tune_config=tune.TuneConfig(search_alg=searcher, metric="val_acc", mode="max", num_samples=30,
                                    max_concurrent_trials=2),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="ls-tuner", verbose=0))
    results = tuner.fit()
    assert len(results) == 30 and results.num_errors == 0
    df = results.get_dataframe()
    for arch, val in zip(df["config/arch"], df["val_acc"]):
        assert val == lookup(store, arch)["val_acc"]
    direct = LocalSearch(**settings)
    run_direct(direct, tabular_evaluator(store), 30)
    assert _trace(searcher) == _trace(direct)
    assert sorted(df["config/arch"]) == sorted(r["arch"] for r in direct.history)
    assert searcher.suggest("more") == Searcher.FINISHED


def test_docstring_example_runs():
    (block,) = _doc_examples(LocalSearch)
    namespace: dict = {}
    exec(compile(block, "<LocalSearch docstring>", "exec"), namespace)
    searcher = namespace["searcher"]
    assert len(namespace["history"]) == searcher.budget == 40 and len({r["key"] for r in searcher.history}) == 40


def test_registered_after_rea_with_cohorts_of_one():
    assert ALGORITHMS.index("local-search") == ALGORITHMS.index("rea") + 1
    assert "local-search" in REGISTRY.names and REGISTRY.default_cohort_size("local-search") == 1
    assert REGISTRY.canonical("LOCAL-SEARCH") == "local-search"


@pytest.mark.slow
def test_benchmark_cli_run_is_paired_and_deterministic(ray_session, synthetic_nb201_store, tmp_path, capsys):
    from ssnenas.analysis.runs import read_results
    from ssnenas.cli import main

    tables = []
    for name in ("a", "b"):
        run = tmp_path / name
        rc = main(["benchmark", "--quiet", "--space", "nasbench201", "--data", str(synthetic_nb201_store),
                   "--algos", "random", "local-search", "--trials", "2", "--budget", "30", "--seed", "4",
                   "--out", str(run)])
        captured = capsys.readouterr()
        assert rc == 0, captured.err
        t = read_results(run).to_pydict()
        rows = sorted(zip(t["trial"], t["algorithm"], t["query"], t["arch"], t["val_acc"]))
        assert len(rows) == 2 * 2 * 30
        tables.append(rows)
    assert tables[0] == tables[1]  # the same run twice, result for result
    archs: dict[tuple, list[str]] = {}
    for trial, algo, _, arch, _ in tables[0]:
        archs.setdefault((trial, algo), []).append(arch)
    for trial in range(2):
        ls = archs[(trial, "local-search")]
        assert ls[:INIT] == archs[(trial, "random")][:INIT]  # the paired initial cells
        assert len(set(ls)) == 30
    assert main(["report", str(tmp_path / "a"), "--json", "--no-plot"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["algorithms"]["local-search"]["num_trials"] == 2
