"""``ssnenas data``: prepare benchmark stores from the official files, inspect them, look keys up.

    ssnenas data prepare nasbench101 --source nasbench_only108.tfrecord [--out DIR]
    ssnenas data prepare nasbench201 --source NAS-Bench-201-v1_1-096897.pth --dataset cifar10-valid
    ssnenas data prepare darts --source nb301_500.csv
    ssnenas data info DIR [--json]
    ssnenas data lookup DIR --key KEY [--json]

``--out`` defaults to ``data_home()/<benchmark>-<dataset>`` (``$SSNENAS_DATA`` or ~/.cache/ssnenas).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from ssnenas.store.paths import default_store_dir

_INFO_COLUMNS = ("key", "val_acc", "test_acc")


def register(subparsers: Any) -> None:
    """Add the ``data`` command group to the top-level ``ssnenas`` parser."""
    data = subparsers.add_parser("data", help="prepare, inspect and query benchmark stores",
                                 description=__doc__.splitlines()[0])
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    data.set_defaults(func=lambda args: (data.print_help(), 2)[1])

    prepare = sub.add_parser("prepare", help="convert an official benchmark file into a store")
    psub = prepare.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    prepare.set_defaults(func=lambda args: (prepare.print_help(), 2)[1])

    p101 = psub.add_parser("nasbench101", help="nasbench_only108.tfrecord, nasbench_full.tfrecord or an NB101 CSV")
    p101.add_argument("--source", type=Path, required=True, metavar="FILE",
                      help="nasbench_only108.tfrecord / nasbench_full.tfrecord, or a CSV in the nb101_1k.csv layout")
    p101.add_argument("--out", type=Path, default=None, metavar="DIR",
                      help="output folder (default: data_home()/nasbench101-cifar10)")
    p101.add_argument("--no-crc-check", action="store_true",
                      help="skip the TFRecord CRC32C checks (faster, but corruption goes unnoticed)")
    p101.add_argument("--quiet", action="store_true", help="no progress bar")
    p101.set_defaults(func=_prepare_nasbench101)

    p201 = psub.add_parser("nasbench201", help="NAS-Bench-201 .pth, a NATS-tss folder or an NB201 CSV")
    p201.add_argument("--source", type=Path, required=True, metavar="FILE")
    p201.add_argument("--dataset", required=True, metavar="NAME",
                      help="cifar10-valid, cifar100 or ImageNet16-120")
    p201.add_argument("--out", type=Path, default=None, metavar="DIR",
                      help="output folder (default: data_home()/nasbench201-<dataset>)")
    p201.add_argument("--val-column", default=None, metavar="C", help="CSV column of validation accuracy")
    p201.add_argument("--test-column", default=None, metavar="C", help="CSV column of test accuracy")
    p201.add_argument("--trust-pickle", action="store_true",
                      help="allow full unpickling of a trusted .pth file (it can run code)")
    p201.set_defaults(func=_prepare_nasbench201)

    pdarts = psub.add_parser("darts", help="a DARTS-space CSV (nb301_500.csv layout)")
    pdarts.add_argument("--source", type=Path, required=True, metavar="CSV")
    pdarts.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="output folder (default: data_home()/darts-cifar10)")
    pdarts.set_defaults(func=_prepare_darts)

    for name, helptext, func in (("info", "summary of a prepared store", _info),
                                 ("lookup", "one architecture's row", _lookup)):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("dir", type=Path, metavar="DIR", help="store folder (or .parquet file)")
        if name == "lookup":
            p.add_argument("--key", required=True, help="architecture key (NB101: module hash)")
        p.add_argument("--benchmark", default=None, help="select a store when DIR holds several")
        p.add_argument("--dataset", default=None, help="select a store when DIR holds several")
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")
        p.set_defaults(func=func)


# -- prepare ----------------------------------------------------------------------------------------
def _prepared(path: Path) -> int:
    from ssnenas.store.table import BenchmarkStore

    store = BenchmarkStore.open(path)
    print(f"wrote {path} ({store.num_archs} architectures, {store.benchmark}/{store.dataset})")
    return 0


def _prepare_nasbench101(args: argparse.Namespace) -> int:
    from ssnenas.store.nasbench101 import BENCHMARK, DATASET, prepare_nasbench101

    out = args.out or default_store_dir(BENCHMARK, DATASET)
    path = prepare_nasbench101(args.source, out, check_crc=not args.no_crc_check,
                               progress=False if args.quiet else None)
    return _prepared(path)


def _prepare_nasbench201(args: argparse.Namespace) -> int:
    from ssnenas.store.nasbench201 import prepare_nasbench201

    out = args.out or default_store_dir("nasbench201", args.dataset)
    path = prepare_nasbench201(args.source, args.dataset, out, val_column=args.val_column,
                               test_column=args.test_column, trust_pickle=args.trust_pickle)
    return _prepared(path)


def _prepare_darts(args: argparse.Namespace) -> int:
    from ssnenas.store.nasbench201 import prepare_darts_csv

    out = args.out or default_store_dir("darts", "cifar10")
    path = prepare_darts_csv(args.source, out)
    return _prepared(path)


# -- info / lookup ----------------------------------------------------------------------------------
def _open(args: argparse.Namespace):
    from ssnenas.store.table import BenchmarkStore

    return BenchmarkStore.open(args.dir, benchmark=args.benchmark, dataset=args.dataset)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _info(args: argparse.Namespace) -> int:
    store = _open(args)
    best = store.best("val_acc")
    meta = store.metadata
    info = {
        "benchmark": store.benchmark,
        "dataset": store.dataset,
        "num_archs": store.num_archs,
        "best": {c: _jsonable(best.get(c)) for c in _INFO_COLUMNS} | {"arch": best.get("arch")},
        "path": str(store.path),
        "source": meta.get("source"),
        "source_fingerprint": store.fingerprint,
        "converter_version": meta.get("converter_version"),
        "schema_version": meta.get("schema_version"),
        "created": meta.get("created"),
        "space": meta.get("space"),
        "columns": store.columns,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    rows = [("benchmark", info["benchmark"]), ("dataset", info["dataset"]),
            ("architectures", f"{info['num_archs']:,}"), ("best key (val)", best["key"]),
            ("best val_acc (%)", _fmt(best.get("val_acc"))), ("best test_acc (%)", _fmt(best.get("test_acc"))),
            ("best arch", best.get("arch")), ("source", info["source"]),
            ("source sha256", info["source_fingerprint"]), ("converter", info["converter_version"]),
            ("created", info["created"]), ("file", info["path"]), ("columns", ", ".join(info["columns"]))]
    _print_table(rows)
    return 0


def _lookup(args: argparse.Namespace) -> int:
    store = _open(args)
    row = {k: _jsonable(v) for k, v in store.row(args.key).items()}
    if args.json:
        print(json.dumps(row))
        return 0
    _print_table([(k, _fmt(v)) for k, v in row.items()])
    return 0


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def _print_table(rows: list[tuple[str, Any]]) -> None:
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        sys.stdout.write(f"{k:<{width}}  {v}\n")
