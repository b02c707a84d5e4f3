"""Candidate-training throughput: the Ray Tune path (``trainables.darts.DartsTrainable``) against a
plain PyTorch loop of the same model, data, batch and augmentation (issue: "the Ray path should be
within 5% of it").

Both train the §8 search network (C 16, 8 cells, batch 64, SGD + cosine, clip 5) on 32x32x3 images
in the real ``cifar-10-batches-py`` format. The pixels are synthetic (seeded uniform noise written by
:func:`write_synthetic_cifar`): images/s does not depend on what the images show, and the benchmark
then runs where CIFAR-10 cannot be downloaded. Reported per path and precision (fp32, bf16 autocast):

- ``train_images_per_s``: training images per second of the epoch's training loop (median over the
  epochs after the first, which pays cuDNN's autotuning);
- ``epoch_wall_s``: the wall time of a whole epoch (training + validation; for Ray also the result
  report and the per-epoch checkpoint that lets a retried trial continue), median after the first.

    python -m experiments.bench_darts_throughput --json            # GPU when present, CIFAR sizes
    python -m experiments.bench_darts_throughput --images-per-batch 500 --epochs 2   # a quick CPU check
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

#: DARTS (second order), the published cell of the DARTS paper
DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
            "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
            "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
            "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")


def write_synthetic_cifar(folder: Path, images_per_batch: int, seed: int = 0) -> Path:
    """Five training batches and a test batch of random uint8 pixels in CIFAR-10's python format."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (images_per_batch, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, images_per_batch).tolist()}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    return folder


def _median_after_first(values: list[float]) -> float:
    return statistics.median(values[1:] if len(values) > 1 else values)


def plain_loop(spec: str, train: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """The same training written as a bare PyTorch loop: no trainer class, no Ray."""
    from ssnenas.darts.data import augment, load_data
    from ssnenas.darts.model import DartsNetwork
    from ssnenas.spaces.darts import parse_genotype

    data = load_data(spec, split="search")
    x_train, y_train = data.x_train.to(device), data.y_train.to(device)
    x_val, y_val = data.x_val.to(device), data.y_val.to(device)
    torch.manual_seed(train["seed"])
    gen = torch.Generator().manual_seed(train["seed"])
    model = DartsNetwork(parse_genotype(DARTS_V2), channels=train["channels"], layers=train["layers"],
                         num_classes=10, in_channels=3).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9, weight_decay=3e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=train["epochs"], eta_min=1e-6)
    loss_fn = nn.CrossEntropyLoss()
    use_bf16 = bool(train.get("bf16")) and device.type == "cuda"
    bs, n = train["batch_size"], len(x_train)
    rates, walls = [], []
    for _ in range(train["epochs"]):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, bs):
            idx = perm[i:i + bs].to(device)
            xb = augment(x_train[idx], padding=4, flip=True, cutout=0, gen=gen)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss = loss_fn(model(xb)[0].float(), y_train[idx])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t_train = time.perf_counter() - t0
        sched.step()
        model.eval()
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            correct = sum(int((model(x_val[i:i + 256])[0].argmax(1) == y_val[i:i + 256]).sum())
                          for i in range(0, len(x_val), 256))
        walls.append(time.perf_counter() - t0)
        rates.append(n / t_train)
    return {"train_images_per_s": _median_after_first(rates), "epoch_wall_s": _median_after_first(walls),
            "per_epoch_images_per_s": rates, "last_val_acc": 100.0 * correct / len(x_val)}


def ray_path(spec: str, train: dict[str, Any], use_gpu: bool, storage: Path, threads: int) -> dict[str, Any]:
    """One Tune trial of :class:`DartsTrainable` with the search's run settings (1 GPU or 1 CPU, a
    checkpoint every epoch)."""
    from ray import tune

    from trainables.darts import DartsTrainable

    resources = {"cpu": 1, "gpu": 1 if use_gpu else 0}
    tuner = tune.Tuner(
        tune.with_resources(DartsTrainable, resources),
        param_space={"arch": DARTS_V2, "data": spec, "train": {**train, "torch_threads": threads}},
        tune_config=tune.TuneConfig(num_samples=1),
        run_config=tune.RunConfig(name=f"bench_{'bf16' if train.get('bf16') else 'fp32'}", storage_path=str(storage),
                                  verbose=0, stop={"training_iteration": train["epochs"]},
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=1, checkpoint_frequency=1)))
    grid = tuner.fit()
    result = grid[0]
    if result.error is not None:
        raise RuntimeError(f"the Ray trial failed: {result.error}")
    hist = result.metrics_dataframe
    rates = [float(v) for v in hist["images_per_s"]]
    walls = [float(v) for v in hist["time_this_iter_s"]]
    return {"train_images_per_s": _median_after_first(rates), "epoch_wall_s": _median_after_first(walls),
            "per_epoch_images_per_s": rates, "last_val_acc": float(hist["val_acc"].iloc[-1])}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images-per-batch", type=int, default=10_000,
                   help="images per CIFAR batch file (10,000 = CIFAR-10's size: 25k train / 25k val)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--precisions", nargs="+", default=None, help="fp32 and/or bf16 (default: both on GPU)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (CPU runs)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    import ray

    from ssnenas.darts.train import TRAINING_RAY_SYSTEM_CONFIG
    from ssnenas.ray_connect import connect_ray

    use_gpu = torch.cuda.is_available()
    device = torch.device("cuda" if use_gpu else "cpu")
    torch.set_num_threads(args.threads)
    if use_gpu:
        torch.backends.cudnn.benchmark = True
    precisions = args.precisions or (["fp32", "bf16"] if use_gpu else ["fp32"])
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    out: dict[str, Any] = {"device": torch.cuda.get_device_name(0) if use_gpu else f"cpu ({os.cpu_count()} cores)",
                           "torch": torch.__version__, "ray": ray.__version__, "genotype": DARTS_V2,
                           "images_per_epoch": args.images_per_batch * 5 // 2, "epochs": args.epochs,
                           "channels": args.channels, "layers": args.layers, "batch_size": args.batch_size,
                           "results": {}}
    with tempfile.TemporaryDirectory() as tmp:
        spec = "cifar10:" + str(write_synthetic_cifar(Path(tmp) / "cifar-10-batches-py", args.images_per_batch))
        connect_ray(None, num_cpus=2, num_gpus=1 if use_gpu else 0, system_config=TRAINING_RAY_SYSTEM_CONFIG)
        try:
            for precision in precisions:
                train = {"epochs": args.epochs, "channels": args.channels, "layers": args.layers,
                         "batch_size": args.batch_size, "seed": 0, "bf16": precision == "bf16"}
                plain = plain_loop(spec, train, device)
                if use_gpu:
                    torch.cuda.empty_cache()
                tuned = ray_path(spec, train, use_gpu, Path(tmp) / "tune", args.threads)
                ratio = tuned["train_images_per_s"] / plain["train_images_per_s"]
                out["results"][precision] = {"plain": plain, "ray": tuned, "ray_over_plain_images_per_s": ratio,
                                             "ray_over_plain_epoch_wall": tuned["epoch_wall_s"] / plain["epoch_wall_s"]}
                # as soon as known (stderr with --json): a run cut short still shows its numbers
                print(f"{precision}: plain {plain['train_images_per_s']:.0f} img/s "
                      f"({plain['epoch_wall_s']:.2f} s/epoch), Ray {tuned['train_images_per_s']:.0f} img/s "
                      f"({tuned['epoch_wall_s']:.2f} s/epoch): Ray/plain = {ratio:.3f}",
                      file=sys.stderr if args.json else sys.stdout, flush=True)
        finally:
            ray.shutdown()
    if args.json:
        print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
