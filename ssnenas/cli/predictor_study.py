"""``ssnenas predictor-study``: rank correlation of GIN predictors vs training-set size (SSNENAS, arXiv 2011.00186).

    ssnenas predictor-study --space nasbench201 --data STORE --predictors gin ss-rl=rl.pt ss-ccl=ccl.pt \\
        --train-sizes 20 50 100 150 200 --repeats 20 --seed 0 --out study/ [--json]

For every predictor, training size and repeat: fine-tune on a random sample of labelled architectures
(the same sample for every predictor of a repeat), predict all the others, report Kendall τ and
Spearman ρ. Re-running the same command resumes: finished cells in --out are kept.
"""

from __future__ import annotations

import argparse
import json
import sys

#: --threads: torch CPU threads (more than any machine's cores is a typo)
MAX_THREADS = 4096


def register(subparsers: argparse._SubParsersAction) -> None:
    from ssnenas.cli import plain

    p = subparsers.add_parser("predictor-study", help="Kendall tau / Spearman rho of GIN predictors vs "
                              "training-set size (supervised, SS-RL, SS-CCL)", description=plain(__doc__.strip()),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--space", required=True, help="nasbench101, nasbench201, darts or transnas101-micro (also "
                   "nasbench_101, nasbench_201, nb101, nb201, nb301, tnb101-micro)")
    p.add_argument("--data", required=True, help="prepared benchmark store (folder or .parquet)")
    p.add_argument("--dataset", default=None, help="which store of a --data folder holding several")
    p.add_argument("--predictors", nargs="+", required=True, metavar="P",
                   help="gin (random-init GIN, the supervised baseline), ss-rl=CKPT, ss-ccl=CKPT; "
                        "kind:label=CKPT compares several checkpoints of one kind; baselines trained from "
                        "scratch with their papers' recipes: np-nas, seminas, mlp, bananas")
    p.add_argument("--train-sizes", nargs="+", type=int, default=[20, 50, 100, 150, 200], metavar="N",
                   help="training-set sizes (default 20 50 100 150 200)")
    p.add_argument("--repeats", type=int, default=20, help="random splits per size (default 20)")
    p.add_argument("--seed", type=int, default=0, help="base seed of every split and fit (default 0)")
    p.add_argument("--out", required=True, help="output folder; finished cells there are reused")
    p.add_argument("--epochs", type=int, nargs="+", default=[300], metavar="E",
                   help="GIN fine-tuning epochs, one value or a grid (e.g. 50 100 150 200 250 300, the "
                        "original sweep; default 300); the baselines always use their own recipe's epochs")
    p.add_argument("--baseline-epochs", type=int, default=None, metavar="E",
                   help="train every baseline for E epochs instead of its recipe's (a reduced-cost study)")
    p.add_argument("--lr", nargs="+", action="extend", default=None, metavar="NAME=VALUE",
                   help="override the lr of a predictor name or kind (defaults: gin 5e-3 on nasbench101/darts, 1e-3 "
                        "on nasbench201; ss-rl 5e-4 on nasbench101/darts, 1e-3 on nasbench201; ss-ccl 5e-3)")
    p.add_argument("--batch-size", type=int, default=64, help="mini-batch size (default 64)")
    p.add_argument("--weight-decay", type=float, default=1e-4, help="coupled L2 (default 1e-4)")
    p.add_argument("--schedule", choices=("cosine", "legacy"), default="cosine",
                   help="per-step cosine over the true step count (default) or the original code's CosineLR")
    p.add_argument("--bias-lr-2x", action="store_true", help="as the original code: biases get 2x the lr and no weight decay")
    p.add_argument("--target", default="val_acc", help="store column to predict (default val_acc: the store's "
                   "metric, percent or what its metadata says)")
    p.add_argument("--baseline", default="gin", help="predictor the paired tests compare against (default gin)")
    p.add_argument("--group-size", type=int, default=0,
                   help="repeats trained at once by the batched engine (default 0: all of a predictor/size)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: the per-step tensors are tiny, and extra intra-op "
                        "threads made CPU fits 10-20x slower on a busy 2-core machine; 0 keeps torch's default)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--no-progress", "--quiet", dest="no_progress", action="store_true",
                   help="no progress bar (--quiet is the same)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ssnenas.checks import check_int, check_out_dir
    from ssnenas.errors import InputError
    from ssnenas.predictors.fit import resolve_device
    from ssnenas.predstudy import StudyConfig, parse_lr_overrides, parse_predictors
    from ssnenas.spaces import get_space

    try:
        space = get_space(args.space).name
    except InputError as exc:
        raise InputError(f"--space {args.space}: {exc}") from None
    config = StudyConfig(train_sizes=tuple(args.train_sizes), repeats=args.repeats, seed=args.seed,
                         epochs=tuple(args.epochs), batch_size=args.batch_size, weight_decay=args.weight_decay,
                         schedule=args.schedule, bias_lr_2x=args.bias_lr_2x, target=args.target,
                         group_size=args.group_size, baseline_epochs=args.baseline_epochs)
    specs = parse_predictors(args.predictors, space=space, lr_overrides=parse_lr_overrides(args.lr))
    if args.baseline != "gin" and args.baseline not in {s.name for s in specs}:
        raise InputError(f"--baseline {args.baseline}: not one of --predictors "
                         f"({', '.join(s.name for s in specs)})")
    out = check_out_dir("--out", args.out)
    check_int("--threads", args.threads, minimum=0, maximum=MAX_THREADS, hint=" (0 keeps torch's default)")
    try:
        device = resolve_device(args.device)
    except RuntimeError as exc:
        raise InputError(f"--device {args.device}: {exc}; use auto, cpu or cuda[:i]") from None
    import torch

    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {args.device}: CUDA is not available here; use --device auto or cpu")
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _study(args, space, config, specs, out, device)
    finally:
        torch.set_num_threads(threads)


def _study(args: argparse.Namespace, space: str, config, specs, out, device) -> int:
    from ssnenas.predstudy import config_dict, format_table, load_data, load_predictors, run_study, write_outputs
    from ssnenas.checks import naming_flag
    from ssnenas.errors import SsnenasError
    from ssnenas.predstudy.study import check_sizes
    from ssnenas.store.table import BenchmarkStore

    try:
        store = BenchmarkStore.open(args.data, dataset=args.dataset)
    except SsnenasError as exc:
        raise naming_flag("--data", args.data, exc) from None
    data = load_data(store, space=space, target=args.target, device=device)
    check_sizes(data, config.train_sizes, f"--data {args.data}")
    predictors = load_predictors(specs, space=space, num_features=data.num_features)
    out.mkdir(parents=True, exist_ok=True)
    rows = run_study(data, predictors, out, config=config, device=device, progress=not args.no_progress)
    meta = {"space": space, "benchmark": data.benchmark, "dataset": data.dataset, "data": str(store.path),
            "data_fingerprint": data.fingerprint, "num_archs": data.num_archs,
            "num_labelled": int(data.labelled.size), "device": str(device),
            "predictors": [{"name": p.spec.name, "kind": p.spec.kind, "lr": p.spec.lr,
                            "checkpoint": None if p.spec.checkpoint is None else str(p.spec.checkpoint),
                            "checkpoint_sha256": p.checkpoint_sha256 or None} for p in predictors],
            **config_dict(config), "baseline": args.baseline, "threads": args.threads,
            "cells_computed": sum(not r["resumed"] for r in rows),
            "cells_resumed": sum(bool(r["resumed"]) for r in rows)}
    payload = write_outputs(out, rows, meta=meta, baseline=args.baseline)
    if args.json:
        json.dump(payload, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(format_table(payload))
        print(f"\n{meta['cells_computed']} cell(s) computed, {meta['cells_resumed']} reused; files in {out}")
    return 0
