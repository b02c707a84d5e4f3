"""Benchmark of the NAS-Bench-101 store: conversion throughput and memory, load time, key lookups.

Generates (once, cached) a synthetic ``nasbench_only108.tfrecord`` in the exact official format:
real, valid, pruned NB101 graphs with their real module hashes (random specs, pruned, deduplicated
by hash), 3 repeats each with made-up accuracies. Where fewer distinct graphs were generated than
models asked for, graphs are reused under distinct synthetic keys (md5 of a counter), flagged in
the output. Then, each in a fresh process so peak RSS is its own:

1. ``prepare_nasbench101`` on it: records/s and peak RSS (targets: >= 40,000 rec/s, <= 1 GiB);
2. ``BenchmarkStore.open`` + key index + ``val_acc``/``test_acc`` columns: seconds and RSS growth
   (targets: <= 1 s, <= 200 MB);
3. batch ``lookup`` of 1,000,000 random keys: lookups/s (target: >= 1,000,000/s).

    python experiments/bench_nb101_store.py              # full size: 423,624 models x 3 repeats
    python experiments/bench_nb101_store.py --models 5000 --json

The measurement itself is ssnenas.measure.store_speed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from ssnenas.measure import store_speed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=store_speed.FULL_MODELS, help="models in the synthetic file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path,
                        default=Path(os.environ.get("SSNENAS_BENCH_CACHE", Path(tempfile.gettempdir()) / "ssnenas-bench")),
                        help="where the generated source file is kept between runs")
    parser.add_argument("--max-draws", type=int, default=240_000,
                        help="random specs hashed to find distinct real graphs (~100 us each); the rest of the "
                             "models reuse those graphs under distinct synthetic keys")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        result = store_speed.measure(args.models, cache_dir=args.cache_dir, seed=args.seed, max_draws=args.max_draws)
    except store_speed.StepFailed as exc:
        raise SystemExit(str(exc)) from None
    print(json.dumps(result, indent=2) if args.json else "\n".join(store_speed.report(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
