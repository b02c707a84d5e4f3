"""Candidate training of the open-domain DARTS search, with the settings of the original SSNENAS code.

Search-time defaults of :class:`TrainConfig`: C = 16, 8 cells, no auxiliary head, drop-path 0, no
cutout; SGD lr 0.025, momentum 0.9, weight decay 3e-4, gradient clipping 5; cosine annealing to 1e-6
over ``epochs`` (50), stepped once per epoch; batch 64. After every epoch the validation accuracy is
measured and the best-val weights are kept; the test accuracy is that of the best-val weights.

Fixes over the original code, whose search-time validation used the training augmentation: validation
uses no augmentation (``legacy_val_augment=True`` evaluates on augmented validation images as the
authors did). The run owns its randomness: model initialisation, shuffling, augmentation and drop-path
draw from ``seed`` inside ``torch.random.fork_rng``, so the caller's global RNG state is left as it was.
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch
from torch import nn

from ssnenas.darts.data import ImageData, augment
from ssnenas.darts.model import DartsNetwork, model_complexity
from ssnenas.darts.step import StepRunner, resolve_channels_last, resolve_step_mode
from ssnenas.predictors.fit import resolve_device
from ssnenas.errors import DataFormatError
from ssnenas.spaces.darts import Genotype, genotype_to_str
from ssnenas.torchdata import load_data, save_data


#: Ray system config for a local Ray that trains candidates. Ray starts workers at nice 15 so that its
#: control plane stays responsive; a trial's training loop then loses the CPU to anything else on the
#: node, and a step of these small networks is bound by Python launching kernels (on CPU and GPU
#: alike). Measured on this 2-core machine beside a nice-10 job, a tiny candidate trained at 305-312
#: img/s in a Ray task vs 350-361 img/s in the driver; with nice 0 the task ran at 360. Clusters get the
#: same with ``RAY_worker_niceness=0`` in the workers' ``ray start`` (cluster.yaml).
TRAINING_RAY_SYSTEM_CONFIG = {"worker_niceness": 0}


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Settings of one candidate training (defaults: search time; :meth:`retrain`: final retraining)."""

    epochs: int = 50
    batch_size: int = 64
    lr: float = 0.025
    lr_min: float = 1e-6
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    channels: int = 16
    layers: int = 8
    auxiliary: bool = False
    auxiliary_weight: float = 0.4
    drop_path: float = 0.0
    cutout: int = 0
    bf16: bool = False
    device: str = "auto"
    seed: int = 0
    legacy_val_augment: bool = False
    eval_batch_size: int = 256
    #: how a step runs: "auto" (CUDA graphs on CUDA, eager on CPU), "eager", "graph", "compile",
    #: "compile-graph" (see ssnenas.darts.step)
    step_mode: str = "auto"
    #: channels-last memory format (None: on CUDA only)
    channels_last: bool | None = None

    @classmethod
    def retrain(cls, **overrides: Any) -> "TrainConfig":
        """Final retraining of DARTS (arXiv 1806.09055) as the original code runs it: 600 epochs, C 36,
        20 cells, auxiliary 0.4, drop-path 0.2, cutout 16, batch 96."""
        base = dict(epochs=600, batch_size=96, channels=36, layers=20, auxiliary=True, drop_path=0.2, cutout=16)
        base.update(overrides)
        return cls(**base)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def data_on(data: ImageData, device: torch.device) -> ImageData:
    """``data`` with its image and label tensors moved to ``device`` (CIFAR-10's 60k images: 0.7 GB)."""
    moved = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in vars(data).items()}
    return ImageData(**moved)


class CandidateTrainer:
    """Trains one genotype epoch by epoch; its whole state round-trips through ``state_dict``.

    ``train_epoch()`` runs one epoch and returns that epoch's metrics (accuracies in percent):
    ``epoch``, ``train_loss``, ``train_acc``, ``val_acc``, ``best_val_acc``, ``lr``, ``train_time``
    (seconds of training so far), ``images_per_s``; after the last epoch also ``test_acc`` (best-val
    weights; last-epoch weights when there is no validation split), ``last_test_acc`` and ``score``
    = ½·(best val + mean of the last 5 epochs' val) — the score the original code ranks searched
    architectures by.
    """

    def __init__(self, genotype: Genotype, data: ImageData, config: TrainConfig, *,
                 wrap: Callable[[nn.Module], nn.Module] | None = None) -> None:
        self.genotype = genotype
        self.config = config
        self.device = resolve_device(config.device)
        #: the images live on the training device: a GPU run never copies a batch from the host
        self.data = data if self.device.type == "cpu" else data_on(data, self.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed input shapes: autotune the convolutions once
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        #: caller's notes saved with the state (e.g. the data spec and split seed of a retraining)
        self.meta: dict[str, Any] = {}
        self.best_val_acc = -math.inf
        self.best_state: dict[str, torch.Tensor] | None = None
        self.train_time = 0.0
        self._rng_state: torch.Tensor | None = None
        self._gen = torch.Generator().manual_seed(config.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.model = DartsNetwork(genotype, channels=config.channels, layers=config.layers,
                                      num_classes=data.num_classes, in_channels=data.input_shape[0],
                                      auxiliary=config.auxiliary).to(self.device)
            self._rng_state = torch.get_rng_state()
        self.channels_last = resolve_channels_last(config.channels_last, self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        #: the step mode actually used (DDP-wrapped models stay eager unless asked otherwise)
        self.step_mode = resolve_step_mode("eager" if (wrap is not None and config.step_mode == "auto")
                                           else config.step_mode, self.device)
        #: the bare network (saved, measured); ``model`` runs the forward passes (e.g. DDP-wrapped)
        self.module = self.model
        if wrap is not None:
            self.model = wrap(self.model)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=config.lr, momentum=config.momentum,
                                         weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=config.epochs,
                                                                    eta_min=config.lr_min)
        self._complexity: tuple[int, int] | None = None
        self.runner = StepRunner(self.model, self.optimizer, mode=self.step_mode, grad_clip=config.grad_clip,
                                 aux_weight=config.auxiliary_weight, autocast=self._autocast,
                                 channels_last=self.channels_last)

    # -- measurements -------------------------------------------------------------------------------
    def complexity(self) -> tuple[int, int]:
        """``(params, flops)`` of the inference network on one input image (cached)."""
        if self._complexity is None:
            model = copy.deepcopy(self.module).cpu()
            self._complexity = model_complexity(model, self.data.input_shape)
        return self._complexity

    @property
    def done(self) -> bool:
        return self.epoch >= self.config.epochs

    def _autocast(self):
        if self.config.bf16 and self.device.type == "cuda":
            # no cast cache: a CUDA-graph capture must not keep casts made outside it (each weight is
            # cast once per forward anyway)
            return torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False)
        return torch.autocast(self.device.type, enabled=False)

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor, *, augmented: bool = False) -> float:
        """Accuracy (percent) of the current weights on ``(x, y)``."""
        self.model.eval()
        correct = 0
        bs = self.config.eval_batch_size
        for i in range(0, len(x), bs):
            xb = x[i:i + bs]
            if augmented:
                xb = augment(xb, padding=self.data.crop_padding, flip=self.data.flip, cutout=0, gen=self._gen)
            logits = self.runner.infer(xb)
            correct += int((logits.argmax(1) == y[i:i + bs]).sum())
        return 100.0 * correct / max(1, len(x))

    # -- one epoch ----------------------------------------------------------------------------------
    def train_epoch(self) -> dict[str, Any]:
        if self.done:
            raise RuntimeError(f"all {self.config.epochs} epochs are already trained")
        cfg, data = self.config, self.data
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.set_rng_state(self._rng_state)
            if self.device.type == "cuda":
                torch.cuda.manual_seed(cfg.seed * 1000 + self.epoch)
            metrics = self._train_epoch(cfg, data)
            self._rng_state = torch.get_rng_state()
        return metrics

    def _train_epoch(self, cfg: TrainConfig, data: ImageData) -> dict[str, Any]:
        model = self.model
        model.train()
        self.module.drop_path_prob = cfg.drop_path * self.epoch / cfg.epochs  # linear ramp (DARTS retraining)
        lr = self.optimizer.param_groups[0]["lr"]
        n = len(data.x_train)
        perm = torch.randperm(n, generator=self._gen)
        # summed on the device: no host synchronisation per step
        total_loss = torch.zeros((), device=self.device)
        correct = torch.zeros((), dtype=torch.long, device=self.device)
        seen = 0
        t0 = time.perf_counter()
        for i in range(0, n, cfg.batch_size):
            idx = perm[i:i + cfg.batch_size].to(self.device)
            xb = augment(data.x_train[idx], padding=data.crop_padding, flip=data.flip, cutout=cfg.cutout,
                         gen=self._gen)
            yb = data.y_train[idx]
            loss, logits = self.runner.train(xb, yb)  # forward, backward, clipping, SGD
            total_loss += loss * len(idx)
            correct += (logits.argmax(1) == yb).sum()
            seen += len(idx)
        total_loss, correct = float(total_loss), int(correct)  # waits for the device's last step
        epoch_time = time.perf_counter() - t0
        self.train_time += epoch_time
        self.scheduler.step()
        self.epoch += 1
        out: dict[str, Any] = {"epoch": self.epoch, "train_loss": total_loss / max(1, seen),
                               "train_acc": 100.0 * correct / max(1, seen), "lr": lr,
                               "train_time": self.train_time, "images_per_s": seen / max(epoch_time, 1e-9)}
        if data.x_val is not None:
            val = self.evaluate(data.x_val, data.y_val, augmented=cfg.legacy_val_augment)
            out["val_acc"] = val
            if val > self.best_val_acc:
                self.best_val_acc = val
                self.best_state = {k: v.detach().cpu().clone() for k, v in self.module.state_dict().items()}
            out["best_val_acc"] = self.best_val_acc
        self.history.append(dict(out))
        if self.done:
            out.update(self.final_metrics())
        return out

    def final_metrics(self) -> dict[str, Any]:
        """Test accuracy of the best-val weights (and of the last weights) and the ranking ``score``."""
        out: dict[str, Any] = {"last_test_acc": self.evaluate(self.data.x_test, self.data.y_test)}
        if self.best_state is not None:
            last = {k: v.detach().cpu().clone() for k, v in self.module.state_dict().items()}
            self.module.load_state_dict(self.best_state)
            out["test_acc"] = self.evaluate(self.data.x_test, self.data.y_test)
            self.module.load_state_dict(last)
            vals = [h["val_acc"] for h in self.history]
            out["score"] = 0.5 * (self.best_val_acc + sum(vals[-5:]) / len(vals[-5:]))
        else:
            out["test_acc"] = out["last_test_acc"]
        return out

    # -- state --------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "history": self.history, "best_val_acc": self.best_val_acc,
                "best_state": self.best_state, "train_time": self.train_time,
                "genotype": genotype_to_str(self.genotype),
                "model": self.module.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "rng": self._rng_state,
                "gen": self._gen.get_state(), "config": self.config.to_dict(), "complexity": self._complexity,
                "meta": self.meta}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.history = list(state["history"])
        self.best_val_acc = float(state["best_val_acc"])
        self.best_state = state["best_state"]
        self.train_time = float(state["train_time"])
        self.module.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self._rng_state = state["rng"]
        self._gen.set_state(state["gen"])
        self._complexity = tuple(state["complexity"]) if state.get("complexity") else None
        self.meta = dict(state.get("meta") or {})

    def save(self, path) -> None:
        """Write :meth:`state_dict` atomically as data (tensors and plain values, read back with
        ``torch.load(weights_only=True)``: :func:`read_checkpoint`)."""
        save_data(path, self.state_dict())

    def load(self, path, *, trust_pickle: bool = False) -> None:
        """Load a :meth:`save` file (data only unless ``trust_pickle``: see :func:`read_checkpoint`)."""
        self.load_state_dict(read_checkpoint(path, trust_pickle=trust_pickle, map_location=self.device))


def read_checkpoint(path: str | os.PathLike, *, trust_pickle: bool = False, map_location: Any = "cpu") -> dict[str, Any]:
    """The state of a trainer checkpoint (``trainer.pt``), read as data. One that needs unpickling
    (crafted, or written by a torch/ssnenas that pickled objects into it) is refused with a
    :class:`~ssnenas.errors.DataFormatError` naming it, unless ``trust_pickle`` (``--trust-pickle``)."""
    state = load_data(path, "DARTS trainer checkpoint", trust_pickle=trust_pickle, map_location=map_location,
                      hint=" (the next checkpoint a resumed run writes is data again)")
    if not isinstance(state, dict) or not {"genotype", "config", "model", "epoch"} <= set(state):
        raise DataFormatError(f"{path}: not a ssnenas trainer checkpoint (no genotype, config, model and "
                              "epoch entries); pass a trainer.pt written by `ssnenas retrain` or `ssnenas search`")
    return state


def train_candidate(genotype: Genotype, data: ImageData, config: TrainConfig,
                    on_epoch: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train ``genotype`` for ``config.epochs`` epochs (the plain loop); return the last epoch's
    metrics plus ``params``, ``flops`` and the per-epoch ``val_curve``."""
    trainer = CandidateTrainer(genotype, data, config)
    metrics: dict[str, Any] = {}
    while not trainer.done:
        metrics = trainer.train_epoch()
        if on_epoch is not None:
            on_epoch(metrics)
    params, flops = trainer.complexity()
    metrics.update(params=params, flops=flops, val_curve=[h.get("val_acc") for h in trainer.history])
    return metrics
