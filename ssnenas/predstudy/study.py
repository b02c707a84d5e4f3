"""Run a predictor study: every predictor × training size × repeat, resumable cell by cell.

Protocol (the predictor studies of SSNENAS, arXiv 2011.00186, with two fixes: the original code
miscounts the cosine schedule's steps and draws its seeds from an unseeded generator): for repeat r
and training size n, draw the paired split of :mod:`.splits`, fine-tune each predictor (GIN +
``Linear(32→1) → sigmoid`` head, no rate scaling) on the n architectures' validation accuracy as a
fraction (another metric mapped into 0..1: :func:`load_data`) with MSE, batch 64, Adam(β = (0, 0.9)),
weight decay 1e-4 and a per-step cosine over the true number of steps, then predict every other labelled
architecture of the benchmark (eval mode: BatchNorm running statistics; the prediction batch size does
not change the outputs) and score
Kendall τ and Spearman ρ against the true validation accuracies (:mod:`.metrics`).

The baselines (``np-nas``, ``seminas``, ``mlp``, ``bananas``; :mod:`.baselines`) train on the same
splits with the same fit seeds and are scored on the same test rows, each with its own recipe (epochs,
batch, loss). The GIN predictors follow the ``epochs`` grid (SSNENAS's epoch sweep: every GIN cell
once per value); a baseline is trained once, for its recipe's epochs.

The repeats of one (predictor, size, epochs) are trained together by the batched engine
(``ssnenas.predictors.fit_many``; ``group_size`` bounds how many at once). Every finished cell is
written at once, atomically, to ``<out>/cells/<predictor>__n<size>__r<repeat>.json`` (with
``__e<epochs>`` before ``.json`` for the GIN cells of a grid of several epoch counts) together with
the settings that produced it; a re-run skips the cells whose settings match and refuses an out dir
whose cells were made with different settings (a changed lr, checkpoint, seed, data, ...).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ssnenas.atomic import atomic_path
from ssnenas.checks import MAX_EPOCHS, check_float, check_int, check_seed
from ssnenas.errors import DataFormatError, InputError
from ssnenas.predstudy.baselines import BASELINE_KINDS, recipe
from ssnenas.predstudy.spec import LoadedPredictor, PredictorSpec, load_predictor
from ssnenas.predstudy.splits import fit_seed, train_split
from ssnenas.stats import rank_correlation

CELL_VERSION = 1
DEFAULT_TRAIN_SIZES = (20, 50, 100, 150, 200)
PREDICT_BATCH = 16384  # eval-mode outputs are per-graph, so this only bounds memory
SCHEDULES = ("cosine", "legacy")
#: coupled L2 above this is a typo (the papers use 1e-4)
MAX_WEIGHT_DECAY = 10.0


@dataclass(frozen=True, kw_only=True)
class StudyConfig:
    """The grid and training settings of a study (README, "Predictor study").

    ``epochs``: the GIN fine-tuning epoch grid, default (300,), the largest budget of the original
    code's epoch sweep (50, 100, ..., 300; an int is taken as a one-value grid); ``schedule="legacy"``
    reproduces the original CosineLR step count (too small, so the lr rises again) and ``bias_lr_2x``
    the original 2× bias lr; ``group_size`` = repeats trained at once (0: all missing ones of a
    (predictor, size)).
    """

    train_sizes: tuple[int, ...] = DEFAULT_TRAIN_SIZES
    repeats: int = 20
    seed: int = 0
    epochs: tuple[int, ...] = (300,)
    batch_size: int = 64
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    bias_lr_2x: bool = False
    target: str = "val_acc"
    group_size: int = 0
    baseline_epochs: int | None = None  # overrides every baseline recipe's epochs (quick looks, tests)

    def __post_init__(self) -> None:
        if isinstance(self.epochs, int):
            object.__setattr__(self, "epochs", (self.epochs,))
        object.__setattr__(self, "epochs", tuple(int(e) for e in self.epochs))
        _check_grid("--train-sizes", self.train_sizes,
                    "give at least one training-set size (e.g. --train-sizes 20 50 100)")
        _check_grid("--epochs", self.epochs, "give at least one epoch count (e.g. --epochs 300 or --epochs 50 100 300)")
        for e in self.epochs:
            check_int("--epochs", e, maximum=MAX_EPOCHS)
        check_int("--repeats", self.repeats)
        check_int("--batch-size", self.batch_size)
        check_int("--baseline-epochs", self.baseline_epochs, maximum=MAX_EPOCHS)
        check_int("--group-size", self.group_size, minimum=0, hint=" (0 = all repeats at once)")
        check_float("--weight-decay", self.weight_decay, minimum=0.0, maximum=MAX_WEIGHT_DECAY)
        check_seed("--seed", self.seed)
        if self.schedule not in SCHEDULES:
            raise InputError(f"--schedule {self.schedule!r}: choose one of {', '.join(SCHEDULES)}")


def _check_grid(flag: str, values: tuple[int, ...], if_empty: str) -> None:
    """A grid of positive integers, each given once."""
    if not values:
        raise InputError(f"{flag}: {if_empty}")
    if len(set(values)) != len(values):
        raise InputError(f"{flag} {list(values)}: a value is repeated; give each once")
    for v in values:
        check_int(flag, v)


# -- the data ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StudyData:
    """The benchmark as the study uses it: labelled rows, targets (fractions) and graph tensors."""

    space: str
    benchmark: str
    dataset: str
    fingerprint: str
    num_archs: int
    num_features: int
    labelled: np.ndarray  # store rows with a finite target
    target: np.ndarray  # [num_archs] float64 fraction, higher is better (NaN where unlabelled)
    x: torch.Tensor  # [num_archs, N, F]
    adj: torch.Tensor  # [num_archs, N, N]
    archs: tuple[str, ...] | None = field(default=None, repr=False)  # the store's arch strings (baselines)


def load_data(store: Any, *, space: str, target: str = "val_acc",
              device: torch.device | str = "cpu") -> StudyData:
    """Read ``store`` (a :class:`~ssnenas.store.table.BenchmarkStore`) for a study on ``space``.

    The predictors regress the target as a higher-is-better fraction for their ``sigmoid`` head: a
    percentage divided by 100, as in the original code's predictor studies; an SSIM as it is; a negative
    loss squashed into 0..1 (:meth:`ssnenas.metric_spec.MetricSpec.to_fraction`; a sigmoid cannot fit a
    negative value). The maps are monotone, so the rank correlations are the metric's.
    """
    from ssnenas.metric_spec import metric_of_store
    from ssnenas.spaces import get_space

    want = get_space(space).name
    held = getattr(store.space, "name", str(store.space))
    if held != want:
        raise InputError(f"--space {space}, but --data {store.path} holds the {store.benchmark}/{store.dataset} "
                         f"store of the {held} space; pass --space {held} or a {want} store")
    if target not in store.columns:
        raise InputError(f"--target {target}: no such column in {store.path}; choose one of "
                         f"{', '.join(c for c in store.columns if c.endswith('_acc')) or ', '.join(store.columns)}")
    values = np.asarray(store.column(target), dtype=np.float64)
    if values.ndim != 1:
        raise InputError(f"--target {target}: not a per-architecture number column of {store.path}")
    labelled = np.flatnonzero(np.isfinite(values))
    x, adj = store.features(np.arange(store.num_archs))
    return StudyData(space=want, benchmark=store.benchmark, dataset=store.dataset,
                     fingerprint=str(store.fingerprint), num_archs=int(store.num_archs),
                     num_features=int(x.shape[-1]), labelled=labelled,
                     target=metric_of_store(store).to_fraction(values),
                     x=torch.as_tensor(x, dtype=torch.float32, device=device),
                     adj=torch.as_tensor(adj, dtype=torch.float32, device=device),
                     archs=tuple(str(a) for a in store.column("arch")))


def check_sizes(data: StudyData, train_sizes: Sequence[int], source: str) -> None:
    """Each size must leave at least 2 labelled architectures to rank."""
    limit = data.labelled.size - 2
    bad = [n for n in train_sizes if n > limit]
    if bad:
        raise InputError(f"--train-sizes {bad[0]}: {source} holds {data.labelled.size} labelled architectures, "
                         f"so a training set can have at most {limit} (at least 2 must remain to rank); "
                         "pass smaller sizes")


# -- cells ---------------------------------------------------------------------------------------
def is_baseline(pred: LoadedPredictor) -> bool:
    return pred.spec.kind in BASELINE_KINDS


def epoch_grid(config: StudyConfig, pred: LoadedPredictor, space: str) -> tuple[int, ...]:
    """The epoch counts a predictor is trained for: the study grid, or a baseline's own recipe."""
    if not is_baseline(pred):
        return config.epochs
    return (config.baseline_epochs or int(recipe(pred.spec.kind, space)["epochs"]),)


def cell_settings(data: StudyData, config: StudyConfig, pred: LoadedPredictor,
                  epochs: int | None = None) -> dict[str, Any]:
    """Everything a cell's numbers depend on besides (repeat, size); stored in and checked against each cell."""
    epochs = config.epochs[0] if epochs is None else epochs
    if is_baseline(pred):
        rc = {**recipe(pred.spec.kind, data.space), "epochs": epochs}
        return {"version": CELL_VERSION, "space": data.space, "benchmark": data.benchmark,
                "dataset": data.dataset, "data_fingerprint": data.fingerprint, "num_archs": data.num_archs,
                "num_labelled": int(data.labelled.size), "target": config.target, "seed": config.seed,
                "kind": pred.spec.kind, "lr": pred.spec.lr, "recipe": {**rc, "lr": pred.spec.lr}}
    return {"version": CELL_VERSION, "space": data.space, "benchmark": data.benchmark, "dataset": data.dataset,
            "data_fingerprint": data.fingerprint, "num_archs": data.num_archs,
            "num_labelled": int(data.labelled.size), "target": config.target, "seed": config.seed,
            "epochs": epochs, "batch_size": config.batch_size, "weight_decay": config.weight_decay,
            "schedule": config.schedule, "bias_lr_2x": config.bias_lr_2x, "kind": pred.spec.kind,
            "lr": pred.spec.lr, "checkpoint_sha256": pred.checkpoint_sha256}


def cell_path(out: Path, predictor: str, train_size: int, repeat: int, epochs: int | None = None) -> Path:
    """``epochs`` only for the GIN cells of a study with several epoch counts."""
    suffix = "" if epochs is None else f"__e{epochs}"
    return Path(out) / "cells" / f"{predictor.replace(':', '~')}__n{train_size}__r{repeat}{suffix}.json"


def split_digest(train: np.ndarray) -> str:
    """Short sha1 of the training rows (in split order): equal digests = the same split."""
    return hashlib.sha1(np.asarray(train, dtype=np.int64).tobytes()).hexdigest()[:12]


def read_cell(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataFormatError(f"study cell {path}: unreadable ({exc}); delete it to have it recomputed") from None


def _check_cell(path: Path, cell: dict, settings: dict, fit: int, digest: str, out: Path) -> None:
    old = cell.get("settings", {})
    diffs = [f"{k}: {old.get(k)!r} there vs {settings.get(k)!r} now"
             for k in sorted(set(old) | set(settings)) if old.get(k) != settings.get(k)]
    if not diffs and (cell.get("fit_seed") != fit or cell.get("split_digest") != digest):
        diffs = ["the split or fit seed of this cell (made by another ssnenas version)"]
    if diffs:
        raise InputError(f"--out {out} holds study results made with other settings ({path.name}: "
                         f"{'; '.join(diffs[:4])}); rerun with the same settings to resume, or pass a new --out")


def write_cell(path: Path, cell: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(cell, indent=1))


# -- the run -------------------------------------------------------------------------------------
def _progress(total_steps: int, enabled: bool):
    """A bar over fine-tuning steps (a cell's cost grows with its step count epochs·⌈n/batch⌉, so
    the ETA holds across training sizes); the postfix counts cells."""
    from ssnenas.progress import progress_bar

    return progress_bar(total=total_steps, unit="step", desc="predictor study",
                        enabled=enabled and total_steps > 0, unit_scale=True)


def _cell_steps(epochs: int, batch_size: int, train_size: int) -> int:
    return epochs * -(-train_size // batch_size)


def run_study(data: StudyData, predictors: Sequence[LoadedPredictor], out: str | Path, *,
              config: StudyConfig, device: torch.device | str = "cpu",
              progress: bool = True) -> list[dict[str, Any]]:
    """Compute the missing cells of the grid in ``out`` and return one row per (predictor, size, epochs,
    repeat).

    Rows hold ``predictor``, ``kind``, ``train_size``, ``repeat``, ``fit_seed``, ``split_digest``,
    ``n_train``, ``n_test``, ``kendall_tau``, ``spearman_rho`` (NaN → 0), ``kendall_tau_nan``,
    ``spearman_rho_nan``, ``lr``, ``epochs``, ``fit_seconds`` (the group's wall time / its size),
    ``predict_seconds``, ``device``, ``group_size`` and ``resumed`` (read from an earlier run).
    """
    out = Path(out)
    dev = torch.device(device)
    names = [p.spec.name for p in predictors]
    if len(set(names)) != len(names):
        raise InputError(f"predictor names must be unique, got {names}")
    check_sizes(data, config.train_sizes, "--data")
    splits = {(n, r): train_split(data.labelled, n, seed=config.seed, repeat=r)
              for n in config.train_sizes for r in range(config.repeats)}
    seeds = {(n, r): fit_seed(config.seed, r, n) for n in config.train_sizes for r in range(config.repeats)}
    grid_suffix = len(config.epochs) > 1

    def path_of(pred: LoadedPredictor, n: int, r: int, e: int) -> Path:
        return cell_path(out, pred.spec.name, n, r, e if grid_suffix and not is_baseline(pred) else None)

    cells: dict[tuple[str, int, int, int], dict] = {}
    todo: list[tuple[LoadedPredictor, int, int, list[int]]] = []
    for n in config.train_sizes:
        for pred in predictors:
            for e in epoch_grid(config, pred, data.space):
                settings = cell_settings(data, config, pred, e)
                missing = []
                for r in range(config.repeats):
                    path = path_of(pred, n, r, e)
                    cell = read_cell(path)
                    if cell is None:
                        missing.append(r)
                        continue
                    _check_cell(path, cell, settings, seeds[(n, r)], split_digest(splits[(n, r)][0]), out)
                    cells[(pred.spec.name, n, r, e)] = {**cell, "resumed": True}
                if missing:
                    todo.append((pred, n, e, missing))

    def steps(pred: LoadedPredictor, n: int, e: int) -> int:
        batch = recipe(pred.spec.kind, data.space)["batch_size"] if is_baseline(pred) else config.batch_size
        return _cell_steps(e, batch, n)

    total = sum(len(m) for *_, m in todo)
    bar = _progress(sum(len(m) * steps(p, n, e) for p, n, e, m in todo), progress)
    done = 0
    try:
        for pred, n, e, missing in todo:
            settings = cell_settings(data, config, pred, e)
            step = config.group_size or len(missing)
            for start in range(0, len(missing), step):
                group = missing[start:start + step]
                bar.set_postfix_str(f"cells {done}/{total}, now {pred.spec.name} n={n} e={e} "
                                    f"repeats {group[0]}-{group[-1]}", refresh=True)
                scores, fit_s, pred_s = _fit_group(data, pred, config, e, [splits[(n, r)][0] for r in group],
                                                   [seeds[(n, r)] for r in group], dev)
                for r, score in zip(group, scores):
                    test = splits[(n, r)][1]
                    corr = rank_correlation(score[test], data.target[test])
                    cell = {"predictor": pred.spec.name, "kind": pred.spec.kind, "train_size": n, "repeat": r,
                            "fit_seed": seeds[(n, r)], "split_digest": split_digest(splits[(n, r)][0]),
                            "n_train": n, "n_test": int(test.size), **corr._asdict(),
                            "lr": pred.spec.lr, "epochs": e, "fit_seconds": fit_s / len(group),
                            "predict_seconds": pred_s / len(group), "device": str(dev),
                            "group_size": len(group), "settings": settings,
                            "train_indices": splits[(n, r)][0].tolist()}
                    write_cell(path_of(pred, n, r, e), cell)
                    cells[(pred.spec.name, n, r, e)] = {**cell, "resumed": False}
                    done += 1
                    bar.update(steps(pred, n, e))
        bar.set_postfix_str(f"cells {done}/{total}", refresh=True)
    finally:
        bar.close()
    rows = []
    for pred in predictors:
        for e in epoch_grid(config, pred, data.space):
            for n in config.train_sizes:
                for r in range(config.repeats):
                    c = cells[(pred.spec.name, n, r, e)]
                    rows.append({k: v for k, v in c.items() if k not in ("settings", "train_indices")})
    return rows


def _fit_group(data: StudyData, pred: LoadedPredictor, config: StudyConfig, epochs: int,
               trains: list[np.ndarray], seeds: list[int], dev: torch.device) -> tuple[np.ndarray, float, float]:
    """Scores ``[P, num_archs]`` of one group of repeats, its fit seconds and its predict seconds."""
    if is_baseline(pred):
        from ssnenas.predstudy.baselines import fit_predict

        return fit_predict(pred.spec.kind, data, np.stack(trains), seeds=seeds, lr=pred.spec.lr, epochs=epochs,
                           device=dev)
    from ssnenas.predictors.fit import fit_many

    y = torch.as_tensor(data.target, dtype=torch.float32, device=dev)
    train = np.stack(trains)
    pool, inverse = np.unique(train, return_inverse=True)
    pool_t = torch.as_tensor(pool, device=dev)
    t0 = time.perf_counter()
    fitted = fit_many(data.num_features, data.x[pool_t], data.adj[pool_t], y[pool_t],
                      seeds=seeds, train_idx=inverse.reshape(train.shape),
                      head="finetune", rate=1.0, epochs=epochs,
                      batch_size=config.batch_size, lr=pred.spec.lr,
                      weight_decay=config.weight_decay, legacy_bias=config.bias_lr_2x,
                      legacy_cosine=config.schedule == "legacy",
                      encoder_state=pred.encoder_state, device=dev)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    fit_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    scores = np.stack([model.predict(data.x, data.adj, batch_size=PREDICT_BATCH) for model in fitted])
    return scores, fit_s, time.perf_counter() - t1


def load_predictors(specs: Sequence[PredictorSpec], *, space: str, num_features: int) -> list[LoadedPredictor]:
    """:func:`~ssnenas.predstudy.spec.load_predictor` for each spec (all checked before any training)."""
    return [load_predictor(s, space=space, num_features=num_features) for s in specs]


def config_dict(config: StudyConfig) -> dict[str, Any]:
    d = asdict(config)
    d["train_sizes"] = list(config.train_sizes)
    d["epochs"] = list(config.epochs)
    return d
