"""Closed-domain benchmark runs, as in the NPENAS (arXiv 2003.12857) and SSNENAS (arXiv 2011.00186)
papers: T paired trials of every algorithm on a tabular benchmark, one Ray task per (trial,
algorithm), spread over every CPU/GPU of a Ray cluster. Re-running the same command resumes.

    ssnenas benchmark --space nasbench201 --data ~/.cache/ssnenas/shared/nb201-cifar10-valid \\
        --algos random rea npenas-np --trials 600 --budget 100 --seed 0 --out runs/nb201
    python -m experiments.benchmark ...            # the same command
    ssnenas report runs/nb201                      # tables and the error-bar plot

--data is a store folder: `python -m experiments.prepare_tables` writes the public tables to
~/.cache/ssnenas/shared/<name> ($SSNENAS_DATA/shared/<name> when set), `ssnenas data prepare`
to ~/.cache/ssnenas/<benchmark>-<dataset>.

Every algorithm of a trial starts from the same initial architectures; each (trial, algorithm) gets
its own recorded seed; each finished trial is written at once to RUN/results/ (a rerun skips it).
--algos naming all of a run's algorithms plus new ones extends the run on the same paired trials.
Cohorts (--cohort-size) run C trials of one algorithm in lockstep, their predictor fits batched, with
the results of one trial per task; a cohort lost with its worker is retried as smaller cohorts.
--trials larger than the run's grows it: only the new trials run, with the results a run made at
that size has. Every task checkpoints its trials' searches (every 30 s of search) through the driver
into RUN/checkpoints/: a lost task, or a run whose driver was stopped or killed, continues each
trial from its last checkpoint, with the results of an uninterrupted run.
One command at a time works in RUN: it holds RUN/.lock for its whole run, and a second command into
RUN exits 2 naming the first. Ctrl-C keeps every finished trial and the checkpoints; the same command
resumes. The driver is ssnenas.runner.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ssnenas.cli import add_command
from ssnenas.runner.config import INITIAL_SAMPLING, BenchmarkConfig, parse_assignments, parse_overrides


def registry() -> Any:
    """The search algorithms the command runs: ``search_algos.REGISTRY`` (imported when the command
    runs, so that ``ssnenas --help`` stays quick)."""
    import search_algos

    return search_algos.REGISTRY


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", required=True, help="nasbench101, nasbench201, darts or transnas101-micro "
                   "(also nasbench_101, nb101, tnb101-micro, ...)")
    p.add_argument("--data", required=True, type=Path, metavar="DIR",
                   help="prepared store folder of that space (experiments.prepare_tables or `ssnenas data prepare`)")
    p.add_argument("--dataset", default=None, help="select the store when DIR holds several")
    p.add_argument("--algos", required=True, nargs="+", metavar="ALGO",
                   help="random, rea, local-search, bananas, bananas-mape, npenas-np, npenas-bo, npenas-ssrl, "
                        "npenas-ssccl (+ -fixed; a -fixed one may add :N, its training_nums: npenas-ssrl-fixed:20), "
                        "ssnenas-plus")
    p.add_argument("--trials", required=True, type=int, help="paired trials per algorithm (paper: 600)")
    p.add_argument("--budget", required=True, type=int, help="queries per search (paper: 150 NB101, 100 NB201)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0); task seeds are derived and recorded")
    p.add_argument("--out", required=True, type=Path, metavar="RUN",
                   help="run folder (resumed if it exists; --algos may name more algorithms and --trials more "
                   "trials than the run has, to add them)")
    p.add_argument("--address", default=None,
                   help="join a running Ray cluster ('auto' or HOST:PORT); default: start a local Ray")
    p.add_argument("--gpus-per-task", type=float, default=0.0, metavar="F",
                   help="GPU fraction per task (0: CPU only); tasks then search on cuda")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: all)")
    p.add_argument("--predictor", nargs="+", default=[], metavar="KIND=CKPT",
                   help="pre-trained predictor checkpoints: ss-rl=CKPT ss-ccl=CKPT")
    p.add_argument("--set", nargs="+", default=[], metavar="[ALGO:]KEY=VALUE", dest="overrides",
                   help="searcher settings (JSON values), for every algorithm or one: epochs=50 npenas-np:lr=0.01")
    p.add_argument("--initial-sampling", choices=INITIAL_SAMPLING, default="store",
                   help="initial archs uniform over the store's rows (default, as the searchers sample) "
                        "or from the space's sampler")
    p.add_argument("--max-retries", type=int, default=3,
                   help="retries of a single-trial task whose worker/node dies (default 3); a lost cohort is "
                        "retried as smaller cohorts, down to single trials")
    p.add_argument("--cohort-size", default="auto", metavar="C",
                   help="trials per Ray task, searched in lockstep with their predictor fits batched into one "
                        "model (same results as one trial per task); 1: one trial per task; auto (default): "
                        "per algorithm, 1-2 minutes of work per task (1 for random, rea and bananas)")
    p.add_argument("--checkpoint-every", type=float, default=30.0, metavar="S", help=argparse.SUPPRESS)
    # (hidden: seconds of search between two checkpoints of a trial, ssnenas.runner.checkpoints; tests
    # pass a tiny value)
    p.add_argument("--dashboard", action="store_true", help="start the Ray dashboard with a local Ray")
    p.add_argument("--no-progress", "--quiet", dest="no_progress", action="store_true",
                   help="no progress bar (--quiet is the same)")


def config_from_args(args: argparse.Namespace) -> BenchmarkConfig:
    """The :class:`BenchmarkConfig` of parsed ``ssnenas benchmark`` arguments."""
    predictors = {k: Path(v) for k, v in parse_assignments(args.predictor, "--predictor").items()}
    return BenchmarkConfig(
        space=args.space, data=args.data, algorithms=tuple(args.algos), trials=args.trials,
        budget=args.budget, seed=args.seed, out=args.out, dataset=args.dataset, address=args.address,
        gpus_per_task=args.gpus_per_task, num_cpus=args.num_cpus, predictors=predictors,
        overrides=parse_overrides(args.overrides), initial_sampling=args.initial_sampling,
        max_retries=args.max_retries, progress=not args.no_progress, dashboard=args.dashboard,
        cohort_size=_cohort_arg(args.cohort_size), checkpoint_every=args.checkpoint_every)


def _cohort_arg(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


def interrupted_message(config: BenchmarkConfig) -> str:
    """What Ctrl-C leaves: the finished trials of this run (kept in its folder) and how to go on."""
    from ssnenas.analysis.runs import finished_tasks

    total = config.trials * len(config.algorithms)
    done = sum(1 for trial, algo in finished_tasks(config.out)
               if trial < config.trials and algo in config.algorithms)
    return (f"interrupted: {done} of {total} tasks finished and are kept ({config.out}); "
            "re-run the same command to resume")


def command(args: argparse.Namespace) -> int:
    """``ssnenas benchmark``: run it, print one summary line; 1 when tasks failed or Ray was lost."""
    from ssnenas.runlock import check_free

    config = config_from_args(args)
    if config.out.is_dir():
        check_free(config.out)  # a folder another command holds: refused at once, before the slow checks
    from ssnenas.runner.driver import run_benchmark
    from ssnenas.stop_signals import say_if_sigint_ignored

    say_if_sigint_ignored()
    try:
        summary = run_benchmark(config, registry())
    except KeyboardInterrupt:
        print(interrupted_message(config), file=sys.stderr, flush=True)
        return 130
    if summary.get("already_complete"):
        print(f"{args.out}: all {summary['tasks_total']} tasks are already done; nothing to run "
              f"(`ssnenas report {args.out}` shows the results)")
        return 0
    if summary.get("ray_lost"):
        return 1  # its one line is printed by run_benchmark
    share = summary.get("overhead_share")
    print(f"{summary['tasks_done_before'] + summary['tasks_run']}/{summary['tasks_total']} tasks done "
          f"({summary['tasks_run']} now, {summary['tasks_done_before']} before) in {summary['wall_time_s']:.1f} s "
          f"on {summary['workers']} workers; overhead outside the search: "
          f"{'n/a' if share is None else f'{100 * share:.2f}%'}; results: {args.out}")
    if summary["tasks_failed"]:
        print(f"error: {summary['tasks_failed']} tasks failed (first: {summary['failures'][0]}); "
              "rerun the same command to retry them", file=sys.stderr)
        return 1
    return 0


def register(subparsers: Any) -> None:
    """Add ``ssnenas benchmark``."""
    add_command(subparsers, "benchmark", help="closed-domain benchmark runs on Ray (paired trials)",
                doc=__doc__, add_arguments=add_arguments, func=command)
