"""The epoch loop both pre-training methods share: resume, run, checkpoint, report progress."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ssnenas.checks import MAX_LR  # noqa: F401 - the pre-training configs' bound, imported from here

from ssnenas.pretrain.checkpoint import FORMAT, VERSION, check_same_run, read_checkpoint, save_checkpoint
from ssnenas.pretrain.data import ArchSet

EpochFn = Callable[[int], dict[str, float]]


#: GIN hidden / projection width and layers: far above the papers' 32 x 3 and any graph here
MAX_WIDTH, MAX_LAYERS = 4096, 64


def check_model_size(width: int, layers: int, dim: int | None = None) -> None:
    """``--width``/``--layers`` (and ``--dim``) of the encoder: refused before any tensor is allocated."""
    from ssnenas.checks import check_int

    check_int("--width", width, maximum=MAX_WIDTH)
    check_int("--layers", layers, maximum=MAX_LAYERS)
    check_int("--dim", dim, maximum=MAX_WIDTH)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; an unknown device or CUDA where there is none is an
    :class:`InputError` naming ``--device``."""
    from ssnenas.errors import InputError

    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"--device {device}: {str(exc).splitlines()[0]}; use auto, cpu or cuda[:i]") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {device}: CUDA is not available here; use --device auto or cpu")
    return dev


def seeded_init(seed: int, build: Callable[[], nn.Module]) -> nn.Module:
    """Build a module with torch's init RNG seeded, without touching the caller's global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def base_checkpoint(*, method: str, data: ArchSet, dims: dict, config: dict) -> dict[str, Any]:
    from ssnenas import __version__

    return {"format": FORMAT, "version": VERSION, "method": method, "space": data.space, "dims": dims,
            "config": config, "data": {"fingerprint": data.fingerprint, "source": data.source,
                                       "num_archs": data.num_archs},
            "ssnenas_version": __version__, "epoch": 0, "history": []}


def resume(out: str | os.PathLike, ckpt: dict[str, Any], model: nn.Module,
           optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """If ``out`` holds a checkpoint of this same run, load its weights and optimiser state into
    ``model``/``optimizer`` and return it; otherwise return ``ckpt`` (a fresh run)."""
    if not Path(out).exists():
        return ckpt
    if Path(out).is_dir():
        from ssnenas.errors import InputError

        raise InputError(f"--out {out}: is a directory; pass the checkpoint file path (e.g. {Path(out) / 'ccl.pt'})")
    old = read_checkpoint(out)
    check_same_run(out, old, ckpt)
    model.load_state_dict(old["model"])
    optimizer.load_state_dict(old["optimizer"])
    return old


def run_epochs(*, out: str | os.PathLike, ckpt: dict[str, Any], model: nn.Module,
               optimizer: torch.optim.Optimizer, epochs: int, run_epoch: EpochFn,
               writer: bool = True, report: Callable[[dict], None] | None = None,
               on_epoch_end: Callable[[int, dict], None] | None = None) -> dict[str, Any]:
    """Run epochs ``ckpt["epoch"] .. epochs-1``; after each, append the metrics to the history and
    (when ``writer``) rewrite ``out`` atomically. ``report`` gets each epoch's metrics (Ray Train)."""
    for epoch in range(int(ckpt["epoch"]), epochs):
        t0 = time.perf_counter()
        metrics = {"epoch": epoch, **run_epoch(epoch), "seconds": round(time.perf_counter() - t0, 3)}
        ckpt = {**ckpt, "epoch": epoch + 1, "history": [*ckpt["history"], metrics],
                "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                "optimizer": optimizer.state_dict()}
        if writer:
            save_checkpoint(out, ckpt)
            _record_epoch(out, ckpt, epoch, metrics)
        if report is not None:
            report(metrics)
        if on_epoch_end is not None:
            on_epoch_end(epoch, metrics)
    return ckpt


def _record_epoch(out: str | os.PathLike, ckpt: dict[str, Any], epoch: int, metrics: dict) -> None:
    """Dashboard metrics of the epoch (ssnenas.metrics; a no-op outside Ray): epochs done and each
    loss/MSE, tagged with the checkpoint name as the run and the method as the algorithm."""
    from ssnenas import metrics as m

    losses = {k: float(v) for k, v in metrics.items()
              if isinstance(v, (int, float)) and ("loss" in k or "mse" in k or k in ("ce", "center_reg"))}
    tags = m.tags(run=os.path.basename(os.fspath(out)), space=ckpt.get("space", ""),
                  dataset=(ckpt.get("data") or {}).get("dataset"), algorithm=ckpt.get("method", ""))
    m.pretrain_epoch(tags, epoch, losses)


@contextlib.contextmanager
def progress_bar(total: int, desc: str, enabled: bool):
    """A bar over optimiser steps (loss in the postfix, ETA for the rest of the run) on a terminal;
    in a log, a plain line a minute instead of every step's redraw (:mod:`ssnenas.progress`)."""
    from ssnenas.progress import progress_bar as make_bar

    bar = make_bar(total=total, desc=desc, unit="step", enabled=enabled)
    try:
        yield bar
    finally:
        bar.close()
