"""``ssnenas retrain`` and ``ssnenas evaluate``: the command line of the final DARTS retraining
(the library: :mod:`ssnenas.darts.retrain`, imported when a command runs, so ``--help`` needs no torch)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ssnenas.cli import plain

#: the commands' description (the library module's docstring, kept here so --help imports no torch)
DOC = """``ssnenas retrain`` and ``ssnenas evaluate``: the final DARTS retraining with Ray Train.

``retrain`` trains one genotype on the full training split with the DARTS evaluation protocol
(DARTS, arXiv 1806.09055, as used by NPENAS and SSNENAS: 600 epochs, C 36, 20 cells, cutout 16 (half
the image side: 4 on digits), auxiliary 0.4,
drop-path 0.2 ramped linearly, batch 96 per worker) under ``TorchTrainer``: one DDP worker per GPU (CPU
workers with gloo where there is none), each on its own shard of the images. Every epoch rank 0
reports its metrics with a checkpoint (``trainer.pt``); re-running the same command on the same
``--out`` resumes from the last checkpoint (Ray Train resumes a run by name and storage path). The test accuracy is measured
once, at the last epoch (never the best test accuracy over epochs); the seed is ``--seed`` (not fixed to 1).

``evaluate`` loads such a checkpoint (or RUN folder) and prints the test accuracy of its weights.

Checkpoints are data (:func:`ssnenas.darts.train.read_checkpoint`: ``torch.load(weights_only=True)``);
one that needs unpickling is refused with one line unless ``--trust-pickle``.

"""


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("epochs", "channels", "layers", "batch_size", "seed", "cutout", "drop_path", "auxiliary_weight",
            "lr", "bf16")
    out = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    if args.no_auxiliary:
        out["auxiliary"] = False
    return out


def _retrain_command(args: argparse.Namespace) -> int:
    from ssnenas.darts.data import resolve_data_spec
    from ssnenas.darts.retrain import run_retrain

    data = resolve_data_spec(args.data, download=args.download)
    m = run_retrain(args.genotype, data, args.out, overrides=_overrides(args), workers=args.workers,
                    address=args.address, num_cpus=args.num_cpus, trust_pickle=args.trust_pickle)
    print(f"retrained {m.get('epoch')} epochs: test acc (last epoch) {m.get('last_test_acc', float('nan')):.2f}%, "
          f"train loss {m.get('train_loss', float('nan')):.4f}; checkpoint: {m['checkpoint']}")
    return 0


def _evaluate_command(args: argparse.Namespace) -> int:
    from ssnenas.darts.retrain import evaluate_checkpoint

    r = evaluate_checkpoint(args.checkpoint, args.data, trust_pickle=args.trust_pickle)
    print(json.dumps(r, indent=1) if args.json else f"test acc {r['test_acc']:.2f}% (epoch {r['epoch']}, "
          f"{r['params']} params) of {r['checkpoint']}")
    return 0


#: The defaults of :meth:`ssnenas.darts.train.TrainConfig.retrain` that ``--help`` shows, spelled out
#: so that building the parser does not import torch (a test checks they agree).
RETRAIN_HELP_DEFAULTS = {"epochs": 600, "channels": 36, "layers": 20, "batch_size": 96, "seed": 0, "cutout": 16,
                         "drop_path": 0.2, "auxiliary_weight": 0.4, "lr": 0.025}


def register(subparsers: Any) -> None:
    """Add ``ssnenas retrain`` and ``ssnenas evaluate``."""
    doc = plain(DOC.strip())
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
    p.add_argument("--trust-pickle", action="store_true",
                   help="resume from a checkpoint that needs unpickling (an older or foreign file: it runs code "
                        "when read, so only one you trust; default: refused)")
    p.set_defaults(func=_retrain_command)
    e = subparsers.add_parser("evaluate", help="test accuracy of a retrained DARTS checkpoint",
                              description="Test accuracy (%) of the weights in a `ssnenas retrain` checkpoint "
                                          "on the test split of its data (or of --data).")
    e.add_argument("--checkpoint", required=True, help="trainer.pt or a `ssnenas retrain` --out folder")
    e.add_argument("--data", default=None, help="digits or cifar10:PATH (default: the checkpoint's data)")
    e.add_argument("--json", action="store_true",
                   help="print JSON: test_acc, epoch, genotype, params, flops, checkpoint, data")
    e.add_argument("--trust-pickle", action="store_true",
                   help="read a checkpoint that needs unpickling (an older or foreign file: it runs code when "
                        "read, so only one you trust; default: refused)")
    e.set_defaults(func=_evaluate_command)

