"""Fit and query GIN predictors: :class:`Predictor` (one network) and :func:`fit_many` (P networks
trained at once by the batched engine, e.g. an ensemble or the repeats of a predictor study).

Reproducibility protocol for a fit with seed ``s`` (the same for both engines, so they agree):
1. the network is initialised under ``torch.manual_seed(s)`` inside ``torch.random.fork_rng`` (the
   global RNG state is restored afterwards);
2. a CPU ``torch.Generator`` seeded with ``s`` draws, in this order, ``rand(E, n)`` whose row-wise
   argsort is each epoch's visiting order, then ``rand(E, n, 16)``, the dropout uniforms of the
   sample at each position (NP and BO heads only).
The mini-batches of an epoch are consecutive slices of its order; the last one may be smaller.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from ssnenas.predictors.fast import BatchedTrainer
from ssnenas.predictors.heads import HEADS, PredictorNet
from ssnenas.predictors.optim import WEIGHT_DECAY, lr_factors, make_adam, set_lr

ENGINES = ("fast", "eager")
HIDDEN = 16  # width of the NP/BO head's dropout layer


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/"auto": CUDA when available, else CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _as_tensor(a, dtype: torch.dtype, device: torch.device) -> Tensor:
    if isinstance(a, Tensor):
        return a.to(device=device, dtype=dtype)
    return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)


def _check_graphs(x: Tensor, adj: Tensor, num_features: int, what: str = "x/adj") -> None:
    if x.dim() != 3 or adj.dim() != 3 or adj.shape[1] != adj.shape[2] or x.shape[:2] != adj.shape[:2]:
        raise ValueError(f"{what}: expected x [M, N, F] and adj [M, N, N], got x {tuple(x.shape)} "
                         f"and adj {tuple(adj.shape)}; stack Graph.one_hot / Graph.adjacency per arch")
    if x.shape[2] != num_features:
        raise ValueError(f"{what}: x has {x.shape[2]} node features but the predictor was built with "
                         f"num_features={num_features}; pass the search space's num_features")


def draw_order(seed: int, *, epochs: int, n: int, dropout: bool) -> tuple[Tensor, Tensor | None]:
    """Step 2 of the protocol: visiting order ``[E, n]`` and dropout uniforms ``[E, n, 16]`` (or None)."""
    gen = torch.Generator().manual_seed(int(seed))
    order = torch.argsort(torch.rand(epochs, n, generator=gen), dim=1)
    uniforms = torch.rand(epochs, n, HIDDEN, generator=gen) if dropout else None
    return order, uniforms


def _init_net(num_features: int, head: str, rate: float, seed: int,
              encoder_state: dict | None) -> PredictorNet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        net = PredictorNet(num_features, head=head, rate=rate)
    if encoder_state is not None:
        net.encoder.load_state_dict(encoder_state)
    return net


class Predictor:
    """A GIN performance predictor (NPENAS arXiv 2003.12857, SSNENAS arXiv 2011.00186).

    Args:
        num_features: one-hot node-feature length of the space's graphs.
        head: ``"np"`` (NPENAS-NP), ``"bo"`` (NPENAS-BO, Gaussian), ``"finetune"`` (SS-RL/SS-CCL
            fine-tuning and the "supervised" baseline).
        rate: output scale of the sigmoid heads (per benchmark, as in the original code; 1 in the
            predictor studies).
        weight_decay, legacy_bias, legacy_cosine: optimiser options (``ssnenas.predictors.optim``).
        engine: ``"fast"`` (batched hand-written steps, default) or ``"eager"`` (autograd reference).

    Example::

        p = Predictor(8, head="np", rate=10.0)
        p.fit(x, adj, val_err, epochs=300, batch_size=10, lr=5e-3, seed=1)
        scores = p.predict(x_cand, adj_cand)
    """

    def __init__(self, num_features: int, *, head: str = "np", rate: float = 10.0,
                 weight_decay: float = WEIGHT_DECAY, legacy_bias: bool = False,
                 legacy_cosine: bool = False, engine: str = "fast") -> None:
        if head not in HEADS:
            raise ValueError(f"head={head!r} is not a predictor head; use one of {HEADS}")
        if engine not in ENGINES:
            raise ValueError(f"engine={engine!r} is unknown; use one of {ENGINES}")
        self.num_features = num_features
        self.head = head
        self.rate = float(rate)
        self.weight_decay = weight_decay
        self.legacy_bias = legacy_bias
        self.legacy_cosine = legacy_cosine
        self.engine = engine
        self.encoder_state: dict | None = None
        self.net: PredictorNet | None = None
        self.device = torch.device("cpu")

    def load_encoder_state(self, state_dict: dict) -> "Predictor":
        """Start the next fits from a pre-trained ``GINEncoder.state_dict()`` (nothing frozen)."""
        self.encoder_state = {k: v.detach().cpu().clone() for k, v in state_dict.items()}
        return self

    def fit(self, x, adj, y, *, epochs: int = 300, batch_size: int = 10, lr: float = 5e-3,
            seed: int = 0, device: str | torch.device | None = "cpu") -> "Predictor":
        """Re-initialise (fresh head, pre-trained encoder if loaded) and train from scratch.

        ``x`` ``[M, N, F]``, ``adj`` ``[M, N, N]``, ``y`` ``[M]`` (val error % for the search loops).
        """
        dev = resolve_device(device)
        X = _as_tensor(x, torch.float32, dev)
        A = _as_tensor(adj, torch.float32, dev)
        Y = _as_tensor(y, torch.float32, dev).reshape(-1)
        _check_graphs(X, A, self.num_features)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"y has {Y.shape[0]} targets for {X.shape[0]} graphs; give one per graph")
        if X.shape[0] == 0:
            raise ValueError("cannot fit a predictor on 0 graphs")
        if self.engine == "fast":
            self.net = fit_many(self.num_features, X, A, Y, seeds=[seed], head=self.head, rate=self.rate,
                                epochs=epochs, batch_size=batch_size, lr=lr,
                                weight_decay=self.weight_decay, legacy_bias=self.legacy_bias,
                                legacy_cosine=self.legacy_cosine, encoder_state=self.encoder_state,
                                device=dev)[0].net
        else:
            self.net = fit_eager(self.num_features, X, A, Y, seed=seed, head=self.head, rate=self.rate,
                                 epochs=epochs, batch_size=batch_size, lr=lr,
                                 weight_decay=self.weight_decay, legacy_bias=self.legacy_bias,
                                 legacy_cosine=self.legacy_cosine, encoder_state=self.encoder_state)
        self.device = dev
        return self

    def _require(self) -> PredictorNet:
        if self.net is None:
            raise RuntimeError("the predictor is not fitted; call fit(...) first")
        return self.net

    @torch.no_grad()
    def _forward(self, x, adj, batch_size: int) -> tuple[Tensor, Tensor | None]:
        net = self._require().eval()
        X = _as_tensor(x, torch.float32, self.device)
        A = _as_tensor(adj, torch.float32, self.device)
        _check_graphs(X, A, self.num_features)
        outs, sig = [], []
        for s in range(0, X.shape[0], batch_size):
            o = net(X[s:s + batch_size], A[s:s + batch_size])
            if isinstance(o, tuple):
                outs.append(o[0])
                sig.append(o[1])
            else:
                outs.append(o)
        mu = torch.cat(outs) if outs else torch.zeros(0, device=self.device)
        return mu, (torch.cat(sig) if sig else None)

    def predict(self, x, adj, batch_size: int = 64) -> np.ndarray:
        """Eval-mode predictions ``[M]`` (BN running stats, no dropout); the mean μ for the BO head.
        Each graph's output is independent of the batch in eval mode, so ``batch_size`` only bounds memory."""
        return self._forward(x, adj, batch_size)[0].cpu().numpy().astype(np.float64)

    def predict_dist(self, x, adj, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """BO head only: ``(mu, sigma)`` per graph."""
        if self.head != "bo":
            raise ValueError(f"predict_dist needs head='bo', this predictor has head={self.head!r}")
        mu, sigma = self._forward(x, adj, batch_size)
        return mu.cpu().numpy().astype(np.float64), sigma.cpu().numpy().astype(np.float64)

    def sample(self, x, adj, rng: np.random.Generator, batch_size: int = 64) -> np.ndarray:
        """BO head: one Thompson sample μ + σ·ε per graph, ε ~ N(0, 1) from ``rng``."""
        mu, sigma = self.predict_dist(x, adj, batch_size)
        return mu + sigma * rng.standard_normal(mu.shape[0])

    def state_dict(self) -> dict:
        """CPU copy of the fitted network's state (for a searcher's checkpoint)."""
        return {k: v.detach().cpu().clone() for k, v in self._require().state_dict().items()}

    def load_state_dict(self, state: dict) -> "Predictor":
        net = PredictorNet(self.num_features, head=self.head, rate=self.rate)
        net.load_state_dict(state)
        self.net = net
        self.device = torch.device("cpu")
        return self


def fit_eager(num_features: int, x: Tensor, adj: Tensor, y: Tensor, *, seed: int, head: str = "np",
              rate: float = 10.0, epochs: int = 300, batch_size: int = 10, lr: float = 5e-3,
              weight_decay: float = WEIGHT_DECAY, legacy_bias: bool = False, legacy_cosine: bool = False,
              encoder_state: dict | None = None, steps: int | None = None) -> PredictorNet:
    """The autograd reference: ``PredictorNet`` + ``torch.optim.Adam`` + the per-step cosine.
    ``steps`` stops early (for tests comparing the engines)."""
    dev = x.device
    net = _init_net(num_features, head, rate, seed, encoder_state).to(dev).train()
    n = x.shape[0]
    order, uniforms = draw_order(seed, epochs=epochs, n=n, dropout=head != "finetune")
    factors = lr_factors(epochs=epochs, n_train=n, batch_size=batch_size, legacy=legacy_cosine)
    opt = make_adam(net, lr=lr, weight_decay=weight_decay, legacy_bias=legacy_bias)
    order = order.to(dev)
    t = 0
    for e in range(epochs):
        for s in range(0, n, batch_size):
            if steps is not None and t >= steps:
                return net.eval()
            idx = order[e, s:s + batch_size]
            if uniforms is not None:
                net.set_dropout_uniforms(uniforms[e, s:s + batch_size].to(dev))
            set_lr(opt, float(factors[t]))
            opt.zero_grad(set_to_none=True)
            loss = net.loss(net(x[idx], adj[idx]), y[idx])
            loss.backward()
            opt.step()
            t += 1
    net.set_dropout_uniforms(None)
    return net.eval()


def fit_many(num_features: int, x, adj, y, *, seeds: Sequence[int], train_idx=None, head: str = "np",
             rate: float = 10.0, epochs: int = 300, batch_size: int = 10, lr: float = 5e-3,
             weight_decay: float = WEIGHT_DECAY, legacy_bias: bool = False, legacy_cosine: bool = False,
             encoder_state: dict | None = None, device: str | torch.device | None = "cpu",
             steps: int | None = None) -> list[Predictor]:
    """Fit ``len(seeds)`` independent predictors at once with the batched fast engine.

    ``x``/``adj``/``y`` are a shared pool; predictor p trains on ``train_idx[p]`` (``[P, n]``, all the
    same length n; default: the whole pool for everyone, e.g. an ensemble). Predictor p's result equals
    ``Predictor(...).fit(pool[train_idx[p]], ..., seed=seeds[p])`` up to float rounding.
    """
    dev = resolve_device(device)
    X = _as_tensor(x, torch.float32, dev)
    A = _as_tensor(adj, torch.float32, dev)
    Y = _as_tensor(y, torch.float32, dev).reshape(-1)
    _check_graphs(X, A, num_features)
    P = len(seeds)
    if P == 0:
        raise ValueError("fit_many needs at least one seed")
    if train_idx is None:
        tidx = torch.arange(X.shape[0]).expand(P, -1)
    else:
        tidx = torch.as_tensor(np.asarray(train_idx), dtype=torch.long)
        if tidx.dim() != 2 or tidx.shape[0] != P:
            raise ValueError(f"train_idx must be [P={P}, n] (one row of pool indices per seed), "
                             f"got shape {tuple(tidx.shape)}")
    n = tidx.shape[1]
    dropout = head != "finetune"
    orders, unis = [], []
    for p, s in enumerate(seeds):
        o, u = draw_order(s, epochs=epochs, n=n, dropout=dropout)
        orders.append(tidx[p][o])
        unis.append(u)
    order = torch.stack(orders).to(dev)
    uniforms = torch.stack(unis).to(dev) if dropout else None
    factors = lr_factors(epochs=epochs, n_train=n, batch_size=batch_size, legacy=legacy_cosine)
    if steps is not None:
        factors = factors[:steps]
    lrf = torch.as_tensor(factors, dtype=torch.float32, device=dev)
    nets = [_init_net(num_features, head, rate, s, encoder_state).to(dev).train() for s in seeds]
    trainer = BatchedTrainer(nets, X, A, Y, lr=lr, weight_decay=weight_decay, legacy_bias=legacy_bias)
    trainer.train(order, uniforms, lrf, batch_size, max_steps=steps)
    out = []
    for net in nets:
        p = Predictor(num_features, head=head, rate=rate, weight_decay=weight_decay,
                      legacy_bias=legacy_bias, legacy_cosine=legacy_cosine)
        p.encoder_state = encoder_state
        p.net = net.eval()
        p.device = dev
        out.append(p)
    return out
