"""Prediction heads on the 32-d GIN graph embedding, and the full predictor networks (NPENAS, SSNENAS).

- ``"np"`` (PredictorGIN, NPENAS-NP): Linear(32→16) → ReLU → Dropout(0.1) → Linear(16→1) → Sigmoid, × rate.
- ``"bo"`` (GIN-Gaussian, NPENAS-BO, CELU encoder): mean Linear(32→16) → CELU → Dropout(0.1) →
  Linear(16→1); std Linear(32→16) → CELU → Linear(16→1) → CELU, σ = exp(·/2); trained with the
  Gaussian NLL, sampled as μ + σ·ε (one Thompson sample per candidate).
- ``"finetune"`` (PredictorGINRL / PredictorGINCCL after pre-training, and the "supervised"
  baseline): Linear(32→1) → Sigmoid, × rate.

Head Linear layers use kaiming_uniform(a=1) weights and zero biases; the encoder keeps PyTorch's
defaults. Dropout draws its mask from an explicit ``torch.Generator`` (no global RNG), so a fit is
reproducible for a seed and the fast engine (``ssnenas.predictors.fast``) can replay it exactly.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ssnenas.predictors.gin import GINEncoder

HEADS = ("np", "bo", "finetune")
DROPOUT = 0.1
LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _head_linear(d_in: int, d_out: int) -> nn.Linear:
    lin = nn.Linear(d_in, d_out)
    nn.init.kaiming_uniform_(lin.weight, a=1)
    nn.init.zeros_(lin.bias)
    return lin


class GenDropout(nn.Module):
    """Inverted dropout (keep where u ≥ p, scale 1/(1−p)). The uniforms u come from ``self.uniforms``
    when the trainer set them for this step (pre-drawn per sample, see ``ssnenas.predictors.fit``),
    else from ``self.generator`` (or the global RNG when that is None too)."""

    def __init__(self, p: float = DROPOUT) -> None:
        super().__init__()
        self.p = p
        self.generator: torch.Generator | None = None
        self.uniforms: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        u = self.uniforms
        if u is None:
            u = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=x.dtype)
        keep = u >= self.p
        return x * keep.to(x.dtype) / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class NPHead(nn.Module):
    """NPENAS-NP head: ``rate · σ(W₂ drop(relu(W₁ g)))``."""

    def __init__(self, width: int = 32, *, hidden: int = 16, rate: float = 10.0) -> None:
        super().__init__()
        self.rate = float(rate)
        self.fc1 = _head_linear(width, hidden)
        self.dropout = GenDropout()
        self.fc2 = _head_linear(hidden, 1)

    def forward(self, g: Tensor) -> Tensor:
        return torch.sigmoid(self.fc2(self.dropout(torch.relu(self.fc1(g))))).squeeze(-1) * self.rate


class FineTuneHead(nn.Module):
    """Head of the pre-trained predictors (and the "supervised" baseline): ``rate · σ(W g)``."""

    def __init__(self, width: int = 32, *, rate: float = 10.0) -> None:
        super().__init__()
        self.rate = float(rate)
        self.fc = _head_linear(width, 1)

    def forward(self, g: Tensor) -> Tensor:
        return torch.sigmoid(self.fc(g)).squeeze(-1) * self.rate


class GaussianHead(nn.Module):
    """NPENAS-BO head: returns ``(mu, sigma)`` with ``sigma = exp(celu(s)/2) ≥ e^{-1/2}``."""

    def __init__(self, width: int = 32, *, hidden: int = 16) -> None:
        super().__init__()
        self.mean1 = _head_linear(width, hidden)
        self.dropout = GenDropout()
        self.mean2 = _head_linear(hidden, 1)
        self.std1 = _head_linear(width, hidden)
        self.std2 = _head_linear(hidden, 1)

    def forward(self, g: Tensor) -> tuple[Tensor, Tensor]:
        mu = self.mean2(self.dropout(nn.functional.celu(self.mean1(g)))).squeeze(-1)
        log_var = nn.functional.celu(self.std2(nn.functional.celu(self.std1(g)))).squeeze(-1)
        return mu, torch.exp(0.5 * log_var)


def gaussian_nll(y: Tensor, mu: Tensor, sigma: Tensor) -> Tensor:
    """Mean over the batch of ½(y−μ)²/σ² + log(√(2π)·σ)."""
    return (0.5 * ((y - mu) / sigma) ** 2 + torch.log(sigma) + LOG_SQRT_2PI).mean()


class PredictorNet(nn.Module):
    """GIN encoder + one head. ``forward`` gives the point prediction (NP / finetune) or ``(mu, sigma)`` (BO)."""

    def __init__(self, num_features: int, *, head: str = "np", rate: float = 10.0, width: int = 32) -> None:
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head={head!r} is not a predictor head; use one of {HEADS}")
        self.head_kind = head
        self.encoder = GINEncoder(num_features, width=width, activation="celu" if head == "bo" else "relu")
        if head == "np":
            self.head: nn.Module = NPHead(width, rate=rate)
        elif head == "finetune":
            self.head = FineTuneHead(width, rate=rate)
        else:
            self.head = GaussianHead(width)

    def set_dropout_uniforms(self, uniforms: Tensor | None) -> None:
        """Give the (single) dropout layer this step's uniforms ``[batch, hidden]`` (None: draw)."""
        for m in self.modules():
            if isinstance(m, GenDropout):
                m.uniforms = uniforms

    def forward(self, x: Tensor, adj: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return self.head(self.encoder(x, adj))

    def loss(self, out: Tensor | tuple[Tensor, Tensor], y: Tensor) -> Tensor:
        """MSE for the point heads, Gaussian NLL for the BO head."""
        if self.head_kind == "bo":
            mu, sigma = out
            return gaussian_nll(y, mu, sigma)
        return nn.functional.mse_loss(out, y)
