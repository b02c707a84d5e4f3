"""PAPE Hamming distances and the "GED" targets of SS-RL (SSNENAS arXiv 2011.00186).

GED(a, b) = Hamming(PAPE_a, PAPE_b). The SS-RL regression target is, by ``kind``:

- ``normalized`` (the paper's): exp(-GED / n_nodes) with n_nodes = 7 (NB101), 8 (NB201), 30 (DARTS);
- ``raw`` (the "without normalisation" ablation of the SSNENAS GED comparison): GED itself.
 For many-to-many distances the Hamming sweep is a
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


GED_KINDS = ("normalized", "raw")


def ged_target(a: Tensor, b: Tensor, num_nodes: int, kind: str = "normalized") -> Tensor:
    """The SS-RL target of paired PAPE rows: exp(-Hamming / num_nodes) or the raw Hamming distance."""
    if kind == "normalized":
        return normalized_ged(a, b, num_nodes)
    if kind == "raw":
        return pairwise_hamming(a, b)
    raise ValueError(f"unknown GED kind {kind!r}; choose one of {', '.join(GED_KINDS)}")


def hamming_matrix(a: Tensor, b: Tensor) -> Tensor:
    """All-pairs Hamming distances of 0/1 rows as a matmul: ``[A, L] x [N, L] -> [A, N]``.

    d = |a| + |b| - 2 a.b; inputs are cast to float32, so the result is exact integers.
    """
    a = a.to(torch.float32)
    b = b.to(torch.float32)
    return a.sum(1, keepdim=True) + b.sum(1).unsqueeze(0) - 2.0 * (a @ b.T)
