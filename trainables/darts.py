"""Ray Tune class trainable that really trains one DARTS candidate (README, "Open-domain DARTS search").

Config keys: ``arch`` (a DARTS genotype string, from the searcher), ``data`` (``"digits"`` or
``"cifar10:PATH"``), ``train`` (a dict of :class:`ssnenas.darts.train.TrainConfig` fields, e.g.
``{"epochs": 50}``), optional ``data_seed`` (digits split seed). Each ``step`` trains one epoch and
reports its metrics (``val_acc`` of the epoch, ``best_val_acc``, ``train_loss``, ``train_time``,
``images_per_s``, ``params``, ``flops``, ``platform`` (ssnenas.compute_platform); after the last epoch ``test_acc`` and ``score``, and
``done``). ``save_checkpoint``/``load_checkpoint`` carry the whole trainer state (a data file: see
``ssnenas.darts.train.read_checkpoint``), so a retried trial (``FailureConfig``) continues from its last
epoch instead of restarting; optional ``resume_from`` (a ``trainer.pt``, set by a resumed search for a
candidate an interrupted run left unfinished) starts the trial from that checkpoint. Other keys
(``candidate``: the candidate's number) are the driver's.

Resources per trial are set by the driver with ``tune.with_resources(DartsTrainable, {...})``: one
GPU, a fraction of one, or CPUs; the trainer uses the GPU when Ray assigned one.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import torch
from ray import tune

from ssnenas.compute_platform import compute_platform
from ssnenas.darts.data import ImageData, load_data
from ssnenas.darts.train import CandidateTrainer, TrainConfig
from ssnenas.spaces.darts import parse_genotype

CHECKPOINT_FILE = "trainer.pt"


@functools.lru_cache(maxsize=2)
def cached_data(spec: str, seed: int = 0) -> ImageData:
    """The search split of ``spec``, loaded once per worker process."""
    return load_data(spec, split="search", seed=seed)


class DartsTrainable(tune.Trainable):
    """One candidate = one trial; one epoch per ``step`` (see the module docstring)."""

    def setup(self, config: dict[str, Any]) -> None:
        genotype = parse_genotype(config["arch"])
        train = dict(config.get("train") or {})
        threads = int(train.pop("torch_threads", 0) or 0)
        if threads > 0:
            torch.set_num_threads(threads)
        if train.get("device", "auto") == "auto":
            train["device"] = "cuda" if (torch.cuda.is_available() and ray_gpu_ids()) else "cpu"
        self.train_config = TrainConfig(**train)
        data = cached_data(str(config.get("data", "digits")), int(config.get("data_seed", 0)))
        self.trainer = CandidateTrainer(genotype, data, self.train_config)
        if config.get("resume_from"):
            self.trainer.load(config["resume_from"])
        self.platform = compute_platform(self.train_config.device)

    def step(self) -> dict[str, Any]:
        if self.trainer.done:  # restored from the final checkpoint: report it again, train nothing
            metrics = {**self.trainer.history[-1], **self.trainer.final_metrics()}
        else:
            metrics = self.trainer.train_epoch()
        params, flops = self.trainer.complexity()
        metrics.update(params=params, flops=flops, platform=self.platform)
        if self.trainer.done:
            metrics["done"] = True
        return metrics

    def save_checkpoint(self, checkpoint_dir: str) -> dict | None:
        self.trainer.save(os.path.join(checkpoint_dir, CHECKPOINT_FILE))
        return None

    def load_checkpoint(self, checkpoint: dict | str | None) -> None:
        path = checkpoint if isinstance(checkpoint, str) else None
        if path is None:
            return
        self.trainer.load(os.path.join(path, CHECKPOINT_FILE))


def ray_gpu_ids() -> list:
    """GPUs Ray assigned to this worker (empty outside Ray or without GPUs)."""
    try:
        import ray

        return list(ray.get_gpu_ids())
    except Exception:
        return []
