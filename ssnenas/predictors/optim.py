"""Optimiser and learning-rate schedule of the GIN predictors: the original code's, with its step-count
and bias-group quirks off by default (README, Decisions).

Adam with betas (0.0, 0.9) and coupled L2 weight decay (``torch.optim.Adam(weight_decay=…)``, not
AdamW). By default every parameter gets the base lr and the weight decay. ``legacy_bias=True``
restores the original detectron-style groups: every parameter whose name contains "bias" (BatchNorm β
included) gets 2× lr and no weight decay.

The lr follows a cosine decay stepped per mini-batch. Clean default, over the true step count
T = epochs·⌈N/batch⌉: the t-th step (t = 1..T) uses ½·lr·(1 + cos(π·(t−1)/T)). Legacy (CosineLR):
T' = ⌊epochs·N/batch⌋ and the t-th step uses ½·lr·(1 + cos(π·(t+1)/T')), which overshoots (the lr
rises again) once t + 1 > T'.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

BETAS = (0.0, 0.9)
ADAM_EPS = 1e-8
WEIGHT_DECAY = 1e-4


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """⌈N / batch⌉: the last, smaller batch is kept (no drop_last)."""
    return -(-n_train // batch_size)


def lr_factors(*, epochs: int, n_train: int, batch_size: int, legacy: bool = False) -> np.ndarray:
    """Multiplier of the base lr for each optimiser step t = 1..epochs·⌈N/batch⌉ (float64 array)."""
    total = epochs * steps_per_epoch(n_train, batch_size)
    t = np.arange(1, total + 1, dtype=np.float64)
    if legacy:
        t_max = max(1, (epochs * n_train) // batch_size)
        return 0.5 * (1.0 + np.cos(np.pi * (t + 1) / t_max))
    return 0.5 * (1.0 + np.cos(np.pi * (t - 1) / total))


def is_legacy_bias(name: str) -> bool:
    """The original rule: any parameter whose name contains "bias" (BatchNorm β included)."""
    return "bias" in name


def param_groups(model: nn.Module, *, lr: float, weight_decay: float = WEIGHT_DECAY,
                 legacy_bias: bool = False) -> list[dict]:
    """Adam param groups: one group, or (legacy) weights vs 2×lr / no-decay biases."""
    if not legacy_bias:
        return [{"params": list(model.parameters()), "lr": lr, "weight_decay": weight_decay}]
    named = list(model.named_parameters())
    weights = [p for n, p in named if not is_legacy_bias(n)]
    biases = [p for n, p in named if is_legacy_bias(n)]
    return [{"params": weights, "lr": lr, "weight_decay": weight_decay},
            {"params": biases, "lr": 2.0 * lr, "weight_decay": 0.0}]


def make_adam(model: nn.Module, *, lr: float, weight_decay: float = WEIGHT_DECAY,
              legacy_bias: bool = False) -> torch.optim.Adam:
    """``torch.optim.Adam`` with betas (0, 0.9) and coupled weight decay (the eager reference)."""
    groups = param_groups(model, lr=lr, weight_decay=weight_decay, legacy_bias=legacy_bias)
    for g in groups:
        g["initial_lr"] = g["lr"]
    return torch.optim.Adam(groups, lr=lr, betas=BETAS, eps=ADAM_EPS, weight_decay=weight_decay,
                            foreach=True)


def set_lr(optimizer: torch.optim.Optimizer, factor: float) -> None:
    """Scale every group's lr from its own base lr (as CosineLR does per group)."""
    for g in optimizer.param_groups:
        g["lr"] = g["initial_lr"] * factor


def cosine(progress: float) -> float:
    """½(1 + cos(π·progress))."""
    return 0.5 * (1.0 + math.cos(math.pi * progress))
