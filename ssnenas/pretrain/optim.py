"""Optimiser and learning-rate schedules of the pre-training runs (algorithms.md §2, §3, §4.2).

Both methods use Adam(betas=(0, 0.9)) with coupled L2 weight decay 1e-4. SS-RL's original code gave
biases 2x lr and no decay (§10.4): here only behind ``bias_lr_2x``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

BETAS = (0.0, 0.9)
WEIGHT_DECAY = 1e-4


def make_adam(model: nn.Module, lr: float, *, weight_decay: float = WEIGHT_DECAY,
              bias_lr_2x: bool = False) -> torch.optim.Adam:
    """Adam(lr, betas=(0, 0.9), weight_decay); with ``bias_lr_2x`` every "bias" parameter (BN beta
    included) gets 2x lr and no decay, as the original ``make_agent_optimizer``."""
    if not bias_lr_2x:
        return torch.optim.Adam(model.parameters(), lr=lr, betas=BETAS, weight_decay=weight_decay)
    biases = [p for n, p in model.named_parameters() if "bias" in n]
    others = [p for n, p in model.named_parameters() if "bias" not in n]
    return torch.optim.Adam([{"params": others, "lr": lr, "weight_decay": weight_decay},
                             {"params": biases, "lr": 2 * lr, "weight_decay": 0.0}],
                            lr=lr, betas=BETAS)


def cosine(lr: float, progress: float) -> float:
    """Half-cosine decay: lr * (1 + cos(pi * progress)) / 2 (progress 0 -> lr, 1 -> 0)."""
    return 0.5 * lr * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, base_lr: float, lr: float) -> None:
    """Scale every param group to ``lr``, keeping each group's ratio to ``base_lr`` (bias 2x)."""
    for group in optimizer.param_groups:
        group.setdefault("initial_lr", group["lr"])
        group["lr"] = group["initial_lr"] * (lr / base_lr)
