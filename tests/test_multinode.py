"""The benchmark runner on a 3-node Ray cluster (``ray.cluster_utils.Cluster``: head + 2 workers,
1 CPU each) on this machine.

The cluster needs its own ``ray.init(address=cluster.address)``, which cannot share the session-wide
Ray of the other tests, so it runs in a subprocess (the script below) that stops every node it
started (``cluster.shutdown()``) before it exits; the test kills the subprocess' own process group
only if it overruns.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(r'''
    import hashlib, json, os, sys, time
    from pathlib import Path

    import numpy as np
    import ray
    from ray.cluster_utils import Cluster

    from ssnenas import runner as bm
    from ssnenas.analysis.runs import finished_tasks, read_results

    store_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    ALGOS = ("toy-random", "toy-local")


    class Toy:
        """Random search that takes ``sleep`` seconds, so tasks overlap on every node."""
        def __init__(self, space, seed, initial):
            self.space, self.rng, self.queue = space, np.random.default_rng(seed), list(initial)
            self.timings = {}

        def suggest(self):
            return self.queue.pop(0) if self.queue else self.space.to_str(self.space.sample(self.rng))

        def on_trial_complete(self, arch, result):
            pass


    class Backend:
        ALGORITHMS = ALGOS

        def __init__(self, sleep, log=None):
            self.sleep, self.log = sleep, log

        def _note(self, text):
            if self.log:
                with open(self.log, "a") as f:
                    f.write(f"{text} {ray.get_runtime_context().get_node_id()}\n")

        def make_searcher(self, name, *, space, store, seed, budget, initial_archs=None, **kw):
            self._note(f"start {seed}")
            return Toy(store.space, seed, initial_archs)

        def run_direct(self, searcher, evaluate, budget):
            seen = set()
            while len(seen) < budget:
                arch = searcher.suggest()
                if arch not in seen:
                    seen.add(arch)
                    searcher.on_trial_complete(arch, evaluate(arch))
            time.sleep(self.sleep)
            self._note(f"end {searcher.rng.bit_generator.seed_seq.entropy}")

        def registry(self):
            return bm.AlgorithmRegistry(names=ALGOS, make=self.make_searcher, run_direct=self.run_direct)


    def in_flight(log, node):
        """Seeds started on ``node`` and not finished there."""
        lines = [l.split() for l in Path(log).read_text().splitlines()] if Path(log).exists() else []
        started = {l[1] for l in lines if l[0] == "start" and l[2] == node}
        return started - {l[1] for l in lines if l[0] == "end" and l[2] == node}


    def digest(path):
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()


    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": 80 * 2**20, "include_dashboard": False,
        "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 3,
                           "health_check_initial_delay_ms": 0}})
    report = {}
    try:
        workers = [cluster.add_node(num_cpus=1, object_store_memory=80 * 2**20) for _ in range(2)]
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        report["cluster_nodes"] = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
        report["worker_nodes"] = [w.node_id for w in workers]

        # 1. tasks spread over every node
        cfg = bm.BenchmarkConfig(space="nasbench201", data=store_dir, algorithms=ALGOS, trials=6, budget=20,
                                 seed=3, out=out_dir / "spread", progress=False)
        s1 = bm.run_benchmark(cfg, Backend(sleep=0.6).registry())
        report["spread_summary"] = s1
        report["spread_row_nodes"] = sorted(set(read_results(out_dir / "spread")["node_id"].to_pylist()))

        # 2. a worker node dies mid-run: finished results stay, its tasks are retried elsewhere
        victim = workers[1]
        log = out_dir / "executions.txt"
        before = {}

        def on_result(trial, algo, path):
            if len(before) < 4:
                before[f"{trial}/{algo}"] = digest(path)
                if len(before) == 4:  # kill the node while it runs a task
                    deadline = time.time() + 10
                    while not in_flight(log, victim.node_id) and time.time() < deadline:
                        time.sleep(0.05)
                    report["killed_in_flight"] = sorted(in_flight(log, victim.node_id))
                    cluster.remove_node(victim, allow_graceful=False)

        cfg2 = bm.BenchmarkConfig(space="nasbench201", data=store_dir, algorithms=ALGOS, trials=8, budget=20,
                                  seed=4, out=out_dir / "dying", progress=False, max_retries=5)
        s2 = bm.run_benchmark(cfg2, Backend(sleep=1.0, log=str(log)).registry(), on_result=on_result)
        files = finished_tasks(out_dir / "dying")
        report["dying_summary"] = s2
        report["dying_files"] = len(files)
        report["kept_unchanged"] = all(digest(files[(int(k.split('/')[0]), k.split('/')[1])]) == d
                                       for k, d in before.items())
        report["victim"] = victim.node_id
        results = read_results(out_dir / "dying").to_pydict()
        report["dying_row_nodes"] = sorted(set(results["node_id"]))
        report["node_of_seed"] = {str(s): n for s, n in zip(results["seed"], results["node_id"])}
        report["starts"] = sum(1 for l in log.read_text().splitlines() if l.startswith("start"))
        report["rows_per_file"] = sorted({len(read_results(out_dir / "dying")) // max(len(files), 1)})
    finally:
        ray.shutdown()
        cluster.shutdown()
    print("REPORT " + json.dumps(report))
''')


@pytest.mark.slow
def test_three_node_cluster_spreads_tasks_and_survives_a_dying_worker(synthetic_nb201_store, tmp_path):
    script = tmp_path / "multinode.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(script), str(synthetic_nb201_store), str(tmp_path)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=420)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the subprocess' own session: only what this test started
        stdout, stderr = proc.communicate()
        pytest.fail(f"multinode script timed out\n{stderr[-3000:]}")
    assert proc.returncode == 0, stderr[-4000:]
    line = next(x for x in stdout.splitlines() if x.startswith("REPORT "))
    r = json.loads(line[len("REPORT "):])

    assert len(r["cluster_nodes"]) == 3
    s1 = r["spread_summary"]
    assert s1["complete"] and s1["tasks_run"] == 12 and s1["workers"] == 3
    assert sorted(s1["node_ids"]) == r["cluster_nodes"] == r["spread_row_nodes"]  # every node got tasks

    s2 = r["dying_summary"]
    assert s2["complete"] and s2["tasks_failed"] == 0 and s2["tasks_run"] == 16
    assert r["dying_files"] == 16 and r["rows_per_file"] == [20]
    assert r["kept_unchanged"]
    # the victim died while running a task; that task's result still arrived exactly once: re-run
    # by Ray on a surviving node, or (if its worker outlived the raylet long enough) delivered late
    killed = r["killed_in_flight"]
    assert killed, "the victim node was idle when removed"
    assert r["starts"] >= 16
    assert set(killed) <= set(r["node_of_seed"]) and len(r["node_of_seed"]) == 16
    if r["starts"] > 16:
        assert all(r["node_of_seed"][seed] != r["victim"] for seed in killed)
    assert set(r["dying_row_nodes"]) <= set(r["cluster_nodes"])
