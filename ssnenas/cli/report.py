"""Statistics and plots of a run folder: a benchmark run or a DARTS search.

    ssnenas report RUN [--json] [--plot PNG] [--bars p30p70|sem]

For a benchmark run (``ssnenas benchmark --out RUN``), per algorithm and every 10 queries: mean,
standard deviation (std), standard error of the mean (SEM), 30th and 70th percentiles (P30, P70)
over trials of the best validation accuracy and of the test accuracy of the best-by-validation
architecture (null without a test column). The PNG (default ``RUN/report.png``) is the NPENAS
paper's error-bar plot of that test accuracy (arXiv 2003.12857).

RUN may also be a benchmark report saved with --json (such as experiments/results/benchmark/*.json):
its table is printed and its plot drawn (default: the same name with .png), no run folder needed.

Paired comparisons: each fixed-budget variant (npenas-ssrl-fixed, npenas-ssrl-fixed:20, ...) is
compared with its unrestricted algorithm (npenas-ssrl) when the run has it, or, with --reference ALGO,
every algorithm with ALGO: over the trials both finished, at the last checkpoint, the mean paired
difference of both accuracies ± SEM with a two-sided Wilcoxon signed-rank p-value, and the predictor
fits and fitting seconds per trial with the saving in %. When the run has -fixed:N variants, a second
PNG (default RUN/fixed_budget.png, or the --plot name with -fixed-budget) plots the final accuracy
and the fitting seconds against N.

``"platforms"`` counts the finished tasks per compute platform (processor and torch kernels, e.g.
``cpu Intel(R) Xeon(R) Processor; torch 2.13.0+cpu AVX512``; ``unrecorded`` for tasks of older runs):
a run resumed on, or spread over, other kinds of machine mixes them, and the table says so, because a
seed re-makes a trial bit for bit only on the platform that made it.

For a DARTS search folder (``ssnenas search --out RUN``) it reports the candidates instead:
``{"candidates": [{"genotype", "val_acc", "params", "flops", "train_time", ...}], "best": {...}}``,
with the best-so-far plot (``--plot``, default ``RUN/report.png``) and ``RUN/best_cells.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add ``ssnenas report`` to the top-level parser."""
    from ssnenas.cli import plain

    p = subparsers.add_parser("report", help="tables and plots of a benchmark run or a DARTS search",
                              description=plain(__doc__.strip()),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, metavar="RUN",
                   help="the --out folder of a benchmark run or a DARTS search, or a saved benchmark report .json")
    p.add_argument("--json", action="store_true",
                   help='print JSON: benchmark {"algorithms": {NAME: {"queries": [...], "mean_best_val_acc": '
                        '[...], ...}}}; DARTS search {"candidates": [...], "best": {...}}')
    p.add_argument("--plot", type=Path, default=None, metavar="PNG",
                   help="where to write the plot (default RUN/report.png; for a .json, the same name with .png)")
    p.add_argument("--no-plot", action="store_true", help="do not write the plot")
    p.add_argument("--bars", choices=("p30p70", "sem"), default="p30p70",
                   help="benchmark plot's error bars: P30 to P70 (default, the NPENAS paper's) or mean ± SEM")
    p.add_argument("--reference", default=None, metavar="ALGO",
                   help="compare every other algorithm of the run with ALGO (paired, at the budget); default: "
                        "each fixed-budget variant with its unrestricted algorithm when the run has both")
    p.set_defaults(func=_report)


def _run_kind(run: Path) -> str | None:
    try:
        return json.loads((run / "config.json").read_text()).get("kind")
    except (OSError, ValueError, AttributeError):
        return None  # build_report names the problem


def _search_report(args: argparse.Namespace) -> int:
    from ssnenas.darts.report import build_search_report, format_search_report, write_search_report

    report = build_search_report(args.run) if args.no_plot else write_search_report(args.run, plot=args.plot)
    print(json.dumps(report, sort_keys=True, indent=1) if args.json else format_search_report(report))
    return 0


def _report(args: argparse.Namespace) -> int:
    from ssnenas.checks import check_out_file
    from ssnenas.darts.report import KIND as SEARCH_KIND

    if not args.no_plot:
        check_out_file("--plot", args.plot)

    if _run_kind(args.run) == SEARCH_KIND:
        return _search_report(args)
    from ssnenas.analysis.plots import plot_fixed_budget, plot_report
    from ssnenas.analysis.report import build_report, format_table, read_report_json

    from ssnenas.errors import InputError

    saved = args.run.is_file() and args.run.suffix == ".json"
    if saved and args.reference is not None:
        raise InputError(f"--reference {args.reference}: {args.run} is a saved report, which keeps its own "
                         "comparisons; pass the run folder to compare with another reference")
    report = read_report_json(args.run) if saved else build_report(args.run, reference=args.reference)
    if not args.no_plot:
        title = f"{report['space']} / {report['dataset']}"
        default = args.run.with_suffix(".png") if saved else Path(args.run) / "report.png"
        out = plot_report(report, args.plot or default, title=title, bars=args.bars)
        written = [out]
        study = (out.with_name(out.stem + "-fixed-budget.png") if saved or args.plot
                 else Path(args.run) / "fixed_budget.png")
        study = plot_fixed_budget(report, study, title=f"fixed-budget NPENAS, {title}", bars=args.bars)
        if study is not None:
            written.append(study)
    if args.json:
        print(json.dumps(report, sort_keys=True, indent=1))
    else:
        print(format_table(report))
        if not args.no_plot:
            for out in written:
                print(f"plot: {out}", file=sys.stderr)
    return 0
