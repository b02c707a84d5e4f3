"""A NAS-Bench-201-shaped table the tests generate themselves, so that a clone without ``../shared``
still runs the searcher, cohort, Tune and runner tests (the real table stays for the tests of its
facts, which run where ``../shared`` exists).

The CSV has the columns of ``../shared/data/nasbench201/nb201_200epoch.csv`` -- ``index``, ``arch``,
``cifar10-valid_val_acc``, ``cifar100_val_acc``, ``cifar10_test_acc`` -- and one row for each of the
15,625 cells, in official index order (``get_space("nasbench201").all_archs()``).

Accuracies (percent) are a fixed function of the cell, computed at once for all cells with numpy:

1. *Live edges.* An edge is live when its op is not ``none`` and it lies on a path from the input
   (node 0) to the output (node 3) through non-``none`` edges; the *effective cell* sets every other
   edge to ``none``. A cell whose output is cut off from its input (341 cells) has no live edge and
   scores chance: 10.0 (cifar10-valid val, cifar10 test) and 1.0 (cifar100 val), as in the real table.
2. *Representative.* With edge (2<-1) dead, swapping nodes 1 and 2 (ops of edges (1<-0)<->(2<-0) and
   (3<-1)<->(3<-2)) gives an isomorphic cell; the representative is the smaller of the effective cell
   and its swap, compared as base-5 numbers over the op indices of :data:`OPS`. Every value below is
   computed from the representative, so cells of one isomorphism class
   (:func:`ssnenas.encstudy.canonical_nb201`) share their accuracies.
3. *Score.* ``S = sum over live edges of WEIGHTS[edge][op] + INTERACTION * n_pool * n_skip``
   (``n_*``: live ``avg_pool_3x3`` / ``skip_connect`` edges of the representative; pooling beside
   identity paths hurts, which makes the table not purely additive). S runs from 1 to 29.5.
4. *Jitter.* ``J_c(rep) = JITTER * (2 u - 1)``, ``u`` in [0, 1) from a splitmix64 hash of the
   representative's base-5 code and a per-column salt ``c`` (deterministic on every platform).
5. *Columns.* ``column c = np.interp(S + J_c, SCORE_KNOTS, KNOTS[c])``, rounded to 2 decimals (the
   validation columns) or 4 (the test column): a monotone piecewise-linear map whose knots follow
   the real table's percentiles, so that the spread (most cells in 84..90, a long low tail) and the
   effort a search needs to reach the top resemble the real benchmark's.

The best op of every edge beats its runner-up by at least 1 point of S, more than the jitter's
whole range (0.6), and the map is strictly increasing (steep enough that the rounding keeps the gap),
so each column has one clear optimum: :data:`OPTIMUM` (all six edges live, a class of
one cell). Its values are :func:`optimum_values`.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import numpy as np

from ssnenas.spaces.nasbench201 import EDGES, OPS, all_archs, arch_to_str

CSV_COLUMNS = ("index", "arch", "cifar10-valid_val_acc", "cifar100_val_acc", "cifar10_test_acc")
#: (skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3) points per live edge, edges in EDGES order
WEIGHTS: dict[tuple[int, int], tuple[float, float, float, float]] = {
    (1, 0): (2.0, 6.0, 8.0, 3.0),
    (2, 0): (2.0, 4.0, 5.0, 2.0),
    (2, 1): (1.0, 3.0, 4.0, 1.0),
    (3, 0): (5.0, 2.5, 3.5, 1.0),
    (3, 1): (1.0, 2.5, 3.5, 1.0),
    (3, 2): (1.0, 3.0, 4.0, 1.0),
}
INTERACTION = -0.5
JITTER = 0.3
SCORE_KNOTS = (0.0, 2.5, 4.0, 7.0, 11.5, 16.0, 21.0, 24.0, 29.5)
KNOTS = {
    "cifar10-valid_val_acc": (55.0, 71.0, 77.0, 84.0, 87.0, 88.7, 89.9, 90.7, 91.5),
    "cifar100_val_acc": (30.0, 46.0, 50.5, 60.5, 65.4, 68.0, 70.1, 71.2, 73.0),
    "cifar10_test_acc": (60.0, 75.7, 80.6, 88.1, 90.8, 92.2, 93.3, 93.8, 94.3),
}
CHANCE = {"cifar10-valid_val_acc": 10.0, "cifar100_val_acc": 1.0, "cifar10_test_acc": 10.0}
_SALT = {"cifar10-valid_val_acc": 1, "cifar100_val_acc": 2, "cifar10_test_acc": 3}
#: the one cell with the highest accuracy in every column
OPTIMUM = ("nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_3x3", "nor_conv_3x3")

_NONE, _SKIP, _POOL = OPS.index("none"), OPS.index("skip_connect"), OPS.index("avg_pool_3x3")
_SWAP = (1, 0, 2, 3, 5, 4)  # edge permutation of the node 1 <-> node 2 relabelling


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on uint64 (wrapping arithmetic), a fixed, platform-free hash."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _op_indices(archs: list[tuple[str, ...]]) -> np.ndarray:
    index = {op: i for i, op in enumerate(OPS)}
    return np.array([[index[op] for op in arch] for arch in archs], dtype=np.int64)


def _effective(ops: np.ndarray) -> np.ndarray:
    """Op indices with every dead edge (not on an input->output path) set to ``none``."""
    on = ops != _NONE
    e10, e20, e21, e30, e31, e32 = (on[:, k] for k in range(6))
    from_in = {0: np.ones(len(ops), bool), 1: e10}
    from_in[2] = e20 | (from_in[1] & e21)
    from_in[3] = e30 | (from_in[1] & e31) | (from_in[2] & e32)
    to_out = {3: np.ones(len(ops), bool), 2: e32}
    to_out[1] = e31 | (e21 & to_out[2])
    live = np.stack([on[:, k] & from_in[src] & to_out[dst] for k, (dst, src) in enumerate(EDGES)], axis=1)
    return np.where(live, ops, _NONE)


def _code(ops: np.ndarray) -> np.ndarray:
    return (ops * (len(OPS) ** np.arange(len(EDGES) - 1, -1, -1))).sum(axis=1)


def _representative(ops: np.ndarray) -> np.ndarray:
    eff = _effective(ops)
    swapped = eff[:, _SWAP]
    use_swap = (eff[:, 2] == _NONE) & (_code(swapped) < _code(eff))
    return np.where(use_swap[:, None], swapped, eff)


def accuracies(archs: list[tuple[str, ...]]) -> dict[str, np.ndarray]:
    """The three accuracy columns (module docstring's formula) of ``archs``, vectorised."""
    rep = _representative(_op_indices(archs))
    weights = np.zeros((len(EDGES), len(OPS)))
    for k, edge in enumerate(EDGES):
        weights[k, 1:] = WEIGHTS[edge]
    score = weights[np.arange(len(EDGES)), rep].sum(axis=1)
    score += INTERACTION * (rep == _POOL).sum(axis=1) * (rep == _SKIP).sum(axis=1)
    cut_off = (rep == _NONE).all(axis=1)
    code = _code(rep).astype(np.uint64)

    def jitter(column: str) -> np.ndarray:
        h = _splitmix64(code * np.uint64(8) + np.uint64(_SALT[column]))
        u = (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)
        return JITTER * (2.0 * u - 1.0)

    out = {name: np.round(np.interp(score + jitter(name), SCORE_KNOTS, KNOTS[name]), 4 if "test" in name else 2)
           for name in CSV_COLUMNS[2:]}
    return {name: np.where(cut_off, CHANCE[name], col) for name, col in out.items()}


@functools.cache
def _table() -> tuple[tuple[tuple[str, ...], ...], dict[str, np.ndarray]]:
    archs = all_archs()
    return tuple(archs), accuracies(archs)


def optimum_values() -> dict[str, float]:
    """The accuracies of :data:`OPTIMUM`, the best cell of every column."""
    return {name: float(col[0]) for name, col in accuracies([OPTIMUM]).items()}


def write_nb201_csv(path: Path) -> Path:
    """Write the synthetic table (all 15,625 cells, official index order) to ``path``; return it."""
    archs, cols = _table()
    path = Path(path)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        val, c100, test = (cols[name] for name in CSV_COLUMNS[2:])
        for i, arch in enumerate(archs):
            writer.writerow((i, arch_to_str(arch), f"{val[i]:.2f}", f"{c100[i]:.2f}", f"{test[i]:.4f}"))
    return path
