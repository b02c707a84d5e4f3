"""Prepare the public benchmark tables into stores and print a summary of each.

The foundation's "main job" until the DARTS search lands:

    python -m experiments.prepare_tables --shared ../shared/data [--out DIR] [--json]

It converts every table it finds (NB201 200-epoch cifar10-valid and cifar100, NB101 1k and 500
subsets, the DARTS 500 genotypes) with the same code as ``ssnenas data prepare`` and prints
benchmark, dataset, size and the best architecture by validation accuracy. Re-running rewrites the
stores atomically.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ssnenas.errors import InputError, SsnenasError
from ssnenas.store.nasbench101 import prepare_nasbench101
from ssnenas.store.nasbench201 import prepare_darts_csv, prepare_nasbench201
from ssnenas.store.paths import data_home
from ssnenas.store.table import BenchmarkStore

# (name, relative CSV path, preparer); NB201 columns per shared/data/README.md
TABLES = (
    ("nb201-cifar10-valid", "nasbench201/nb201_200epoch.csv",
     lambda src, out: prepare_nasbench201(src, "cifar10-valid", out, val_column="cifar10-valid_val_acc",
                                          test_column="cifar10_test_acc")),
    ("nb201-cifar100", "nasbench201/nb201_200epoch.csv",
     lambda src, out: prepare_nasbench201(src, "cifar100", out, val_column="cifar100_val_acc")),
    ("nb101-1k", "nasbench101/nb101_1k.csv", lambda src, out: prepare_nasbench101(src, out, progress=False)),
    ("nb101-500", "nasbench101/nb101_500.csv", lambda src, out: prepare_nasbench101(src, out, progress=False)),
    ("darts-500", "darts/nb301_500.csv", prepare_darts_csv),
)


def prepare_all(shared: Path, out: Path) -> list[dict]:
    """Prepare each table found under ``shared`` into ``out/<name>`` and summarise it."""
    if not shared.is_dir():
        raise InputError(f"--shared {shared}: no such folder; pass the folder holding nasbench201/, "
                         "nasbench101/ and darts/ (../shared/data in the development checkout)")
    summary = []
    for name, relative, prepare in TABLES:
        source = shared / relative
        if not source.exists():
            continue
        start = time.perf_counter()
        path = prepare(source, out / name)
        store = BenchmarkStore.open(path)
        best = store.best()
        summary.append({"name": name, "benchmark": store.benchmark, "dataset": store.dataset,
                        "num_archs": store.num_archs, "best_key": best["key"],
                        "best_val_acc": best["val_acc"], "best_test_acc": best.get("test_acc"),
                        "seconds": round(time.perf_counter() - start, 2), "path": str(path)})
    if not summary:
        raise InputError(f"--shared {shared}: none of the known tables was found there")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"),
                        help="folder holding nasbench201/, nasbench101/ and darts/ (default ../shared/data)")
    parser.add_argument("--out", type=Path, default=None,
                        help="root of the store folders, one per table (default: $SSNENAS_DATA/shared, else "
                             f"~/.cache/ssnenas/shared; here {data_home() / 'shared'})")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    try:
        summary = prepare_all(args.shared, args.out or data_home() / "shared")
    except SsnenasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{'table':<22}{'archs':>8}  {'best val':>9}  {'its test':>9}  seconds  store")
    for row in summary:
        test = "-" if row["best_test_acc"] is None else f"{row['best_test_acc']:.2f}"
        print(f"{row['name']:<22}{row['num_archs']:>8}  {row['best_val_acc']:>9.2f}  {test:>9}  "
              f"{row['seconds']:>7.2f}  {row['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
