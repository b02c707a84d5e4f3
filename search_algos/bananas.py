"""BANANAS: an ensemble of path-encoding MLPs with independent Thompson sampling (arXiv 1910.11858).

`BANANAS: Bayesian Optimization with Neural Architectures for Neural Architecture Search
<https://arxiv.org/abs/1910.11858>`_, as run in the SSNENAS comparison: 5 MLPs (``num_layers`` ReLU
layers of ``width`` units and a linear output, Glorot-uniform weights, zero biases, the Keras
defaults) regress the val error from the encoding with the MAE loss and Adam(β = (0.9, 0.99)): ``100 -
val acc`` for accuracies in percent, on whose scale these settings were tuned, and the same 0..100 scale
for SSIM or a loss (``ssnenas.metric_spec.MetricSpec.to_error``).
Each iteration scores the same 100 mutation candidates as NPENAS (``search_algos._candidates``) and,
per candidate, draws one sample from N(mean, std) of the 5 predictions (independent Thompson
sampling, acquisition "its"); the ``k`` = 10 lowest samples are evaluated.

Settings (as the SSNENAS code runs it): NB101 10 × 20, 150 epochs, batch 32, lr 0.01; NB201 10 × 200
(path encoding) or 10 × 20 (adjacency / PAPE), 200 epochs, lr 0.001 (also on TransNAS-Bench-101 micro,
the same cell with four ops; DARTS takes NB101's). Encodings: ``"path"``
(BANANAS-PE), ``"adjacency"`` (-AE), ``"pape"`` (-PEAE).

Loss (``loss``): ``"mae"`` (default) as the SSNENAS code runs it, or ``"mape"``, the one NPENASv1 (and the
BANANAS authors' code) trains its NAS-Bench-201 ensembles with (:func:`mape_loss`, lower bound 4.5):
``bananas-mape`` in ``search_algos._factory``, so the stronger of the two published set-ups can be reported.

Speed without changing the maths: a path encoding is very sparse (about 70 of NB201's 5,461 paths
occur in a run), and a first-layer weight whose input column is zero in every training example gets
a zero gradient, hence (Adam without weight decay) never moves. So only the columns present in the
training set are trained; the others keep their initial values, which still score the candidates.
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
import torch

from search_algos._base import check_int
from search_algos._cohort import CohortSearcher, FitRequest, ProposeSteps
from ssnenas.errors import InputError
from ssnenas.predstudy.mlp import bananas_settings as default_settings  # noqa: F401 (the searcher's defaults)

ENCODINGS = ("path", "adjacency", "pape")
#: the training losses of the ensemble: ``"mae"`` (SSNENAS) and ``"mape"`` (NPENASv1's NB201 runs)
LOSSES = ("mae", "mape")
#: the MAPE loss' lower bound in the published code (naszilla/bananas and auroua/NPENASv1 ``mape_loss``)
MAPE_LOWER_BOUND = 4.5
BETAS = (0.9, 0.99)
ADAM_EPS = 1e-7  # Keras' default


def check_loss_settings(loss: Any, mape_lower_bound: Any) -> None:
    """Raise :class:`InputError` naming ``loss`` or ``mape_lower_bound`` when either is not usable."""
    if not isinstance(loss, str) or loss not in LOSSES:
        raise InputError(f"BANANAS: loss={loss!r} is unknown; choose one of {', '.join(LOSSES)}")
    if (isinstance(mape_lower_bound, bool) or not isinstance(mape_lower_bound, (int, float, np.integer, np.floating))
            or not math.isfinite(mape_lower_bound)):
        raise InputError(f"BANANAS: mape_lower_bound={mape_lower_bound!r} is not a finite number; give one on the "
                         f"0..100 error scale, e.g. {MAPE_LOWER_BOUND} (the published value)")


def check_mape_targets(y: np.ndarray, lower_bound: float) -> None:
    """Raise :class:`InputError` unless every target error lies strictly above ``lower_bound``.

    Why: :func:`mape_loss` divides by ``y - lower_bound``; at the bound it divides by zero, and below
    it the "percentage" is taken against a negative distance, which the published code never meets
    (NB201 val errors are >= 8 on cifar10-valid, the bound 4.5 lies under them)."""
    y = np.asarray(y, dtype=np.float64)
    if y.size and not float(y.min()) > lower_bound:
        raise InputError(f"BANANAS: loss='mape' needs every training error above mape_lower_bound="
                         f"{lower_bound}, got an error of {float(y.min()):g} (errors are on the 0..100 scale of "
                         f"MetricSpec.to_error); set mape_lower_bound below the smallest error or use loss='mae'")


def mape_loss(pred: torch.Tensor, target: torch.Tensor, lower_bound: float = MAPE_LOWER_BOUND) -> torch.Tensor:
    """The BANANAS "MAPE" loss over the last axis: ``mean |(pred - lb) / (target - lb) - 1|``.

    Formula from the BANANAS authors' code (naszilla/bananas ``meta_neural_net.py`` ``mape_loss``), used
    unchanged by NPENASv1 (auroua/NPENASv1 ``nas_lib/models/meta_neural_net.py``, ``loss: 'mape'`` in
    ``meta_neuralnet_params('nasbench_201')``) with ``lower_bound = 4.5``. The published function returns
    the element-wise ``|(y_pred - lb) / (y_true - lb) - 1|``, which Keras averages over the batch, so this
    is a plain mean of absolute values (algebraically ``|pred - target| / |target - lb|``: an absolute
    error weighted by how close the target is to the bound, so the best architectures weigh most); it is
    computed in the published form. Targets must lie above ``lower_bound`` (:func:`check_mape_targets`).
    Returns one value per leading index (``[P]`` for ``[P, B]`` inputs).
    """
    return ((pred - lower_bound) / (target - lower_bound) - 1.0).abs().mean(dim=-1)


def _glorot(gen: torch.Generator, p: int, fan_in: int, fan_out: int, device: torch.device) -> torch.Tensor:
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return ((torch.rand(p, fan_in, fan_out, generator=gen) * 2.0 - 1.0) * limit).to(device)


def fit_predict_ensemble(x_train: np.ndarray, y: np.ndarray, x_pred: np.ndarray, *, gen: torch.Generator,
                         ensemble_size: int = 5, num_layers: int = 10, width: int = 20, epochs: int = 150,
                         batch_size: int = 32, lr: float = 0.01, device: str = "cpu", loss: str = "mae",
                         mape_lower_bound: float = MAPE_LOWER_BOUND) -> np.ndarray:
    """Train ``ensemble_size`` MLPs at once (batched weights ``[P, in, out]``) on ``(x_train, y)``
    with the MAE loss (or ``loss="mape"``: :func:`mape_loss` with ``mape_lower_bound``) and return their
    predictions for ``x_pred`` as ``[P, M]`` float64.

    Member p initialises from, and shuffles each epoch with, ``gen`` (its own permutation).
    """
    return fit_predict_ensembles([(x_train, y, x_pred, gen)], ensemble_size=ensemble_size,
                                 num_layers=num_layers, width=width, epochs=epochs,
                                 batch_size=batch_size, lr=lr, device=device, loss=loss,
                                 mape_lower_bound=mape_lower_bound)[0]


def fit_predict_ensembles(tasks: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, torch.Generator]], *,
                          ensemble_size: int = 5, num_layers: int = 10, width: int = 20, epochs: int = 150,
                          batch_size: int = 32, lr: float = 0.01, device: str = "cpu", loss: str = "mae",
                          mape_lower_bound: float = MAPE_LOWER_BOUND) -> list[np.ndarray]:
    """:func:`fit_predict_ensemble` for C independent tasks ``(x_train, y, x_pred, gen)`` (equal
    training-set sizes) as one stack of ``P·C`` MLPs; task c's result is bit-identical to its fit alone.

    Each task draws its initial weights and its epochs' shuffles from its own ``gen``, in the order
    of the one-task fit. Only the first layer is per task (its trained input columns differ); the
    hidden and output layers are ``[P·C, in, out]`` tensors (a batched matmul computes each member's
    product as it would alone), and Adam updates every tensor element by element. Each member's loss
    is its own batch mean, so summing them keeps the members' gradients apart.
    """
    check_loss_settings(loss, mape_lower_bound)
    if loss == "mape":
        for t in tasks:
            check_mape_targets(t[1], float(mape_lower_bound))
    dev = torch.device(device)
    P, C = ensemble_size, len(tasks)
    n = tasks[0][0].shape[0]
    if any(t[0].shape[0] != n for t in tasks):
        raise ValueError("fit_predict_ensembles: every task needs the same number of training examples")
    firsts_full, firsts, xas, yts, actives = [], [], [], [], []
    hidden: list[list[torch.Tensor]] = [[] for _ in range(num_layers)]
    for x_train, y, _, gen in tasks:
        active = torch.as_tensor(np.flatnonzero(np.any(x_train != 0, axis=0)), dtype=torch.long, device=dev)
        w_first = _glorot(gen, P, x_train.shape[1], width, dev)
        firsts_full.append(w_first)
        firsts.append(w_first[:, active].clone().requires_grad_())
        for i in range(num_layers - 1):
            hidden[i].append(_glorot(gen, P, width, width, dev))
        hidden[-1].append(_glorot(gen, P, width, 1, dev))
        actives.append(active)
        xas.append(torch.as_tensor(x_train, dtype=torch.float32, device=dev)[:, active])
        yts.append(torch.as_tensor(y, dtype=torch.float32, device=dev))
    weights = [torch.cat(ws).requires_grad_() for ws in hidden]
    biases = [torch.zeros(P * C, 1, w.shape[2], device=dev).requires_grad_() for w in [firsts[0]] + weights]
    opt = torch.optim.Adam(firsts + weights + biases, lr=lr, betas=BETAS, eps=ADAM_EPS, fused=True)

    def member(t: list[torch.Tensor], c: int) -> list[torch.Tensor]:
        return [x[c * P:(c + 1) * P] for x in t]

    for _ in range(epochs):
        orders = [torch.argsort(torch.rand(P, n, generator=t[3]), dim=1).to(dev) for t in tasks]
        for s in range(0, n, batch_size):
            idx = [o[:, s:s + batch_size] for o in orders]
            h = torch.cat([torch.baddbmm(biases[0][c * P:(c + 1) * P], xas[c][idx[c]], firsts[c])
                           for c in range(C)])
            yb = torch.cat([yts[c][idx[c]] for c in range(C)])
            pred = _hidden_forward(h, weights, biases[1:])
            if loss == "mape":
                value = mape_loss(pred, yb, float(mape_lower_bound)).sum()
            else:
                value = (pred - yb).abs().mean(dim=1).sum()
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
    out = []
    with torch.no_grad():
        for c, (_, _, x_pred, _) in enumerate(tasks):
            full = firsts_full[c]
            full[:, actives[c]] = firsts[c]
            xp = torch.as_tensor(x_pred, dtype=torch.float32, device=dev).expand(P, -1, -1)
            h = torch.baddbmm(biases[0][c * P:(c + 1) * P], xp, full)
            pred = _hidden_forward(h, member(weights, c), member(biases[1:], c))
            out.append(pred.cpu().numpy().astype(np.float64))
    return out


def _hidden_forward(h: torch.Tensor, weights: list[torch.Tensor], biases: list[torch.Tensor]) -> torch.Tensor:
    """ReLU, then each (hidden or output) layer ``h @ W + b`` with a ReLU between; ``[M, b]`` outputs."""
    for i, (w, b) in enumerate(zip(weights, biases)):
        h = torch.baddbmm(b, torch.relu(h) if i == 0 else h, w)
        if i < len(weights) - 1:
            h = torch.relu(h)
    return h.squeeze(-1)


class BANANAS(CohortSearcher):
    """BANANAS with an MLP ensemble on an architecture encoding; see the module docstring.

    Args:
        encoding: ``"path"`` (BANANAS-PE, default), ``"adjacency"`` (-AE) or ``"pape"`` (-PEAE).
        ensemble_size: MLPs in the ensemble (5).
        num_layers: hidden ReLU layers per MLP (10).
        width, epochs, lr: as the SSNENAS runs, by space and encoding (None: those defaults).
        loss: ``"mae"`` (SSNENAS, default) or ``"mape"`` (NPENASv1's NB201 runs; :func:`mape_loss`).
        mape_lower_bound: the MAPE loss' lower bound on the 0..100 error scale (4.5, published);
            every evaluated error must lie above it (else the fit raises :class:`InputError`).
        batch_size: MLP mini-batch (32).
        num_candidates, children_per_parent, max_parents: the candidate generator (as NPENAS).
        device: where the ensemble trains.
        k: architectures evaluated per iteration (10).
        space, store, metric, mode, seed, budget, num_init, initial_archs: as :class:`NASSearcher`.

    Example::

        from search_algos import BANANAS, run_direct
        searcher = BANANAS(space="nasbench201", seed=0, budget=20, epochs=20)
        history = run_direct(searcher, lambda arch: {"val_acc": arch.count("conv_3x3") * 10.0}, budget=20)
    """

    algorithm = "bananas"
    _transient = ("_arch_cache", "_enc_cache")
    #: class defaults, so that a searcher pickled before these settings existed restores as the MAE one
    loss: str = "mae"
    mape_lower_bound: float = MAPE_LOWER_BOUND

    def __init__(self, *, encoding: str = "path", ensemble_size: int = 5, num_layers: int = 10,
                 width: int | None = None, epochs: int | None = None, batch_size: int = 32,
                 lr: float | None = None, num_candidates: int = 100, children_per_parent: int = 100,
                 max_parents: int = 50, device: str = "cpu", loss: str = "mae",
                 mape_lower_bound: float = MAPE_LOWER_BOUND, **kwargs: Any) -> None:
        if encoding not in ENCODINGS:
            raise InputError(f"BANANAS: encoding={encoding!r} is unknown; choose one of {', '.join(ENCODINGS)}")
        for name, value in (("ensemble_size", ensemble_size), ("num_layers", num_layers),
                            ("batch_size", batch_size), ("num_candidates", num_candidates),
                            ("children_per_parent", children_per_parent), ("max_parents", max_parents)):
            check_int(name, value, minimum=1)
        check_int("width", width, minimum=1, allow_none=True)
        check_int("epochs", epochs, minimum=1, allow_none=True)
        if lr is not None and not lr > 0:
            raise InputError(f"BANANAS: lr must be > 0, got {lr!r}")
        check_loss_settings(loss, mape_lower_bound)
        super().__init__(**kwargs)
        defaults = default_settings(self.space.name, encoding)
        self.encoding = encoding
        self.ensemble_size = int(ensemble_size)
        self.num_layers = int(num_layers)
        self.width = int(width) if width is not None else defaults["width"]
        self.epochs = int(epochs) if epochs is not None else defaults["epochs"]
        self.lr = float(lr) if lr is not None else defaults["lr"]
        self.batch_size = int(batch_size)
        self.num_candidates = int(num_candidates)
        self.children_per_parent = int(children_per_parent)
        self.max_parents = int(max_parents)
        self.device = device
        self.loss = loss
        self.mape_lower_bound = float(mape_lower_bound)
        self._enc_cache: dict[str, np.ndarray] = {}

    def _encode(self, archs: list) -> np.ndarray:
        rows = []
        for arch in archs:
            key = self.space.key(arch)
            vec = self._enc_cache.get(key)
            if vec is None:
                vec = self._enc_cache[key] = np.asarray(self.space.encode(arch, self.encoding), dtype=np.float32)
            rows.append(vec)
        return np.stack(rows)

    def _propose_steps(self, n: int) -> ProposeSteps:
        successes = self._successes()
        if not successes:
            return self._random_unique(n)
        candidates = self._mutation_pool(successes, n)
        start = time.perf_counter()
        request = EnsembleFit(self, self._encode([a for _, a, _ in successes]),
                              np.array([e for _, _, e in successes]), self._encode(candidates))
        own = time.perf_counter() - start
        preds = yield request
        self.timings["predictor_fit_s"] += own + request.elapsed
        self.timings["fits"] += 1
        start = time.perf_counter()
        samples = self._rng.normal(preds.mean(axis=0), preds.std(axis=0))
        order = np.argsort(samples, kind="stable")[:n]
        self.timings["predict_s"] += time.perf_counter() - start
        return [candidates[i] for i in order.tolist()]


class EnsembleFit(FitRequest):
    """One BANANAS ensemble fit-and-predict: training encodings and errors, the candidates' encodings
    and the searcher's torch generator. Requests with equal settings (the loss and its bound
    included) and training-set size are answered by one :func:`fit_predict_ensembles` call
    (bit-identical to each alone)."""

    def __init__(self, searcher: BANANAS, x_train: np.ndarray, y: np.ndarray, x_pred: np.ndarray) -> None:
        self.task = (x_train, y, x_pred, searcher._torch_gen)
        self.settings = {"ensemble_size": searcher.ensemble_size, "num_layers": searcher.num_layers,
                         "width": searcher.width, "epochs": searcher.epochs, "batch_size": searcher.batch_size,
                         "lr": searcher.lr, "device": str(searcher.device), "loss": searcher.loss}
        if searcher.loss == "mape":  # the bound only matters (and only splits groups) for the MAPE loss
            self.settings["mape_lower_bound"] = searcher.mape_lower_bound
        self._key = (x_train.shape, tuple(sorted(self.settings.items())))

    def group_key(self) -> tuple:
        return self._key

    @classmethod
    def fit_batch(cls, requests: Sequence["EnsembleFit"]) -> list:
        return fit_predict_ensembles([r.task for r in requests], **requests[0].settings)
