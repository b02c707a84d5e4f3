"""``ssnenas data``: prepare benchmark stores from the official files, inspect them, look architectures up.

    ssnenas data prepare nasbench101 --source nasbench_only108.tfrecord [--out DIR]
    ssnenas data prepare nasbench201 --source NAS-Bench-201-v1_1-096897.pth --dataset cifar10-valid
    ssnenas data prepare darts --source nb301_500.csv
    ssnenas data prepare transnas101-micro --source tnb101_micro.csv --dataset class_scene
    ssnenas data info DIR [--json]
    ssnenas data lookup DIR --key KEY_OR_ARCH [--json]

--out defaults to $SSNENAS_DATA/<benchmark>-<dataset>, else $XDG_CACHE_HOME/ssnenas/..., else
~/.cache/ssnenas/<benchmark>-<dataset>. DIR is a store folder, a .parquet file, or a folder whose
sub-folders hold stores (such as the one experiments.prepare_tables writes).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Callable

from ssnenas.spaces import aliases
from ssnenas.store.paths import default_store_dir

_INFO_COLUMNS = ("key", "val_acc", "test_acc")


def register(subparsers: Any) -> None:
    """Add the ``data`` command group to the top-level ``ssnenas`` parser."""
    from ssnenas.cli import plain

    data = subparsers.add_parser("data", help="prepare, inspect and query benchmark stores",
                                 description=plain(__doc__.strip()),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    data.set_defaults(func=lambda args: (data.print_help(), 2)[1])

    prepare = sub.add_parser("prepare", help="convert an official benchmark file into a store",
                             description="Convert an official benchmark file (or a CSV of one) into a store: "
                                         "one Parquet table per benchmark and dataset.")
    psub = prepare.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    prepare.set_defaults(func=lambda args: (prepare.print_help(), 2)[1])

    def out_help(benchmark: str, dataset: str) -> str:
        return (f"output folder (default: $SSNENAS_DATA or ~/.cache/ssnenas, then {benchmark}-{dataset}; "
                f"here {default_store_dir(benchmark, dataset)})")

    p101 = psub.add_parser("nasbench101", aliases=aliases("nasbench101"),
                           help="nasbench_only108.tfrecord, nasbench_full.tfrecord or an NB101 CSV",
                           description="Prepare the NAS-Bench-101 store (cifar10) from the official TFRecord "
                                       "file or a CSV in the nb101_1k.csv layout.")
    p101.add_argument("--source", type=Path, required=True, metavar="FILE",
                      help="nasbench_only108.tfrecord / nasbench_full.tfrecord, or a CSV in the nb101_1k.csv layout")
    p101.add_argument("--out", type=Path, default=None, metavar="DIR", help=out_help("nasbench101", "cifar10"))
    p101.add_argument("--no-crc-check", action="store_true",
                      help="skip the TFRecord CRC32C checks (faster, but corruption goes unnoticed)")
    p101.add_argument("--no-progress", "--quiet", dest="no_progress", action="store_true",
                      help="no progress bar (--quiet is the same)")
    p101.set_defaults(func=_prepare_nasbench101)

    p201 = psub.add_parser("nasbench201", aliases=aliases("nasbench201"),
                           help="NAS-Bench-201 .pth, a NATS-tss folder or an NB201 CSV",
                           description="Prepare the NAS-Bench-201 store of one dataset from the official .pth "
                                       "file, a NATS-tss-v1_0-3ffb9-simple folder or a CSV.")
    p201.add_argument("--source", type=Path, required=True, metavar="FILE",
                      help="NAS-Bench-201-v1_1-096897.pth, a NATS-tss-v1_0-3ffb9-simple folder or a CSV with an "
                           "arch column (e.g. nb201_200epoch.csv)")
    p201.add_argument("--dataset", required=True, metavar="NAME",
                      help="cifar10-valid, cifar100 or ImageNet16-120")
    p201.add_argument("--out", type=Path, default=None, metavar="DIR", help=out_help("nasbench201", "DATASET"))
    p201.add_argument("--val-column", default=None, metavar="C",
                      help="CSV column of validation accuracy (default <dataset>_val_acc)")
    p201.add_argument("--test-column", default=None, metavar="C",
                      help="CSV column of test accuracy (default: none; the command names a test column it left out)")
    p201.add_argument("--trust-pickle", action="store_true",
                      help="allow full unpickling of a trusted .pth file (it can run code)")
    p201.set_defaults(func=_prepare_nasbench201)

    pdarts = psub.add_parser("darts", aliases=aliases("darts"), help="a DARTS-space CSV (nb301_500.csv layout)",
                             description="Prepare a DARTS-space store (cifar10) from a CSV in the nb301_500.csv "
                                         "layout (genotype, val_acc, params_M, flops_M).")
    pdarts.add_argument("--source", type=Path, required=True, metavar="CSV", help="the CSV file")
    pdarts.add_argument("--out", type=Path, default=None, metavar="DIR", help=out_help("darts", "cifar10"))
    pdarts.set_defaults(func=_prepare_darts)

    ptnb = psub.add_parser("transnas101-micro", aliases=aliases("transnas101-micro"),
                           help="TransNAS-Bench-101 micro: a CSV (tnb101_micro.csv layout) or the official .pth",
                           description="Prepare the TransNAS-Bench-101 micro store of one task from a CSV with an "
                                       "arch column (64-41414-a_bc_def) or transnas-bench_v10141024.pth. The "
                                       "metric is higher-is-better but not always percent (SSIM 0..1, negative "
                                       "loss); the store records its name.")
    ptnb.add_argument("--source", type=Path, required=True, metavar="FILE",
                      help="a CSV (e.g. tnb101_micro.csv) or transnas-bench_v10141024.pth")
    ptnb.add_argument("--dataset", "--task", dest="dataset", required=True, metavar="TASK",
                      help="class_object, class_scene, room_layout, jigsaw, segmentsemantic, normal or autoencoder")
    ptnb.add_argument("--out", type=Path, default=None, metavar="DIR", help=out_help("transnas101-micro", "TASK"))
    ptnb.add_argument("--val-column", default=None, metavar="C",
                      help="CSV column (default <task>_valid_<metric>, e.g. class_scene_valid_top1) or .pth metric "
                           "(default valid_top1 / valid_acc / valid_ssim / valid_neg_loss by task)")
    ptnb.add_argument("--test-column", default=None, metavar="C",
                      help="CSV column or .pth metric of the test value (.pth default: the validation metric's test_ twin)")
    ptnb.add_argument("--trust-pickle", action="store_true",
                      help="fully unpickle a trusted .pth that the data-only read refuses (it can run code)")
    ptnb.set_defaults(func=_prepare_transnas101)

    for name, helptext, func in (("info", "summary of a prepared store", _info),
                                 ("lookup", "one architecture's row", _lookup)):
        p = sub.add_parser(name, help=helptext, description=helptext[0].upper() + helptext[1:] + ".")
        p.add_argument("dir", type=Path, metavar="DIR",
                       help="store folder, .parquet file, or a folder whose sub-folders hold stores")
        if name == "lookup":
            p.add_argument("--key", required=True, metavar="KEY_OR_ARCH",
                           help="the store's key (NB101: module hash) or the architecture's string form "
                                "(NB201: |op~0|+|op~0|op~1|+|op~0|op~1|op~2|; NB101: ADJBITS|ops; DARTS: Genotype(...))")
        p.add_argument("--benchmark", default=None, help="select a store of this benchmark when DIR holds several")
        p.add_argument("--dataset", default=None, help="select a store of this dataset when DIR holds several")
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")
        p.set_defaults(func=func)


# -- prepare ----------------------------------------------------------------------------------------
def _prepared(path: Path) -> int:
    from ssnenas.store.table import BenchmarkStore

    store = BenchmarkStore.open(path)
    print(f"wrote {path} ({_archs_text(store)}, {store.benchmark}/{store.dataset})")
    left = store.metadata.get("test_columns_left_out")
    if left:
        print(f"note: no test accuracy stored; the CSV has {', '.join(left)}: add --test-column {left[0]} "
              "to include it")
    return 0


def _source_rows(store: Any) -> tuple[int | None, int | None]:
    """(rows of the source, rows merged into an architecture listed earlier), from the metadata or,
    for NB101 CSV stores written before it recorded them, from the ``num_rows`` column."""
    meta = store.metadata
    rows, merged = meta.get("num_source_rows"), meta.get("merged_duplicate_rows")
    if rows is None and meta.get("source_format") == "csv" and "num_rows" in store.columns:
        rows = int(store.column("num_rows").sum())
        merged = rows - store.num_archs
    return rows, merged


def _archs_text(store: Any, unit: str = " architectures") -> str:
    """``N architectures`` and, when the source repeated some, how many rows it had."""
    n = f"{store.num_archs:,}" if not unit else str(store.num_archs)
    rows, merged = _source_rows(store)
    if rows and merged:
        return (f"{n} distinct{unit} from {rows} source rows; {merged} rows repeated an architecture "
                "and were averaged into it")
    return f"{n}{unit}"


def _prepare(args: argparse.Namespace, out: Path, convert: Callable[[Path], Path]) -> int:
    """Check --out before the source is read (a file there, or a place under a file, is refused
    at once), run ``convert(out)`` and name --source in an error about the source file."""
    from ssnenas.checks import check_out_dir, naming_flag
    from ssnenas.errors import SsnenasError

    out = check_out_dir("--out", out)
    try:
        path = convert(out)
    except SsnenasError as exc:
        raise naming_flag("--source", args.source, exc) from None
    return _prepared(path)


def _prepare_nasbench101(args: argparse.Namespace) -> int:
    from ssnenas.store.nasbench101 import BENCHMARK, DATASET, prepare_nasbench101

    return _prepare(args, args.out or default_store_dir(BENCHMARK, DATASET),
                    lambda out: prepare_nasbench101(args.source, out, check_crc=not args.no_crc_check,
                                                    progress=False if args.no_progress else None))


def _prepare_nasbench201(args: argparse.Namespace) -> int:
    from ssnenas.store.nasbench201 import prepare_nasbench201

    return _prepare(args, args.out or default_store_dir("nasbench201", args.dataset),
                    lambda out: prepare_nasbench201(args.source, args.dataset, out, val_column=args.val_column,
                                                    test_column=args.test_column, trust_pickle=args.trust_pickle))


def _prepare_darts(args: argparse.Namespace) -> int:
    from ssnenas.store.nasbench201 import prepare_darts_csv

    return _prepare(args, args.out or default_store_dir("darts", "cifar10"),
                    lambda out: prepare_darts_csv(args.source, out))


def _prepare_transnas101(args: argparse.Namespace) -> int:
    from ssnenas.store.transnas101 import BENCHMARK, check_task, prepare_transnas101

    return _prepare(args, args.out or default_store_dir(BENCHMARK, check_task(args.dataset)),
                    lambda out: prepare_transnas101(args.source, args.dataset, out, val_column=args.val_column,
                                                    test_column=args.test_column, trust_pickle=args.trust_pickle))


# -- info / lookup ----------------------------------------------------------------------------------
def _open(args: argparse.Namespace):
    from ssnenas.errors import InputError
    from ssnenas.spaces import canonical_name
    from ssnenas.store.table import BenchmarkStore

    try:
        benchmark = canonical_name(args.benchmark) if args.benchmark else None
    except InputError as exc:
        raise InputError(f"--benchmark {args.benchmark}: {exc}") from None
    return BenchmarkStore.open(args.dir, benchmark=benchmark, dataset=args.dataset)


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
        "num_source_rows": _source_rows(store)[0],
        "merged_duplicate_rows": _source_rows(store)[1],
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
            ("architectures", _archs_text(store, unit="")), ("best key (val)", best["key"]),
            (f"best val_acc ({meta.get('metric_label', '%')})", _fmt(best.get("val_acc"))),
            ("best test_acc (" + ("the same metric, test split" if "metric_label" in meta else "%") + ")",
             _fmt(best.get("test_acc"))),
            ("best arch", best.get("arch")), ("source", info["source"]),
            ("source sha256", info["source_fingerprint"]), ("converter", info["converter_version"]),
            ("created", info["created"]), ("file", info["path"]), ("columns", ", ".join(info["columns"]))]
    _print_table(rows)
    return 0


def _lookup(args: argparse.Namespace) -> int:
    store = _open(args)
    row = {k: _jsonable(v) for k, v in store.row(_key_of(store, args.key)).items()}
    if args.json:
        print(json.dumps(row))
        return 0
    _print_table([(k, _fmt(v)) for k, v in row.items()])
    return 0


def _key_of(store: Any, text: str) -> str:
    """The store key ``text`` names: a key itself, or an architecture string (parsed by the store's
    space); a string that is neither says it is malformed and shows the expected form."""
    from ssnenas.errors import InputError, StoreError

    if text in store:
        return text
    try:
        key = store.space.key(store.space.from_str(text))
    except InputError as exc:
        raise InputError(f"--key {text!r} is not in the {store.benchmark}/{store.dataset} store as a key, and as an "
                         f"architecture string it is {exc}") from None
    if key not in store:
        raise StoreError(f"--key {text!r}: a valid {store.space.name} architecture (key {key}) that is not in the "
                         f"{store.benchmark}/{store.dataset} store {store.path}")
    return key


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
