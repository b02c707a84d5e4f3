"""``ssnenas search``: the open-domain DARTS search with real candidate training on Ray Tune.

The command's half of the search: its help, its output, and the built-in searchers
(``search_algos.make_searcher``, asynchronous twin with ``--async``) and trainable
(``trainables.darts.DartsTrainable``) that it hands to the library's driver,
:func:`ssnenas.darts.search.run_search`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ssnenas.cli import add_command
from ssnenas.darts.search import SearchConfig, SearchInterrupted, add_arguments, resolve_settings
from ssnenas.darts.search import run_search as run_search_with
from ssnenas.stop_signals import say_if_sigint_ignored

HELP = """Open-domain DARTS search with real candidate training on Ray Tune.

NPENAS (arXiv 2003.12857) proposes DARTS cells; each candidate is one Ray Tune trial that trains the
cell's network, reporting its validation accuracy every epoch; the searcher maximises each candidate's
best validation accuracy. The best candidate is the finished one with the highest score = (best val +
mean of the last 5 epochs' val) / 2, as in the paper. With no arguments: a small search on scikit-learn's
8x8 digits (16 candidates of 6 epochs; about 2 minutes on 2 CPU cores). Re-running the same command
resumes an interrupted search without training finished candidates again; it reads only the run folder's
own records (no pickles), so a folder someone sent cannot run code.

Writes RUN/config.json, RUN/searcher.pt, RUN/candidates.json (every candidate and the best),
RUN/report.png, RUN/best_cells.png and RUN/tune/. See the project's README, section "Open-domain DARTS
search"."""


def make_search_searcher(config: SearchConfig) -> Any:
    """The searcher of ``config`` from the built-in registry (asynchronous twin with ``--async``)."""
    from search_algos import canonical_algorithm, make_searcher
    from search_algos.asynchronous import asynchronous

    from ssnenas.errors import InputError, SsnenasError

    try:
        canonical_algorithm(config.algorithm)
    except SsnenasError as exc:  # the library names the algorithm; the command knows the flag
        raise InputError(f"--algorithm {config.algorithm}: {exc}") from None
    from ssnenas.runner.config import checkpoint_kind

    kind = checkpoint_kind(config.algorithm)
    if kind is not None and config.predictor is None:
        raise InputError(f"--algorithm {config.algorithm} fine-tunes a pre-trained {kind.upper()} encoder and no "
                         f"--predictor was given; pass --predictor {kind}=FILE (make one with `ssnenas pretrain "
                         f"{kind} --space darts --out FILE`)")
    overrides: dict[str, Any] = {"num_init": config.num_init, "k": config.k}
    if config.predictor_epochs:
        overrides["epochs"] = config.predictor_epochs
    searcher = make_searcher(config.algorithm, space="darts", store=None, seed=config.seed, budget=config.budget,
                             predictor_checkpoint=config.predictor, metric="best_val_acc", mode="max",
                             **overrides)
    return asynchronous(searcher) if config.asynchronous else searcher


def run_search(config: SearchConfig, out: str | os.PathLike | None = None, **overrides: Any) -> dict[str, Any]:
    """:func:`ssnenas.darts.search.run_search` with the built-in searchers and the DARTS trainable."""
    from trainables.darts import DartsTrainable

    return run_search_with(config, out, make_searcher=make_search_searcher, trainable=DartsTrainable, **overrides)


def _command(args: argparse.Namespace) -> int:
    from ssnenas.runlock import check_free

    if Path(args.out).is_dir():
        check_free(args.out)  # a folder another command holds (ssnenas.runlock): refused at once
    config = resolve_settings(args)
    say_if_sigint_ignored()
    try:
        summary = run_search(config)
    except SearchInterrupted as exc:
        print(f"interrupted: {exc.finished} of {exc.budget} candidates finished and are kept in {config.out}; "
              "re-run the same command to resume", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"interrupted; finished candidates are kept in {config.out}: re-run the same command to resume",
              file=sys.stderr)
        return 130
    out = Path(config.out).resolve()
    best = summary["best"]
    plan = summary.get("packing")
    packed = (f", {plan['candidates_per_gpu']} candidates per GPU" if plan else "")
    print(f"{summary['finished']}/{config.budget} candidates trained on {config.data} in "
          f"{summary['wall_time_s']:.1f} s ({'resumed' if summary['resumed'] else 'new run'}; "
          f"{summary['max_concurrent_trials']} at once{packed}"
          f"{', asynchronous proposals' if config.asynchronous else ''})")
    if best is None:
        print("error: no candidate finished; rerun the same command to resume", file=sys.stderr)
        return 1
    print(f"best genotype (highest score, candidate #{best['index']}): {best['genotype']}")
    print(f"best: val acc {best['val_acc']:.2f}%, score {best['score']:.2f}, test acc {best['test_acc']:.2f}%, "
          f"params {best['params']}, flops {best['flops']}")
    print(f"results: {out / 'candidates.json'}; plots: {summary['plots']['best_so_far']}, "
          f"{summary['plots'].get('best_cells')}; Tune experiment: {out / 'tune'}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``ssnenas search``."""
    add_command(subparsers, "search", help="open-domain DARTS search with real training (default: digits)",
                doc=HELP.replace("\n\n", "\n \n"), add_arguments=add_arguments, func=_command)
