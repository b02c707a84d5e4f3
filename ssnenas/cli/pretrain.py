"""``ssnenas pretrain ss-rl|ss-ccl``: self-supervised pre-training of the GIN encoder (SSNENAS, arXiv 2011.00186).

SS-RL regresses the normalised graph edit distance of architecture pairs; SS-CCL is central
contrastive learning (the paper's Algorithm 1). Defaults follow the paper and its published code:
SS-RL lr/epochs per space (nasbench101 5e-4/300, nasbench201 1e-4/1000, darts 5e-4/300), batch 64,
90 % training split, seed 3344; SS-CCL (N, M, S, K) presets per space, lr 5e-3, 300 epochs, tau 0.07,
margin 0, m 0.5, seed 444. Re-running the same command after an interruption continues at the next
epoch of --out.
"""

from __future__ import annotations

import argparse
import os

#: ``--chunk-elems``: distances materialised at once (2**36 floats are 256 GiB)
MAX_CHUNK_ELEMS = 2 ** 36
#: ``--workers``: Ray Train workers (one per CPU or GPU of a cluster)
MAX_WORKERS = 10_000


def register(subparsers: argparse._SubParsersAction) -> None:
    from ssnenas.cli import plain

    p = subparsers.add_parser("pretrain", help="self-supervised pre-training (SS-RL, SS-CCL)",
                              description=plain(__doc__.strip()),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="method", metavar="METHOD")

    def common(q: argparse.ArgumentParser, epochs_help: str, lr_help: str, seed_help: str) -> None:
        q.add_argument("--space", required=True, help="nasbench101, nasbench201, darts or transnas101-micro "
                       "(also nasbench_101, nasbench_201, nb101, nb201, nb301, tnb101-micro)")
        q.add_argument("--data", help="prepared benchmark store (folder or .parquet); darts samples its "
                                      "architectures instead when omitted")
        q.add_argument("--dataset", help="which store of a --data folder holding several (e.g. cifar10-valid)")
        q.add_argument("--num-archs", type=int, default=None,
                       help="darts without --data: number of sampled architectures (default 50000, the paper's)")
        q.add_argument("--out", required=True, help="checkpoint file; rewritten every epoch, resumed if present")
        q.add_argument("--epochs", type=int, default=None, help=epochs_help)
        q.add_argument("--lr", type=float, default=None, help=lr_help)
        q.add_argument("--seed", type=int, default=None, help=seed_help)
        q.add_argument("--width", type=int, default=32, help="GIN hidden width (default 32, as NPENAS's GIN)")
        q.add_argument("--layers", type=int, default=3, help="GIN layers (default 3, as NPENAS's GIN)")
        q.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1, ...")
        q.add_argument("--no-progress", "--quiet", dest="no_progress", action="store_true",
                       help="no progress bar (--quiet is the same)")

    rl = sub.add_parser("ss-rl", help="regress the normalised graph edit distance of architecture pairs",
                        description="SS-RL pre-training (SSNENAS, arXiv 2011.00186): the GIN encoder learns "
                                    "to regress the normalised graph edit distance of architecture pairs.")
    common(rl, "epochs (default per space: nasbench101 300, nasbench201 1000, darts 300)",
           "learning rate (default per space: nasbench101 5e-4, nasbench201 1e-4, darts 5e-4)",
           "seed of the split, pairs and initialisation (default 3344, the original SS-RL seed)")
    rl.add_argument("--batch-size", type=int, default=64, help="pairs per step (default 64)")
    rl.add_argument("--train-fraction", type=float, default=0.9, help="training split (default 0.9)")
    rl.add_argument("--split", choices=("random", "legacy"), default="random",
                    help="random split drawn from --seed (default) or the original code's first/last key order")
    rl.add_argument("--schedule", choices=("cosine", "legacy"), default="cosine",
                    help="per-step cosine over the true step count (default) or the original CosineLR")
    rl.add_argument("--bias-lr-2x", action="store_true",
                    help="as the original code: biases get 2x the lr and no weight decay")
    rl.add_argument("--ged", default="normalized", metavar="normalized|raw",
                    help="target: normalized = exp(-Hamming(PAPE_a, PAPE_b) / n_nodes) (default, the paper's); "
                         "raw = the Hamming distance itself with a linear output (the un-normalised ablation)")
    rl.set_defaults(func=_run_ssrl)

    ccl = sub.add_parser("ss-ccl", help="central contrastive learning (the paper's Algorithm 1)",
                         description="SS-CCL pre-training (SSNENAS, arXiv 2011.00186, Algorithm 1): central "
                                     "contrastive learning of the GIN encoder; positives and negatives are "
                                     "mined by graph edit distance.")
    common(ccl, "epochs (default 300)", "learning rate (default 5e-3)",
           "seed of the batches, anchors and initialisation (default 444, the original SS-CCL seed)")
    ccl.add_argument("--preset", default="readme", help="(N, M, S, K) preset: readme (default; nasbench101 40000/20000/1000/39850, "
                                                         "nasbench201 10000/5000/1000/9850, darts 10000/4000/500/9900) "
                                                         "or paper (nasbench101 only: 140000/140000/1000/139800)")
    ccl.add_argument("--batch-size", type=int, default=None, help="N, archs mined together (default: the preset's)")
    ccl.add_argument("--train-samples", type=int, default=None, help="M, anchors per batch (default: the preset's)")
    ccl.add_argument("--batch-step", type=int, default=None, help="S, anchors per optimiser step (default: the preset's)")
    ccl.add_argument("--min-negative-size", type=int, default=None, help="K, negatives per anchor (default: the preset's)")
    ccl.add_argument("--margin", type=float, default=0.0, help="mu (default 0, the published run)")
    ccl.add_argument("--temperature", type=float, default=0.07, help="tau (default 0.07)")
    ccl.add_argument("--center-weight", type=float, default=0.5,
                     help="m; the loss adds m * R / 2, so 0.5 gives the code's effective 0.25 (default 0.5)")
    ccl.add_argument("--dim", type=int, default=8, help="projection width (default 8)")
    ccl.add_argument("--workers", type=int, default=1, help="Ray Train workers (DDP); 1 (default) runs in-process")
    ccl.add_argument("--use-gpu", action="store_true",
                     help="run under Ray Train with one GPU per worker (a single local GPU needs only --device)")
    ccl.add_argument("--ray-storage", default=None, help="Ray Train storage_path (default ~/ray_results)")
    ccl.add_argument("--chunk-elems", type=int, default=1 << 22,
                     help="anchor x batch distances materialised at once (default 4194304; lower it when memory is short)")
    ccl.set_defaults(func=_run_ccl)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


#: ``--num-archs`` of a sampled pre-training set: the paper's DARTS run samples 50,000
MAX_SAMPLED_ARCHS = 10 ** 7


def _check_common(args) -> str:
    """Check what both methods take before anything is read or written; return the space's name."""
    from ssnenas.checks import MAX_EPOCHS, check_float, check_int, check_out_file, check_seed, naming_flag
    from ssnenas.errors import InputError, SsnenasError
    from ssnenas.pretrain.checkpoint import read_checkpoint
    from ssnenas.pretrain.runner import resolve_device
    from ssnenas.spaces import get_space

    try:
        space = get_space(args.space).name
    except InputError as exc:
        raise InputError(f"--space {args.space}: {exc}") from None
    check_int("--epochs", args.epochs, maximum=MAX_EPOCHS)
    check_float("--lr", args.lr, minimum=0.0, maximum=10.0, above=True)
    check_seed("--seed", args.seed)
    check_int("--num-archs", args.num_archs, minimum=2, maximum=MAX_SAMPLED_ARCHS)
    resolve_device(args.device)
    out = check_out_file("--out", args.out)
    if out.is_file():  # resumed: it must be a checkpoint (whether of this run is checked with the data)
        try:
            read_checkpoint(out)
        except SsnenasError as exc:
            raise InputError(f"--out {out} exists but is not a checkpoint to resume ({exc}); pass a new "
                             "file path") from None
    if args.data is not None and not os.path.exists(args.data):
        raise naming_flag("--data", args.data, _missing_store(args.data))
    return space


def _missing_store(path: str):
    from ssnenas.errors import StoreError

    return StoreError(f"{path}: no such store; prepare one with `ssnenas data prepare`")


def _data(args, seed: int):
    from ssnenas.checks import naming_flag
    from ssnenas.errors import SsnenasError
    from ssnenas.pretrain.data import load_archs

    try:
        return load_archs(args.space, args.data, num_archs=args.num_archs, seed=seed, dataset=args.dataset)
    except SsnenasError as exc:
        raise naming_flag("--data", args.data, exc) from None


def _given(value, default):
    """The flag's value, or ``default`` when it was not given (0 is a value, refused by the checks,
    not a request for the default)."""
    return default if value is None else value


def _summary(ckpt: dict, out: str) -> None:
    last = ckpt["history"][-1] if ckpt["history"] else {}
    shown = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in last.items()}
    print(f"{ckpt['method']} {ckpt['space']}: {ckpt['epoch']} epoch(s) in {out}; last epoch {shown}")


def _run_ssrl(args) -> int:
    from ssnenas.pretrain.ssrl import DEFAULTS, SEED, SSRLConfig, train_ssrl

    space = _check_common(args)
    seed = SEED if args.seed is None else args.seed
    config = SSRLConfig(epochs=_given(args.epochs, DEFAULTS[space]["epochs"]),
                        lr=_given(args.lr, DEFAULTS[space]["lr"]),
                        batch_size=args.batch_size, train_fraction=args.train_fraction, seed=seed,
                        width=args.width, layers=args.layers, split=args.split, schedule=args.schedule,
                        bias_lr_2x=args.bias_lr_2x, ged=args.ged)
    ckpt = train_ssrl(_data(args, seed), args.out, config=config, device=args.device,
                      progress=not args.no_progress)
    _summary(ckpt, args.out)
    return 0


def _run_ccl(args) -> int:
    from ssnenas.checks import check_int, check_out_dir
    from ssnenas.pretrain.ccl_train import SEED, CCLConfig, preset, train_ccl

    space = _check_common(args)
    check_int("--chunk-elems", args.chunk_elems, maximum=MAX_CHUNK_ELEMS)
    check_int("--workers", args.workers, maximum=MAX_WORKERS)
    check_out_dir("--ray-storage", args.ray_storage)
    n, m, s, k = preset(space, args.preset)
    seed = SEED if args.seed is None else args.seed
    config = CCLConfig(batch_size=_given(args.batch_size, n), train_samples=_given(args.train_samples, m),
                       batch_step=_given(args.batch_step, s), min_negative_size=_given(args.min_negative_size, k),
                       epochs=_given(args.epochs, 300), lr=_given(args.lr, 5e-3), margin=args.margin,
                       temperature=args.temperature, center_weight=args.center_weight, seed=seed,
                       width=args.width, layers=args.layers, dim=args.dim, workers=args.workers)
    data = _data(args, seed)
    progress = not args.no_progress
    if args.workers > 1 or args.use_gpu:  # Ray Train; one in-process worker otherwise
        from ssnenas.pretrain.distributed import train_ccl_ray

        ckpt = train_ccl_ray(data, args.out, config=config, use_gpu=args.use_gpu,
                             storage_path=args.ray_storage, progress=progress,
                             chunk_elems=args.chunk_elems)
    else:
        ckpt = train_ccl(data, args.out, config=config, device=args.device, progress=progress,
                         chunk_elems=args.chunk_elems)
    _summary(ckpt, args.out)
    return 0
