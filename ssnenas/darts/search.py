"""The open-domain DARTS search driver: real candidate training on Ray Tune (``ssnenas search``).

A searcher suggests genotypes; each is a Tune trial of a class trainable that trains it and reports
``val_acc`` per epoch; the searcher optimises ``best_val_acc`` (the best validation accuracy over the
epochs, as in the original code). The driver is generic: its caller (``ssnenas.cli.search``) hands it
the searcher factory and the trainable (``search_algos``, ``trainables.darts``). On GPUs the candidates
are packed several per GPU (:mod:`ssnenas.darts.packing`; ``--gpus-per-trial`` overrides), on CPUs one
per ``--cpus-per-trial``; ``--async`` proposes for each free slot at once. With ``--predictor
ss-ccl=CKPT`` the predictor is the SS-CCL encoder pre-trained on random DARTS genotypes, fine-tuned each
iteration; ``--fixed`` selects the fixed-budget variant. Untrained candidates are never pseudo-labelled
with the predictor's guess (the original code's ``fixed_num``, which trains only 80 of 100 candidates).

With no arguments it runs the embedded default: a small search on scikit-learn's 8x8 digits that needs
no download. Re-running the same command on the same ``--out`` resumes from the folder's own records
(:mod:`ssnenas.darts.resume`: config.json, the searcher state as data, the candidates' results and
checkpoints), never from Ray's pickles: finished candidates are not trained again.

Outputs in RUN: ``config.json`` (kind ``darts-search``), ``searcher.pt`` (the searcher state),
``candidates.json`` (the report of :mod:`ssnenas.darts.report`: one entry per candidate, ``best`` by the
original code's ranking score), ``report.png`` (best-so-far vs candidates), ``best_cells.png`` (the best
normal and reduction cells) and ``tune/``. Every flag is checked before anything is written.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ssnenas.darts.resume import ResumableSearcher

#: ``make_searcher(config)``: the searcher of a search (the caller's registry: ``ssnenas.cli.search``)
SearcherFactory = Callable[["SearchConfig"], "ResumableSearcher"]

from ssnenas.atomic import atomic_json
from ssnenas.checks import (MAX_COUNT, MAX_EPOCHS, MAX_RESOURCES, check_address, check_float, check_int,
                            check_run_out, check_seed)
from ssnenas.darts.report import KIND, TUNE_NAME, write_search_report
from ssnenas.errors import InputError
from ssnenas.ray_connect import connect_ray
from ssnenas.runfolder import differences, existing_run, refuse_other_run
from ssnenas.stop_signals import sigterm_stops_like_ctrl_c

DEFAULT_OUT = "runs/darts-digits"
#: the embedded default job: digits, a narrow 5-cell network, 16 candidates of 6 epochs each
DEFAULTS: dict[str, Any] = {"data": "digits", "budget": 16, "epochs": 6, "seed": 0, "num_init": 8, "k": 4,
                            "channels": 8, "layers": 5, "batch_size": 32}
#: the paper's search settings on CIFAR-10 (NPENAS, arXiv 2003.12857, DARTS experiments)
CIFAR_DEFAULTS: dict[str, Any] = {"budget": 100, "epochs": 50, "num_init": 10, "k": 10, "channels": 16,
                                  "layers": 8, "batch_size": 64}
#: typo guards of the candidate network (DARTS retrains C 36 with 20 cells): a larger one is a typo
MAX_CHANNELS, MAX_LAYERS = 4096, 1000
#: torch threads per candidate (the same guard as predictor-study's --threads)
MAX_TORCH_THREADS = 4096
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
    #: a progress line / bar of the candidates trained (``--no-progress`` / ``--quiet``: off)
    progress: bool = True
    #: resume a folder written before the search kept its own records, through Ray's pickles
    trust_pickle: bool = False

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
    from ssnenas.pretrain.checkpoint import parse_predictor

    pred_name, pred_path = parse_predictor(args.predictor, space="darts") if args.predictor else (None, None)
    algo = args.algorithm or {"ss-ccl": "npenas-ssccl", "ss-rl": "npenas-ssrl", None: "npenas-np"}[pred_name]
    if args.fixed and not algo.partition(":")[0].endswith("-fixed"):  # npenas-ssrl-fixed:20 is one already
        algo += "-fixed"
    asynchronous = bool(getattr(args, "asynchronous", False))
    if asynchronous and not algo.startswith("npenas"):
        raise InputError(f"--async: asynchronous proposals exist for the npenas algorithms, not {algo!r}; "
                         "drop --async or choose an npenas algorithm")
    step_mode = getattr(args, "step_mode", None) or "auto"
    if step_mode not in STEP_MODES:
        raise InputError(f"--step-mode {step_mode!r}: choose one of {', '.join(STEP_MODES)}")
    cpt, threads = getattr(args, "cpus_per_trial", None), getattr(args, "torch_threads", None)
    config = SearchConfig(**s, space="darts", algorithm=algo, predictor=pred_path, fixed=bool(args.fixed),
                          bf16=bool(args.bf16), predictor_epochs=args.predictor_epochs, asynchronous=asynchronous,
                          out=Path(getattr(args, "out", None) or DEFAULT_OUT), step_mode=step_mode,
                          address=getattr(args, "address", None), num_cpus=getattr(args, "num_cpus", None),
                          gpus_per_trial=getattr(args, "gpus_per_trial", None),
                          cpus_per_trial=1.0 if cpt is None else cpt, torch_threads=1 if threads is None else threads,
                          progress=not (getattr(args, "no_progress", False) or getattr(args, "quiet", False)),
                          trust_pickle=bool(getattr(args, "trust_pickle", False)))
    check_search_config(config)
    return config


def check_network(channels: Any, layers: Any) -> None:
    """The candidate network's size (searched or retrained: :mod:`ssnenas.darts.model`): ``--channels``
    even (FactorizedReduce halves them) and ``--layers`` at least 3 (two of the cells reduce)."""
    for flag, value, most in (("--channels", channels, MAX_CHANNELS), ("--layers", layers, MAX_LAYERS)):
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise InputError(f"{flag} must be >= 1, got {value}")
        check_int(flag, value, maximum=most)
    if channels % 2:
        raise InputError(f"--channels must be even (FactorizedReduce halves it), got {channels}")
    if layers < 3:
        raise InputError(f"--layers must be >= 3 (a candidate network has two reduction cells), got {layers}")


def check_search_config(config: SearchConfig) -> None:
    """Every number, path and address of ``config`` in its range, as one :class:`InputError` line naming
    the flag: before the run folder is touched, its lock taken or Ray started (:func:`resolve_settings`
    and :func:`run_search`, so the Python API is checked too). The upper bounds are typo guards
    (:mod:`ssnenas.checks`); GPUs per trial are not compared with this machine's (a cluster joined with
    ``--address`` has its own)."""
    for key in ("budget", "epochs", "num_init", "k", "batch_size", "predictor_epochs", "num_cpus",
                "torch_threads"):
        value = getattr(config, key)
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise InputError(f"--{key.replace('_', '-')} must be >= 1, got {value}")
    check_int("--budget", config.budget)
    check_int("--epochs", config.epochs, maximum=MAX_EPOCHS)
    check_int("--num-init", config.num_init)
    check_int("--k", config.k)
    check_network(config.channels, config.layers)
    check_int("--batch-size", config.batch_size, maximum=MAX_COUNT)
    check_seed("--seed", config.seed)
    check_int("--predictor-epochs", config.predictor_epochs, maximum=MAX_EPOCHS)
    check_int("--num-cpus", config.num_cpus, maximum=MAX_RESOURCES)
    check_int("--torch-threads", config.torch_threads, maximum=MAX_TORCH_THREADS)
    cpt = config.cpus_per_trial
    if isinstance(cpt, (int, float)) and not isinstance(cpt, bool) and not cpt > 0:
        raise InputError(f"--cpus-per-trial must be > 0, got {cpt}")
    check_float("--cpus-per-trial", cpt, minimum=0.0, above=True, maximum=MAX_RESOURCES)
    gpt = config.gpus_per_trial
    if isinstance(gpt, (int, float)) and not isinstance(gpt, bool) and gpt < 0:
        raise InputError(f"--gpus-per-trial must be >= 0, got {gpt}")
    check_float("--gpus-per-trial", gpt, minimum=0.0, maximum=MAX_RESOURCES,
                hint=" (a fraction of a GPU per candidate such as 0.25; 0: CPU only)")
    check_run_out("--out", config.out)
    check_address(config.address)


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


def check_run_folder(out: Path, settings: dict[str, Any]) -> bool:
    """True when ``out`` holds an earlier search of the same settings (resume), False when it is new
    (missing or empty); :class:`InputError` for a file, a non-empty folder that is not a search, or a
    search of other settings (:mod:`ssnenas.runfolder`, shared with the benchmark runner)."""
    old = existing_run(out, kind=KIND, what="DARTS search")
    if old is None:
        return False
    before = old.get("settings") if isinstance(old.get("settings"), dict) else {}
    refuse_other_run(out, differences(before, settings, RUN_KEYS, _RUN_DEFAULTS), what="DARTS search",
                     resume="repeat its flags to resume it")
    return True


def progress_callback(config: SearchConfig, done_before: int):
    """A Tune callback that counts finished candidates on a progress bar (a plain line in a log)."""
    from ray import tune

    from ssnenas.progress import progress_bar

    class SearchProgress(tune.Callback):
        bar = None

        def setup(self, **info: Any) -> None:
            self.bar = progress_bar(total=config.budget, initial=done_before, unit="candidate", desc="search",
                                    enabled=config.progress)

        def on_trial_complete(self, iteration: int, trials: list, trial, **info: Any) -> None:
            if self.bar is not None and (trial.last_result or {}).get("done"):
                self.bar.update(1)

        def on_experiment_end(self, trials: list, **info: Any) -> None:
            if self.bar is not None:
                self.bar.close()

    return SearchProgress()


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
    """The search stopped before its budget (SIGINT, SIGTERM, SIGUSR1); the run folder resumes it."""

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


def run_search(config: SearchConfig, out: str | os.PathLike | None = None, *, make_searcher: SearcherFactory,
               trainable: type, **overrides: Any) -> dict[str, Any]:
    """Run (or resume) the search of ``config`` (``out`` and ``overrides`` replace its fields) with the
    searchers of ``make_searcher`` and the class trainable ``trainable``; write RUN/candidates.json and
    the plots; return the summary ``{"candidates": [...], "best": {...}, "wall_time_s", "resumed", ...}``.

    Everything is checked before anything is written: the folder (new, empty, or a search of the same
    settings), the searcher (algorithm, predictor checkpoint), a resumed folder's records (data only;
    a folder that resumes only through Ray's pickles needs ``config.trust_pickle``) and the resources.
    Raises :class:`SearchInterrupted` (after writing the report of what finished) when the search was
    interrupted before its budget. RUN is held (:mod:`ssnenas.runlock`) from after the folder check to
    the end: a second command into it is refused (:class:`~ssnenas.errors.RunFolderBusy`, exit 2)."""
    from ssnenas.runlock import hold_run_folder

    if out is not None:
        overrides["out"] = Path(out)
    config = dataclasses.replace(config, **overrides)
    t0 = time.perf_counter()
    # a checkpoint per epoch with num_to_keep=1 forces an experiment snapshot each time: wanted here
    # (the candidates' checkpoints are what a resumed search continues from), so silence Tune's warning
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    check_search_config(config)
    out = Path(config.out).resolve()
    settings = config.run_settings()
    check_run_folder(out, settings)  # a file or a foreign folder is refused before the lock is written there
    searcher = make_searcher(config)  # checks the algorithm and the predictor checkpoint, before the lock too
    with hold_run_folder(out):
        return _run_search_held(config, out, settings, t0, searcher=searcher, trainable=trainable)


def _run_search_held(config: SearchConfig, out: Path, settings: dict[str, Any], t0: float, *,
                     searcher: ResumableSearcher, trainable: type) -> dict[str, Any]:
    """:func:`run_search` once RUN is held (its folder checked again: no other command writes it now)."""
    from ray import tune

    from ssnenas.darts import resume as rs
    from ssnenas.darts.train import TRAINING_RAY_SYSTEM_CONFIG
    from ssnenas.torchdata import refusal, trusting_pickles

    resumed = check_run_folder(out, settings)
    exp, state = out / TUNE_NAME, out / rs.STATE_FILE
    legacy = resumed and not state.is_file() and tune.Tuner.can_restore(str(exp))
    if legacy and not config.trust_pickle:
        raise refusal(exp / "tuner.pkl", "a search folder whose searcher state and trials only Ray's pickles "
                      "record (written by an older ssnenas)", hint=" to resume it through ray.tune.Tuner.restore")
    reruns: list[rs.Rerun] = []
    if resumed and state.is_file():
        reruns = rs.plan_resume(out, searcher, metric="best_val_acc", trust_pickle=config.trust_pickle)
    done_before = sum(r["status"] == "ok" for r in searcher.history) if not legacy else 0
    errors: list[str] = []
    if legacy or reruns or searcher.num_suggested < config.budget:
        started = connect_ray(config.address, num_cpus=config.num_cpus, system_config=TRAINING_RAY_SYSTEM_CONFIG)
        try:
            resources, slots, plan = trial_resources(config)
            atomic_json(out / "config.json", {"kind": KIND, "settings": settings, "resources": resources,
                                              "max_concurrent_trials": slots, "packing": plan,
                                              "step_mode": config.step_mode})
            placed = tune.with_resources(trainable, resources)
            # SIGTERM (after Ray's connect installed its handler) stops the search as Ctrl-C does: Tune's
            # graceful stop, then the report of what finished
            with _quiet_tune(), sigterm_stops_like_ctrl_c():
                if legacy:
                    with trusting_pickles():
                        grid = tune.Tuner.restore(str(exp), trainable=placed, resume_errored=True).fit()
                    ended = grid.num_terminated + grid.num_errors
                    if ended >= config.budget:
                        _adopt_final_snapshot(exp, searcher, state)
                else:
                    grid = _tuner(config, out, placed, rs.RecordingSearcher(searcher, state, reruns), slots,
                                  done_before).fit()
                    ended = searcher.num_evaluated
                errors = [str(r.error).splitlines()[0] for r in grid if r.error is not None]
        finally:
            if started:
                import ray

                ray.shutdown()
    else:  # a finished search run again: nothing to train, nothing to start
        from ssnenas.runfolder import existing_run

        old = existing_run(out, kind=KIND, what="DARTS search") or {}
        slots, plan, ended = int(old.get("max_concurrent_trials") or 1), old.get("packing"), searcher.num_evaluated
    summary = write_search_report(out)
    summary.update(wall_time_s=time.perf_counter() - t0, resumed=resumed, max_concurrent_trials=slots,
                   errors=errors, packing=plan, interrupted=ended < config.budget)
    atomic_json(out / "candidates.json", summary)
    if summary["interrupted"]:
        raise SearchInterrupted(summary["finished"], config.budget)
    return summary


def _adopt_final_snapshot(exp: Path, searcher: ResumableSearcher, state: Path) -> None:
    """After an older folder finished under ``--trust-pickle``: keep the searcher state of Ray's final
    snapshot (saved as data by this ssnenas) as RUN/searcher.pt, so the folder needs no trust again."""
    from ssnenas.errors import SsnenasError

    snapshots = sorted(exp.glob("searcher-state-*.pkl"))
    if not snapshots:
        return
    try:
        searcher.restore(str(snapshots[-1]), trust_pickle=False)
    except (SsnenasError, RuntimeError):  # an older pickled snapshot: the folder keeps needing trust
        return
    searcher.save(str(state))


def _tuner(config: SearchConfig, out: Path, trainable: Any, searcher: Any, slots: int, done_before: int):
    """A new Tuner of the search in ``out`` (the searcher knows what is done and what to train again)."""
    from ray import tune

    from ssnenas.darts.resume import trial_dirname

    return tune.Tuner(
        trainable,
        param_space={"data": config.data, "data_seed": config.seed, "train": config.train_settings()},
        tune_config=tune.TuneConfig(search_alg=searcher, metric="best_val_acc", mode="max",
                                    num_samples=config.budget, max_concurrent_trials=slots,
                                    trial_dirname_creator=trial_dirname),
        run_config=tune.RunConfig(
            name=TUNE_NAME, storage_path=str(out), verbose=config.verbose,
            callbacks=[search_metrics_callback(out, config), progress_callback(config, done_before)],
            stop={"training_iteration": config.epochs},
            failure_config=tune.FailureConfig(max_failures=config.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1, checkpoint_frequency=1, checkpoint_at_end=True)))


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``ssnenas search`` (what :func:`resolve_settings` reads)."""
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
                   help="searcher: npenas-np, npenas-bo, npenas-ssrl, npenas-ssccl (+ -fixed), ssnenas-plus, rea, "
                        "random, local-search, bananas or bananas-mape (default npenas-np; npenas-ssccl / "
                        "npenas-ssrl with --predictor; ssnenas-plus needs --predictor ss-ccl=CKPT)")
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
    p.add_argument("--no-progress", "--quiet", dest="no_progress", action="store_true",
                   help="no progress bar of the candidates trained (default: a bar on a terminal, a line a "
                        "minute in a log)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="resume a RUN written by an older ssnenas, which only Ray's pickles record (they "
                        "run code when read: only for a folder you trust; default: refused)")
