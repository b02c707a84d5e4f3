"""ssnenas.metrics: no-ops outside Ray; inside Ray the metrics of a real benchmark run, of a real SS-RL
pre-training (2 epochs) and of a real DARTS search (2 candidates, 1 epoch) appear on a node's Prometheus
endpoint with their tags and values."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ssnenas import metrics

REPO = Path(__file__).resolve().parents[1]


def test_noop_outside_ray(monkeypatch):
    t = metrics.tags(run="r", space="nasbench201", dataset=None, algorithm="rea")
    created_before = dict(metrics._OBJECTS)  # earlier tests inside Ray may have created some
    assert t == {"run": "r", "space": "nasbench201", "dataset": "", "algorithm": "rea"}
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():  # another test's session Ray: pretend it is absent
        monkeypatch.setitem(sys.modules, "ray", None)
    assert metrics.trials_completed(t) is False
    assert metrics.best_error(t, 8.4, 5.6) is False
    assert metrics.pretrain_epoch(t, 0, {"loss": 1.0}) is False
    assert metrics._OBJECTS == created_before  # nothing new was created


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SCRIPT = textwrap.dedent("""
    import json, sys, time, urllib.request
    from pathlib import Path
    import ray
    port, store, out = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             _metrics_export_port=port)
    from search_algos import REGISTRY
    from ssnenas.runner import BenchmarkConfig, run_benchmark
    summary = run_benchmark(BenchmarkConfig(space="nasbench201", data=store, algorithms=("random", "rea", "npenas-np"),
                                            trials=2, budget=20, seed=0, out=out, progress=False), REGISTRY)

    import argparse
    from experiments.darts_search import add_arguments, resolve_settings, run_search
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    tiny = parser.parse_args(["--budget", "2", "--num-init", "2", "--k", "1", "--epochs", "1", "--channels", "4",
                              "--layers", "3", "--batch-size", "64"])
    search = run_search(resolve_settings(tiny), out.parent / "darts", cpus_per_trial=1)

    # last: its gauges live in the worker that ran it, which a later Tune trial could reuse
    @ray.remote(num_cpus=1)
    def pretrain(path):
        import torch
        from ssnenas.pretrain import SSRLConfig, sample_archs, train_ssrl
        torch.set_num_threads(1)
        ckpt = train_ssrl(sample_archs("nasbench201", 128, seed=0), path,
                          config=SSRLConfig(epochs=2, lr=1e-3, batch_size=32), device="cpu", progress=False)
        return ckpt["history"][-1]

    recorded = ray.get(pretrain.remote(str(out.parent / "ssrl.pt")))
    wanted = ["ray_ssnenas_trials_completed", "ray_ssnenas_best_val_error", "ray_ssnenas_best_test_error",
              "ray_ssnenas_trials_queued", "ray_ssnenas_pretrain_epoch", "ray_ssnenas_pretrain_loss",
              "ray_ssnenas_candidates_trained", "ray_ssnenas_predictor_fit_seconds"]
    time.sleep(4)  # > 2 export periods: Ray drops gauges not set again since; ssnenas.metrics re-sets them
    deadline, text = time.time() + 60, ""
    while time.time() < deadline:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        if all(w in text for w in wanted) and 'algorithm="rea"' in text and "heldout_mse" in text \
                and 'space="darts"' in text:
            break
        time.sleep(1)
    lines = [l for l in text.splitlines() if l.startswith("ray_ssnenas_")]
    best = max(c["val_acc"] for c in search["candidates"])
    print(json.dumps({"recorded": recorded, "lines": lines, "complete": summary["complete"], "search_best": best}))
    ray.shutdown()
""")


def _value(lines: list[str], name: str, **want: str) -> float:
    """The value of the exported sample ``name{...}`` whose labels include ``want``."""
    for line in lines:
        m = re.match(r"([a-zA-Z_:]+)\{(.*)\} (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if all(labels.get(k) == v for k, v in want.items()):
            return float(m.group(3))
    raise AssertionError(f"{name}{want} not exported; got:\n" + "\n".join(lines))


@pytest.mark.slow
def test_metrics_scraped_from_a_ray_node(synthetic_nb201_store, tmp_path):
    import pyarrow.parquet as pq

    port = _free_port()
    out = tmp_path / "run"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_metrics_report_interval_ms": "1000",
           "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(port), str(synthetic_nb201_store), str(out)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["complete"]
    last_epoch = result["recorded"]  # the SS-RL history's last epoch
    lines = result["lines"]
    tags = {"run": "run", "space": "nasbench201", "dataset": "cifar10-valid"}
    for algo in ("random", "rea"):
        files = sorted(out.glob(f"results/trial=*/algo={algo}.parquet"))
        assert len(files) == 2
        best = [pq.read_table(f) for f in files]
        val_err = min(100.0 - t["best_val_acc_so_far"][-1].as_py() for t in best)
        assert _value(lines, "ray_ssnenas_trials_completed_total", algorithm=algo, **tags) == 2
        assert _value(lines, "ray_ssnenas_trials_queued", algorithm=algo, **tags) == 0
        assert _value(lines, "ray_ssnenas_best_val_error", algorithm=algo, **tags) == pytest.approx(val_err)
        assert 0 < _value(lines, "ray_ssnenas_best_test_error", algorithm=algo, **tags) < 100
    # NPENAS-NP, budget 20 = 10 initial + one batch of 10: one predictor fit per trial
    assert _value(lines, "ray_ssnenas_predictor_fits_total", algorithm="npenas-np", **tags) == 2
    assert _value(lines, "ray_ssnenas_predictor_fit_seconds_total", algorithm="npenas-np", **tags) > 0
    darts = {"run": "darts", "space": "darts", "dataset": "digits", "algorithm": "npenas-np"}
    assert _value(lines, "ray_ssnenas_candidates_trained_total", **darts) == 2
    assert _value(lines, "ray_ssnenas_best_val_error", **darts) == pytest.approx(100.0 - result["search_best"])
    pre = {"run": "ssrl.pt", "space": "nasbench201", "algorithm": "ss-rl"}
    assert last_epoch["epoch"] == 1
    assert _value(lines, "ray_ssnenas_pretrain_epoch", **pre) == 2
    for name in ("train_mse", "heldout_mse"):
        assert _value(lines, "ray_ssnenas_pretrain_loss", metric=name, **pre) == pytest.approx(last_epoch[name])
