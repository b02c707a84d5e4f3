"""The distributed benchmark runner (ssnenas.runner, behind `ssnenas benchmark`) on the real NB201
table, with the session-wide local Ray: paired initial archs, recorded seeds, per-task Parquet files, resume,
config mismatch, and the one-line bad-input errors of the CLI.

The searchers here are a tiny local stand-in (random and best-mutation local search) so the
runner is tested independently of ``search_algos``; they follow the same
``make_searcher`` / ``run_direct`` contract.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from ssnenas import runner
from ssnenas.runner import shipping
from ssnenas.runner.registry import AlgorithmRegistry
from ssnenas.analysis.runs import finished_tasks, read_results, result_path
from ssnenas.errors import InputError

ALGOS = ("toy-random", "toy-local")
DETERMINISTIC = ["trial", "algorithm", "seed", "query", "arch", "key", "val_acc", "test_acc",
                 "best_val_acc_so_far", "test_acc_of_best_val_so_far"]


# -- a tiny local searcher family (pickled by value into the Ray workers) -------------------------
class ToySearcher:
    """Evaluates the initial archs, then either random unseen archs or unseen mutants of the best."""

    def __init__(self, *, space, seed, initial_archs, local):
        self.space, self.local = space, local
        self.rng = np.random.default_rng(seed)
        self.queue = list(initial_archs)
        self.seen: set[str] = set()
        self.history: list[tuple[float, str]] = []
        self.timings = {"propose_s": 0.0}

    def suggest(self) -> str:
        if self.queue:
            arch = self.queue.pop(0)
            self.seen.add(self.space.key(self.space.from_str(arch)))
            return arch
        t = time.perf_counter()
        while True:
            if self.local:
                parent = self.space.from_str(max(self.history)[1])
                cand = self.space.mutate(parent, self.rng)
            else:
                cand = self.space.sample(self.rng)
            key = self.space.key(cand)
            if key not in self.seen:
                self.seen.add(key)
                self.timings["propose_s"] += time.perf_counter() - t
                return self.space.to_str(cand)

    def on_trial_complete(self, arch: str, result: dict) -> None:
        self.history.append((result["val_acc"], arch))


class ToyBackend:
    ALGORITHMS = ALGOS

    def __init__(self, log: Path | None = None, sleep: float = 0.0, fail: str | None = None):
        self.log, self.sleep, self.fail = log, sleep, fail

    def make_searcher(self, name, *, space, store, seed, budget, initial_archs=None,
                      predictor_checkpoint=None, device="cpu", **overrides):
        if self.log is not None:
            with open(self.log, "a") as f:
                f.write(f"{name} {seed}\n")
        if name == self.fail:
            raise ValueError(f"{name} is broken")
        from ssnenas.spaces import get_space

        return ToySearcher(space=get_space(space), seed=seed, initial_archs=initial_archs, local=name == "toy-local")

    def run_direct(self, searcher, evaluate, budget):
        out = []
        for _ in range(budget):
            arch = searcher.suggest()
            result = evaluate(arch)
            searcher.on_trial_complete(arch, result)
            out.append({"arch": arch, **result})
        time.sleep(self.sleep)
        return out

    def registry(self) -> AlgorithmRegistry:
        """These toy searchers as the runner takes them (one trial per task, no settings check)."""
        return AlgorithmRegistry(names=ALGOS, make=self.make_searcher, run_direct=self.run_direct)


import ray.cloudpickle  # noqa: E402

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


# -- fixtures -------------------------------------------------------------------------------------
def _config(store: Path, out: Path, **kw) -> runner.BenchmarkConfig:
    args = dict(space="nasbench201", data=store, algorithms=ALGOS, trials=3, budget=20, seed=7, out=out,
                progress=False)
    args.update(kw)
    return runner.BenchmarkConfig(**args)


def _executions(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture(scope="module")
def finished_run(ray_session, synthetic_nb201_store, tmp_path_factory):
    """One complete 2 algorithms x 3 trials, budget 20 run (shared by the tests below)."""
    root = tmp_path_factory.mktemp("run")
    log = root / "executions.txt"
    summary = runner.run_benchmark(_config(synthetic_nb201_store, root / "A"), ToyBackend(log).registry())
    return root / "A", log, summary


# -- seeds and the paired initial population ------------------------------------------------------
def test_task_seeds_are_derived_per_trial_and_algorithm():
    assert runner.task_seed(7, 0, "rea") == runner.task_seed(7, 0, "rea")
    seeds = {runner.task_seed(7, t, a) for t in range(50) for a in ("rea", "random", "npenas-np")}
    assert len(seeds) == 150
    assert runner.task_seed(7, 0, "rea") != runner.task_seed(8, 0, "rea")


def test_initial_architectures_are_distinct_in_store_and_reproducible(synthetic_nb201_store):
    from ssnenas.store.table import BenchmarkStore

    store = BenchmarkStore.open(synthetic_nb201_store)
    a = runner.initial_architectures(store.space, store, 7, 3)
    assert a == runner.initial_architectures(store.space, store, 7, 3)
    assert a != runner.initial_architectures(store.space, store, 7, 4)
    keys = [store.space.key(store.space.from_str(x)) for x in a]
    assert len(set(keys)) == runner.NUM_INITIAL and all(k in store for k in keys)
    drawn = runner.initial_architectures(store.space, store, 7, 3, sampling="space")
    assert drawn != a and len({store.space.key(store.space.from_str(x)) for x in drawn}) == runner.NUM_INITIAL
    assert all(store.space.key(store.space.from_str(x)) in store for x in drawn)


# -- a real local run -----------------------------------------------------------------------------
def test_run_writes_one_parquet_per_task_with_the_documented_rows(finished_run, synthetic_nb201_store):
    from ssnenas.store.table import BenchmarkStore

    run, log, summary = finished_run
    store = BenchmarkStore.open(synthetic_nb201_store)
    files = finished_tasks(run)
    assert sorted(files) == [(t, a) for t in range(3) for a in sorted(ALGOS)]
    assert files[(2, "toy-local")] == run / "results" / "trial=00002" / "algo=toy-local.parquet"
    assert len(_executions(log)) == 6
    for (trial, algo), path in files.items():
        t = pq.read_table(path).to_pydict()
        assert t["query"] == list(range(1, 21))
        assert set(t["trial"]) == {trial} and set(t["algorithm"]) == {algo}
        assert set(t["seed"]) == {runner.task_seed(7, trial, algo)}
        # every number is the store's, and the running columns are max / argmax-by-val
        ref = store.lookup(t["key"])
        np.testing.assert_array_equal(t["val_acc"], ref["val_acc"])
        np.testing.assert_array_equal(t["test_acc"], ref["test_acc"])
        np.testing.assert_array_equal(t["best_val_acc_so_far"], np.maximum.accumulate(ref["val_acc"]))
        for q in range(1, 21):
            i = int(np.argmax(ref["val_acc"][:q]))
            assert t["test_acc_of_best_val_so_far"][q - 1] == ref["test_acc"][i]
        assert len(set(t["key"])) == 20
        assert min(t["search_time_s"]) > 0 and t["wall_time_s"][0] >= t["search_time_s"][0]
        assert "timing_propose_s" in t and t["timing_propose_s"][0] > 0
    # paired comparison: both algorithms of a trial start from the same 10 archs, other trials differ
    results = read_results(run).to_pydict()
    first = {}
    for trial, algo, q, arch in zip(results["trial"], results["algorithm"], results["query"], results["arch"]):
        if q <= 10:
            first.setdefault((trial, algo), []).append(arch)
    for trial in range(3):
        assert first[(trial, "toy-random")] == first[(trial, "toy-local")]
        assert first[(trial, "toy-random")] == runner.initial_architectures(store.space, store, 7, trial)
    assert first[(0, "toy-random")] != first[(1, "toy-random")]
    # config and summary
    config = json.loads((run / "config.json").read_text())
    assert config["kind"] == "benchmark" and config["algorithms"] == list(ALGOS)
    assert config["data_fingerprint"] == store.fingerprint and config["ssnenas_version"]
    assert summary["complete"] and summary["tasks_run"] == 6 and summary["tasks_failed"] == 0
    # every row names the platform that computed it: this machine's processor and torch kernels
    import torch

    from ssnenas.compute_platform import compute_platform
    here = compute_platform("cpu")
    assert set(results["platform"]) == {here} and summary["platforms"] == [here]
    assert here.startswith("cpu ") and f"torch {torch.__version__} {torch.backends.cpu.get_cpu_capability()}" in here
    assert summary == json.loads((run / "summary.json").read_text())
    assert 0 < summary["sum_search_time_s"] <= summary["wall_time_s"] * summary["workers"]
    search, wall, workers = summary["sum_search_time_s"], summary["wall_time_s"], summary["workers"]
    # both times are rounded to 1 ms, which moves the share by up to 5e-4 * (1 + search / wall) / (wall * workers)
    rounding = 5e-4 * (1 + search / wall) / (wall * workers) + 1e-5
    assert summary["overhead_share"] == pytest.approx(1 - search / (wall * workers), abs=rounding)


def test_resume_skips_finished_tasks_and_reproduces_the_same_results(finished_run, synthetic_nb201_store, tmp_path):
    run, _, _ = finished_run
    partial = tmp_path / "B"
    shutil.copytree(run, partial)
    for trial, algo in ((1, "toy-local"), (2, "toy-random")):
        result_path(partial, trial, algo).unlink()  # as if these tasks never finished
    kept = {k: p.read_bytes() for k, p in finished_tasks(partial).items()}
    log = tmp_path / "executions.txt"
    summary = runner.run_benchmark(_config(synthetic_nb201_store, partial), ToyBackend(log).registry())
    assert summary["tasks_run"] == 2 and summary["tasks_done_before"] == 4 and summary["complete"]
    assert sorted(_executions(log)) == sorted([f"toy-local {runner.task_seed(7, 1, 'toy-local')}",
                                               f"toy-random {runner.task_seed(7, 2, 'toy-random')}"])
    for k, data in kept.items():  # finished files are not touched
        assert finished_tasks(partial)[k].read_bytes() == data
    assert read_results(partial).select(DETERMINISTIC).equals(read_results(run).select(DETERMINISTIC))
    again = runner.run_benchmark(_config(synthetic_nb201_store, partial), ToyBackend(log).registry())
    assert again["tasks_run"] == 0 and again["complete"] and len(_executions(log)) == 2


def test_a_failing_task_is_reported_and_rerun_next_time(ray_session, synthetic_nb201_store, tmp_path):
    log = tmp_path / "executions.txt"
    summary = runner.run_benchmark(_config(synthetic_nb201_store, tmp_path / "run", trials=2),
                                   ToyBackend(log, fail="toy-local").registry())
    assert not summary["complete"] and summary["tasks_failed"] == 2 and summary["tasks_run"] == 2
    assert summary["failures"][0].endswith("toy-local: ValueError: toy-local is broken")
    assert sorted(finished_tasks(tmp_path / "run")) == [(0, "toy-random"), (1, "toy-random")]
    assert len(_executions(log)) == 4  # a raising task is not retried by Ray (retry_exceptions=False)
    again = runner.run_benchmark(_config(synthetic_nb201_store, tmp_path / "run", trials=2), ToyBackend(log).registry())
    assert again["complete"] and again["tasks_run"] == 2 and again["tasks_done_before"] == 2
    assert [x.split()[0] for x in _executions(log)[4:]] == ["toy-local", "toy-local"]


def test_a_different_config_into_the_same_run_is_an_error(finished_run, synthetic_nb201_store):
    run, log, _ = finished_run
    before = {k: p.read_bytes() for k, p in finished_tasks(run).items()}
    with pytest.raises(InputError, match=r"different config \(budget: 30 now vs 20 there"):
        runner.run_benchmark(_config(synthetic_nb201_store, run, budget=30), ToyBackend(log).registry())
    with pytest.raises(InputError, match=r"algorithms: \['toy-random'\] now"):
        runner.run_benchmark(_config(synthetic_nb201_store, run, algorithms=("toy-random",)), ToyBackend(log).registry())
    assert {k: p.read_bytes() for k, p in finished_tasks(run).items()} == before
    assert len(_executions(log)) == 6


def test_a_run_is_extended_by_more_algorithms_on_the_same_paired_trials(finished_run, synthetic_nb201_store, tmp_path):
    run, _, _ = finished_run
    log = tmp_path / "executions.txt"
    part = tmp_path / "part"
    runner.run_benchmark(_config(synthetic_nb201_store, part, algorithms=("toy-random",)), ToyBackend(log).registry())
    kept = {k: p.read_bytes() for k, p in finished_tasks(part).items()}
    summary = runner.run_benchmark(_config(synthetic_nb201_store, part), ToyBackend(log).registry())
    assert summary["complete"] and summary["tasks_run"] == 3 and summary["tasks_done_before"] == 3
    assert sorted(x.split()[0] for x in _executions(log)) == ["toy-local"] * 3 + ["toy-random"] * 3
    assert {k: finished_tasks(part)[k].read_bytes() for k in kept} == kept  # the first algorithm untouched
    # the added algorithm's trials are those of a run that had both from the start
    assert read_results(part).select(DETERMINISTIC).equals(read_results(run).select(DETERMINISTIC))
    cfg = json.loads((part / "config.json").read_text())
    assert cfg["algorithms"] == list(ALGOS) and [e["added"] for e in cfg["extended"]] == [["toy-local"]]
    # now the run has both: fewer algorithms is still a different config
    with pytest.raises(InputError, match=r"algorithms: \['toy-random'\] now"):
        runner.run_benchmark(_config(synthetic_nb201_store, part, algorithms=("toy-random",)), ToyBackend(log).registry())


def test_a_packed_run_unpacked_elsewhere_resumes_without_repeating_work(finished_run, synthetic_nb201_store, tmp_path):
    from ssnenas.analysis.runpack import pack_run, unpack_run

    run, _, _ = finished_run
    pack_run(run, tmp_path / "random.parquet", ["toy-random"])  # as if only toy-random had finished
    moved = tmp_path / "elsewhere"
    assert unpack_run(tmp_path / "random.parquet", moved)["written"] == 3
    log = tmp_path / "executions.txt"
    summary = runner.run_benchmark(_config(synthetic_nb201_store, moved), ToyBackend(log).registry())
    assert summary["complete"] and summary["tasks_done_before"] == 3 and summary["tasks_run"] == 3
    assert sorted(x.split()[0] for x in _executions(log)) == ["toy-local"] * 3
    assert read_results(moved).select(DETERMINISTIC).equals(read_results(run).select(DETERMINISTIC))
    unpacked = {k: p.read_bytes() for k, p in finished_tasks(moved).items() if k[1] == "toy-random"}
    assert unpacked == {k: p.read_bytes() for k, p in finished_tasks(run).items() if k[1] == "toy-random"}


def test_store_reaches_a_node_without_the_file_through_the_object_store(ray_session, synthetic_nb201_store, tmp_path):
    from ssnenas.fingerprint import file_sha256

    src = next(synthetic_nb201_store.glob("*.parquet"))
    data = src.read_bytes()
    ship = runner.StoreShipment(path=str(tmp_path / "elsewhere" / src.name), sha256=file_sha256(src),
                            size=len(data), bytes_ref=[ray_session.put(data)])
    shipping._STORES.pop(ship.sha256, None)
    try:
        store = runner.open_shipped_store(ship)
        assert store.path != src and store.path.read_bytes() == data and store.num_archs == 15625
        assert runner.open_shipped_store(ship) is store  # opened once per process
    finally:
        shipping._STORES.pop(ship.sha256, None)


# -- the command line -----------------------------------------------------------------------------
@pytest.fixture
def toy_search_algos(monkeypatch):
    """Make ``search_algos`` (the CLI's backend) the toy one for argument checks."""
    import types

    module = types.ModuleType("search_algos")
    backend = ToyBackend()
    module.REGISTRY = backend.registry()
    monkeypatch.setitem(sys.modules, "search_algos", module)


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    from ssnenas.cli import main

    rc = main(argv)
    err = capsys.readouterr().err.strip()
    return rc, err


@pytest.mark.parametrize("change, message", [
    ({"--algos": ["toy-random", "npenas-xx"]}, "--algos: unknown algorithm 'npenas-xx'; choose from toy-random"),
    ({"--space": "nasbench999"}, "unknown search space 'nasbench999'"),
    ({"--space": "nasbench101"}, "holds a nasbench201 store (nasbench201/cifar10-valid), not a nasbench101 one"),
    ({"--dataset": "cifar100"}, "no store for */cifar100 (it holds nasbench201/cifar10-valid)"),
    ({"--budget": "9"}, "--budget 9 is smaller than the initial population of 10"),
    ({"--address": "127.0.0.1:1"}, "--address 127.0.0.1:1: no Ray cluster reachable there"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(change, message, synthetic_nb201_store, tmp_path, capsys,
                                                          toy_search_algos):
    args = {"--space": "nasbench201", "--data": str(synthetic_nb201_store), "--algos": list(ALGOS), "--trials": "2",
            "--budget": "20", "--out": str(tmp_path / "run")}
    args.update(change)
    argv = ["benchmark", "--quiet"]
    for k, v in args.items():
        argv += [k, *v] if isinstance(v, list) else [k, v]
    rc, err = _cli(argv, capsys)
    assert rc == 2
    assert err.startswith("error: ") and "\n" not in err and message in err
    assert not (tmp_path / "run").exists()


def test_bad_input_into_an_existing_run_keeps_its_results(finished_run, synthetic_nb201_store, capsys, toy_search_algos):
    run, _, _ = finished_run
    before = {k: p.read_bytes() for k, p in finished_tasks(run).items()}
    base = ["benchmark", "--quiet", "--space", "nasbench201", "--data", str(synthetic_nb201_store), "--algos", *ALGOS,
            "--trials", "3", "--seed", "7", "--out", str(run)]
    rc, err = _cli([*base, "--budget", "20", "--address", "127.0.0.1:1"], capsys)
    assert rc == 2 and "no Ray cluster reachable" in err
    rc, err = _cli([*base, "--budget", "30"], capsys)
    assert rc == 2 and err.startswith("error: --out") and "different config" in err and "\n" not in err
    assert {k: p.read_bytes() for k, p in finished_tasks(run).items()} == before


def test_python_module_entry_point_is_the_same_command(capsys, toy_search_algos, synthetic_nb201_store, tmp_path):
    from experiments import benchmark as benchmark_script

    rc = benchmark_script.main(["--space", "nasbench201", "--data", str(synthetic_nb201_store), "--algos", "toy-random",
                                "--trials", "1", "--budget", "5", "--out", str(tmp_path / "r")])
    assert rc == 2 and "--budget 5 is smaller" in capsys.readouterr().err


def test_override_and_predictor_arguments_are_parsed():
    assert runner.parse_overrides(["epochs=50", "npenas-np:lr=0.01", "toy-local:name=abc"]) == {
        "*": {"epochs": 50}, "npenas-np": {"lr": 0.01}, "toy-local": {"name": "abc"}}
    with pytest.raises(InputError, match="expected NAME=VALUE"):
        runner.parse_overrides(["epochs"])
    assert runner.predictor_for("npenas-ssrl-fixed", {"ss-rl": Path("/a.pt")}) == "/a.pt"
    assert runner.predictor_for("npenas-ssccl", {"ss-rl": Path("/a.pt")}) is None
    assert runner.predictor_for("npenas-np", {"ss-rl": Path("/a.pt")}) is None


@pytest.mark.slow
def test_cli_run_with_the_real_search_algorithms(ray_session, synthetic_nb201_store, tmp_path, capsys):
    """``ssnenas benchmark`` end to end with search_algos (random and a 5-epoch NPENAS-NP), then report."""
    from ssnenas.cli import main

    run = tmp_path / "run"
    rc = main(["benchmark", "--quiet", "--space", "nasbench201", "--data", str(synthetic_nb201_store), "--algos", "random",
               "npenas-np", "--trials", "3", "--budget", "20", "--seed", "1", "--out", str(run),
               "--set", "npenas-np:epochs=5"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "6/6 tasks done (6 now, 0 before)" in captured.out and "overhead outside the search" in captured.out
    t = read_results(run).to_pydict()
    assert len(t["query"]) == 6 * 20
    rows = {}
    for trial, algo, q, arch, fits in zip(t["trial"], t["algorithm"], t["query"], t["arch"], t["timing_fits"]):
        rows.setdefault((trial, algo), []).append(arch)
        if algo == "npenas-np":
            assert fits >= 1  # the predictor was trained (after the 10 initial archs)
    for trial in range(3):
        assert rows[(trial, "random")][:10] == rows[(trial, "npenas-np")][:10]
        assert len(set(rows[(trial, "npenas-np")])) == 20
    config = json.loads((run / "config.json").read_text())
    assert config["overrides"] == {"npenas-np": {"epochs": 5}}
    assert main(["report", str(run), "--json", "--no-plot"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["algorithms"]["npenas-np"]["num_trials"] == 3
    assert report["algorithms"]["random"]["queries"] == [10, 20]


@pytest.mark.parametrize("extra, message", [
    (["--algos", "npenas-ssrl"], "--algos npenas-ssrl fine-tunes a pre-trained SS-RL encoder and no --predictor "
                                 "ss-rl=FILE was given; pass --predictor ss-rl=FILE"),
    (["--algos", "random", "--set", "epochs=5"], "--algos random: make_searcher('random'): unknown setting(s) epochs"),
])
def test_searcher_settings_are_checked_before_any_task(extra, message, synthetic_nb201_store, tmp_path, capsys):
    """With the real search_algos: a setting every task would reject is one error up front."""
    argv = ["benchmark", "--quiet", "--space", "nasbench201", "--data", str(synthetic_nb201_store), "--trials", "1",
            "--budget", "20", "--out", str(tmp_path / "run"), *extra]
    rc, err = _cli(argv, capsys)
    assert rc == 2 and err.startswith("error: ") and "\n" not in err and message in err, err
    assert not (tmp_path / "run").exists()


def test_a_checkpoint_is_part_of_a_run_by_its_weights_not_its_path_or_history(synthetic_nb201_store, nb201_checkpoints,
                                                                               tmp_path):
    """A re-made checkpoint (same weights; its history records other wall seconds) or the same one
    moved (a pack unpacked elsewhere) resumes the run; other weights are another study."""
    import torch

    from ssnenas.pretrain.checkpoint import weights_sha256

    ckpt = torch.load(nb201_checkpoints["ss-rl"], weights_only=True)
    remade = tmp_path / "elsewhere" / "remade.pt"
    remade.parent.mkdir()
    torch.save({**ckpt, "history": [{**h, "seconds": 123.0} for h in ckpt["history"]]}, remade)
    other = tmp_path / "other.pt"
    name = sorted(ckpt["model"])[0]
    torch.save({**ckpt, "model": {**ckpt["model"], name: ckpt["model"][name] + 1}}, other)
    assert remade.read_bytes() != nb201_checkpoints["ss-rl"].read_bytes()
    assert weights_sha256(remade) == weights_sha256(nb201_checkpoints["ss-rl"]) != weights_sha256(other)

    run = tmp_path / "run"
    _, first = runner.validate(_config(synthetic_nb201_store, run, predictors={"ss-rl": nb201_checkpoints["ss-rl"]}),
                               ToyBackend().registry())
    runner.write_run_config(run / "config.json", first, "t0")
    runner.validate(_config(synthetic_nb201_store, run, predictors={"ss-rl": remade}), ToyBackend().registry())  # same study
    with pytest.raises(InputError, match="different config \\(predictors: "):
        runner.validate(_config(synthetic_nb201_store, run, predictors={"ss-rl": other}), ToyBackend().registry())

    # a run config from before weights were hashed gains the hash on its next start, and then resumes
    # with the re-made checkpoint too
    legacy = {**first, "predictors": {"ss-rl": {k: v for k, v in first["predictors"]["ss-rl"].items()
                                                if k != "weights_sha256"}}}
    (run / "config.json").write_text(json.dumps(legacy))
    with pytest.raises(InputError, match="different config \\(predictors: "):
        # other file sha256
        runner.validate(_config(synthetic_nb201_store, run, predictors={"ss-rl": remade}), ToyBackend().registry())
    _, again = runner.validate(_config(synthetic_nb201_store, run, predictors={"ss-rl": nb201_checkpoints["ss-rl"]}),
                               ToyBackend().registry())
    runner.write_run_config(run / "config.json", again, "t1")
    assert json.loads((run / "config.json").read_text())["predictors"] == first["predictors"]
    runner.validate(_config(synthetic_nb201_store, run, predictors={"ss-rl": remade}), ToyBackend().registry())
