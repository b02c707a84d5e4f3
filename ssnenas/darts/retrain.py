"""The final DARTS retraining with Ray Train (``TorchTrainer``, one DDP worker per GPU, CPU workers with
gloo where there is none) and the evaluation of its checkpoints.

The protocol (DARTS, arXiv 1806.09055, as NPENAS and SSNENAS use it), resuming and what ``evaluate``
prints are described once, in the command's help (:data:`ssnenas.cli.retrain.DOC`). Checkpoints are data
(:func:`ssnenas.darts.train.read_checkpoint`: ``torch.load(weights_only=True)``); one that needs
unpickling is refused with one line unless ``trust_pickle``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from ssnenas.atomic import atomic_json
from ssnenas.checks import (MAX_COUNT, MAX_EPOCHS, MAX_LR, MAX_RESOURCES, check_address, check_float, check_int,
                            check_run_out, check_seed, naming_flag)
from ssnenas.darts.search import MAX_TORCH_THREADS, check_network
from ssnenas.darts.train import read_checkpoint
from ssnenas.errors import InputError, SsnenasError
from ssnenas.ray_connect import connect_ray
from ssnenas.runfolder import existing_run

TRAIN_NAME = "retrain"
CHECKPOINT_FILE = "trainer.pt"
#: cutout squares larger than this many pixels are typos (CIFAR-10's images are 32 pixels wide)
MAX_CUTOUT = 10_000
#: loss weights (the auxiliary head's) above this are typos (DARTS: 0.4)
MAX_LOSS_WEIGHT = 1e6


def check_retrain_settings(train: dict[str, Any], *, workers: int | None = None, num_cpus: int | None = None,
                           torch_threads: int | None = None) -> None:
    """The retraining's numbers in range (``train``: :class:`~ssnenas.darts.train.TrainConfig` fields),
    one :class:`InputError` line naming the flag each: before the folder is touched or Ray started.
    The upper bounds are typo guards (:mod:`ssnenas.checks`)."""
    for key in ("epochs", "batch_size"):
        value = train.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise InputError(f"--{key.replace('_', '-')} must be >= 1, got {value}")
    check_int("--epochs", train.get("epochs"), maximum=MAX_EPOCHS)
    check_network(train.get("channels"), train.get("layers"))
    check_int("--batch-size", train.get("batch_size"), maximum=MAX_COUNT)
    check_seed("--seed", train.get("seed"))
    check_int("--cutout", train.get("cutout"), minimum=0, maximum=MAX_CUTOUT, hint=" (0: no cutout)")
    check_float("--drop-path", train.get("drop_path"), minimum=0.0, maximum=1.0, below=True,
                hint=" (a probability: 0 <= p < 1)")
    check_float("--auxiliary-weight", train.get("auxiliary_weight"), minimum=0.0, maximum=MAX_LOSS_WEIGHT)
    check_float("--lr", train.get("lr"), minimum=0.0, above=True, maximum=MAX_LR)
    check_int("--workers", workers, maximum=MAX_RESOURCES, hint=" (default: one per GPU, or 1 CPU worker)")
    check_int("--num-cpus", num_cpus, maximum=MAX_RESOURCES)
    check_int("--torch-threads", torch_threads, maximum=MAX_TORCH_THREADS)


def _train_loop(config: dict[str, Any]) -> None:
    """Per-worker loop of :class:`TorchTrainer` (runs inside each Ray Train worker)."""
    import ray.train
    import torch
    from ray.train import Checkpoint
    from ray.train.torch import get_device, prepare_model

    from ssnenas.darts.data import ImageData, load_data
    from ssnenas.darts.train import CandidateTrainer, TrainConfig
    from ssnenas.spaces.darts import parse_genotype

    torch.set_num_threads(int(config.get("torch_threads", 1)))
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    data_seed = int(config["train"].get("seed", 0))
    data = load_data(config["data"], split="full", seed=data_seed)
    shard = ImageData(**{**data.__dict__, "x_train": data.x_train[rank::world], "y_train": data.y_train[rank::world]})
    device = get_device()
    train = {**config["train"], "device": str(device), "seed": data_seed * 1000 + rank}
    trainer = CandidateTrainer(parse_genotype(config["arch"]), shard, TrainConfig(**train),
                               wrap=prepare_model if world > 1 else None)
    trainer.meta = {"data": config["data"], "data_seed": data_seed}  # `evaluate` rebuilds the same test split
    ckpt = ray.train.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            trainer.load(os.path.join(d, CHECKPOINT_FILE), trust_pickle=bool(config.get("trust_pickle")))
    if trainer.done:  # a finished run re-run: report its final state again, train nothing
        metrics = {**trainer.history[-1], **trainer.final_metrics()}
        metrics.update(zip(("params", "flops"), trainer.complexity()))
        ray.train.report(metrics)
    while not trainer.done:
        metrics = trainer.train_epoch()
        metrics.update(zip(("params", "flops"), trainer.complexity()) if trainer.done else {})
        with tempfile.TemporaryDirectory() as tmp:
            if rank == 0:
                trainer.save(os.path.join(tmp, CHECKPOINT_FILE))
                ray.train.report(metrics, checkpoint=Checkpoint.from_directory(tmp))
            else:
                ray.train.report(metrics)


def run_retrain(genotype: str, data: str, out: str | os.PathLike, *, overrides: dict[str, Any] | None = None,
                workers: int | None = None, use_gpu: bool | None = None, address: str | None = None,
                num_cpus: int | None = None, torch_threads: int = 1, trust_pickle: bool = False) -> dict[str, Any]:
    """Retrain ``genotype`` (or resume it) and return the last reported metrics plus the checkpoint.

    A resumed ``out`` has its checkpoints read as data first: one that needs unpickling is refused
    (:class:`~ssnenas.errors.DataFormatError`) before anything runs, unless ``trust_pickle``."""
    import ray
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from ssnenas.darts.data import image_side
    from ssnenas.darts.train import TRAINING_RAY_SYSTEM_CONFIG, TrainConfig
    from ssnenas.spaces.darts import genotype_to_str, parse_genotype

    try:
        arch = genotype_to_str(parse_genotype(genotype))
    except SsnenasError as exc:  # the library quotes the text; the command knows the flag
        raise InputError(f"--genotype: {exc}") from None
    # cutout: half the image side unless set (DARTS' 16 on CIFAR-10 would blank a whole 8x8 digit)
    train = TrainConfig.retrain(**{"cutout": image_side(data) // 2, **(overrides or {})}).to_dict()
    train.pop("device")
    # every number, the folder and the address before anything is read, written or started
    check_retrain_settings(train, workers=workers, num_cpus=num_cpus, torch_threads=torch_threads)
    check_run_out("--out", out)
    check_address(address)
    out = Path(out).resolve()
    spec = {"kind": "darts-retrain", "arch": arch, "data": data, "train": train}
    cfg = out / "config.json"
    old = existing_run(out, kind="darts-retrain", what="DARTS retraining")
    if old is not None:
        if {k: old.get(k) for k in spec} != spec:
            raise InputError(f"--out {out}: holds a retraining of other settings; repeat the same flags to resume "
                             "or choose another --out")
        for ckpt in sorted(out.rglob(CHECKPOINT_FILE)):  # what the workers will resume from: data only
            read_checkpoint(ckpt, trust_pickle=trust_pickle)
    started = connect_ray(address, num_cpus=num_cpus, system_config=TRAINING_RAY_SYSTEM_CONFIG)
    try:
        gpus = int(ray.cluster_resources().get("GPU", 0))
        use_gpu = gpus > 0 if use_gpu is None else use_gpu
        workers = workers or (gpus if use_gpu else 1)
        atomic_json(cfg, spec)
        loop_config = {"arch": arch, "data": data, "train": train, "torch_threads": torch_threads,
                       "trust_pickle": trust_pickle}
        # Ray Train (v2) resumes a run by its name and storage path: the loop's get_checkpoint()
        # returns the latest checkpoint of an earlier, interrupted run of the same --out
        trainer = TorchTrainer(
            _train_loop, train_loop_config=loop_config,
            scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu,
                                         resources_per_worker=None if use_gpu else {"CPU": 1}),
            run_config=RunConfig(name=TRAIN_NAME, storage_path=str(out),
                                 checkpoint_config=CheckpointConfig(num_to_keep=2),
                                 failure_config=FailureConfig(max_failures=2)))
        result = trainer.fit()
    finally:
        if started:
            ray.shutdown()
    if result.error is not None:
        raise RuntimeError(f"retraining failed: {result.error}")
    metrics = dict(result.metrics)
    metrics["checkpoint"] = os.path.join(result.checkpoint.path, CHECKPOINT_FILE) if result.checkpoint else None
    return metrics


def evaluate_checkpoint(checkpoint: str | os.PathLike, data: str | None = None, *,
                        trust_pickle: bool = False) -> dict[str, Any]:
    """Test accuracy (percent) of the weights in ``checkpoint`` (a ``trainer.pt`` or a retrain RUN folder)
    on the test split of ``data`` (default: the data it was trained on, with its split seed). The file is
    read as data; one that needs unpickling is refused unless ``trust_pickle``."""
    from ssnenas.darts.data import load_data, resolve_data_spec
    from ssnenas.darts.train import CandidateTrainer, TrainConfig
    from ssnenas.spaces.darts import parse_genotype

    if data is not None:
        resolve_data_spec(data)  # a bad --data is refused before the checkpoint is read
    path = Path(checkpoint)
    if path.is_dir():
        found = sorted(path.rglob(CHECKPOINT_FILE), key=lambda p: p.stat().st_mtime)
        if not found:
            raise InputError(f"--checkpoint {path}: no {CHECKPOINT_FILE} below it; pass a `ssnenas retrain` --out folder")
        path = found[-1]
    if not path.is_file():
        raise InputError(f"--checkpoint {path}: not found")
    try:
        state = read_checkpoint(path, trust_pickle=trust_pickle)
    except SsnenasError as exc:  # the reader names the file; the command knows the flag
        raise naming_flag("--checkpoint", path, exc) from None
    try:
        arch, train = str(state["genotype"]), dict(state["config"])
    except (TypeError, ValueError) as exc:
        raise InputError(f"--checkpoint {path}: not a ssnenas trainer checkpoint ({type(exc).__name__}: {exc})") from None
    train["device"] = "auto"
    meta = state.get("meta") or {}
    data = data or meta.get("data")
    if not data:
        raise InputError(f"--checkpoint {path}: it does not record its data; pass --data digits or cifar10:PATH")
    images = load_data(data, split="full", seed=int(meta.get("data_seed", 0)))
    trainer = CandidateTrainer(parse_genotype(arch), images, TrainConfig(**train))
    trainer.load_state_dict(state)
    acc = trainer.evaluate(images.x_test, images.y_test)
    params, flops = trainer.complexity()
    return {"test_acc": acc, "epoch": trainer.epoch, "genotype": arch, "params": params, "flops": flops,
            "checkpoint": str(path), "data": data}
