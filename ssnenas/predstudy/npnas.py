"""The ``np-nas`` baseline: the neural predictor of Wen et al. (arXiv 1912.00848), stacked over members.

A graph convolutional network on the op-on-node DAG with *bidirectional* propagation: every layer
averages a pass along the edges and one against them,

    H' = ReLU( ½ · (Â_fwd H W_fwd + Â_bwd H W_bwd) + b ),
    Â_fwd = D⁻¹ (Aᵀ + I),  Â_bwd = D⁻¹ (A + I)  (row-normalised, self-loops added),

three layers of 144 units, the mean over nodes, then Linear(144→128) → ReLU → Linear(128→1).
MSE loss, Adam lr 1e-4, batch 10, 300 epochs (the settings of the SSNENAS predictor comparison).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from ssnenas.predstudy.stacked import glorot, member_generators, train_stacked

HIDDEN = 144
FC = 128
LAYERS = 3
PREDICT_CHUNK = 1024


def normalised_adjacency(adj: Tensor) -> tuple[Tensor, Tensor]:
    """(Â_fwd, Â_bwd) of ``adj [M, N, N]`` (``adj[i, j] = 1`` for an edge i -> j)."""
    eye = torch.eye(adj.shape[-1], device=adj.device, dtype=adj.dtype)
    fwd = adj.transpose(1, 2) + eye  # row j gathers j's predecessors
    bwd = adj + eye  # row i gathers i's successors
    return fwd / fwd.sum(-1, keepdim=True), bwd / bwd.sum(-1, keepdim=True)


def fit_predict_npnas(x: Tensor, adj: Tensor, y: Tensor, train_idx: Tensor, *, seeds: Sequence[int],
                      epochs: int, batch_size: int, lr: float) -> Tensor:
    """Train one GCN per row of ``train_idx`` on graphs ``x [M, N, F]``, ``adj [M, N, N]`` and
    targets ``y [M]``; return the predictions for all M graphs as ``[P, M]``."""
    dev = x.device
    P = len(seeds)
    gens = member_generators(seeds)
    fwd_all, bwd_all = normalised_adjacency(adj)
    dims = [x.shape[-1]] + [HIDDEN] * LAYERS
    w_f = [glorot(gens, a, b).to(dev).requires_grad_() for a, b in zip(dims[:-1], dims[1:])]
    w_b = [glorot(gens, a, b).to(dev).requires_grad_() for a, b in zip(dims[:-1], dims[1:])]
    b_g = [torch.zeros(P, 1, 1, b, device=dev, requires_grad=True) for b in dims[1:]]
    w1 = glorot(gens, HIDDEN, FC).to(dev).requires_grad_()
    b1 = torch.zeros(P, 1, FC, device=dev, requires_grad=True)
    w2 = glorot(gens, FC, 1).to(dev).requires_grad_()
    b2 = torch.zeros(P, 1, 1, device=dev, requires_grad=True)
    params = w_f + w_b + b_g + [w1, b1, w2, b2]
    opt = torch.optim.Adam(params, lr=lr)

    def forward(h: Tensor, fwd: Tensor, bwd: Tensor) -> Tensor:  # h [P, B, N, F] -> [P, B]
        for wf, wb, b in zip(w_f, w_b, b_g):
            hf = fwd @ torch.einsum("pbjf,pfh->pbjh", h, wf)
            hb = bwd @ torch.einsum("pbjf,pfh->pbjh", h, wb)
            h = torch.relu(0.5 * (hf + hb) + b)
        g = h.mean(dim=2)  # [P, B, H]
        g = torch.relu(torch.baddbmm(b1, g, w1))
        return torch.baddbmm(b2, g, w2).squeeze(-1)

    def loss_fn(idx: Tensor) -> Tensor:
        return ((forward(x[idx], fwd_all[idx], bwd_all[idx]) - y[idx]) ** 2).mean(dim=1)

    train_stacked(params, loss_fn, train_idx=train_idx, gens=gens, epochs=epochs, batch_size=batch_size,
                  optimizer=opt)
    out = []
    with torch.no_grad():
        for i in range(0, x.shape[0], PREDICT_CHUNK):
            sl = slice(i, i + PREDICT_CHUNK)
            out.append(forward(x[sl].expand(P, -1, -1, -1), fwd_all[sl].expand(P, -1, -1, -1),
                               bwd_all[sl].expand(P, -1, -1, -1)))
    return torch.cat(out, dim=1)
