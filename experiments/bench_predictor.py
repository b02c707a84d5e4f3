"""Benchmark one NPENAS-NP predictor fit (300 epochs, 100 NB201 archs, batch 10 = 3,000 steps) on one
CPU thread: eager sparse PyG (GINConv on a Batch), eager dense (PredictorNet + torch.optim.Adam), the
fast hand-written engine, and P predictors fitted at once by the batched engine.

    .venv/bin/python -m experiments.bench_predictor [--json] [--eager-epochs 30] [--device cpu]

Eager paths are timed on ``--eager-epochs`` epochs and their full-fit time is projected from the
measured steps/s (``projected: true`` in the JSON); the fast paths run the full fit.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch

from ssnenas.predictors.fit import draw_order, fit_eager, fit_many
from ssnenas.predictors.heads import NPHead
from ssnenas.predictors.optim import lr_factors, make_adam, set_lr

NB201_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "nasbench201" / "nb201_200epoch.csv"


def nb201_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """n random NB201 archs: one-hot x [n, 8, 8], adj [n, 8, 8], y = cifar10-valid val error %."""
    try:
        from ssnenas.spaces.nasbench201 import SPACE
    except ImportError:  # space module absent: synthetic 8-node DAGs
        SPACE = None
    if SPACE is None or not NB201_CSV.exists():
        ops = rng.integers(0, 8, size=(n, 8))
        adj = np.triu(rng.random((n, 8, 8)) < 0.4, 1).astype(np.float32)
        x = np.eye(8, dtype=np.float32)[ops]
        y = (x[:, :, 4].sum(1) * 2 + rng.normal(0, 1, n) + 8).astype(np.float32)
        return x, adj, y, "synthetic 8-node DAGs"
    with open(NB201_CSV, newline="") as fh:
        rows = list(csv.DictReader(fh))
    pick = rng.choice(len(rows), size=n, replace=False)
    graphs = [SPACE.to_graph(SPACE.from_str(rows[i]["arch"])) for i in pick]
    x = np.stack([g.one_hot(SPACE.num_features) for g in graphs])
    adj = np.stack([g.adjacency for g in graphs]).astype(np.float32)
    y = np.array([100.0 - float(rows[i]["cifar10-valid_val_acc"]) for i in pick], dtype=np.float32)
    return x, adj, y, f"NB201 cifar10-valid ({NB201_CSV.name})"


def eager_pyg(x: torch.Tensor, adj: torch.Tensor, y: torch.Tensor, *, epochs: int, batch_size: int,
              lr: float, seed: int) -> int:
    """The original style: PyG GINConv + BatchNorm + global_mean_pool, a Batch built per step."""
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


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--eager-epochs", type=int, default=30, help="epochs timed for the eager paths")
    ap.add_argument("--many", type=int, nargs="*", default=[8, 40], help="P values for batched fits")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    xn, an, yn, source = nb201_data(args.n, rng)
    dev = torch.device(args.device)
    x, adj, y = (torch.as_tensor(a, device=dev) for a in (xn, an, yn))
    steps_full = args.epochs * -(-args.n // args.batch_size)
    out: dict = {"data": source, "n": args.n, "epochs": args.epochs, "batch_size": args.batch_size,
                 "steps_per_fit": steps_full, "threads": args.threads, "device": str(dev),
                 "torch": torch.__version__, "results": {}}

    def record(name: str, seconds: float, steps: int, fits: int = 1, projected: bool = False) -> None:
        sps = steps * fits / seconds
        out["results"][name] = {"steps_per_s": sps, "fit_s": steps_full / sps * fits if not projected
                                else steps_full / sps, "wall_s": seconds, "predictors": fits,
                                "projected": projected}

    if dev.type == "cpu":
        t0 = time.perf_counter()
        steps = eager_pyg(x, adj, y, epochs=args.eager_epochs, batch_size=args.batch_size, lr=5e-3, seed=0)
        record("eager_sparse_pyg", time.perf_counter() - t0, steps, projected=True)
    t0 = time.perf_counter()
    fit_eager(8, x, adj, y, seed=0, epochs=args.eager_epochs, batch_size=args.batch_size, lr=5e-3)
    record("eager_dense", time.perf_counter() - t0,
           args.eager_epochs * -(-args.n // args.batch_size), projected=True)
    t0 = time.perf_counter()
    fit_many(8, x, adj, y, seeds=[0], epochs=args.epochs, batch_size=args.batch_size, lr=5e-3, device=dev)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    record("fast", time.perf_counter() - t0, steps_full)
    for P in args.many:
        t0 = time.perf_counter()
        fit_many(8, x, adj, y, seeds=list(range(P)), epochs=args.epochs, batch_size=args.batch_size,
                 lr=5e-3, device=dev)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        out["results"][f"fast_batched_P{P}"] = {"steps_per_s": steps_full * P / wall, "wall_s": wall,
                                                "fit_s": wall / P, "predictors": P, "projected": False}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"data: {source}; {steps_full} steps per fit; {args.threads} thread(s); device {dev}")
        print(f"{'path':<22}{'predictor-steps/s':>18}{'s per fit':>12}{'wall s':>10}")
        for name, r in out["results"].items():
            note = " (projected)" if r["projected"] else ""
            print(f"{name:<22}{r['steps_per_s']:>18.0f}{r['fit_s']:>12.2f}{r['wall_s']:>10.2f}{note}")
    return out


if __name__ == "__main__":
    main()
