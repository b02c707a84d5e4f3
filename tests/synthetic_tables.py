"""Benchmark tables the tests generate themselves, in the layouts of the real ones in ``../shared/data``, so
that a clone without ``../shared`` still runs the tests of behaviour (searchers, cohorts, Tune, the runner,
converters, spaces); the real tables stay for the tests of their facts (tests/test_shared_tables.py), which
run where ``../shared`` exists. NAS-Bench-201 first; NAS-Bench-101 and DARTS at :func:`write_nb101_csv`.

The NAS-Bench-201 CSV has the columns of ``../shared/data/nasbench201/nb201_200epoch.csv`` -- ``index``, ``arch``,
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


# -- NAS-Bench-101 ----------------------------------------------------------------------------------
#: the columns of ../shared/data/nasbench101/nb101_1k.csv (one pruned model per row)
NB101_COLUMNS = ("module_hash", "adjacency", "operations", "trainable_parameters", "val_acc_4", "val_acc_12",
                 "val_acc_36", "val_acc_108", "training_time_108")
#: the columns of ../shared/data/nasbench101/nb101_500.csv (unpruned 7x7 specs, a model may repeat)
NB101_UNPRUNED_COLUMNS = ("module_hash", "adjacency", "operations", "val_acc_108", "params_M", "flops_M")
#: the module hash of the smallest cell, input -> output (what many unpruned specs prune to)
NB101_SMALLEST_HASH = "043721b9c7fe8c5fad811d47d83132ec"
_NB101_OP_POINTS = {"conv3x3-bn-relu": 1.0, "conv1x1-bn-relu": 0.6, "maxpool3x3": 0.2}


def _unit(text: str, salt: str = "") -> float:
    """A number in [0, 1) fixed by ``text`` (md5, so the same on every platform and Python)."""
    import hashlib

    return int(hashlib.md5((salt + text).encode()).hexdigest()[:13], 16) / float(1 << 52)


def _nb101_spec(rng: np.random.Generator, n: int) -> tuple[np.ndarray, list[str]] | None:
    """An n-vertex spec in which every vertex lies on an input -> output path (so pruning keeps all of it):
    each intermediate vertex gets one random predecessor and one random successor, then random extra
    edges up to the 9-edge limit; None when the skeleton alone has more than 9 edges."""
    from ssnenas.spaces.nasbench101 import INPUT, MAX_EDGES, OPS as NB101_OPS, OUTPUT

    matrix = np.zeros((n, n), dtype=np.int64)
    for v in range(1, n - 1):
        matrix[int(rng.integers(0, v)), v] = 1
        matrix[v, int(rng.integers(v + 1, n))] = 1
    if n == 2 or not matrix[:, n - 1].any():
        matrix[0, n - 1] = 1
    if matrix.sum() > MAX_EDGES:
        return None
    free = [(i, j) for i in range(n) for j in range(i + 1, n) if not matrix[i, j]]
    for k in rng.permutation(len(free))[:int(rng.integers(0, MAX_EDGES - matrix.sum() + 1))].tolist():
        matrix[free[k]] = 1
    ops = [INPUT, *(NB101_OPS[int(i)] for i in rng.integers(0, len(NB101_OPS), size=n - 2)), OUTPUT]
    return matrix, ops


def _nb101_score(arch) -> float:
    """0..6.35: op points of the intermediate vertices plus 0.15 per edge (more and heavier ops are better)."""
    return sum(_NB101_OP_POINTS[op] for op in arch.ops[1:-1]) + 0.15 * int(np.sum(arch.matrix))


def nb101_archs(n: int = 1000, seed: int = 101) -> list:
    """``n`` distinct valid NAS-Bench-101 cells (pruned), mostly of 7 vertices and 8-9 edges like the real
    ``nb101_1k.csv`` (whose cells are drawn uniformly over the benchmark's models; ``SPACE.sample``
    instead gives mostly 5-vertex cells), some of 4-6 vertices."""
    from ssnenas.spaces.nasbench101 import SPACE as NB101, arch_from_spec

    rng = np.random.default_rng(seed)
    archs, seen = [], set()
    while len(archs) < n:
        size = int(rng.choice([7, 6, 5, 4], p=[0.85, 0.12, 0.02, 0.01]))
        spec = _nb101_spec(rng, size)
        if spec is None:
            continue
        arch = arch_from_spec(*spec)
        key = NB101.key(arch)
        if key not in seen:
            seen.add(key)
            archs.append(arch)
    return archs


def write_nb101_csv(path: Path, n: int = 1000, seed: int = 101) -> Path:
    """A table in the layout of ``nb101_1k.csv`` (:data:`NB101_COLUMNS`) of :func:`nb101_archs`.

    ``module_hash`` is the project's official hash (:func:`ssnenas.spaces.nasbench101.module_hash`, which
    reproduces all 1,000 hashes of the real table), ``adjacency``/``operations`` the pruned spec.
    ``val_acc_108 = 84 + 1.1 * score + jitter`` (score: :func:`_nb101_score`; jitter in [0, 0.5) from
    the hash), the shorter budgets lower (``val_acc_4`` about a quarter of it), parameters and training
    time grow with the conv ops; 4 decimals like the real table. The best ``val_acc_108`` is one model's."""
    from ssnenas.spaces.nasbench101 import SPACE as NB101

    rows = []
    for arch in nb101_archs(n, seed):
        key = NB101.key(arch)
        adjacency, operations = NB101.to_str(arch).split("|")
        score = _nb101_score(arch)
        v108 = 84.0 + 1.1 * score + 0.5 * _unit(key, "108")
        conv3, conv1 = arch.ops.count("conv3x3-bn-relu"), arch.ops.count("conv1x1-bn-relu")
        params = 300_000 + 1_200_000 * conv3 + 400_000 * conv1 + 50_000 * int(np.sum(arch.matrix)) \
            + int(10_000 * _unit(key, "p"))
        rows.append((key, adjacency, operations, params, f"{0.25 * v108 + 2 * _unit(key, '4'):.4f}",
                     f"{0.62 * v108 + 3 * _unit(key, '12'):.4f}", f"{v108 - 4 + 2 * _unit(key, '36'):.4f}",
                     f"{v108:.4f}", f"{500 + 300 * conv3 + 150 * conv1 + 100 * _unit(key, 't'):.2f}"))
    best = max(float(r[7]) for r in rows)
    assert sum(float(r[7]) == best for r in rows) == 1, "the best val_acc_108 must be unique: pick another seed"
    return _write_rows(path, NB101_COLUMNS, rows)


def write_nb101_unpruned_csv(path: Path, n: int = 500, seed: int = 500) -> Path:
    """A table in the layout of ``nb101_500.csv`` (:data:`NB101_UNPRUNED_COLUMNS`): ``n`` unpruned 7x7
    specs drawn as BANANAS' ``random_cell`` draws them (each upper-triangular bit 1 with p = 0.5, ops
    uniform, redrawn until the pruned spec is valid), so most rows hold vertices that pruning removes
    and many prune to a model listed before (about 280 distinct models in 500 rows, many of them the
    smallest cell :data:`NB101_SMALLEST_HASH`; the real table: 292). Each row is one repeat:
    ``val_acc_108`` differs among the rows of a model, ``params_M``/``flops_M`` do not."""
    from ssnenas.errors import InputError
    from ssnenas.spaces.nasbench101 import INPUT, OPS as NB101_OPS, OUTPUT, SPACE as NB101, arch_from_spec

    rng = np.random.default_rng(seed)
    rows = []
    while len(rows) < n:
        matrix = np.triu(rng.integers(0, 2, size=(7, 7)), 1)
        ops = [INPUT, *(NB101_OPS[int(i)] for i in rng.integers(0, len(NB101_OPS), size=5)), OUTPUT]
        try:
            arch = arch_from_spec(matrix, ops)  # pruned, or InputError: disconnected / over 9 edges
        except InputError:
            continue
        key = NB101.key(arch)
        v108 = 84.0 + 1.1 * _nb101_score(arch) + 0.5 * _unit(f"{key}:{len(rows)}", "repeat")
        conv3, conv1 = arch.ops.count("conv3x3-bn-relu"), arch.ops.count("conv1x1-bn-relu")
        rows.append((key, "".join(str(int(b)) for b in matrix.ravel()), ",".join(ops), f"{v108:.4f}",
                     f"{0.3 + 1.1 * conv3 + 0.4 * conv1:.6f}", f"{40 + 180 * conv3 + 60 * conv1:.6f}"))
    return _write_rows(path, NB101_UNPRUNED_COLUMNS, rows)


# -- DARTS (NAS-Bench-301 space) --------------------------------------------------------------------------
#: the columns of ../shared/data/darts/nb301_500.csv
DARTS_COLUMNS = ("genotype", "val_acc", "params_M", "flops_M")
_DARTS_OP_POINTS = {"none": 0.0, "skip_connect": 0.3, "max_pool_3x3": 0.2, "avg_pool_3x3": 0.2,
                    "sep_conv_3x3": 0.6, "sep_conv_5x5": 0.5, "dil_conv_3x3": 0.4, "dil_conv_5x5": 0.35}


def write_darts_csv(path: Path, n: int = 500, duplicates: int = 10, seed: int = 301) -> Path:
    """A table in the layout of ``nb301_500.csv`` (:data:`DARTS_COLUMNS`, genotypes in the DARTS
    ``Genotype(...)`` form): ``n`` genotypes of distinct keys drawn by the space's ``sample``, then
    ``duplicates`` rows that write an earlier genotype with the two edges of a node swapped (another
    string, the same canonical key: converters must merge them). ``val_acc = 91 + op points + jitter``
    (a row's own jitter, so merged rows differ), 4 decimals; params and FLOPs grow with the convs."""
    from ssnenas.spaces import darts

    rng = np.random.default_rng(seed)
    genotypes, seen = [], set()
    while len(genotypes) < n:
        g = darts.SPACE.sample(rng)
        if darts.SPACE.key(g) not in seen:
            seen.add(darts.SPACE.key(g))
            genotypes.append(g)
    for i in range(duplicates):
        g = genotypes[int(rng.integers(0, n))]
        normal = list(g.normal)
        node = next(k for k in range(darts.NUM_STEPS) if normal[2 * k] != normal[2 * k + 1])
        normal[2 * node], normal[2 * node + 1] = normal[2 * node + 1], normal[2 * node]
        genotypes.append(darts.Genotype(normal=tuple(normal), reduce=g.reduce))
    rows = []
    for i, g in enumerate(genotypes):
        text = darts.genotype_to_str(g)
        points = sum(_DARTS_OP_POINTS[op] for cell in g.cells for op, _ in cell)
        convs = sum(op.startswith(("sep", "dil")) for cell in g.cells for op, _ in cell)
        rows.append((text, f"{91.0 + 0.4 * points + 0.3 * _unit(f'{text}:{i}'):.4f}",
                     f"{0.4 + 0.12 * convs:.6f}", f"{60.0 + 18.0 * convs:.6f}"))
    return _write_rows(path, DARTS_COLUMNS, rows)


def _write_rows(path: Path, header: tuple[str, ...], rows: list[tuple]) -> Path:
    path = Path(path)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path
