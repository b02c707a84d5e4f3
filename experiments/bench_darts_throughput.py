"""Candidate-training throughput on whatever device is present: step modes, the Ray path against a
plain loop, packed candidates, slot-time busy of sync vs async NPENAS, and the projected paper search.

What each part measures (single step modes, packed candidates, busy, projection) is described in
ssnenas.measure.darts_throughput, which does the measuring; this script parses, calls it and prints.

    python -m experiments.bench_darts_throughput --json > bench.json     # GPU: the full measurement
    python -m experiments.bench_darts_throughput --images-per-batch 200 --epochs 2 --pack 1 2   # CPU check

With ``--json`` the JSON document is the only thing on stdout (progress and Ray's output go to stderr).
"""

from __future__ import annotations

import argparse
import json
import sys

# re-exported: tests and experiments/gpu_check.sh use them from here
from ssnenas.measure.darts_throughput import (DARTS_V2, PAPER_SEARCH, Options, SimulatedSearch,  # noqa: F401
                                              projection, run, stdout_to_stderr, write_synthetic_cifar)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images-per-batch", type=int, default=10_000,
                   help="images per CIFAR batch file (default 10,000 = CIFAR-10's size: 25k train / 25k val)")
    p.add_argument("--epochs", type=int, default=3, help="epochs per measurement (default 3; the first is a warm-up)")
    p.add_argument("--channels", type=int, default=16, help="initial channels C (default 16)")
    p.add_argument("--layers", type=int, default=8, help="cells (default 8)")
    p.add_argument("--batch-size", type=int, default=64, help="training batch (default 64)")
    p.add_argument("--precisions", nargs="+", default=None, help="fp32 and/or bf16 (default: both on GPU, fp32 on CPU)")
    p.add_argument("--modes", nargs="+", default=None,
                   help="step modes of the plain loop (default: eager graph compile compile-graph on GPU, eager on CPU)")
    p.add_argument("--ray-modes", nargs="*", default=None,
                   help="step modes also measured as a Tune trial (default: auto, i.e. graph on GPU, eager on CPU)")
    p.add_argument("--pack", nargs="*", type=int, default=None,
                   help="candidates trained at once (default 1 2 4 8 16 on GPU, 1 2 on CPU; none: skip)")
    p.add_argument("--pack-mode", default="auto", help="step mode of the packed candidates (default auto)")
    p.add_argument("--pack-precision", default=None, help="precision of the packed candidates (default: bf16 on GPU)")
    p.add_argument("--store", default=None, help="a NAS-Bench-201 store folder: also measure sync vs async busy time")
    p.add_argument("--busy-budget", type=int, default=100, help="trials of each simulated search (default 100)")
    p.add_argument("--busy-predictor-epochs", type=int, default=20,
                   help="predictor epochs per fit in the simulated searches (default 20; 0: the paper's 300)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (CPU runs; default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout (and nothing else)")
    args = p.parse_args(argv)
    opts = Options(**{k: v for k, v in vars(args).items() if k != "json"})
    if args.json:
        with stdout_to_stderr() as real_stdout:
            out = _run(opts)
        real_stdout.write(json.dumps(out, indent=1) + "\n")
        real_stdout.flush()
    else:
        _run(opts)
    return 0


def _run(opts: Options) -> dict:
    """The library's measurement with the DARTS trainable and (for --store) the searchers passed in."""
    trainable = None
    if opts.ray_modes is None or opts.ray_modes:
        from trainables.darts import DartsTrainable as trainable
    simulation = None
    if opts.store:
        from search_algos import make_searcher
        from search_algos.asynchronous import asynchronous
        from search_algos.simulated import nb201_duration, run_simulated
        from trainables.tabular import tabular_evaluator

        simulation = SimulatedSearch(make_searcher, asynchronous, run_simulated, nb201_duration, tabular_evaluator)
    return run(opts, trainable=trainable, simulation=simulation)


if __name__ == "__main__":
    sys.exit(main())
