"""``ssnenas search``: the open-domain DARTS search with real candidate training on Ray Tune (§8).

NPENAS (``search_algos``) suggests genotypes; each is a Tune trial of
:class:`trainables.darts.DartsTrainable` that trains it and reports ``val_acc`` per epoch; the searcher
optimises ``best_val_acc`` (the best validation accuracy over the epochs, §8). ``max_concurrent_trials``
= the GPUs (or CPU slots) of the cluster. With ``--predictor ss-ccl=CKPT`` the predictor is the SS-CCL
encoder pre-trained on random DARTS genotypes (``ssnenas pretrain ss-ccl --space darts``), fine-tuned
each iteration; ``--fixed`` selects the fixed-budget variant (predictor retrained only until
``training_nums`` architectures, §5.2). Pseudo-labelled, untrained candidates (§8 ``fixed_num``) are
never used (§11 item 8).

With no arguments it runs the embedded default: a small search on scikit-learn's 8x8 digits that
needs no download. Re-running the same command on the same ``--out`` resumes with ``Tuner.restore``:
the searcher state comes back and finished candidates are not trained again.

Outputs in RUN: ``config.json`` (kind ``darts-search``), ``candidates.json`` (the report of
:mod:`ssnenas.darts.report`: one entry per candidate, ``best`` by the §8 score), ``report.png``
(best-so-far vs candidates), ``best_cells.png`` (the best normal and reduction cells) and ``tune/``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from ssnenas.atomic import atomic_path
from ssnenas.cli import add_command, run_command
from ssnenas.darts.report import KIND, write_search_report
from ssnenas.errors import InputError
from ssnenas.ray_connect import connect_ray

TUNE_NAME = "tune"
DEFAULT_OUT = "runs/darts-digits"
#: the embedded default job: digits, a narrow 5-cell network, 16 candidates of 6 epochs each
DEFAULTS: dict[str, Any] = {"data": "digits", "budget": 16, "epochs": 6, "seed": 0, "num_init": 8, "k": 4,
                            "channels": 8, "layers": 5, "batch_size": 32}
#: §8 search settings on CIFAR-10
CIFAR_DEFAULTS: dict[str, Any] = {"budget": 100, "epochs": 50, "num_init": 10, "k": 10, "channels": 16,
                                  "layers": 8, "batch_size": 64}
#: the settings that define a run (a resumed run must repeat them)
RUN_KEYS = ("space", "data", "budget", "epochs", "seed", "num_init", "k", "channels", "layers", "batch_size",
            "algorithm", "predictor", "fixed", "predictor_epochs", "bf16")


def _atomic_json(path: Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")


def _parse_predictor(text: str | None) -> tuple[str | None, str | None]:
    if not text:
        return None, None
    name, sep, path = text.partition("=")
    if name not in ("ss-ccl", "ss-rl") or not sep or not path:
        raise InputError(f"--predictor {text!r}: use ss-ccl=CHECKPOINT (or ss-rl=CHECKPOINT), a file written by "
                         "`ssnenas pretrain ss-ccl --space darts`")
    if not Path(path).is_file():
        raise InputError(f"--predictor {text!r}: checkpoint {path} not found; pre-train one with "
                         "`ssnenas pretrain ss-ccl --space darts --out DIR`")
    return name, str(Path(path).resolve())


def resolve_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The run settings from the parsed flags: unset flags take the defaults of the data set."""
    data = args.data or DEFAULTS["data"]
    base = DEFAULTS if data == "digits" else {**DEFAULTS, **CIFAR_DEFAULTS}
    s = {k: (getattr(args, k) if getattr(args, k, None) is not None else v) for k, v in base.items()}
    from ssnenas.darts.data import resolve_data_spec

    s["data"] = resolve_data_spec(data, download=bool(getattr(args, "download", False)))
    if args.space != "darts":
        raise InputError(f"--space {args.space!r}: open-domain search supports only 'darts'")
    s["space"] = "darts"
    pred_name, pred_path = _parse_predictor(args.predictor)
    algo = args.algorithm or {"ss-ccl": "npenas-ssccl", "ss-rl": "npenas-ssrl", None: "npenas-np"}[pred_name]
    if args.fixed and not algo.endswith("-fixed"):
        algo += "-fixed"
    s.update(algorithm=algo, predictor=pred_path, fixed=bool(args.fixed), bf16=bool(args.bf16),
             predictor_epochs=args.predictor_epochs)
    for key in ("budget", "epochs", "num_init", "k", "channels", "layers", "batch_size"):
        if int(s[key]) < 1:
            raise InputError(f"--{key.replace('_', '-')} must be >= 1, got {s[key]}")
    if s["channels"] % 2:
        raise InputError(f"--channels must be even (FactorizedReduce halves it), got {s['channels']}")
    return s


def trial_resources(gpus_per_trial: float | None, cpus_per_trial: float) -> tuple[dict[str, float], int]:
    """Resources of one trial and the number of trials that fit the cluster at once."""
    import ray

    res = ray.cluster_resources()
    gpus, cpus = float(res.get("GPU", 0)), float(res.get("CPU", 1))
    gpt = (1.0 if gpus >= 1 else 0.0) if gpus_per_trial is None else float(gpus_per_trial)
    if gpt > 0:
        if gpus <= 0:
            raise InputError(f"--gpus-per-trial {gpt}: the Ray cluster has no GPU; use --gpus-per-trial 0")
        slots = int(gpus / gpt + 1e-9)
    else:
        slots = int(cpus / cpus_per_trial + 1e-9)
    return {"cpu": cpus_per_trial, "gpu": gpt}, max(1, slots)


def _check_run_folder(out: Path, settings: dict[str, Any]) -> bool:
    """True when ``out`` holds an earlier run of the same settings (resume); error if different."""
    cfg = out / "config.json"
    if not cfg.exists():
        return False
    old = json.loads(cfg.read_text())
    if old.get("kind") != KIND:
        raise InputError(f"--out {out}: holds a run of kind {old.get('kind')!r}, not a DARTS search; "
                         "choose another --out")
    diff = [k for k in RUN_KEYS if old.get("settings", {}).get(k) != settings.get(k)]
    if diff:
        shown = ", ".join(f"{k}: {old.get('settings', {}).get(k)!r} -> {settings.get(k)!r}" for k in diff)
        raise InputError(f"--out {out}: holds a search with other settings ({shown}); repeat the same flags "
                         "to resume it, or choose another --out")
    return True


def search_metrics_callback(run: Path, settings: dict[str, Any]):
    """A Tune callback that feeds the dashboard (``ssnenas.metrics``): candidates trained, and the best
    validation / test error so far, tagged with the run, ``darts``, the data set and the algorithm."""
    from ray import tune

    from ssnenas import metrics

    tag_values = metrics.tags(run=run.name, space="darts", dataset=settings["data"].split(":", 1)[0],
                              algorithm=settings["algorithm"])

    class SearchMetrics(tune.Callback):
        best: tuple[float, float | None] | None = None

        def on_trial_complete(self, iteration: int, trials: list, trial, **info) -> None:
            result = trial.last_result or {}
            if not result.get("done"):
                return
            metrics.candidates_trained(tag_values)
            val = result.get("best_val_acc")
            if val is not None and (self.best is None or val > self.best[0]):
                self.best = (float(val), result.get("test_acc"))
                test = self.best[1]
                metrics.best_error(tag_values, 100.0 - self.best[0], None if test is None else 100.0 - test)

    return SearchMetrics()


def run_search(settings: dict[str, Any], out: str | os.PathLike, *, address: str | None = None,
               num_cpus: int | None = None, gpus_per_trial: float | None = None, cpus_per_trial: float = 1.0,
               torch_threads: int = 1, max_failures: int = 2, verbose: int = 0) -> dict[str, Any]:
    """Run (or resume) the search of ``settings``; write RUN/candidates.json and the plot; return the
    summary ``{"candidates": [...], "best": {...}, "wall_time_s", "resumed", ...}``."""
    from ray import tune

    from search_algos import make_searcher
    from trainables.darts import DartsTrainable

    t0 = time.perf_counter()
    # a checkpoint per epoch with num_to_keep=1 forces an experiment snapshot each time: wanted here
    # (a killed driver resumes from consistent searcher + trial state), so silence Tune's warning
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    out = Path(out).resolve()
    resumed = _check_run_folder(out, settings)
    out.mkdir(parents=True, exist_ok=True)
    from ssnenas.darts.train import TRAINING_RAY_SYSTEM_CONFIG

    started = connect_ray(address, num_cpus=num_cpus, system_config=TRAINING_RAY_SYSTEM_CONFIG)
    try:
        resources, slots = trial_resources(gpus_per_trial, cpus_per_trial)
        _atomic_json(out / "config.json", {"kind": KIND, "settings": settings, "resources": resources,
                                           "max_concurrent_trials": slots})
        trainable = tune.with_resources(DartsTrainable, resources)
        exp = out / TUNE_NAME
        if resumed and tune.Tuner.can_restore(str(exp)):
            tuner = tune.Tuner.restore(str(exp), trainable=trainable, resume_errored=True)
        else:
            overrides: dict[str, Any] = {"num_init": settings["num_init"], "k": settings["k"]}
            if settings.get("predictor_epochs"):
                overrides["epochs"] = settings["predictor_epochs"]
            searcher = make_searcher(settings["algorithm"], space="darts", store=None, seed=settings["seed"],
                                     budget=settings["budget"], predictor_checkpoint=settings["predictor"],
                                     metric="best_val_acc", mode="max", **overrides)
            train = {"epochs": settings["epochs"], "channels": settings["channels"], "layers": settings["layers"],
                     "batch_size": settings["batch_size"], "seed": settings["seed"], "bf16": settings["bf16"],
                     "torch_threads": torch_threads}
            tuner = tune.Tuner(
                trainable,
                param_space={"data": settings["data"], "data_seed": settings["seed"], "train": train},
                tune_config=tune.TuneConfig(search_alg=searcher, metric="best_val_acc", mode="max",
                                            num_samples=settings["budget"], max_concurrent_trials=slots,
                                            trial_dirname_creator=trial_dirname),
                run_config=tune.RunConfig(
                    name=TUNE_NAME, storage_path=str(out), verbose=verbose,
                    callbacks=[search_metrics_callback(out, settings)],
                    stop={"training_iteration": settings["epochs"]},
                    failure_config=tune.FailureConfig(max_failures=max_failures),
                    checkpoint_config=tune.CheckpointConfig(num_to_keep=1, checkpoint_frequency=1,
                                                            checkpoint_at_end=True)))
        grid = tuner.fit()
        errors = [str(r.error).splitlines()[0] for r in grid if r.error is not None]
    finally:
        if started:
            import ray

            ray.shutdown()
    summary = write_search_report(out)
    summary.update(wall_time_s=time.perf_counter() - t0, resumed=resumed, max_concurrent_trials=slots,
                   errors=errors)
    _atomic_json(out / "candidates.json", summary)
    return summary


def trial_dirname(trial) -> str:
    """``candidate_<running number>_<trial id>``: short (the default embeds the whole genotype) and in
    suggestion order (Tune's experiment tag starts with the trial's running number)."""
    head = str(getattr(trial, "experiment_tag", "")).split("_", 1)[0]
    return f"candidate_{int(head):04d}_{trial.trial_id}" if head.isdigit() else f"candidate_{trial.trial_id}"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", default="darts", help="search space (only darts)")
    p.add_argument("--data", default=None, help="digits (embedded default) or cifar10:PATH (cifar-10-batches-py)")
    p.add_argument("--download", action="store_true", help="fetch CIFAR-10 into the cifar10:PATH folder first")
    p.add_argument("--budget", type=int, default=None, help="candidates to train (digits 16, cifar10 100)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per candidate (digits 6, cifar10 50)")
    p.add_argument("--seed", type=int, default=None, help="seed of the searcher and the trainings (0)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"run folder (default {DEFAULT_OUT})")
    p.add_argument("--predictor", default=None, help="ss-ccl=CKPT: the pre-trained SS-CCL predictor")
    p.add_argument("--algorithm", default=None, help="a search_algos name (default npenas-np, or npenas-ssccl "
                                                     "with --predictor)")
    p.add_argument("--fixed", action="store_true", help="the fixed-budget variant of the algorithm")
    p.add_argument("--num-init", type=int, default=None)
    p.add_argument("--k", type=int, default=None, help="candidates per iteration")
    p.add_argument("--channels", type=int, default=None, help="initial channels C (digits 8, cifar10 16)")
    p.add_argument("--layers", type=int, default=None, help="cells (digits 5, cifar10 8)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--predictor-epochs", type=int, default=None, help="predictor epochs (default per §2)")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast on GPU")
    p.add_argument("--address", default=None, help="Ray address (e.g. auto); default: a local Ray")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default all)")
    p.add_argument("--gpus-per-trial", type=float, default=None, help="GPUs per trial (default 1 if any, 0 else)")
    p.add_argument("--cpus-per-trial", type=float, default=1.0)
    p.add_argument("--torch-threads", type=int, default=1, help="torch threads per trial (default 1)")


def _command(args: argparse.Namespace) -> int:
    settings = resolve_settings(args)
    summary = run_search(settings, args.out, address=args.address, num_cpus=args.num_cpus,
                         gpus_per_trial=args.gpus_per_trial, cpus_per_trial=args.cpus_per_trial,
                         torch_threads=args.torch_threads)
    out = Path(args.out).resolve()
    best = summary["best"]
    print(f"{summary['finished']}/{settings['budget']} candidates trained on {settings['data']} in "
          f"{summary['wall_time_s']:.1f} s ({'resumed' if summary['resumed'] else 'new run'})")
    if best is None:
        print("error: no candidate finished; rerun the same command to resume", file=sys.stderr)
        return 1
    print(f"best genotype: {best['genotype']}")
    print(f"best: val acc {best['val_acc']:.2f}%, score {best['score']:.2f}, test acc {best['test_acc']:.2f}%, "
          f"params {best['params']}, flops {best['flops']}")
    print(f"results: {out / 'candidates.json'}; plots: {summary['plots']['best_so_far']}, "
          f"{summary['plots'].get('best_cells')}; Tune experiment: {out / TUNE_NAME}")
    return 0


def register_cli(subparsers: Any) -> None:
    """Add ``ssnenas search`` (entry point group ``ssnenas.commands``)."""
    add_command(subparsers, "search", help="open-domain DARTS search with real training (default: digits)",
                doc=__doc__, add_arguments=add_arguments, func=_command)


def main(argv: list[str] | None = None) -> int:
    """``python -m experiments.darts_search ...`` = ``ssnenas search ...``."""
    return run_command("search", argv)


if __name__ == "__main__":
    sys.exit(main())
