"""SS-RL: self-supervised regression of the normalised GED of architecture pairs (arXiv 2011.00186).

Two *independent* GIN branches (weights not shared, [paper p.35]) embed the two architectures of a
pair; a small head regresses exp(-Hamming(PAPE_a, PAPE_b) / n_nodes) with MSE::

    g_a = ReLU(Linear_a(GIN_a(a)))    g_b = ReLU(Linear_b(GIN_b(b)))
    y   = sigmoid(Linear(16,1)(ReLU(Linear(64,16)([g_a, g_b]))))

``ged="raw"`` is the un-normalised ablation of the SSNENAS GED comparison: the target is the Hamming
distance itself and the head's output is linear (no sigmoid). The authors kept the sigmoid there,
which cannot exceed 1 while the distances reach tens; a regressor that cannot fit its target would
make the ablation meaningless, so the sigmoid is dropped (see the README, "GED normalisation").

Pairs: every epoch, two random permutations of the training split paired element-wise, batches of
64, last partial batch dropped. Deviation from the original code (fixed by default): the 90/10
train/held-out split is random for ``seed`` rather than the first/last part of the key order
(``split="legacy"`` restores that); the held-out MSE is reported every epoch on fixed held-out pairs.
The lr follows a per-step cosine over the true number of steps; ``schedule="legacy"`` reproduces the
original CosineLR (T = floor(epochs * N_all / 64), progress (t+1)/T for step t >= 1), which counts the
whole benchmark while only the training split is iterated and so ends at about 0.025·lr.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn

from ssnenas.checks import MAX_EPOCHS, check_float, check_int, check_seed
from ssnenas.errors import InputError
from ssnenas.predictors.gin import GINEncoder
from ssnenas.pretrain.data import ArchSet
from ssnenas.pretrain.ged import GED_KINDS, ged_target
from ssnenas.predictors.optim import cosine, make_adam, set_lr
from ssnenas.pretrain.runner import (MAX_LR, base_checkpoint, check_model_size, progress_bar, resolve_device,
                                     resume, run_epochs, seeded_init)

METHOD = "ss-rl"
# Per-space defaults (the original SSNENAS code's nas_lib/params.py): lr, epochs. DARTS was not
# supported by the original script; it gets the NB101 settings here.
DEFAULTS = {"nasbench101": {"lr": 5e-4, "epochs": 300},
            "nasbench201": {"lr": 1e-4, "epochs": 1000},
            "darts": {"lr": 5e-4, "epochs": 300},
            # no published run: NAS-Bench-201's settings, the same cell with one op fewer
            "transnas101-micro": {"lr": 1e-4, "epochs": 1000}}
SEED = 3344  # the original code's fixed SS-RL seed
_SPLIT, _HELDOUT, _EPOCH = 1, 2, 3  # rng stream ids under the run seed


@dataclass(frozen=True, kw_only=True)
class SSRLConfig:
    """Every knob that changes an SS-RL result (recorded in, and checked against, the checkpoint)."""

    epochs: int
    lr: float
    batch_size: int = 64
    train_fraction: float = 0.9
    seed: int = SEED
    width: int = 32
    layers: int = 3
    split: str = "random"  # "random" (the fix) or "legacy" (the original: first/last part of the key order)
    schedule: str = "cosine"  # "cosine" (true step count) or "legacy" (original CosineLR)
    bias_lr_2x: bool = False  # the original code's detectron-style biases: 2x lr, no weight decay
    ged: str = "normalized"  # "normalized" exp(-d / n_nodes) target, or "raw" Hamming d (linear output)

    def __post_init__(self) -> None:
        check_int("--epochs", self.epochs, maximum=MAX_EPOCHS)
        check_float("--lr", self.lr, minimum=0.0, maximum=MAX_LR, above=True)
        check_int("--batch-size", self.batch_size)
        check_float("--train-fraction", self.train_fraction, minimum=0.0, maximum=1.0, above=True, below=True)
        check_seed("--seed", self.seed)
        check_model_size(self.width, self.layers)
        if self.split not in ("random", "legacy"):
            raise InputError(f"--split {self.split!r}: choose random or legacy")
        if self.schedule not in ("cosine", "legacy"):
            raise InputError(f"--schedule {self.schedule!r}: choose cosine or legacy")
        if self.ged not in GED_KINDS:
            raise InputError(f"--ged {self.ged!r}: choose {' or '.join(GED_KINDS)}")


class SiameseGED(nn.Module):
    """Two-branch (unshared) GIN regressor of the normalised GED (PredictorSiameseGED); with
    ``sigmoid=False`` the output is linear (the raw-GED ablation)."""

    def __init__(self, num_features: int, *, width: int = 32, num_layers: int = 3,
                 sigmoid: bool = True) -> None:
        super().__init__()
        self.sigmoid = sigmoid
        self.branch_a = GINEncoder(num_features, width=width, num_layers=num_layers)
        self.proj_a = nn.Linear(width, width)
        self.branch_b = GINEncoder(num_features, width=width, num_layers=num_layers)
        self.proj_b = nn.Linear(width, width)
        self.head = nn.Sequential(nn.Linear(2 * width, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, xa: Tensor, adja: Tensor, xb: Tensor, adjb: Tensor) -> Tensor:
        """Predicted normalised GED in (0, 1) (raw GED when linear), shape ``[B]``."""
        ga = torch.relu(self.proj_a(self.branch_a(xa, adja)))
        gb = torch.relu(self.proj_b(self.branch_b(xb, adjb)))
        y = self.head(torch.cat([ga, gb], dim=1)).squeeze(1)
        return torch.sigmoid(y) if self.sigmoid else y


def split_indices(n: int, config: SSRLConfig) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) index arrays: ``floor(train_fraction * n)`` training archs."""
    n_train = int(np.floor(config.train_fraction * n))
    if n_train < config.batch_size or n_train == n:
        raise InputError(f"{n} architectures give {n_train} training archs with --train-fraction "
                         f"{config.train_fraction}; need at least one batch ({config.batch_size}) "
                         "and a non-empty held-out part")
    order = (np.arange(n) if config.split == "legacy"
             else np.random.default_rng([config.seed, _SPLIT]).permutation(n))
    return order[:n_train], order[n_train:]


def epoch_pairs(train: np.ndarray, epoch: int, config: SSRLConfig) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of ``epoch``: two permutations of ``train``, cut to whole batches (drop last)."""
    rng = np.random.default_rng([config.seed, _EPOCH, epoch])
    a, b = rng.permutation(train), rng.permutation(train)
    m = len(train) // config.batch_size * config.batch_size
    return a[:m], b[:m]


def train_ssrl(data: ArchSet, out: str | os.PathLike, *, config: SSRLConfig,
               device: str | torch.device = "auto", progress: bool = True,
               on_epoch_end: Callable[[int, dict], None] | None = None) -> dict[str, Any]:
    """Pre-train (or resume) SS-RL on ``data``; checkpoint ``out`` after every epoch.

    Returns the final checkpoint dict (``history`` holds per-epoch ``train_mse``/``heldout_mse``).
    """
    dev = resolve_device(device)
    train, held = split_indices(data.num_archs, config)
    rng_h = np.random.default_rng([config.seed, _HELDOUT])
    held_a, held_b = torch.as_tensor(rng_h.permutation(held)), torch.as_tensor(rng_h.permutation(held))
    d = data.to(dev)
    model = seeded_init(config.seed, lambda: SiameseGED(data.num_features, width=config.width,
                                                        num_layers=config.layers,
                                                        sigmoid=config.ged == "normalized")).to(dev)
    optimizer = make_adam(model, lr=config.lr, legacy_bias=config.bias_lr_2x)
    dims = {"num_features": data.num_features, "width": config.width, "layers": config.layers,
            "num_nodes": data.num_nodes}
    ckpt = base_checkpoint(method=METHOD, data=data, dims=dims, config=asdict(config))
    # a checkpoint from before a knob existed resumes with the knob's default recorded explicitly
    ckpt = {**resume(out, ckpt, model, optimizer), "config": asdict(config)}
    steps = len(train) // config.batch_size
    total = config.epochs * steps
    legacy_total = config.epochs * data.num_archs // config.batch_size

    def lr_factor(t: int) -> float:
        if config.schedule == "legacy":
            return cosine((t + 2) / legacy_total)
        return cosine(t / total)

    def heldout_mse() -> float:
        model.eval()
        se = torch.zeros((), device=dev)
        with torch.no_grad():
            for i in range(0, len(held_a), 4096):
                a, b = held_a[i:i + 4096].to(dev), held_b[i:i + 4096].to(dev)
                y = ged_target(d.pape[a], d.pape[b], d.num_nodes, config.ged)
                se += ((model(d.x[a], d.adj[a], d.x[b], d.adj[b]) - y) ** 2).sum()
        return float(se) / len(held_a)

    with progress_bar((config.epochs - ckpt["epoch"]) * steps, f"ss-rl {data.space}", progress) as bar:

        def run_epoch(epoch: int) -> dict[str, float]:
            model.train()
            pa, pb = (torch.as_tensor(p).to(dev) for p in epoch_pairs(train, epoch, config))
            loss_sum = torch.zeros((), device=dev)
            lr = config.lr
            for i in range(steps):
                a = pa[i * config.batch_size:(i + 1) * config.batch_size]
                b = pb[i * config.batch_size:(i + 1) * config.batch_size]
                factor = lr_factor(epoch * steps + i)
                set_lr(optimizer, factor)
                lr = config.lr * factor
                y = ged_target(d.pape[a], d.pape[b], d.num_nodes, config.ged)
                loss = nn.functional.mse_loss(model(d.x[a], d.adj[a], d.x[b], d.adj[b]), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_sum += loss.detach()
                if (i + 1) % 20 == 0 or i + 1 == steps:
                    bar.update(20 if (i + 1) % 20 == 0 else (i + 1) % 20)
                    bar.set_postfix(epoch=epoch, loss=f"{float(loss_sum) / (i + 1):.5f}")
            metrics = {"train_mse": float(loss_sum) / steps, "heldout_mse": heldout_mse(), "lr": lr}
            bar.set_postfix(epoch=epoch, loss=f"{metrics['train_mse']:.5f}",
                            heldout=f"{metrics['heldout_mse']:.5f}")
            return metrics

        return run_epochs(out=out, ckpt=ckpt, model=model, optimizer=optimizer, epochs=config.epochs,
                          run_epoch=run_epoch, on_epoch_end=on_epoch_end)
