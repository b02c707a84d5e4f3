"""``ssnenas retrain`` and ``ssnenas evaluate``: the final DARTS retraining with Ray Train.

``retrain`` trains one genotype on the full training split with the DARTS evaluation protocol
(DARTS, arXiv 1806.09055, as used by NPENAS and SSNENAS: 600 epochs, C 36, 20 cells, cutout 16 (half
the image side: 4 on digits), auxiliary 0.4,
drop-path 0.2 ramped linearly, batch 96 per worker) under ``TorchTrainer``: one DDP worker per GPU (CPU
workers with gloo where there is none), each on its own shard of the images. Every epoch rank 0
reports its metrics with a checkpoint (``trainer.pt``); re-running the same command on the same
``--out`` resumes from the last checkpoint (Ray Train resumes a run by name and storage path). The test accuracy is measured
once, at the last epoch (never the best test accuracy over epochs); the seed is ``--seed`` (not fixed to 1).

``evaluate`` loads such a checkpoint (or RUN folder) and prints the test accuracy of its weights.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from ssnenas.errors import InputError
from ssnenas.ray_connect import connect_ray

TRAIN_NAME = "retrain"
CHECKPOINT_FILE = "trainer.pt"


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
            trainer.load(os.path.join(d, CHECKPOINT_FILE))
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
                num_cpus: int | None = None, torch_threads: int = 1) -> dict[str, Any]:
    """Retrain ``genotype`` (or resume it) and return the last reported metrics plus the checkpoint."""
    import ray
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from ssnenas.darts.data import image_side
    from ssnenas.darts.train import TRAINING_RAY_SYSTEM_CONFIG, TrainConfig
    from ssnenas.spaces.darts import genotype_to_str, parse_genotype

    arch = genotype_to_str(parse_genotype(genotype))
    # cutout: half the image side unless set (DARTS' 16 on CIFAR-10 would blank a whole 8x8 digit)
    train = TrainConfig.retrain(**{"cutout": image_side(data) // 2, **(overrides or {})}).to_dict()
    train.pop("device")
    out = Path(out).resolve()
    spec = {"kind": "darts-retrain", "arch": arch, "data": data, "train": train}
    cfg = out / "config.json"
    if cfg.exists():
        old = json.loads(cfg.read_text())
        if {k: old.get(k) for k in spec} != spec:
            raise InputError(f"--out {out}: holds a retraining of other settings; repeat the same flags to resume "
                             "or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    started = connect_ray(address, num_cpus=num_cpus, system_config=TRAINING_RAY_SYSTEM_CONFIG)
    try:
        gpus = int(ray.cluster_resources().get("GPU", 0))
        use_gpu = gpus > 0 if use_gpu is None else use_gpu
        workers = workers or (gpus if use_gpu else 1)
        cfg.write_text(json.dumps(spec, indent=1, sort_keys=True) + "\n")
        loop_config = {"arch": arch, "data": data, "train": train, "torch_threads": torch_threads}
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


def evaluate_checkpoint(checkpoint: str | os.PathLike, data: str | None = None) -> dict[str, Any]:
    """Test accuracy (percent) of the weights in ``checkpoint`` (a ``trainer.pt`` or a retrain RUN folder)
    on the test split of ``data`` (default: the data it was trained on, with its split seed)."""
    import torch

    from ssnenas.darts.data import load_data
    from ssnenas.darts.train import CandidateTrainer, TrainConfig
    from ssnenas.spaces.darts import parse_genotype

    path = Path(checkpoint)
    if path.is_dir():
        found = sorted(path.rglob(CHECKPOINT_FILE), key=lambda p: p.stat().st_mtime)
        if not found:
            raise InputError(f"--checkpoint {path}: no {CHECKPOINT_FILE} below it; pass a `ssnenas retrain` --out folder")
        path = found[-1]
    if not path.is_file():
        raise InputError(f"--checkpoint {path}: not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        arch, train = state["genotype"], dict(state["config"])
    except Exception as exc:
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


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("epochs", "channels", "layers", "batch_size", "seed", "cutout", "drop_path", "auxiliary_weight",
            "lr", "bf16")
    out = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    if args.no_auxiliary:
        out["auxiliary"] = False
    return out


def _retrain_command(args: argparse.Namespace) -> int:
    from ssnenas.darts.data import resolve_data_spec

    data = resolve_data_spec(args.data, download=args.download)
    m = run_retrain(args.genotype, data, args.out, overrides=_overrides(args), workers=args.workers,
                    address=args.address, num_cpus=args.num_cpus)
    print(f"retrained {m.get('epoch')} epochs: test acc (last epoch) {m.get('last_test_acc', float('nan')):.2f}%, "
          f"train loss {m.get('train_loss', float('nan')):.4f}; checkpoint: {m['checkpoint']}")
    return 0


def _evaluate_command(args: argparse.Namespace) -> int:
    r = evaluate_checkpoint(args.checkpoint, args.data)
    print(json.dumps(r, indent=1) if args.json else f"test acc {r['test_acc']:.2f}% (epoch {r['epoch']}, "
          f"{r['params']} params) of {r['checkpoint']}")
    return 0


#: The defaults of :meth:`ssnenas.darts.train.TrainConfig.retrain` that ``--help`` shows, spelled out
#: so that building the parser does not import torch (a test checks they agree).
RETRAIN_HELP_DEFAULTS = {"epochs": 600, "channels": 36, "layers": 20, "batch_size": 96, "seed": 0, "cutout": 16,
                         "drop_path": 0.2, "auxiliary_weight": 0.4, "lr": 0.025}


def register_cli(subparsers: Any) -> None:
    """Add ``ssnenas retrain`` and ``ssnenas evaluate``."""
    from ssnenas.cli import plain

    doc = plain(__doc__.strip())
    p = subparsers.add_parser("retrain", help="final DARTS retraining with Ray Train (DDP)",
                              description=doc.split("\n\n``evaluate``")[0].split("\n\nevaluate")[0],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--genotype", required=True, help="a DARTS Genotype(...) string")
    p.add_argument("--data", default="digits", help="digits (default) or cifar10:PATH")
    p.add_argument("--download", action="store_true", help="fetch CIFAR-10 into the cifar10:PATH folder first")
    p.add_argument("--out", required=True, help="run folder; re-running the same command resumes from it")
    defaults = RETRAIN_HELP_DEFAULTS
    for name, typ, what in (("epochs", int, "training epochs"), ("channels", int, "initial channels C"),
                            ("layers", int, "cells in the network"), ("batch-size", int, "images per step per worker"),
                            ("seed", int, "seed of the initialisation and data order"),
                            ("cutout", int, "cutout square side in pixels (0: off; halved on digits' small images)"),
                            ("drop-path", float, "drop-path probability, ramped linearly over the epochs"),
                            ("auxiliary-weight", float, "weight of the auxiliary head's loss"),
                            ("lr", float, "initial SGD learning rate (cosine schedule)")):
        key = name.replace("-", "_")
        p.add_argument(f"--{name}", type=typ, default=None, help=f"{what} (default {defaults[key]})")
    p.add_argument("--no-auxiliary", action="store_true", help="train without the auxiliary head")
    p.add_argument("--bf16", action="store_true", default=None, help="bfloat16 autocast (on GPUs that have it)")
    p.add_argument("--workers", type=int, default=None, help="DDP workers (default: the GPUs, or 1 CPU worker)")
    p.add_argument("--address", default=None,
                   help="join a running Ray cluster ('auto' or HOST:PORT); default: start a local Ray")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: all)")
    p.set_defaults(func=_retrain_command)
    e = subparsers.add_parser("evaluate", help="test accuracy of a retrained DARTS checkpoint",
                              description="Test accuracy (%) of the weights in a `ssnenas retrain` checkpoint "
                                          "on the test split of its data (or of --data).")
    e.add_argument("--checkpoint", required=True, help="trainer.pt or a `ssnenas retrain` --out folder")
    e.add_argument("--data", default=None, help="digits or cifar10:PATH (default: the checkpoint's data)")
    e.add_argument("--json", action="store_true",
                   help="print JSON: test_acc, epoch, genotype, params, flops, checkpoint, data")
    e.set_defaults(func=_evaluate_command)


if __name__ == "__main__":
    from ssnenas.cli import main as cli_main

    sys.exit(cli_main(sys.argv[1:]))
