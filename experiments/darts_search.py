"""``ssnenas search``: the open-domain DARTS search with real candidate training on Ray Tune.

NPENAS (``search_algos``) suggests genotypes; each is a Tune trial of
:class:`trainables.darts.DartsTrainable` that trains it and reports ``val_acc`` per epoch; the searcher
optimises ``best_val_acc`` (the best validation accuracy over the epochs, as in the original code). On
GPUs the candidates are packed several per GPU (:mod:`ssnenas.darts.packing`; ``--gpus-per-trial``
overrides), on CPUs one per ``--cpus-per-trial``; ``--async`` proposes for each free slot at once
(:mod:`search_algos.asynchronous`). With ``--predictor ss-ccl=CKPT`` the predictor is the SS-CCL
encoder pre-trained on random DARTS genotypes (``ssnenas pretrain ss-ccl --space darts``), fine-tuned
each iteration; ``--fixed`` selects the fixed-budget variant (predictor retrained only until
``training_nums`` architectures, the "-FIXED" runs of SSNENAS). Untrained candidates are never
pseudo-labelled with the predictor's guess (the original code's ``fixed_num``, which trains only 80 of
100 candidates). See the README, "Open-domain DARTS search".

With no arguments it runs the embedded default: a small search on scikit-learn's 8x8 digits that
needs no download. Re-running the same command on the same ``--out`` resumes with ``Tuner.restore``:
the searcher state comes back and finished candidates are not trained again.

Outputs in RUN: ``config.json`` (kind ``darts-search``), ``candidates.json`` (the report of
:mod:`ssnenas.darts.report`: one entry per candidate, ``best`` by the original code's ranking score),
``report.png`` (best-so-far vs candidates), ``best_cells.png`` (the best normal and reduction cells)
and ``tune/``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, fields
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
#: the paper's search settings on CIFAR-10 (NPENAS, arXiv 2003.12857, DARTS experiments)
CIFAR_DEFAULTS: dict[str, Any] = {"budget": 100, "epochs": 50, "num_init": 10, "k": 10, "channels": 16,
                                  "layers": 8, "batch_size": 64}
#: the settings that define a run (a resumed run must repeat them); absent in an older config.json = default
RUN_KEYS = ("space", "data", "budget", "epochs", "seed", "num_init", "k", "channels", "layers", "batch_size",
            "algorithm", "predictor", "fixed", "predictor_epochs", "bf16", "asynchronous")


@dataclass(frozen=True, kw_only=True)
class SearchConfig:
    """One ``ssnenas search`` invocation (see ``--help`` for each field). The fields of
    :data:`RUN_KEYS` define the run; the others say how and where it runs."""

    data: str = "digits"
    budget: int = DEFAULTS["budget"]
    epochs: int = DEFAULTS["epochs"]
    seed: int = 0
    num_init: int = DEFAULTS["num_init"]
    k: int = DEFAULTS["k"]
    channels: int = DEFAULTS["channels"]
    layers: int = DEFAULTS["layers"]
    batch_size: int = DEFAULTS["batch_size"]
    space: str = "darts"
    algorithm: str = "npenas-np"
    predictor: str | None = None
    fixed: bool = False
    predictor_epochs: int | None = None
    bf16: bool = False
    asynchronous: bool = False
    # -- how and where it runs -----------------------------------------------------------------------
    out: Path = Path(DEFAULT_OUT)
    step_mode: str = "auto"
    address: str | None = None
    num_cpus: int | None = None
    gpus_per_trial: float | None = None
    cpus_per_trial: float = 1.0
    torch_threads: int = 1
    max_failures: int = 2
    verbose: int = 0

    def run_settings(self) -> dict[str, Any]:
        """The run-defining settings (config.json's ``settings``)."""
        return {k: getattr(self, k) for k in RUN_KEYS}

    def train_settings(self) -> dict[str, Any]:
        """The ``train`` dict of each trial (TrainConfig fields plus ``torch_threads``)."""
        return {"epochs": self.epochs, "channels": self.channels, "layers": self.layers,
                "batch_size": self.batch_size, "seed": self.seed, "bf16": self.bf16, "step_mode": self.step_mode,
                "torch_threads": self.torch_threads}


#: run-defining defaults, for comparing with a config.json written before a key existed
_RUN_DEFAULTS = {f.name: f.default for f in fields(SearchConfig) if f.name in RUN_KEYS}


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


def resolve_settings(args: argparse.Namespace) -> SearchConfig:
    """The run settings from the parsed flags: unset flags take the defaults of the data set."""
    data = args.data or DEFAULTS["data"]
    base = DEFAULTS if data == "digits" else {**DEFAULTS, **CIFAR_DEFAULTS}
    s = {k: (getattr(args, k) if getattr(args, k, None) is not None else v) for k, v in base.items()}
    from ssnenas.darts.data import resolve_data_spec
    from ssnenas.darts.step import STEP_MODES

    s["data"] = resolve_data_spec(data, download=bool(getattr(args, "download", False)))
    if args.space != "darts":
        raise InputError(f"--space {args.space!r}: open-domain search supports only 'darts'")
    pred_name, pred_path = _parse_predictor(args.predictor)
    algo = args.algorithm or {"ss-ccl": "npenas-ssccl", "ss-rl": "npenas-ssrl", None: "npenas-np"}[pred_name]
    if args.fixed and not algo.partition(":")[0].endswith("-fixed"):  # npenas-ssrl-fixed:20 is one already
        algo += "-fixed"
    for key in ("budget", "epochs", "num_init", "k", "channels", "layers", "batch_size"):
        if int(s[key]) < 1:
            raise InputError(f"--{key.replace('_', '-')} must be >= 1, got {s[key]}")
    if s["channels"] % 2:
        raise InputError(f"--channels must be even (FactorizedReduce halves it), got {s['channels']}")
    asynchronous = bool(getattr(args, "asynchronous", False))
    if asynchronous and not algo.startswith("npenas"):
        raise InputError(f"--async: asynchronous proposals exist for the npenas algorithms, not {algo!r}; "
                         "drop --async or choose an npenas algorithm")
    step_mode = getattr(args, "step_mode", None) or "auto"
    if step_mode not in STEP_MODES:
        raise InputError(f"--step-mode {step_mode!r}: choose one of {', '.join(STEP_MODES)}")
    gpt = getattr(args, "gpus_per_trial", None)
    if gpt is not None and gpt < 0:
        raise InputError(f"--gpus-per-trial must be >= 0, got {gpt}")
    return SearchConfig(**s, space="darts", algorithm=algo, predictor=pred_path, fixed=bool(args.fixed),
                        bf16=bool(args.bf16), predictor_epochs=args.predictor_epochs, asynchronous=asynchronous,
                        out=Path(getattr(args, "out", None) or DEFAULT_OUT), step_mode=step_mode,
                        address=getattr(args, "address", None), num_cpus=getattr(args, "num_cpus", None),
                        gpus_per_trial=gpt, cpus_per_trial=float(getattr(args, "cpus_per_trial", 1.0) or 1.0),
                        torch_threads=int(getattr(args, "torch_threads", 1) or 1))


def gpu_memory_bytes() -> int:
    """Memory of the driver's first GPU, or :data:`ssnenas.darts.packing.ASSUMED_GPU_BYTES` when the
    driver sees none (a cluster whose GPUs are on other nodes)."""
    import torch

    from ssnenas.darts.packing import ASSUMED_GPU_BYTES

    if torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(0).total_memory)
    return ASSUMED_GPU_BYTES


def packing_plan(config: SearchConfig, *, gpus: float, cpus: float, gpu_bytes: int) -> dict[str, Any]:
    """Candidates per GPU from the memory model (ssnenas.darts.packing), capped by the CPUs per GPU and
    by the trials the search can run at once (synchronous: max(k, num_init); asynchronous: all)."""
    import math

    from ssnenas.darts.data import load_data
    from ssnenas.darts.packing import candidate_memory_bytes, candidates_per_gpu

    data = load_data(config.data, split="search", seed=config.seed)
    images = len(data.x_train) + len(data.x_val if data.x_val is not None else []) + len(data.x_test)
    cand = candidate_memory_bytes(channels=config.channels, layers=config.layers, batch_size=config.batch_size,
                                  input_shape=data.input_shape, num_classes=data.num_classes,
                                  dataset_images=images, bf16=config.bf16)
    useful = None if config.asynchronous else math.ceil(max(config.k, config.num_init) / max(gpus, 1))
    per_gpu = candidates_per_gpu(gpu_bytes=gpu_bytes, candidate_bytes=cand,
                                 cpus_per_gpu=cpus / config.cpus_per_trial / max(gpus, 1), useful=useful)
    return {"candidates_per_gpu": per_gpu, "candidate_bytes": cand, "gpu_bytes": gpu_bytes}


def trial_resources(config: SearchConfig) -> tuple[dict[str, float], int, dict[str, Any] | None]:
    """Resources of one trial, the number of trials that fit the cluster at once and the packing plan
    (None when ``--gpus-per-trial`` was given or there is no GPU)."""
    import ray

    res = ray.cluster_resources()
    gpus, cpus = float(res.get("GPU", 0)), float(res.get("CPU", 1))
    plan = None
    if config.gpus_per_trial is not None:
        gpt = float(config.gpus_per_trial)
    elif gpus >= 1:
        plan = packing_plan(config, gpus=gpus, cpus=cpus, gpu_bytes=gpu_memory_bytes())
        gpt = 1.0 / plan["candidates_per_gpu"]
    else:
        gpt = 0.0
    if gpt > 0:
        if gpus <= 0:
            raise InputError(f"--gpus-per-trial {gpt}: the Ray cluster has no GPU; use --gpus-per-trial 0")
        slots = min(int(gpus / gpt + 1e-9), int(cpus / config.cpus_per_trial + 1e-9))
    else:
        if config.step_mode in ("graph", "compile-graph"):
            raise InputError(f"--step-mode {config.step_mode} replays CUDA graphs, but the candidates get no GPU "
                             "here; use --step-mode auto (eager on CPUs) or compile")
        slots = int(cpus / config.cpus_per_trial + 1e-9)
    return {"cpu": config.cpus_per_trial, "gpu": gpt}, max(1, slots), plan


def _check_run_folder(out: Path, settings: dict[str, Any]) -> bool:
    """True when ``out`` holds an earlier run of the same settings (resume); error if different."""
    cfg = out / "config.json"
    if not cfg.exists():
        return False
    old = json.loads(cfg.read_text())
    if old.get("kind") != KIND:
        raise InputError(f"--out {out}: holds a run of kind {old.get('kind')!r}, not a DARTS search; "
                         "choose another --out")
    before = {k: old.get("settings", {}).get(k, _RUN_DEFAULTS.get(k)) for k in RUN_KEYS}
    diff = [k for k in RUN_KEYS if before[k] != settings.get(k)]
    if diff:
        shown = ", ".join(f"{k}: {before[k]!r} -> {settings.get(k)!r}" for k in diff)
        raise InputError(f"--out {out}: holds a search with other settings ({shown}); repeat the same flags "
                         "to resume it, or choose another --out")
    return True


def search_metrics_callback(run: Path, config: SearchConfig):
    """A Tune callback that feeds the dashboard (``ssnenas.metrics``): candidates trained, and the best
    validation / test error so far, tagged with the run, ``darts``, the data set and the algorithm."""
    from ray import tune

    from ssnenas import metrics

    tag_values = metrics.tags(run=run.name, space="darts", dataset=config.data.split(":", 1)[0],
                              algorithm=config.algorithm)

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


class SearchInterrupted(Exception):
    """The search stopped before its budget (SIGINT / SIGUSR1); the run folder resumes it."""

    def __init__(self, finished: int, budget: int) -> None:
        super().__init__(f"{finished} of {budget} candidates finished")
        self.finished, self.budget = finished, budget


class _DropTuneNoise(logging.Filter):
    """Drops two of Tune's messages that do not apply to ``ssnenas search``: its Python-API resume hint
    (re-running the same command resumes) and the metrics it fails to read for trials that never started."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not ("Resume experiment with" in msg or "Failed to fetch metrics" in msg)


@contextlib.contextmanager
def _quiet_tune():
    """Tune's console reporter (its configuration box, TensorBoard hint and status tables) off, and the
    noise of :class:`_DropTuneNoise` dropped; Tune's and the trials' warnings still show."""
    names = ("ray.tune.tune", "ray.tune.analysis.experiment_analysis", "ray.tune.result_grid")
    filt = _DropTuneNoise()
    for name in names:
        logging.getLogger(name).addFilter(filt)
    old = os.environ.get("RAY_AIR_NEW_OUTPUT")
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"  # the legacy reporter prints nothing at verbose=0
    try:
        yield
    finally:
        for name in names:
            logging.getLogger(name).removeFilter(filt)
        if old is None:
            os.environ.pop("RAY_AIR_NEW_OUTPUT", None)
        else:
            os.environ["RAY_AIR_NEW_OUTPUT"] = old


def make_search_searcher(config: SearchConfig):
    """The searcher of ``config`` (asynchronous twin with ``--async``)."""
    from search_algos import make_searcher
    from search_algos.asynchronous import asynchronous

    overrides: dict[str, Any] = {"num_init": config.num_init, "k": config.k}
    if config.predictor_epochs:
        overrides["epochs"] = config.predictor_epochs
    searcher = make_searcher(config.algorithm, space="darts", store=None, seed=config.seed, budget=config.budget,
                             predictor_checkpoint=config.predictor, metric="best_val_acc", mode="max",
                             **overrides)
    return asynchronous(searcher) if config.asynchronous else searcher


def run_search(config: SearchConfig, out: str | os.PathLike | None = None, **overrides: Any) -> dict[str, Any]:
    """Run (or resume) the search of ``config`` (``out`` and ``overrides`` replace its fields); write
    RUN/candidates.json and the plots; return the summary ``{"candidates": [...], "best": {...},
    "wall_time_s", "resumed", ...}``. Raises :class:`SearchInterrupted` (after writing the report of
    what finished) when the search was interrupted before its budget."""
    from ray import tune

    from trainables.darts import DartsTrainable

    if out is not None:
        overrides["out"] = Path(out)
    config = dataclasses.replace(config, **overrides)
    t0 = time.perf_counter()
    # a checkpoint per epoch with num_to_keep=1 forces an experiment snapshot each time: wanted here
    # (a killed driver resumes from consistent searcher + trial state), so silence Tune's warning
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    out = Path(config.out).resolve()
    settings = config.run_settings()
    resumed = _check_run_folder(out, settings)
    out.mkdir(parents=True, exist_ok=True)
    from ssnenas.darts.train import TRAINING_RAY_SYSTEM_CONFIG

    started = connect_ray(config.address, num_cpus=config.num_cpus, system_config=TRAINING_RAY_SYSTEM_CONFIG)
    try:
        resources, slots, plan = trial_resources(config)
        _atomic_json(out / "config.json", {"kind": KIND, "settings": settings, "resources": resources,
                                           "max_concurrent_trials": slots, "packing": plan,
                                           "step_mode": config.step_mode})
        trainable = tune.with_resources(DartsTrainable, resources)
        exp = out / TUNE_NAME
        with _quiet_tune():
            if resumed and tune.Tuner.can_restore(str(exp)):
                tuner = tune.Tuner.restore(str(exp), trainable=trainable, resume_errored=True)
            else:
                tuner = tune.Tuner(
                    trainable,
                    param_space={"data": config.data, "data_seed": config.seed, "train": config.train_settings()},
                    tune_config=tune.TuneConfig(search_alg=make_search_searcher(config), metric="best_val_acc",
                                                mode="max", num_samples=config.budget, max_concurrent_trials=slots,
                                                trial_dirname_creator=trial_dirname),
                    run_config=tune.RunConfig(
                        name=TUNE_NAME, storage_path=str(out), verbose=config.verbose,
                        callbacks=[search_metrics_callback(out, config)],
                        stop={"training_iteration": config.epochs},
                        failure_config=tune.FailureConfig(max_failures=config.max_failures),
                        checkpoint_config=tune.CheckpointConfig(num_to_keep=1, checkpoint_frequency=1,
                                                                checkpoint_at_end=True)))
            grid = tuner.fit()
            ended = grid.num_terminated + grid.num_errors
            errors = [str(r.error).splitlines()[0] for r in grid if r.error is not None]
    finally:
        if started:
            import ray

            ray.shutdown()
    summary = write_search_report(out)
    summary.update(wall_time_s=time.perf_counter() - t0, resumed=resumed, max_concurrent_trials=slots,
                   errors=errors, packing=plan, interrupted=ended < config.budget)
    _atomic_json(out / "candidates.json", summary)
    if summary["interrupted"]:
        raise SearchInterrupted(summary["finished"], config.budget)
    return summary


def trial_dirname(trial) -> str:
    """``candidate_<running number>_<trial id>``: short (the default embeds the whole genotype) and in
    suggestion order (Tune's experiment tag starts with the trial's running number)."""
    head = str(getattr(trial, "experiment_tag", "")).split("_", 1)[0]
    return f"candidate_{int(head):04d}_{trial.trial_id}" if head.isdigit() else f"candidate_{trial.trial_id}"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", default="darts", help="search space: darts, the DARTS CNN cell space (default and only choice)")
    p.add_argument("--data", default=None, metavar="SPEC",
                   help="digits (default: scikit-learn's 8x8 digits, no download) or cifar10:PATH "
                        "(a cifar-10-batches-py folder)")
    p.add_argument("--download", action="store_true",
                   help="download CIFAR-10 into the cifar10:PATH folder first (default: off)")
    p.add_argument("--budget", type=int, default=None, help="candidates to train (default 16; cifar10: 100)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs per candidate (default 6; cifar10: 50)")
    p.add_argument("--seed", type=int, default=None, help="seed of the searcher and of every training (default 0)")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="RUN",
                   help=f"run folder; re-running with the same RUN and flags resumes (default {DEFAULT_OUT})")
    p.add_argument("--predictor", default=None, metavar="KIND=CKPT",
                   help="ss-ccl=CKPT or ss-rl=CKPT: fine-tune a predictor pre-trained with `ssnenas pretrain` "
                        "(default: none, NPENAS-NP trains its predictor from scratch)")
    p.add_argument("--algorithm", default=None,
                   help="searcher: npenas-np, npenas-bo, npenas-ssrl, npenas-ssccl (+ -fixed), rea, random or "
                        "bananas (default npenas-np; npenas-ssccl / npenas-ssrl with --predictor)")
    p.add_argument("--fixed", action="store_true",
                   help="fixed-budget variant: the predictor is retrained only until it has seen 50 "
                        "candidates (default: retrained every iteration)")
    p.add_argument("--num-init", type=int, default=None,
                   help="random candidates before the predictor guides the search (default 8; cifar10: 10)")
    p.add_argument("--k", type=int, default=None,
                   help="candidates proposed per iteration (default 4; cifar10: 10)")
    p.add_argument("--async", dest="asynchronous", action="store_true",
                   help="asynchronous proposals: a free trial slot gets a candidate at once, from a predictor "
                        "refitted on every finished candidate, instead of waiting for the whole iteration of "
                        "k; fills more slots than k, but the run then depends on finishing order "
                        "(default: off, the paper's synchronous, reproducible search)")
    p.add_argument("--channels", type=int, default=None,
                   help="initial channels C of the candidate network (default 8; cifar10: 16)")
    p.add_argument("--layers", type=int, default=None, help="cells of the candidate network (default 5; cifar10: 8)")
    p.add_argument("--batch-size", type=int, default=None, help="training batch size (default 32; cifar10: 64)")
    p.add_argument("--predictor-epochs", type=int, default=None,
                   help="training epochs of the predictor per fit (default: the paper's, 300 for NPENAS-NP)")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast on GPU (default: off, fp32)")
    p.add_argument("--step-mode", default="auto",
                   choices=("auto", "eager", "graph", "compile", "compile-graph"),
                   help="how a training step runs: graph = replayed CUDA graph, compile = torch.compile, "
                        "compile-graph = both, eager = plain PyTorch (default auto: graph on GPU, eager on CPU)")
    p.add_argument("--address", default=None,
                   help="Ray cluster to join, e.g. auto or HOST:PORT (default: start a local Ray)")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: all of this machine's)")
    p.add_argument("--gpus-per-trial", type=float, default=None,
                   help="GPUs per candidate, e.g. 0.25 packs four per GPU (default: as many per GPU as fit its "
                        "memory and CPUs, up to 16; 0 without GPUs)")
    p.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs per candidate (default 1)")
    p.add_argument("--torch-threads", type=int, default=1, help="torch threads per candidate (default 1)")


HELP = """Open-domain DARTS search with real candidate training on Ray Tune.

NPENAS (arXiv 2003.12857) proposes DARTS cells; each candidate is one Ray Tune trial that trains the
cell's network, reporting its validation accuracy every epoch; the searcher maximises each candidate's
best validation accuracy. The best candidate is the finished one with the highest score = (best val +
mean of the last 5 epochs' val) / 2, as in the paper. With no arguments: a small search on scikit-learn's
8x8 digits (16 candidates of 6 epochs; about 2 minutes on 2 CPU cores). Re-running the same command
resumes an interrupted search without training finished candidates again.

Writes RUN/candidates.json (every candidate and the best), RUN/report.png, RUN/best_cells.png and RUN/tune/.
See the project's README, section "Open-domain DARTS search"."""


def _command(args: argparse.Namespace) -> int:
    config = resolve_settings(args)
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
          f"{summary['plots'].get('best_cells')}; Tune experiment: {out / TUNE_NAME}")
    return 0


def register_cli(subparsers: Any) -> None:
    """Add ``ssnenas search`` (entry point group ``ssnenas.commands``)."""
    add_command(subparsers, "search", help="open-domain DARTS search with real training (default: digits)",
                doc=HELP.replace("\n\n", "\n \n"), add_arguments=add_arguments, func=_command)


def main(argv: list[str] | None = None) -> int:
    """``python -m experiments.darts_search ...`` = ``ssnenas search ...``."""
    return run_command("search", argv)


if __name__ == "__main__":
    sys.exit(main())
