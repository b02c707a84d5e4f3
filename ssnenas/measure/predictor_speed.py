"""How fast one NPENAS-NP predictor fit runs (300 epochs, 100 NB201 archs, batch 10 = 3,000 steps) on each
training path: eager sparse PyG (GINConv on a Batch, the original code's style), eager dense (PredictorNet
+ torch.optim.Adam), the fast hand-written engine, and P predictors fitted at once by the batched engine.

Eager paths are timed on a few epochs and their full-fit time projected from the measured steps/s
(``projected: true``); the fast paths run the full fit.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ssnenas.predictors.fit import draw_order, fit_eager, fit_many
from ssnenas.predictors.heads import NPHead
from ssnenas.predictors.optim import lr_factors, make_adam, set_lr

LR = 5e-3


def nb201_data(n: int, rng: np.random.Generator, csv_path: Path | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """n random NB201 archs from ``csv_path``: one-hot x [n, 8, 8], adj [n, 8, 8], y = cifar10-valid val
    error %. Without the table (or the space module), synthetic 8-node DAGs of the same shapes, so the
    measurement still runs on a machine without the shared data."""
    try:
        from ssnenas.spaces.nasbench201 import SPACE
    except ImportError:  # space module absent: synthetic 8-node DAGs
        SPACE = None
    if SPACE is None or csv_path is None or not csv_path.exists():
        ops = rng.integers(0, 8, size=(n, 8))
        adj = np.triu(rng.random((n, 8, 8)) < 0.4, 1).astype(np.float32)
        x = np.eye(8, dtype=np.float32)[ops]
        y = (x[:, :, 4].sum(1) * 2 + rng.normal(0, 1, n) + 8).astype(np.float32)
        return x, adj, y, "synthetic 8-node DAGs"
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    pick = rng.choice(len(rows), size=n, replace=False)
    graphs = [SPACE.to_graph(SPACE.from_str(rows[i]["arch"])) for i in pick]
    x = np.stack([g.one_hot(SPACE.num_features) for g in graphs])
    adj = np.stack([g.adjacency for g in graphs]).astype(np.float32)
    y = np.array([100.0 - float(rows[i]["cifar10-valid_val_acc"]) for i in pick], dtype=np.float32)
    return x, adj, y, f"NB201 cifar10-valid ({csv_path.name})"


def eager_pyg(x: torch.Tensor, adj: torch.Tensor, y: torch.Tensor, *, epochs: int, batch_size: int,
              lr: float, seed: int) -> int:
    """The original style: PyG GINConv + BatchNorm + global_mean_pool, a Batch built per step.
    Returns the number of optimiser steps taken."""
    from torch_geometric.data import Batch, Data
    from torch_geometric.nn import GINConv, global_mean_pool

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            dims = [x.shape[2], 32, 32, 32]
            self.convs = torch.nn.ModuleList(
                GINConv(torch.nn.Sequential(torch.nn.Linear(dims[k], 32), torch.nn.ReLU(),
                                            torch.nn.Linear(32, 32)), eps=0.0, train_eps=False)
                for k in range(3))
            self.bns = torch.nn.ModuleList(torch.nn.BatchNorm1d(32) for _ in range(3))
            self.head = NPHead(32, rate=10.0)

        def forward(self, data):
            h = data.x
            for conv, bn in zip(self.convs, self.bns):
                h = bn(torch.relu(conv(h, data.edge_index)))
            return self.head(global_mean_pool(h, data.batch))

    torch.manual_seed(seed)
    net = Net().train()
    datas = [Data(x=x[i], edge_index=adj[i].nonzero().t().contiguous(), y=y[i:i + 1]) for i in range(len(x))]
    n = len(datas)
    order, _ = draw_order(seed, epochs=epochs, n=n, dropout=False)
    factors = lr_factors(epochs=epochs, n_train=n, batch_size=batch_size)
    opt = make_adam(net, lr=lr)
    t = 0
    for e in range(epochs):
        for s in range(0, n, batch_size):
            batch = Batch.from_data_list([datas[int(i)] for i in order[e, s:s + batch_size]])
            set_lr(opt, float(factors[t]))
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(net(batch), batch.y)
            loss.backward()
            opt.step()
            t += 1
    return t


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def measure(*, epochs: int = 300, n: int = 100, batch_size: int = 10, eager_epochs: int = 30,
            many: Sequence[int] = (8, 40), device: str = "cpu", threads: int = 1,
            csv_path: Path | None = None) -> dict[str, Any]:
    """Time every path on the same ``n`` archs; returns the settings and ``results[path]`` with
    steps_per_s, fit_s, wall_s, predictors and projected. The eager PyG path runs on CPU only."""
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    xn, an, yn, source = nb201_data(n, rng, csv_path)
    dev = torch.device(device)
    x, adj, y = (torch.as_tensor(a, device=dev) for a in (xn, an, yn))
    steps_full = epochs * -(-n // batch_size)
    out: dict[str, Any] = {"data": source, "n": n, "epochs": epochs, "batch_size": batch_size,
                           "steps_per_fit": steps_full, "threads": threads, "device": str(dev),
                           "torch": torch.__version__, "results": {}}

    def record(name: str, seconds: float, steps: int, fits: int = 1, projected: bool = False) -> None:
        sps = steps * fits / seconds
        out["results"][name] = {"steps_per_s": sps, "fit_s": steps_full / sps * fits if not projected
                                else steps_full / sps, "wall_s": seconds, "predictors": fits,
                                "projected": projected}

    if dev.type == "cpu":
        t0 = time.perf_counter()
        steps = eager_pyg(x, adj, y, epochs=eager_epochs, batch_size=batch_size, lr=LR, seed=0)
        record("eager_sparse_pyg", time.perf_counter() - t0, steps, projected=True)
    t0 = time.perf_counter()
    fit_eager(8, x, adj, y, seed=0, epochs=eager_epochs, batch_size=batch_size, lr=LR)
    record("eager_dense", time.perf_counter() - t0, eager_epochs * -(-n // batch_size), projected=True)
    t0 = time.perf_counter()
    fit_many(8, x, adj, y, seeds=[0], epochs=epochs, batch_size=batch_size, lr=LR, device=dev)
    _sync(dev)
    record("fast", time.perf_counter() - t0, steps_full)
    for P in many:
        t0 = time.perf_counter()
        fit_many(8, x, adj, y, seeds=list(range(P)), epochs=epochs, batch_size=batch_size, lr=LR, device=dev)
        _sync(dev)
        wall = time.perf_counter() - t0
        out["results"][f"fast_batched_P{P}"] = {"steps_per_s": steps_full * P / wall, "wall_s": wall,
                                                "fit_s": wall / P, "predictors": P, "projected": False}
    return out


def table(out: dict[str, Any]) -> list[str]:
    """The human-readable lines of a :func:`measure` result."""
    lines = [f"data: {out['data']}; {out['steps_per_fit']} steps per fit; {out['threads']} thread(s); "
             f"device {out['device']}",
             f"{'path':<22}{'predictor-steps/s':>18}{'s per fit':>12}{'wall s':>10}"]
    for name, r in out["results"].items():
        note = " (projected)" if r["projected"] else ""
        lines.append(f"{name:<22}{r['steps_per_s']:>18.0f}{r['fit_s']:>12.2f}{r['wall_s']:>10.2f}{note}")
    return lines
