"""NPENAS: neural-predictor-guided evolution, with the fixed-budget variants and GIN predictors of SSNENAS.

`NPENAS: Neural Predictor Guided Evolution for Neural Architecture Search
<https://arxiv.org/abs/2003.12857>`_ and its self-supervised successor `SSNENAS
<https://arxiv.org/abs/2011.00186>`_.

Loop: 10 random architectures are evaluated; then, per iteration, a GIN predictor is trained from
scratch on *all* evaluated architectures (graph -> val error: ``100 - val acc`` in percent, the store
metric's 0..100 error otherwise, ``ssnenas.metric_spec``), 100 mutation candidates of the best
architectures are generated (``search_algos._candidates``), the predictor scores them and the ``k`` =
10 best-scored are evaluated. Predictors (``predictor=``):

- ``"gin"`` (NPENAS-NP): GIN + NP head, rate·sigmoid output, MSE, 300 epochs; rank by prediction.
- ``"gin-bo"`` (NPENAS-BO): CELU GIN + Gaussian head, NLL, 1000 epochs; one Thompson sample
  μ + σ·ε per candidate, ε from the searcher's rng (independent Thompson sampling).
- ``"ss-rl"`` / ``"ss-ccl"`` (NPENAS-SSRL / -SSCCL): the pre-trained encoder of an SS-RL / SS-CCL
  checkpoint with a fresh Linear(32→1)·rate head, fine-tuned (nothing frozen) from the pre-trained
  weights at every iteration, 150 epochs (SS-CCL: 200 on NB101, 150 NB201, 300 DARTS).

Fixed-budget variants (``training_nums=N``, the "-FIXED" runs of SSNENAS): the predictor is retrained
while its training set holds fewer than N architectures (|data| = 10, 20, ..., up to the first multiple
of k ≥ N) and then kept, while the search itself continues on all data. Optimiser: Adam(0, 0.9), lr
0.005, weight decay 1e-4, per-step cosine over the true step count (the original's miscount:
``legacy_cosine=True``), batch 10 (fixed variants: 10 while ≤ 10 samples, else 16; the original code
computes the non-fixed batch once from the initial 10 samples, so it stays 10 all search).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Generator, Sequence

import numpy as np
import torch

from search_algos._base import check_int
from search_algos._cohort import CohortSearcher, FitRequest, ProposeSteps
from ssnenas.errors import InputError

PREDICTORS = ("gin", "gin-bo", "ss-rl", "ss-ccl")
_HEAD = {"gin": "np", "gin-bo": "bo", "ss-rl": "finetune", "ss-ccl": "finetune"}
#: output scale of the sigmoid heads (val error % representable), per benchmark as in the original code
RATES = {("nasbench101", None): 10.0, ("nasbench201", "cifar10-valid"): 10.0,
         ("nasbench201", "cifar100"): 30.0, ("nasbench201", "ImageNet16-120"): 55.0, ("darts", None): 15.0}
#: the rate where the original code has none: the whole 0..100 range of ``MetricSpec.to_error``
FULL_RANGE_RATE = 100.0
#: spaces the original code never searched, whose tasks' errors spread over tens of points
FULL_RANGE_SPACES = ("transnas101-micro",)


def default_rate(space: str, dataset: str | None, unit: str = "percent") -> float:
    """The original code's rate for a benchmark/dataset (NB201 without a dataset: cifar10-valid).

    Those rates sit just above each benchmark's best error in percent, so the good architectures are
    the ones the sigmoid can tell apart. A metric that is not percent (``unit``: SSIM, a negative loss)
    or a space the original never searched (TransNAS-Bench-101, whose tasks' errors lie anywhere in
    0..100: class_scene 45..93, jigsaw 5..) gets :data:`FULL_RANGE_RATE`, the range of
    ``MetricSpec.to_error``: with 10 every such error saturates the head and the predictor ranks
    nothing. Pass ``rate=`` to tune it per task."""
    if unit != "percent" or space in FULL_RANGE_SPACES:
        return FULL_RANGE_RATE
    if space == "nasbench201":
        dataset = dataset or "cifar10-valid"
        if (space, dataset) not in RATES:
            raise InputError(f"no default rate for NAS-Bench-201 dataset {dataset!r}; pass rate= "
                             "(cifar10-valid 10, cifar100 30, ImageNet16-120 55)")
        return RATES[(space, dataset)]
    return RATES.get((space, None), 10.0)


def default_epochs(predictor: str, space: str) -> int:
    """The original code's search-loop epochs: NP 300, BO 1000, SS-RL 150, SS-CCL 200 (NB101) / 150 /
    300 (DARTS)."""
    if predictor == "ss-ccl":
        return {"nasbench101": 200, "darts": 300}.get(space, 150)
    return {"gin": 300, "gin-bo": 1000, "ss-rl": 150}[predictor]


class NPENAS(CohortSearcher):
    """NPENAS with a GIN predictor (NP, BO, SS-RL or SS-CCL fine-tuning); see the module docstring.

    Args:
        predictor: ``"gin"`` (NPENAS-NP), ``"gin-bo"`` (NPENAS-BO), ``"ss-rl"`` or ``"ss-ccl"``
            (fine-tune a pre-trained encoder; needs ``predictor_checkpoint`` or ``encoder_state``).
        predictor_checkpoint: an ``ssnenas pretrain`` checkpoint of the matching method and space.
        encoder_state: a ``GINEncoder`` state_dict to fine-tune from (instead of a checkpoint).
        training_nums: fixed-budget variant: stop retraining once the training set reaches this
            size (None: retrain every iteration).
        epochs, lr, batch_size, rate: predictor training (the original code's defaults: ``epochs``
            by predictor and space, lr 0.005, batch 10 / fixed 10-then-16, ``rate`` by benchmark and
            dataset: NB101 10, NB201 cifar10-valid 10, cifar100 30, ImageNet16-120 55, DARTS 15;
            100 on TransNAS-Bench-101 and for every metric that is not percent: :func:`default_rate`).
        dataset: selects the default rate when there is no store (the store's dataset otherwise).
        num_candidates: mutants scored per iteration (100).
        children_per_parent: mutation attempts per parent (100 even when fewer candidates are still
            needed, as in the original NPENAS, so most candidates descend from the best parent).
        max_parents: best architectures used as parents (50 = 10 × patience 5).
        weight_decay, legacy_bias, legacy_cosine, engine: predictor optimiser options
            (``ssnenas.predictors.Predictor``).
        device: where predictors train ("cpu", "cuda", ...); the state always holds CPU tensors.
        k: architectures evaluated per iteration (10).
        space, store, metric, mode, seed, budget, num_init, initial_archs: as :class:`NASSearcher`.

    ``timings`` accumulates ``predictor_fit_s``, ``candidates_s``, ``predict_s``, ``propose_s`` and
    the number of ``fits``.

    Example, the direct driver (a trial is a table lookup)::

        from search_algos import NPENAS, run_direct
        from ssnenas.store import BenchmarkStore
        from trainables.tabular import tabular_evaluator

        store = BenchmarkStore.open(store_dir)  # a prepared NAS-Bench-201 cifar10-valid store
        searcher = NPENAS(store=store, predictor="gin", seed=0, budget=30, epochs=30)
        history = run_direct(searcher, tabular_evaluator(store), budget=30)
        best = max(history, key=lambda r: r["val_acc"])
        print(best["arch"], best["val_acc"], searcher.timings["predictor_fit_s"])

    Example, inside a Tuner (same searcher, every evaluation a Tune trial)::

        from ray import tune
        from trainables.tabular import tabular_trainable

        tuner = tune.Tuner(
            tune.with_parameters(tabular_trainable, store=store),
            tune_config=tune.TuneConfig(search_alg=NPENAS(store=store, seed=0, budget=20, epochs=30),
                                        num_samples=20, max_concurrent_trials=2),
            run_config=tune.RunConfig(storage_path=storage_path, name="npenas"))
        results = tuner.fit()
        print(results.get_best_result(metric="val_acc", mode="max").config["arch"])
    """

    algorithm = "npenas"
    _transient = ("_arch_cache", "_predictor", "_encoder_digest")

    def __init__(self, *, predictor: str = "gin", predictor_checkpoint: str | None = None,
                 encoder_state: dict | None = None, training_nums: int | None = None,
                 epochs: int | None = None, lr: float = 5e-3, batch_size: int | None = None,
                 rate: float | None = None, dataset: str | None = None, num_candidates: int = 100,
                 children_per_parent: int = 100, max_parents: int = 50, weight_decay: float = 1e-4,
                 legacy_bias: bool = False, legacy_cosine: bool = False, engine: str = "fast",
                 device: str = "cpu", **kwargs: Any) -> None:
        if predictor not in PREDICTORS:
            raise InputError(f"NPENAS: predictor={predictor!r} is unknown; choose one of {', '.join(PREDICTORS)}")
        check_int("training_nums", training_nums, minimum=1, allow_none=True)
        check_int("epochs", epochs, minimum=1, allow_none=True)
        check_int("batch_size", batch_size, minimum=1, allow_none=True)
        check_int("num_candidates", num_candidates, minimum=1)
        check_int("children_per_parent", children_per_parent, minimum=1)
        check_int("max_parents", max_parents, minimum=1)
        if not lr > 0:
            raise InputError(f"NPENAS: lr must be > 0, got {lr!r}")
        if rate is not None and not rate > 0:
            raise InputError(f"NPENAS: rate must be > 0, got {rate!r}")
        super().__init__(**kwargs)
        space = self.space.name
        self.predictor = predictor
        self.head = _HEAD[predictor]
        self.training_nums = training_nums
        self.epochs = int(epochs) if epochs is not None else default_epochs(predictor, space)
        self.lr = float(lr)
        self.batch_size = batch_size
        if batch_size is None and predictor == "ss-ccl" and space == "darts":
            self.batch_size = 32
        if self.store is not None:
            dataset = self.store.dataset if space == "nasbench201" else dataset
        self.dataset = dataset
        self.rate = float(rate) if rate is not None else default_rate(space, dataset, self.metric_spec.unit)
        self.num_candidates = int(num_candidates)
        self.children_per_parent = int(children_per_parent)
        self.max_parents = int(max_parents)
        self.weight_decay = float(weight_decay)
        self.legacy_bias = bool(legacy_bias)
        self.legacy_cosine = bool(legacy_cosine)
        self.engine = engine
        self.device = device
        self.predictor_checkpoint = None if predictor_checkpoint is None else str(predictor_checkpoint)
        self.encoder_state = self._load_encoder(predictor_checkpoint, encoder_state)
        self._predictor_state: dict | None = None  # fixed variants: the kept predictor (CPU)
        self._fit_size: int | None = None  # training-set size of the last fit
        self._predictor = None

    def _load_encoder(self, checkpoint: str | None, encoder_state: dict | None) -> dict | None:
        if self.head != "finetune":
            if checkpoint is not None or encoder_state is not None:
                raise InputError(f"NPENAS: predictor={self.predictor!r} trains from scratch; "
                                 "predictor_checkpoint/encoder_state apply to 'ss-rl' and 'ss-ccl' only")
            return None
        if encoder_state is not None:
            return {k: v.detach().cpu().clone() for k, v in encoder_state.items()}
        if checkpoint is None:
            raise InputError(f"NPENAS: predictor={self.predictor!r} fine-tunes a pre-trained encoder; pass "
                             f"predictor_checkpoint=FILE (make one with `ssnenas pretrain {self.predictor} "
                             f"--space {self.space.name} --out FILE`)")
        from ssnenas.pretrain import load_pretrained_encoder, read_checkpoint

        method = read_checkpoint(checkpoint).get("method")
        if method != self.predictor:
            raise InputError(f"NPENAS: predictor={self.predictor!r} but {checkpoint} is a {method} "
                             f"checkpoint; pass a {self.predictor} checkpoint or predictor={method!r}")
        return load_pretrained_encoder(checkpoint, space=self.space.name)

    # -- one iteration ----------------------------------------------------------------------------------
    def _fit_batch_size(self, n: int) -> int:
        if self.batch_size is not None:
            return self.batch_size
        if self.training_nums is None:
            return 10
        return 10 if n <= 10 else 16

    def _new_predictor(self):
        from ssnenas.predictors import Predictor

        p = Predictor(self.space.num_features, head=self.head, rate=self.rate, weight_decay=self.weight_decay,
                      legacy_bias=self.legacy_bias, legacy_cosine=self.legacy_cosine, engine=self.engine)
        if self.encoder_state is not None:
            p.load_encoder_state(self.encoder_state)
        return p

    def _kept_predictor(self):
        """The fixed variant's predictor rebuilt from its CPU state (the throwaway initialisation of
        ``Predictor.load_state_dict`` runs under a forked global RNG, leaving the global state alone)."""
        with torch.random.fork_rng(devices=[]):
            return self._new_predictor().load_state_dict(self._predictor_state)

    def _trained_predictor(self, successes: list[tuple[int, Any, float]]) -> Generator[FitRequest, Any, Any]:
        """A predictor trained on every success (or, in a fixed variant past its cap, the kept one);
        a generator that yields the fit as a :class:`GinFit` request and returns the predictor."""
        if self.training_nums is not None and self._fit_size is not None and self._fit_size >= self.training_nums:
            if self._predictor is None:
                self._predictor = self._kept_predictor()
            return self._predictor
        start = time.perf_counter()
        x, adj = self._features([a for _, a, _ in successes])
        y = np.array([e for _, _, e in successes], dtype=np.float32)
        request = GinFit(self, x, adj, y, seed=self._next_seed())
        own = time.perf_counter() - start
        p = yield request
        start = time.perf_counter()
        self._fit_size = len(y)
        if self.training_nums is not None:
            self._predictor_state = p.state_dict()
            # rebuilt from the CPU state, so a restored searcher predicts identically
            self._predictor = p = self._kept_predictor()
        self.timings["predictor_fit_s"] += own + request.elapsed + time.perf_counter() - start
        self.timings["fits"] += 1
        return p

    def _propose_steps(self, n: int) -> ProposeSteps:
        successes = self._successes()
        if not successes:  # every trial so far failed: nothing to learn from
            return self._random_unique(n)
        predictor = yield from self._trained_predictor(successes)
        candidates = self._mutation_pool(successes, n)
        start = time.perf_counter()
        x, adj = self._features(candidates)
        if self.head == "bo":
            scores = predictor.sample(x, adj, self._rng)
        else:
            scores = predictor.predict(x, adj)
        order = np.argsort(scores, kind="stable")[:n]
        self.timings["predict_s"] += time.perf_counter() - start
        return [candidates[i] for i in order.tolist()]


def _digest(state: dict | None) -> str:
    """Content hash of an encoder state (searchers loading one checkpoint share a batched fit)."""
    if state is None:
        return ""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


class GinFit(FitRequest):
    """One NPENAS predictor fit: the searcher's settings, its training graphs and a seed.

    Requests with equal settings and training-set size are answered by one ``fit_many`` over the
    concatenation of their training sets (predictor p trains on its own rows via ``train_idx``),
    which equals each fit alone bit for bit (``ssnenas.predictors.fast.lanewise`` explains why);
    the ``"eager"`` engine fits one at a time.
    """

    def __init__(self, searcher: NPENAS, x: np.ndarray, adj: np.ndarray, y: np.ndarray, *, seed: int) -> None:
        self.x, self.adj, self.y, self.seed = x, adj, y, int(seed)
        self.searcher = searcher
        s = searcher
        self.settings = {"head": s.head, "rate": s.rate, "weight_decay": s.weight_decay,
                         "legacy_bias": s.legacy_bias, "legacy_cosine": s.legacy_cosine,
                         "epochs": s.epochs, "batch_size": s._fit_batch_size(len(y)), "lr": s.lr,
                         "device": str(s.device)}
        if s.encoder_state is not None and getattr(s, "_encoder_digest", None) is None:
            s._encoder_digest = _digest(s.encoder_state)
        self._key = (s.space.num_features, x.shape[1:], len(y), s.engine, tuple(sorted(self.settings.items())),
                     getattr(s, "_encoder_digest", None) or "", id(self) if s.engine != "fast" else 0)

    def group_key(self) -> tuple:
        return self._key

    @classmethod
    def fit_batch(cls, requests: Sequence["GinFit"]) -> list:
        first = requests[0]
        s, cfg = first.searcher, dict(first.settings)
        fit = {k: cfg.pop(k) for k in ("epochs", "batch_size", "lr", "device")}
        if s.engine != "fast":
            return [r.searcher._new_predictor().fit(r.x, r.adj, r.y, seed=r.seed, **fit) for r in requests]
        n = len(first.y)
        from ssnenas.predictors import fit_many

        return fit_many(s.space.num_features, np.concatenate([r.x for r in requests]),
                        np.concatenate([r.adj for r in requests]), np.concatenate([r.y for r in requests]),
                        seeds=[r.seed for r in requests], train_idx=np.arange(n * len(requests)).reshape(-1, n),
                        encoder_state=s.encoder_state, **cfg, **fit)
