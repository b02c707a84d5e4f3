"""SS-CCL training: Algorithm 1 of SSNENAS (arXiv 2011.00186), as the original code runs it; one process
or one DDP rank.

One epoch::

    lr_epoch = lr * (1 + cos(pi * epoch / epochs)) / 2
    for each batch B of N archs (shuffled, drop_last):
        rank r of W keeps the shard B[r::W] (N / W archs) and mines only within it
        pick M anchors uniformly in the shard; split into floor(M / S) chunks of S (remainder dropped)
        for each chunk:                    # one optimiser step per chunk
            q = normalize(encoder_q(every graph of the shard))
            loss = ccl_loss(q, chunk anchors)   # see ssnenas.pretrain.ccl
            Adam step

M, S and K act per rank (as in the original DDP launch), so K must stay below N / W. All randomness
of epoch e comes from ``(seed, e)`` (shuffle) and ``(seed, e, batch, rank)`` (anchors), so a resumed
run repeats an uninterrupted one exactly.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ssnenas.checks import MAX_COUNT, MAX_EPOCHS, check_float, check_int, check_seed
from ssnenas.errors import InputError
from ssnenas.pretrain.ccl import DEFAULT_CHUNK_ELEMS, CCLModel, ccl_loss, mine
from ssnenas.pretrain.data import ArchSet
from ssnenas.predictors.optim import cosine, make_adam, set_lr
from ssnenas.pretrain.runner import (MAX_LR, base_checkpoint, check_model_size, progress_bar, resolve_device,
                                     resume, run_epochs, seeded_init)

METHOD = "ss-ccl"
SEED = 444  # the original CCL seed
# (N, M, S, K) presets: the original authors' README settings per space; "paper" = NB101 140k/140k
# (arXiv 2011.00186; K from the name of the authors' NB101 checkpoint).
PRESETS = {
    ("nasbench101", "readme"): (40_000, 20_000, 1_000, 39_850),
    ("nasbench101", "paper"): (140_000, 140_000, 1_000, 139_800),
    ("nasbench201", "readme"): (10_000, 5_000, 1_000, 9_850),
    ("darts", "readme"): (10_000, 4_000, 500, 9_900),
    # no published run: NB201's preset scaled to the 4,096 cells (N below the table, K = N - 150)
    ("transnas101-micro", "readme"): (4_000, 2_000, 1_000, 3_850),
}
_EPOCH, _ANCHOR = 1, 2
#: --temperature, --margin, --center-weight above this are typos (the papers use 0.07, 0 and 0.5)
MAX_SCALE = 1e6


@dataclass(frozen=True, kw_only=True)
class CCLConfig:
    """Every knob that changes an SS-CCL result (recorded in, and checked against, the checkpoint)."""

    batch_size: int  # N: archs encoded together; positives/negatives are mined inside
    train_samples: int  # M: anchors per batch (per rank)
    batch_step: int  # S: anchors per optimiser step
    min_negative_size: int  # K: negatives per anchor
    epochs: int = 300
    lr: float = 5e-3
    margin: float = 0.0  # mu
    temperature: float = 0.07  # tau
    center_weight: float = 0.5  # m (paper); loss adds m * R / 2, i.e. 0.25 * R as the code
    weight_decay: float = 1e-4
    seed: int = SEED
    width: int = 32
    layers: int = 3
    dim: int = 8  # projection (--moco-dim)
    workers: int = 1  # DDP ranks; each mines within its N / workers shard

    def __post_init__(self) -> None:
        for name in ("batch_size", "train_samples", "batch_step", "min_negative_size", "epochs", "workers"):
            check_int(f"--{name.replace('_', '-')}", getattr(self, name),
                      maximum=MAX_EPOCHS if name == "epochs" else MAX_COUNT)
        check_float("--lr", self.lr, minimum=0.0, maximum=MAX_LR, above=True)
        check_float("--temperature", self.temperature, minimum=0.0, maximum=MAX_SCALE, above=True)
        check_float("--margin", self.margin, minimum=0.0, maximum=MAX_SCALE)
        check_float("--center-weight", self.center_weight, minimum=0.0, maximum=MAX_SCALE)
        check_float("weight_decay", self.weight_decay, minimum=0.0, maximum=MAX_SCALE)
        check_seed("--seed", self.seed)
        check_model_size(self.width, self.layers, self.dim)
        shard = self.batch_size // self.workers
        if self.min_negative_size >= shard:
            raise InputError(f"--min-negative-size {self.min_negative_size} must be below the archs each "
                             f"worker mines in (--batch-size {self.batch_size} / {self.workers} worker(s) = "
                             f"{shard}); the README presets use K = N - 150 (DARTS N - 100)")
        if self.train_samples > shard:
            raise InputError(f"--train-samples {self.train_samples} exceeds the {shard} archs per worker batch")
        if self.batch_step > self.train_samples:
            raise InputError(f"--batch-step {self.batch_step} exceeds --train-samples {self.train_samples}")


def preset(space: str, name: str = "readme") -> tuple[int, int, int, int]:
    """(N, M, S, K) of a named preset for ``space``."""
    try:
        return PRESETS[(space, name)]
    except KeyError:
        names = sorted(p for s, p in PRESETS if s == space)
        raise InputError(f"--preset {name}: not defined for {space}; choose one of {', '.join(names)}") from None


def build_model(num_features: int, config: CCLConfig) -> CCLModel:
    return seeded_init(config.seed, lambda: CCLModel(num_features, width=config.width,
                                                     num_layers=config.layers, dim=config.dim))


def check_data(data: ArchSet, config: CCLConfig) -> None:
    if data.num_archs < config.batch_size:
        raise InputError(f"--batch-size {config.batch_size} exceeds the {data.num_archs} architectures of "
                         f"{data.source}; lower --batch-size (and --min-negative-size below it)")


def steps_per_epoch(data: ArchSet, config: CCLConfig) -> int:
    return data.num_archs // config.batch_size * (config.train_samples // config.batch_step)


def ccl_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, data: ArchSet, epoch: int,
              config: CCLConfig, *, rank: int = 0, world: int = 1, chunk_elems: int = DEFAULT_CHUNK_ELEMS,
              on_step: Callable[[dict], None] | None = None) -> dict[str, float]:
    """One epoch of Algorithm 1 on rank ``rank`` of ``world`` (``data`` already on the device)."""
    model.train()
    factor = cosine(epoch / config.epochs)
    set_lr(optimizer, factor)
    lr = config.lr * factor
    perm = torch.as_tensor(np.random.default_rng([config.seed, _EPOCH, epoch]).permutation(data.num_archs))
    n_batches = data.num_archs // config.batch_size
    n_chunks = config.train_samples // config.batch_step
    totals = {"loss": 0.0, "ce": 0.0, "center_reg": 0.0, "top1": 0.0}
    steps = rows = skipped = 0
    for b in range(n_batches):
        shard = perm[b * config.batch_size:(b + 1) * config.batch_size][rank::world].to(data.x.device)
        x, adj, pape = data.x[shard], data.adj[shard], data.pape[shard]
        rng = np.random.default_rng([config.seed, _ANCHOR, epoch, b, rank])
        anchors = torch.as_tensor(rng.permutation(len(shard))[:n_chunks * config.batch_step], device=x.device)
        mined = mine(pape, anchors, num_negatives=config.min_negative_size, margin=config.margin,
                     chunk_elems=chunk_elems)
        skipped += mined.skipped
        chunk_of = mined.source // config.batch_step
        for k in range(n_chunks):
            chosen = (chunk_of == k).nonzero(as_tuple=True)[0]
            if world == 1 and chosen.numel() == 0:
                continue  # no anchor survived: no step, and no forward pass to move BatchNorm's statistics
            q = model(x, adj)
            loss, stats = ccl_loss(q, pape, mined.select(chosen),
                                   tau=config.temperature, center_weight=config.center_weight,
                                   chunk_elems=chunk_elems)
            has_rows = torch.tensor(float(loss is not None), device=q.device)
            if loss is None:
                loss = q.sum() * 0.0  # keeps DDP's gradient all-reduce in step on every rank
            if world > 1:
                torch.distributed.all_reduce(has_rows)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if float(has_rows) > 0:  # skip the step only when no rank had an anchor
                optimizer.step()
            if stats["rows"]:
                steps += 1
                rows += stats["rows"]
                totals["loss"] += float(loss.detach())
                for key in ("ce", "center_reg", "top1"):
                    totals[key] += stats[key]
            if on_step is not None:
                on_step({"loss": float(loss.detach()), **stats})
    denom = max(steps, 1)
    return {**{k: v / denom for k, v in totals.items()}, "lr": lr, "steps": steps, "rows": rows,
            "skipped_anchors": skipped}


def train_ccl(data: ArchSet, out: str | os.PathLike, *, config: CCLConfig, device: str | torch.device = "auto",
              progress: bool = True, chunk_elems: int = DEFAULT_CHUNK_ELEMS,
              on_epoch_end: Callable[[int, dict], None] | None = None) -> dict[str, Any]:
    """Pre-train (or resume) SS-CCL in this process; checkpoint ``out`` after every epoch."""
    if config.workers != 1:
        raise InputError(f"--workers {config.workers}: use ssnenas.pretrain.distributed.train_ccl_ray "
                         "for more than one worker")
    check_data(data, config)
    dev = resolve_device(device)
    model = build_model(data.num_features, config).to(dev)
    optimizer = make_adam(model, lr=config.lr, weight_decay=config.weight_decay)
    ckpt = resume(out, new_checkpoint(data, config), model, optimizer)
    d = data.to(dev)
    total = (config.epochs - ckpt["epoch"]) * steps_per_epoch(data, config)
    with progress_bar(total, f"ss-ccl {data.space}", progress) as bar:

        def on_step(s: dict) -> None:
            bar.update(1)
            bar.set_postfix(loss=f"{s['loss']:.4f}", top1=f"{s.get('top1', 0):.3f}")

        return run_epochs(out=out, ckpt=ckpt, model=model, optimizer=optimizer, epochs=config.epochs,
                          run_epoch=lambda e: ccl_epoch(model, optimizer, d, e, config,
                                                        chunk_elems=chunk_elems, on_step=on_step),
                          on_epoch_end=on_epoch_end)


def new_checkpoint(data: ArchSet, config: CCLConfig) -> dict[str, Any]:
    dims = {"num_features": data.num_features, "width": config.width, "layers": config.layers,
            "dim": config.dim, "num_nodes": data.num_nodes}
    return base_checkpoint(method=METHOD, data=data, dims=dims, config=asdict(config))
