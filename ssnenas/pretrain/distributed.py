"""SS-CCL on several workers with Ray Train (``TorchTrainer``, DDP; one worker per GPU, or CPU workers).

Paper-scale SS-CCL (NB101, N = 140k) ran on 6 GPUs with the batch split across them, each GPU
mining positives/negatives only within its own share (the original code's DDP mode). Here every
worker takes the shard ``B[rank::W]`` of each global batch of N archs and runs
:func:`ssnenas.pretrain.ccl_train.ccl_epoch`; DDP averages the gradients. The architecture tensors go
to the Ray object store once and every worker reads them from there. Rank 0 rewrites the checkpoint
``out`` after every epoch (so ``out`` must be on storage the rank-0 worker can write: the local disk
on one machine, a shared filesystem on a cluster) and every rank reports the epoch's metrics with
``ray.train.report``.

Example::

    data = load_archs("nasbench201", "stores/nb201")
    cfg = CCLConfig(batch_size=10_000, train_samples=5_000, batch_step=1_000,
                    min_negative_size=4_900, workers=2)
    ckpt = train_ccl_ray(data, "ccl_nb201.pt", config=cfg, use_gpu=True)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ssnenas.errors import InputError
from ssnenas.ray_connect import connect_ray
from ssnenas.pretrain.ccl import DEFAULT_CHUNK_ELEMS
from ssnenas.pretrain.ccl_train import CCLConfig, build_model, ccl_epoch, check_data, new_checkpoint, \
    steps_per_epoch
from ssnenas.pretrain.checkpoint import check_same_run, read_checkpoint
from ssnenas.pretrain.data import ArchSet
from ssnenas.predictors.optim import make_adam
from ssnenas.pretrain.runner import progress_bar, run_epochs


def _worker_loop(cfg: dict[str, Any]) -> None:
    """Body of one Ray Train worker (rank r of W)."""
    import ray
    import ray.train
    import ray.train.torch

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    config = CCLConfig(**cfg["config"])
    data: ArchSet = ray.get(cfg["data_ref"])
    device = ray.train.torch.get_device()
    model = build_model(data.num_features, config)
    ckpt = cfg["resume"] or new_checkpoint(data, config)
    if cfg["resume"]:
        model.load_state_dict(ckpt["model"])
    ddp = ray.train.torch.prepare_model(model)  # moves to the device; DDP when W > 1
    optimizer = make_adam(model, lr=config.lr, weight_decay=config.weight_decay)
    if cfg["resume"]:
        optimizer.load_state_dict(ckpt["optimizer"])
    d = data.to(device)
    total = (config.epochs - ckpt["epoch"]) * steps_per_epoch(data, config)
    with progress_bar(total, f"ss-ccl {data.space} rank 0/{world}", cfg["progress"] and rank == 0) as bar:

        def on_step(s: dict) -> None:
            bar.update(1)
            bar.set_postfix(loss=f"{s['loss']:.4f}")

        run_epochs(out=cfg["out"], ckpt=ckpt, model=model, optimizer=optimizer, epochs=config.epochs,
                   run_epoch=lambda e: ccl_epoch(ddp, optimizer, d, e, config, rank=rank, world=world,
                                                 chunk_elems=cfg["chunk_elems"], on_step=on_step),
                   writer=rank == 0, report=lambda m: ray.train.report({**m, "rank": rank}))


def train_ccl_ray(data: ArchSet, out: str | os.PathLike, *, config: CCLConfig, use_gpu: bool = False,
                  storage_path: str | os.PathLike | None = None, name: str | None = None,
                  progress: bool = True, chunk_elems: int = DEFAULT_CHUNK_ELEMS) -> dict[str, Any]:
    """Run (or resume) SS-CCL with ``config.workers`` Ray Train workers; returns the final checkpoint.

    Starts a local Ray instance if none is running. ``storage_path`` is Ray Train's run folder
    (default ``~/ray_results``).
    """
    import ray

    check_data(data, config)
    out = Path(out).resolve()
    resume = None
    if out.exists():
        resume = read_checkpoint(out)
        check_same_run(out, resume, new_checkpoint(data, config))
        if resume["epoch"] >= config.epochs:
            return resume
    # the cluster of a `ray job submit` (RAY_ADDRESS), else a private Ray on loopback; shut down only a
    # Ray started here
    owned = connect_ray(os.environ.get("RAY_ADDRESS") or None)
    try:
        return _fit(data, out, config=config, use_gpu=use_gpu, storage_path=storage_path, name=name,
                    resume=resume, progress=progress, chunk_elems=chunk_elems)
    finally:
        if owned:
            ray.shutdown()


def _fit(data, out: Path, *, config, use_gpu: bool, storage_path, name, resume, progress: bool,
         chunk_elems: int) -> dict:
    """Run the TorchTrainer and return the rank-0 checkpoint it wrote."""
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    trainer = TorchTrainer(
        _worker_loop,
        train_loop_config={"config": config.__dict__.copy(), "data_ref": ray.put(data), "out": str(out),
                           "resume": resume, "progress": progress, "chunk_elems": chunk_elems},
        scaling_config=ScalingConfig(num_workers=config.workers, use_gpu=use_gpu,
                                     resources_per_worker={"CPU": 1, **({"GPU": 1} if use_gpu else {})}),
        run_config=RunConfig(name=name or f"ss-ccl-{data.space}-{out.stem}",
                             storage_path=None if storage_path is None else str(storage_path)))
    result = trainer.fit()
    if result.error is not None:
        raise result.error
    if not out.exists():
        raise InputError(f"--out {out}: the rank-0 worker wrote no checkpoint there; on a multi-node "
                         "cluster pass an --out on a filesystem every node shares")
    return read_checkpoint(out)
