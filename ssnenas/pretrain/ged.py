"""PAPE Hamming distances and the normalised "GED" target (algorithms.md §1.4).

GED(a, b) = Hamming(PAPE_a, PAPE_b); the SS-RL regression target is exp(-GED / n_nodes) with
n_nodes = 7 (NB101), 8 (NB201), 30 (DARTS). For many-to-many distances the Hamming sweep is a
matmul on 0/1 vectors: d(a, b) = |a| + |b| - 2 a.b, exact in float32 (integers < 2^24).
"""

from __future__ import annotations

import torch
from torch import Tensor


def pairwise_hamming(a: Tensor, b: Tensor) -> Tensor:
    """Element-wise Hamming distance of paired 0/1 rows: ``[P, L] x [P, L] -> [P]`` (float32)."""
    return (a != b).sum(dim=-1).to(torch.float32)


def normalized_ged(a: Tensor, b: Tensor, num_nodes: int) -> Tensor:
    """exp(-Hamming(a, b) / num_nodes) for paired PAPE rows: 1 for identical encodings."""
    return torch.exp(-pairwise_hamming(a, b) / float(num_nodes))


def hamming_matrix(a: Tensor, b: Tensor) -> Tensor:
    """All-pairs Hamming distances of 0/1 rows as a matmul: ``[A, L] x [N, L] -> [A, N]``.

    d = |a| + |b| - 2 a.b; inputs are cast to float32, so the result is exact integers.
    """
    a = a.to(torch.float32)
    b = b.to(torch.float32)
    return a.sum(1, keepdim=True) + b.sum(1).unsqueeze(0) - 2.0 * (a @ b.T)
