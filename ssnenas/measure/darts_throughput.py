"""Candidate-training throughput on whatever device is present: step modes, the Ray path against a
plain loop, packed candidates, slot-time busy of sync vs async NPENAS, and the projected paper search.

Every measurement trains the paper's search network (C 16, 8 cells, batch 64, SGD + cosine, clip 5; NPENAS
arXiv 2003.12857, DARTS experiments) on 32x32x3 images in the real ``cifar-10-batches-py`` format. The
pixels are synthetic (seeded uniform noise written by :func:`write_synthetic_cifar`): images/s does not
depend on what the images show, and the benchmark then runs where CIFAR-10 cannot be downloaded.

1. ``single``: one candidate (the DARTS-V2 cell) per step mode (``eager``, ``graph``, ``compile``,
   ``compile-graph``; ssnenas.darts.step) and precision (fp32, bf16 autocast), in a plain loop of the
   same step (no trainer class, no Ray) and, for ``--ray-modes``, as a Tune trial of
   the DARTS candidate trainable with the search's run settings; ``train_images_per_s`` is the
   median over the epochs after the first (which pays cuDNN autotuning, capture or compilation),
   ``epoch_wall_s`` the median wall time of a whole epoch (training + validation; for Ray also the
   result report and the per-epoch checkpoint).
2. ``packed``: N = 1, 2, 4, 8, 16 candidates with sampled genotypes trained at once as Ray tasks with
   1/N GPU each (CPU: one core each); ``aggregate_images_per_s`` = the sum over the N of each one's
   median training images/s after its first epoch; ``candidate_epochs_per_hour`` from the median
   epoch wall times.
3. ``busy``: with ``--store`` (a prepared NAS-Bench-201 store), sync vs async NPENAS-NP on a simulated
   clock with 16 slots (search_algos.simulated): the fraction of slot-time spent training.
4. ``projection``: the paper's search, 100 candidates x 50 epochs x 25k images, on this device: the
   best packing's candidate-epochs per hour divided by the async busy fraction (1 without ``--store``).

The caller hands in what lives above the library: the DARTS candidate trainable for the Ray path and the
searchers and simulated driver for the busy measurement (experiments/bench_darts_throughput.py passes
``trainables.darts.DartsTrainable`` and ``search_algos``'s). :func:`stdout_to_stderr` keeps a JSON
document alone on stdout while Ray and C libraries write.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

#: DARTS (second order), the published cell of the DARTS paper
DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
            "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
            "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
            "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")


def write_synthetic_cifar(folder: Path, images_per_batch: int, seed: int = 0) -> Path:
    """Five training batches and a test batch of random uint8 pixels in CIFAR-10's python format."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (images_per_batch, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, images_per_batch).tolist()}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    return folder


def _median_after_first(values: list[float]) -> float:
    return statistics.median(values[1:] if len(values) > 1 else values)


def plain_loop(spec: str, train: dict[str, Any], device: torch.device, mode: str = "eager") -> dict[str, Any]:
    """The same training written as a bare loop over the step runner: no trainer class, no Ray."""
    from ssnenas.darts.data import augment, load_data
    from ssnenas.darts.model import DartsNetwork
    from ssnenas.darts.step import StepRunner, resolve_channels_last, resolve_step_mode
    from ssnenas.spaces.darts import parse_genotype

    data = load_data(spec, split="search")
    x_train, y_train = data.x_train.to(device), data.y_train.to(device)
    x_val, y_val = data.x_val.to(device), data.y_val.to(device)
    torch.manual_seed(train["seed"])
    gen = torch.Generator().manual_seed(train["seed"])
    model = DartsNetwork(parse_genotype(DARTS_V2), channels=train["channels"], layers=train["layers"],
                         num_classes=10, in_channels=3).to(device)
    channels_last = resolve_channels_last(None, device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9, weight_decay=3e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=train["epochs"], eta_min=1e-6)
    use_bf16 = bool(train.get("bf16")) and device.type == "cuda"
    runner = StepRunner(model, opt, mode=resolve_step_mode(mode, device), grad_clip=5.0, aux_weight=0.4,
                        autocast=lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16,
                                                        cache_enabled=False),
                        channels_last=channels_last)
    bs, n = train["batch_size"], len(x_train)
    rates, walls = [], []
    for _ in range(train["epochs"]):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, bs):
            idx = perm[i:i + bs].to(device)
            runner.train(augment(x_train[idx], padding=4, flip=True, cutout=0, gen=gen), y_train[idx])
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t_train = time.perf_counter() - t0
        sched.step()
        model.eval()
        correct = sum(int((runner.infer(x_val[i:i + 256]).argmax(1) == y_val[i:i + 256]).sum())
                      for i in range(0, len(x_val), 256))
        walls.append(time.perf_counter() - t0)
        rates.append(n / t_train)
    return {"mode": runner.mode, "train_images_per_s": _median_after_first(rates),
            "epoch_wall_s": _median_after_first(walls), "per_epoch_images_per_s": rates,
            "last_val_acc": 100.0 * correct / len(x_val),
            "peak_memory_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None}


def ray_path(spec: str, train: dict[str, Any], use_gpu: bool, storage: Path, threads: int,
             trainable: Any) -> dict[str, Any]:
    """One Tune trial of ``trainable`` (the caller's DARTS candidate trainable, e.g.
    ``trainables.darts.DartsTrainable``) with the search's run settings (1 GPU or 1 CPU, a checkpoint
    every epoch)."""
    from ray import tune

    resources = {"cpu": 1, "gpu": 1 if use_gpu else 0}
    name = f"bench_{train.get('step_mode', 'auto')}_{'bf16' if train.get('bf16') else 'fp32'}"
    tuner = tune.Tuner(
        tune.with_resources(trainable, resources),
        param_space={"arch": DARTS_V2, "data": spec, "train": {**train, "torch_threads": threads}},
        tune_config=tune.TuneConfig(num_samples=1),
        run_config=tune.RunConfig(name=name, storage_path=str(storage), verbose=0,
                                  stop={"training_iteration": train["epochs"]},
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=1, checkpoint_frequency=1)))
    grid = tuner.fit()
    result = grid[0]
    if result.error is not None:
        raise RuntimeError(f"the Ray trial failed: {result.error}")
    hist = result.metrics_dataframe
    rates = [float(v) for v in hist["images_per_s"]]
    walls = [float(v) for v in hist["time_this_iter_s"]]
    return {"train_images_per_s": _median_after_first(rates), "epoch_wall_s": _median_after_first(walls),
            "per_epoch_images_per_s": rates, "last_val_acc": float(hist["val_acc"].iloc[-1])}


def _packed_candidate(spec: str, train: dict[str, Any], genotype: str) -> dict[str, Any]:
    """One packed candidate (a Ray task): a CandidateTrainer of ``genotype`` for ``train["epochs"]``."""
    from ssnenas.darts.data import load_data
    from ssnenas.darts.train import CandidateTrainer, TrainConfig
    from ssnenas.spaces.darts import parse_genotype

    threads = int(train.pop("torch_threads", 1))
    torch.set_num_threads(threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    trainer = CandidateTrainer(parse_genotype(genotype), load_data(spec, split="search"),
                               TrainConfig(**train, device=device))
    rates, walls, started = [], [], time.time()
    while not trainer.done:
        t0 = time.perf_counter()
        rates.append(trainer.train_epoch()["images_per_s"])
        walls.append(time.perf_counter() - t0)
    return {"images_per_s": _median_after_first(rates), "epoch_wall_s": _median_after_first(walls),
            "start": started, "end": time.time(), "step_mode": trainer.runner.mode}


def packed(spec: str, train: dict[str, Any], counts: list[int], use_gpu: bool, seed: int = 0) -> dict[str, Any]:
    """N candidates at once for each N of ``counts`` (see the module docstring)."""
    import ray

    from ssnenas.spaces.darts import SPACE, genotype_to_str

    rng = np.random.default_rng(seed)
    genotypes = [genotype_to_str(SPACE.sample(rng)) for _ in range(max(counts))]
    out: dict[str, Any] = {}
    task = ray.remote(_packed_candidate)
    for n in counts:
        opts = {"num_gpus": 1.0 / n, "num_cpus": 1} if use_gpu else {"num_cpus": 1}
        t0 = time.perf_counter()
        runs = ray.get([task.options(**opts).remote(spec, dict(train), genotypes[i]) for i in range(n)])
        wall = time.perf_counter() - t0
        out[str(n)] = {"aggregate_images_per_s": sum(r["images_per_s"] for r in runs),
                       "per_candidate_images_per_s": [r["images_per_s"] for r in runs],
                       "candidate_epochs_per_hour": sum(3600.0 / r["epoch_wall_s"] for r in runs),
                       "wall_s": wall, "step_modes": sorted({r["step_mode"] for r in runs})}
        print(f"packed {n}: {out[str(n)]['aggregate_images_per_s']:.0f} img/s together "
              f"({min(out[str(n)]['per_candidate_images_per_s']):.0f}-"
              f"{max(out[str(n)]['per_candidate_images_per_s']):.0f} each), "
              f"{out[str(n)]['candidate_epochs_per_hour']:.0f} candidate-epochs/h", file=sys.stderr, flush=True)
    return out


@dataclass(frozen=True)
class SimulatedSearch:
    """What the busy measurement needs from the searchers' side (``search_algos`` and ``trainables``),
    handed in by the caller: ``make_searcher(name, **kw)``, ``asynchronous(searcher)``,
    ``run_simulated(searcher, evaluate, duration, slots=, budget=)``, ``duration(arch)`` and
    ``evaluator(store) -> evaluate``."""

    make_searcher: Callable[..., Any]
    asynchronous: Callable[[Any], Any]
    run_simulated: Callable[..., dict]
    duration: Callable[[str], float]
    evaluator: Callable[[Any], Callable[[str], dict]]
    duration_model: str = "search_algos.simulated.nb201_duration"


def busy_fractions(store_dir: str, sim: SimulatedSearch, *, slots: int = 16, budget: int = 100, seed: int = 0,
                   predictor_epochs: int | None = 20) -> dict[str, Any]:
    """Slot-time busy of sync vs async NPENAS-NP on the simulated clock (one search each). The busy
    fraction depends on the schedule, not on how well the predictor ranks, so the predictor trains
    ``predictor_epochs`` per fit (None: the paper's 300) to keep the measurement short."""
    from ssnenas.store import BenchmarkStore

    store = BenchmarkStore.open(store_dir)
    out: dict[str, Any] = {"slots": slots, "budget": budget, "duration_model": sim.duration_model,
                           "predictor_epochs": predictor_epochs or "paper default"}
    extra = {"epochs": predictor_epochs} if predictor_epochs else {}
    for mode in ("sync", "async"):
        s = sim.make_searcher("npenas-np", space="nasbench201", store=store, seed=seed, budget=budget, **extra)
        if mode == "async":
            s = sim.asynchronous(s)
        run = sim.run_simulated(s, sim.evaluator(store), sim.duration, slots=slots, budget=budget)
        out[mode] = {"busy_fraction": run["busy_fraction"], "makespan": run["makespan"],
                     "max_running": run["max_running"], "best_val_acc": max(t["val_acc"] for t in run["trials"])}
        print(f"busy {mode}: {run['busy_fraction']:.3f} of {slots} slots' time, makespan {run['makespan']:.1f}",
              file=sys.stderr, flush=True)
    return out


#: the paper's search: 100 candidates x 50 epochs x 25k training images (NPENAS, DARTS experiments)
PAPER_SEARCH = {"candidates": 100, "epochs": 50, "train_images": 25_000}


def projection(packs: dict[str, Any], images_per_epoch: int, busy: float) -> dict[str, Any]:
    """Wall time of the paper's search from the best packing: candidate-epochs are scaled from this
    run's epoch size to 25k images (training and validation scale alike), divided by the busy fraction."""
    best_n, best = max(packs.items(), key=lambda kv: kv[1]["candidate_epochs_per_hour"])
    per_hour = best["candidate_epochs_per_hour"] * images_per_epoch / PAPER_SEARCH["train_images"]
    hours = PAPER_SEARCH["candidates"] * PAPER_SEARCH["epochs"] / per_hour / max(busy, 1e-9)
    return {"packed": int(best_n), "paper_candidate_epochs_per_hour": per_hour, "busy_fraction": busy,
            "hours": hours, "train_images_per_s": best["aggregate_images_per_s"], **PAPER_SEARCH}


@contextlib.contextmanager
def stdout_to_stderr():
    """Everything written to file descriptor 1 (Python, Ray, C libraries) goes to 2 inside the block;
    yields a writer for the real stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    real = os.fdopen(os.dup(saved), "w")
    try:
        yield real
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@dataclass(frozen=True)
class Options:
    """The measurement's settings (the script's flags; None: the device's default, see the module doc)."""

    images_per_batch: int = 10_000
    epochs: int = 3
    channels: int = 16
    layers: int = 8
    batch_size: int = 64
    precisions: list[str] | None = None
    modes: list[str] | None = None
    ray_modes: list[str] | None = None
    pack: list[int] | None = None
    pack_mode: str = "auto"
    pack_precision: str | None = None
    store: str | None = None
    busy_budget: int = 100
    busy_predictor_epochs: int = 20
    threads: int = 1


def run(opts: Options, *, trainable: Any = None, simulation: SimulatedSearch | None = None) -> dict[str, Any]:
    """Every measurement of the module docstring that ``opts`` asks for; progress lines go to stderr.
    ``trainable`` (the DARTS candidate trainable) is needed for the Ray path (``ray_modes`` not empty),
    ``simulation`` for the busy measurement (``store`` set)."""
    import ray

    from ssnenas.darts.train import TRAINING_RAY_SYSTEM_CONFIG
    from ssnenas.ray_connect import connect_ray

    use_gpu = torch.cuda.is_available()
    device = torch.device("cuda" if use_gpu else "cpu")
    torch.set_num_threads(opts.threads)
    if use_gpu:
        torch.backends.cudnn.benchmark = True
    precisions = opts.precisions or (["fp32", "bf16"] if use_gpu else ["fp32"])
    modes = opts.modes or (["eager", "graph", "compile", "compile-graph"] if use_gpu else ["eager"])
    ray_modes = ["auto"] if opts.ray_modes is None else opts.ray_modes
    if ray_modes and trainable is None:
        raise ValueError("run: the Ray path needs the DARTS trainable (pass trainable=, or ray_modes=[])")
    if opts.store and simulation is None:
        raise ValueError("run: the busy measurement needs the searchers (pass simulation=, or store=None)")
    counts = opts.pack if opts.pack is not None else ([1, 2, 4, 8, 16] if use_gpu else [1, 2])
    pack_precision = opts.pack_precision or ("bf16" if use_gpu else "fp32")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    images_per_epoch = opts.images_per_batch * 5 // 2
    out: dict[str, Any] = {"device": torch.cuda.get_device_name(0) if use_gpu else f"cpu ({os.cpu_count()} cores)",
                           "torch": torch.__version__, "ray": ray.__version__, "genotype": DARTS_V2,
                           "images_per_epoch": images_per_epoch, "epochs": opts.epochs,
                           "channels": opts.channels, "layers": opts.layers, "batch_size": opts.batch_size,
                           "results": {}, "single": {}}

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        spec = "cifar10:" + str(write_synthetic_cifar(Path(tmp) / "cifar-10-batches-py", opts.images_per_batch))
        for precision in precisions:
            train = {"epochs": opts.epochs, "channels": opts.channels, "layers": opts.layers,
                     "batch_size": opts.batch_size, "seed": 0, "bf16": precision == "bf16"}
            for mode in modes:
                try:
                    r = plain_loop(spec, train, device, mode)
                except Exception as exc:  # noqa: BLE001 - one mode failing must not lose the others
                    r = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
                out["single"].setdefault(precision, {})[mode] = r
                say(f"{precision} {mode}: " + (f"{r['train_images_per_s']:.0f} img/s, {r['epoch_wall_s']:.2f} s/epoch"
                                               + (f" (ran as {r['mode']})" if r["mode"] != mode else "")
                                               if "error" not in r else r["error"]))
                if use_gpu:
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats()
        connect_ray(None, num_cpus=max(counts + [2]) if counts else 2, num_gpus=1 if use_gpu else 0,
                    system_config=TRAINING_RAY_SYSTEM_CONFIG)
        try:
            for precision in precisions:
                train = {"epochs": opts.epochs, "channels": opts.channels, "layers": opts.layers,
                         "batch_size": opts.batch_size, "seed": 0, "bf16": precision == "bf16"}
                for mode in ray_modes:
                    plain_mode = mode if mode != "auto" else ("graph" if use_gpu else "eager")
                    plain = out["single"].get(precision, {}).get(plain_mode)
                    if plain is None or "error" in plain:
                        plain = plain_loop(spec, train, device, plain_mode)
                    tuned = ray_path(spec, {**train, "step_mode": mode}, use_gpu, Path(tmp) / "tune",
                                     opts.threads, trainable)
                    ratio = tuned["train_images_per_s"] / plain["train_images_per_s"]
                    key = precision if mode == "auto" else f"{precision}-{mode}"
                    out["results"][key] = {"step_mode": plain_mode, "plain": plain, "ray": tuned,
                                           "ray_over_plain_images_per_s": ratio,
                                           "ray_over_plain_epoch_wall": tuned["epoch_wall_s"] / plain["epoch_wall_s"]}
                    say(f"{key} ({plain_mode}): plain {plain['train_images_per_s']:.0f} img/s "
                        f"({plain['epoch_wall_s']:.2f} s/epoch), Ray {tuned['train_images_per_s']:.0f} img/s "
                        f"({tuned['epoch_wall_s']:.2f} s/epoch): Ray/plain = {ratio:.3f}")
            if counts:
                train = {"epochs": opts.epochs, "channels": opts.channels, "layers": opts.layers,
                         "batch_size": opts.batch_size, "seed": 0, "bf16": pack_precision == "bf16",
                         "step_mode": opts.pack_mode, "torch_threads": opts.threads}
                out["packed"] = {"precision": pack_precision, "step_mode": opts.pack_mode,
                                 "counts": packed(spec, train, counts, use_gpu)}
        finally:
            ray.shutdown()
    busy = 1.0
    if opts.store:
        out["busy"] = busy_fractions(opts.store, simulation, budget=opts.busy_budget,
                                     predictor_epochs=opts.busy_predictor_epochs or None)
        busy = out["busy"]["async"]["busy_fraction"]
    if counts:
        out["projection"] = projection(out["packed"]["counts"], images_per_epoch, busy)
        pr = out["projection"]
        say(f"projection: the paper's search (100 x 50 epochs x 25k images) takes {pr['hours']:.2f} h here "
            f"({pr['packed']} packed, busy {busy:.2f})")
    return out
