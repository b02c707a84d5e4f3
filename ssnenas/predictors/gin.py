r"""The GIN backbone shared by every predictor (NPENAS-NP, NPENAS-BO, SS-RL, SS-CCL).

`How Powerful are Graph Neural Networks? <https://arxiv.org/abs/1810.00826>`_ with the
NPENAS/SSNENAS layout (arXiv 2003.12857, 2011.00186): three GIN layers, sum aggregation,
:math:`\epsilon = 0` fixed, self-loops removed, each layer followed by the activation THEN a node-level
BatchNorm1d, and a mean pool over all nodes (isolate / padding nodes included):

.. math::
    \mathbf{h}_j^{(l)} = \mathrm{MLP}_l\Big((1+\epsilon)\,\mathbf{x}_j^{(l-1)}
        + \sum_{i \to j,\, i \neq j} \mathbf{x}_i^{(l-1)}\Big), \qquad
    \mathbf{x}^{(l)} = \mathrm{BN}_l\big(\sigma(\mathbf{h}^{(l)})\big), \qquad
    \mathbf{g} = \tfrac{1}{N}\textstyle\sum_j \mathbf{x}_j^{(3)}

In matrix form per graph: :math:`\mathbf{H} = \mathrm{MLP}((1+\epsilon)\mathbf{X} + \tilde{\mathbf{A}}^\top\mathbf{X})`
with :math:`\tilde{\mathbf{A}} = \mathbf{A} \odot (1 - \mathbf{I})`.

The graphs here are tiny (7, 8, 30 nodes), so the encoder works on dense, padded batches
(``bmm``) rather than PyG's sparse scatter; ``tests/test_predictors.py`` checks it equals PyG's
``GINConv(nn, eps=0, train_eps=False)`` + ``global_mean_pool`` with copied weights.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

ACTIVATIONS = ("relu", "celu")


def _act(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "celu":
        return nn.CELU()
    raise ValueError(f"activation={name!r} is not supported; use one of {ACTIVATIONS}")


class GINMLP(nn.Module):
    """The per-layer GIN MLP: Linear(d_in, width) -> ReLU -> Linear(width, width)."""

    def __init__(self, d_in: int, width: int) -> None:
        super().__init__()
        self.lin1 = nn.Linear(d_in, width)
        self.lin2 = nn.Linear(width, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.lin2(torch.relu(self.lin1(x)))


class GINEncoder(nn.Module):
    r"""Dense GIN encoder; see the module docstring for the maths.

    Args:
        num_features (int): length of the one-hot node features (NB101, NB201 8, DARTS 11).
        width (int, optional): hidden size of every layer (default: ``32``).
        num_layers (int, optional): number of GIN layers (default: ``3``).
        activation (str, optional): ``"relu"`` (NPENAS-NP, SS-RL, SS-CCL) or ``"celu"``
            (NPENAS-BO) applied after each GIN MLP, before BatchNorm (default: ``"relu"``).

    Shapes:
        - **input:** node features :math:`(B, N, F)`, adjacency :math:`(B, N, N)` with
          ``adj[b, i, j] = 1`` for an edge i -> j, optional node mask :math:`(B, N)`
        - **output:** graph embedding :math:`(B, \text{width})`; ``node_embeddings`` gives
          :math:`(B, N, \text{width})`
    """

    def __init__(self, num_features: int, *, width: int = 32, num_layers: int = 3,
                 activation: str = "relu") -> None:
        super().__init__()
        if num_features < 1:
            raise ValueError(f"num_features must be >= 1, got {num_features}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.num_features = num_features
        self.width = width
        self.num_layers = num_layers
        self.activation = activation
        self.act = _act(activation)
        dims = [num_features] + [width] * num_layers
        self.mlps = nn.ModuleList(GINMLP(dims[k], width) for k in range(num_layers))
        self.bns = nn.ModuleList(nn.BatchNorm1d(width) for _ in range(num_layers))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch defaults for the GIN MLPs and BatchNorm, as in the original code."""
        for mlp in self.mlps:
            mlp.lin1.reset_parameters()
            mlp.lin2.reset_parameters()
        for bn in self.bns:
            bn.reset_parameters()

    @staticmethod
    def _propagation(adj: Tensor) -> Tensor:
        """``(1+eps) I + A^T`` (eps = 0 fixed) with self-loops removed: row j of the result sums node j's predecessors."""
        n = adj.shape[-1]
        eye = torch.eye(n, dtype=adj.dtype, device=adj.device)
        return adj.transpose(-1, -2) * (1 - eye) + eye

    def node_embeddings(self, x: Tensor, adj: Tensor, mask: Tensor | None = None) -> Tensor:
        """Node features after the last layer, ``[B, N, width]`` (zero where ``mask`` is 0)."""
        if x.dim() == 2:
            x = x.unsqueeze(0)
        if adj.dim() == 2:
            adj = adj.unsqueeze(0)
        adj = adj.to(x.dtype)
        prop = self._propagation(adj)
        b, n, _ = x.shape
        m = None if mask is None else mask.to(torch.bool)
        h = x if m is None else x * m.unsqueeze(-1).to(x.dtype)
        for mlp, bn in zip(self.mlps, self.bns):
            h = self.act(mlp(torch.bmm(prop, h)))
            if m is None:
                h = bn(h.reshape(b * n, -1)).reshape(b, n, -1)
            else:
                # BatchNorm statistics over the real nodes only (as PyG's node-level BN sees them).
                out = torch.zeros_like(h)
                out[m] = bn(h[m])
                h = out
        return h

    def forward(self, x: Tensor, adj: Tensor, mask: Tensor | None = None) -> Tensor:
        """Mean-pooled graph embedding ``[B, width]`` (over the nodes where ``mask`` is 1, else all)."""
        h = self.node_embeddings(x, adj, mask)
        if mask is None:
            return h.mean(dim=1)
        w = mask.to(h.dtype).unsqueeze(-1)
        return (h * w).sum(dim=1) / w.sum(dim=1).clamp_min(1.0)

    def extra_repr(self) -> str:
        return (f"num_features={self.num_features}, width={self.width}, "
                f"num_layers={self.num_layers}, activation={self.activation!r}")
