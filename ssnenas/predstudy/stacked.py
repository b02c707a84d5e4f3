"""Training loop shared by the baseline predictors: P independent members trained as one stacked model.

Every member p has its own training rows ``train_idx[p]`` (all of the same size n), its own
initialisation and its own per-epoch visiting order, drawn from a CPU generator seeded with
``seeds[p]``; the mini-batches of an epoch are consecutive slices of that order (the last one may be
smaller). One optimiser step updates all members at once; members never share a parameter, and the
loss is the *sum* of the members' mean losses, so each member's gradient is its own.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor


def member_generators(seeds: Sequence[int]) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(int(s)) for s in seeds]


def visiting_orders(gens: Sequence[torch.Generator], n: int) -> Tensor:
    """``[P, n]`` one random permutation per member (consumes each member's generator)."""
    return torch.stack([torch.randperm(n, generator=g) for g in gens])


def glorot(gens: Sequence[torch.Generator], fan_in: int, fan_out: int) -> Tensor:
    """``[P, fan_in, fan_out]`` Glorot-uniform weights, member p drawn from ``gens[p]``."""
    bound = float(np.sqrt(6.0 / (fan_in + fan_out)))
    return torch.stack([(torch.rand(fan_in, fan_out, generator=g) * 2 - 1) * bound for g in gens])


def train_stacked(params: list[Tensor], loss_fn: Callable[[Tensor], Tensor], *, train_idx: Tensor,
                  gens: Sequence[torch.Generator], epochs: int, batch_size: int,
                  optimizer: torch.optim.Optimizer) -> None:
    """Run ``epochs`` epochs: ``loss_fn(idx)`` gets ``[P, B]`` row indices and returns ``[P]`` losses."""
    P, n = train_idx.shape
    for _ in range(epochs):
        order = visiting_orders(gens, n).to(train_idx.device)
        rows = torch.gather(train_idx, 1, order)
        for s in range(0, n, batch_size):
            loss = loss_fn(rows[:, s:s + batch_size]).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
