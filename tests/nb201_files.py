"""Writers of small NAS-Bench-201 / NATS-Bench files in exactly the official nesting (as the
released files hold them and the ``nas_201_api`` / ``nats_bench`` packages read them).

* ``.pth``: ``torch.save({'meta_archs': [...], 'arch2infos': {index: {'less': ArchResults-state,
  'full': ArchResults-state}}, 'evaluated_indexes': [...]})``;
* NATS topology folder: ``meta.pickle.pbz2`` + ``{index:06d}.pickle.pbz2`` holding
  ``{'12': ArchResults-state, '200': ArchResults-state}`` (bz2, pickle protocol 4).

ArchResults state: arch_index, arch_str, all_results {(dataset, seed): ResultsCount-state},
dataset_seed {dataset: [seeds]}, clear_net_done. ResultsCount state: name, net_state_dict,
train_acc1es, train_acc5es, train_losses, train_times (epoch -> value), arch_config, params, flop,
seed, epochs, latency, eval_names, eval_acc1es / eval_losses / eval_times keyed '<set>@<epoch>'.

The numbers follow :func:`final_acc` etc. so tests can derive every expected value; accuracies at
earlier epochs are lower, so reading a wrong epoch gives a wrong number.
"""

from __future__ import annotations

import bz2
import pickle
from pathlib import Path

import numpy as np

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
SEEDS = (777, 888, 999)
EVAL_SETS = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}
NUM_CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
_DS_OFFSET = {"cifar10-valid": 40.0, "cifar10": 42.0, "cifar100": 10.0, "ImageNet16-120": 0.0}
_SET_OFFSET = {"x-valid": 0.25, "x-test": 0.5, "ori-test": 1.0}


def arch_string(ops: tuple[str, ...]) -> str:
    """Official cell string of 6 edge ops in the order (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2)."""
    a, b, c, d, e, f = ops
    return f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|"


def example_archs(n: int) -> list[str]:
    """``n`` distinct valid cell strings (base-5 counting over the 6 edges)."""
    out = []
    for i in range(n):
        digits, x = [], i * 7 + 3
        for _ in range(6):
            digits.append(OPS[x % 5])
            x //= 5
        out.append(arch_string(tuple(digits)))
    assert len(set(out)) == n
    return out


def seeds_of(index: int, epochs: int, dataset: str) -> tuple[int, ...]:
    """200 epochs: 3, 2, 1 seeds for index % 3 = 0, 1, 2; 12 epochs: 2 seeds on cifar10-valid, else 1 (v1_1)."""
    if epochs == 200:
        return SEEDS[: 3 - index % 3]
    return SEEDS[:2] if dataset == "cifar10-valid" else SEEDS[:1]


def final_acc(index: int, dataset: str, setname: str, seed: int, epochs: int) -> float:
    """Top-1 accuracy (%) at the last epoch; distinct per arch, dataset, set, seed and schedule, and
    below 100 for up to 15,625 archs."""
    return (40.0 + 3.0 * (index % 5) + 0.001 * (index // 5) + _DS_OFFSET[dataset] + _SET_OFFSET[setname] + 0.5 * SEEDS.index(seed)
            - (20.0 if epochs == 12 else 0.0))


def params_of(index: int, dataset: str) -> float:
    return 0.1 + 0.01 * index + NUM_CLASSES[dataset] * 1e-4


def flop_of(index: int, dataset: str) -> float:
    return 10.0 + index + NUM_CLASSES[dataset] * 1e-3


def epoch_time(seed: int) -> float:
    """Per-epoch train time (s) of a run: 2.0, 2.5, 3.0 for seeds 777, 888, 999."""
    return 2.0 + 0.5 * SEEDS.index(seed)


def latency_of(index: int, seed: int) -> list[float] | None:
    """Measured latencies (s); None for the second seed (as unmeasured runs are)."""
    return None if seed == 888 else [0.01 + 0.001 * index, 0.012 + 0.001 * index]


def results_count_state(index: int, arch: str, dataset: str, seed: int, epochs: int, *,
                        numpy_scalars: bool = True) -> dict:
    """A ResultsCount.state_dict() in the official field layout."""
    num = np.float64 if numpy_scalars else float
    eval_acc1es, eval_losses, eval_times = {}, {}, {}
    for setname in EVAL_SETS[dataset]:
        final = final_acc(index, dataset, setname, seed, epochs)
        for e in range(epochs):
            key = f"{setname}@{e}"
            eval_acc1es[key] = num(final - 0.1 * (epochs - 1 - e))
            eval_losses[key] = num(2.0 - e / epochs)
            eval_times[key] = 0.5
    train_acc1es = {e: num(30.0 + 0.3 * e) for e in range(epochs)}
    return {
        "name": dataset,
        "net_state_dict": None,
        "train_acc1es": train_acc1es,
        "train_acc5es": {e: num(60.0 + 0.2 * e) for e in range(epochs)},
        "train_losses": {e: num(2.3 - e / epochs) for e in range(epochs)},
        "train_times": {e: epoch_time(seed) for e in range(epochs)},
        "arch_config": {"name": "infer.tiny", "C": 16, "N": 5, "arch_str": arch,
                        "num_classes": NUM_CLASSES[dataset]},
        "params": params_of(index, dataset),
        "flop": flop_of(index, dataset),
        "seed": seed,
        "epochs": epochs,
        "latency": latency_of(index, seed),
        "eval_names": list(EVAL_SETS[dataset]),
        "eval_acc1es": eval_acc1es,
        "eval_times": eval_times,
        "eval_losses": eval_losses,
    }


def arch_results_state(index: int, arch: str, epochs: int, datasets: tuple[str, ...] = tuple(EVAL_SETS), *,
                       numpy_scalars: bool = True) -> dict:
    """An ArchResults.state_dict(): arch_index, arch_str, all_results, dataset_seed, clear_net_done."""
    dataset_seed = {ds: list(seeds_of(index, epochs, ds)) for ds in datasets}
    all_results = {(ds, seed): results_count_state(index, arch, ds, seed, epochs, numpy_scalars=numpy_scalars)
                   for ds in datasets for seed in dataset_seed[ds]}
    return {"arch_index": index, "arch_str": arch, "all_results": all_results,
            "dataset_seed": dataset_seed, "clear_net_done": True}


def write_nb201_pth(path: Path, archs: list[str], *, less_datasets: tuple[str, ...] = tuple(EVAL_SETS),
                    full_datasets: tuple[str, ...] = tuple(EVAL_SETS), numpy_scalars: bool = True) -> Path:
    """torch.save a NAS-Bench-201 .pth dict (v1_1 layout; ``less_datasets=('cifar10-valid',)`` for v1_0)."""
    import torch

    arch2infos = {
        i: {"less": arch_results_state(i, a, 12, less_datasets, numpy_scalars=numpy_scalars),
            "full": arch_results_state(i, a, 200, full_datasets, numpy_scalars=numpy_scalars)}
        for i, a in enumerate(archs)}
    torch.save({"meta_archs": list(archs), "arch2infos": arch2infos,
                "evaluated_indexes": list(range(len(archs)))}, path)
    return path


def _dump_pbz2(obj, path: Path) -> None:
    with bz2.open(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)


def write_nats_folder(folder: Path, archs: list[str], *, datasets: tuple[str, ...] = tuple(EVAL_SETS),
                      numpy_scalars: bool = True) -> Path:
    """A NATS-tss-v1_0-3ffb9-simple-style folder: meta.pickle.pbz2 + {index:06d}.pickle.pbz2."""
    folder.mkdir(parents=True, exist_ok=True)
    _dump_pbz2({"meta_archs": list(archs), "arch2infos": {}, "evaluated_indexes": list(range(len(archs)))},
               folder / "meta.pickle.pbz2")
    for i, a in enumerate(archs):
        _dump_pbz2({"12": arch_results_state(i, a, 12, datasets, numpy_scalars=numpy_scalars),
                    "200": arch_results_state(i, a, 200, datasets, numpy_scalars=numpy_scalars)},
                   folder / f"{i:06d}.pickle.pbz2")
    return folder
