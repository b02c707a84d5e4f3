"""Stacked fully connected regressors on a vector encoding: the ``mlp`` and ``bananas`` baselines.

``mlp`` (the MLP baseline of the SSNENAS predictor comparison): hidden layers 512, 2048, 2048, 512
with ReLU, a linear output, on the adjacency encoding; MAE loss, Adam lr 0.01, batch 32, 200 epochs.

``bananas`` (White et al., BANANAS, arXiv 1910.11858, as the project's BANANAS searcher runs it): an
ensemble of 5 MLPs with 10 hidden ReLU layers of width 200 (NB201-cell spaces) or 20 (NB101, DARTS) on the path
encoding, MAE loss, Adam(β = (0.9, 0.99), eps 1e-7), batch 32, lr 1e-3 / 200 epochs (NB201-cell spaces) or
lr 0.01 / 150 epochs (NB101, DARTS), :func:`bananas_settings`; the prediction is the ensemble mean.

Weights are Glorot-uniform and biases zero (the Keras defaults BANANAS used). Input columns that are
zero for every architecture of the benchmark are dropped first: they cannot change any output.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from ssnenas.predstudy.stacked import glorot, member_generators, train_stacked

PREDICT_CHUNK = 4096


def bananas_settings(space: str, encoding: str) -> dict:
    """BANANAS' ``width``, ``epochs`` and ``lr`` as the SSNENAS runs use them, for a space (name) and encoding:
    the searcher's defaults (``search_algos.bananas``) and the ``bananas`` baseline's recipe.

    NB201's settings for every space with NB201's cell (ops on the six edges of a four-node cell:
    TransNAS-Bench-101 micro, which the SSNENAS code never searched, has the same path encoding
    machinery with four ops instead of five); NB101's for the others (NB101, DARTS)."""
    from ssnenas.spaces import get_space
    from ssnenas.spaces.cell_on_edges import CellOnEdgesSpace

    if isinstance(get_space(space), CellOnEdgesSpace):
        return {"width": 200 if encoding == "path" else 20, "epochs": 200, "lr": 1e-3}
    return {"width": 20, "epochs": 150, "lr": 1e-2}


def active_columns(x: np.ndarray) -> np.ndarray:
    """Indices of the columns that are non-zero somewhere (the others carry no information)."""
    return np.flatnonzero(np.any(np.asarray(x) != 0, axis=0))


def fit_predict_mlp(x: Tensor, y: Tensor, train_idx: Tensor, *, seeds: Sequence[int], hidden: Sequence[int],
                    epochs: int, batch_size: int, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                    eps: float = 1e-8, loss: str = "mae", fused_adam: bool = False) -> Tensor:
    """Train one MLP per row of ``train_idx`` (``[P, n]`` rows of ``x [M, D]`` / ``y [M]``) and
    return their predictions for every row of ``x`` as ``[P, M]``.

    ``fused_adam``: PyTorch's fused Adam kernel, the same update rule in one pass per tensor (results
    equal to rounding). The ``mlp`` recipe uses it: with 2048 x 2048 weights per member the default
    multi-tensor path's full-size temporaries, and ``sqrt`` over second moments that are mostly
    exactly zero (a slow case of that kernel on this CPU), made a step 2.2x slower (4 members, 40 steps).
    ``bananas`` keeps the default path so that its cells stay comparable with earlier runs."""
    dev = x.device
    gens = member_generators(seeds)
    dims = [x.shape[1], *hidden, 1]
    weights = [glorot(gens, a, b).to(dev).requires_grad_() for a, b in zip(dims[:-1], dims[1:])]
    biases = [torch.zeros(len(seeds), 1, b, device=dev, requires_grad=True) for b in dims[1:]]
    opt = torch.optim.Adam(weights + biases, lr=lr, betas=betas, eps=eps, fused=fused_adam)

    def forward(h: Tensor) -> Tensor:  # h [P, B, D] -> [P, B]
        for i, (w, b) in enumerate(zip(weights, biases)):
            h = torch.baddbmm(b, h, w)
            if i < len(weights) - 1:
                h = torch.relu(h)
        return h.squeeze(-1)

    def loss_fn(idx: Tensor) -> Tensor:
        err = forward(x[idx]) - y[idx]
        return (err.abs() if loss == "mae" else err ** 2).mean(dim=1)

    train_stacked(weights + biases, loss_fn, train_idx=train_idx, gens=gens, epochs=epochs,
                  batch_size=batch_size, optimizer=opt)
    with torch.no_grad():
        out = [forward(x[i:i + PREDICT_CHUNK].expand(len(seeds), -1, -1)) for i in range(0, x.shape[0], PREDICT_CHUNK)]
    return torch.cat(out, dim=1)
