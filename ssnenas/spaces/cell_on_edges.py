"""The NAS-Bench-201 cell topology for any op list: 4 nodes, one op on each of the 6 edges.

NAS-Bench-201 (5 ops) and TransNAS-Bench-101 micro (4 ops) share this cell; only their op lists and
string forms differ, so everything else lives here once:

- the arch value: a tuple of 6 op names in the edge order :data:`EDGES` = (1<-0), (2<-0), (2<-1),
  (3<-0), (3<-1), (3<-2) (both benchmarks' strings list the edges in this order);
- sampling (uniform over ``len(ops)**6``), NPENAS's one-edit mutation and the one-edit neighbourhood;
- the original NPENAS/SSNENAS code's conversion to an 8-node op-on-node DAG (:meth:`graph_arrays`):
  node 0 the input, op-nodes 1..6 the edges, node 7 the output; zero-op nodes are removed, then
  nodes left without any edge (possibly the output), survivors renumbered, the last one moved to
  index 7, free slots become ``isolate`` nodes fed from node 0;
- the encodings read from that DAG: "path" (BANANAS), "pape" (position-aware path encoding, SSNENAS)
  and "adjacency", whose lengths follow from the number of non-zero ops ``p``:
  path ``sum(p**i for i in 0..6)``, pape ``4 * 6 * p``, adjacency ``28 + 6 * (p + 1)``.

A space with this topology and another op list subclasses :class:`CellOnEdgesSpace`, passes its ops
(the zero op first) and implements :meth:`~CellOnEdgesSpace.format_ops` and
:meth:`~CellOnEdgesSpace.parse`; see :mod:`ssnenas.spaces.transnas101`.
"""

from __future__ import annotations

import functools
import itertools
from typing import Callable, Iterator, Sequence

import numpy as np

from ssnenas.errors import InputError
from ssnenas.spaces.base import Graph, SearchSpace

#: (target, source) of each cell edge, in the order of the arch tuple
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_NODES = 8
PAPE_MAX_PATHS = 4  # input->output paths of the cell: 0-3, 0-1-3, 0-2-3, 0-1-2-3
MAX_PATH_OPS = 6  # the path encoding's index covers op sequences up to this length

CellArch = tuple[str, ...]

# Op-node slot s = 1..6 of the 8-node graph holds the op of edge _SLOT_EDGE[s - 1] of the arch
# tuple: (1<-0), (2<-0), (3<-0), (2<-1), (3<-1), (3<-2).
_SLOT_EDGE = (0, 1, 3, 2, 4, 5)
# Fixed wiring before zero-op removal: an op-node reads the sum of the op-nodes entering its source.
_WIRING = ((0, 1), (0, 2), (0, 3), (1, 4), (1, 5), (2, 6), (4, 6), (3, 7), (5, 7), (6, 7))
_ENCODERS = {"path": "encode_path", "pape": "encode_pape", "adjacency": "encode_adjacency"}


def output_reachable(arch: Sequence[str], zero_op: str) -> bool:
    """True when some input -> output path of the cell avoids the zero op (else the cell outputs zeros)."""
    reach = {0}
    for (target, source), op in sorted(zip(EDGES, arch), key=lambda e: e[0]):
        if op != zero_op and source in reach:
            reach.add(target)
    return 3 in reach


class CellOnEdgesSpace(SearchSpace):
    """A 4-node cell with one op from ``ops`` on each of its 6 edges; ``ops[0]`` is the zero op
    (it removes its edge). Subclasses give the string form: :meth:`format_ops` and :meth:`parse`."""

    num_nodes = NUM_NODES
    #: benchmark name used in messages (e.g. "NAS-Bench-201")
    title: str = ""

    def __init__(self, ops: Sequence[str]) -> None:
        if len(ops) < 2 or len(set(ops)) != len(ops):
            raise ValueError(f"a cell needs a zero op and at least one other, all distinct; got {ops!r}")
        self.ops: tuple[str, ...] = tuple(ops)
        self.zero_op: str = self.ops[0]
        #: ops that stay on a path (every op but the zero op); their order indexes the encodings
        self.path_ops: tuple[str, ...] = self.ops[1:]
        #: one-hot vocabulary of the 8-node graph; the zero-op slot is never set after conversion
        self.node_features = ("input", *self.ops, "isolate", "output")
        self._f = {name: i for i, name in enumerate(self.node_features)}
        self._path_op_index = {self._f[op]: i for i, op in enumerate(self.path_ops)}
        self._ae_ops = (*self.path_ops, "isolate")  # adjacency encoding: one-hot per op-node
        p = len(self.path_ops)
        self.pape_block = len(EDGES) * p
        self.encodings = {"path": sum(p ** i for i in range(MAX_PATH_OPS + 1)),
                          "pape": PAPE_MAX_PATHS * self.pape_block,
                          "adjacency": NUM_NODES * (NUM_NODES - 1) // 2 + len(EDGES) * len(self._ae_ops)}

    # -- the string form: subclasses ---------------------------------------------------------------
    def format_ops(self, ops: CellArch) -> str:
        """The string of a checked op tuple."""
        raise NotImplementedError

    def parse(self, text: str) -> CellArch:
        """The op tuple of a string; :class:`InputError` names a malformed one."""
        raise NotImplementedError

    # -- values ------------------------------------------------------------------------------------
    def is_valid(self, arch: object) -> bool:
        """True for a sequence of exactly 6 op names from :attr:`ops`."""
        return (isinstance(arch, (tuple, list)) and len(arch) == len(EDGES)
                and all(isinstance(op, str) and op in self.ops for op in arch))

    def check(self, arch: Sequence[str]) -> CellArch:
        """``arch`` as a tuple, or :class:`InputError` when it is not 6 ops of this space."""
        if not self.is_valid(arch):
            raise InputError(f"not a {self.title} arch: {arch!r}; expected a tuple of 6 ops from "
                             f"{', '.join(self.ops)} (parse strings with parse_arch)")
        return tuple(arch)

    def key(self, arch: CellArch) -> str:
        return self.format_ops(self.check(arch))

    def to_str(self, arch: CellArch) -> str:
        return self.format_ops(self.check(arch))

    def from_str(self, text: str) -> CellArch:
        return self.parse(text)

    def product_archs(self) -> list[CellArch]:
        """Every cell, in ``itertools.product`` order over :attr:`ops` (first edge slowest)."""
        return list(itertools.product(self.ops, repeat=len(EDGES)))

    def all_archs(self) -> list[CellArch]:
        """Every cell, in the benchmark's order (here: :meth:`product_archs`)."""
        return self.product_archs()

    def output_reachable(self, arch: CellArch) -> bool:
        """False for a cut-off cell: every input -> output path holds the zero op (it outputs zeros)."""
        return output_reachable(self.check(arch), self.zero_op)

    # -- sampling and mutation ---------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> CellArch:
        """A cell drawn uniformly from the ``len(ops)**6`` strings."""
        return tuple(self.ops[int(i)] for i in rng.integers(0, len(self.ops), size=len(EDGES)))

    def mutate(self, arch: CellArch, rng: np.random.Generator,
               is_known: Callable[[CellArch], bool] | None = None) -> CellArch:
        """Exactly one edit: a target node 1..3 uniformly, one of its incoming edges uniformly,
        and a different op uniformly from the others (the zero op included).

        With ``is_known`` the edit is redrawn until it accepts the child; after
        ``max_mutation_tries`` rejections the parent itself is returned.
        """
        parent = self.check(arch)
        for _ in range(self.max_mutation_tries):
            target = int(rng.integers(1, 4))
            source = int(rng.integers(0, target))
            pos = EDGES.index((target, source))
            choices = [op for op in self.ops if op != parent[pos]]
            child = parent[:pos] + (choices[int(rng.integers(0, len(choices)))],) + parent[pos + 1:]
            if is_known is None or is_known(child):
                return child
        return parent

    def one_edit_children(self, arch: CellArch) -> Iterator[CellArch]:
        """The cells with exactly one edge's op changed, edge by edge in :data:`EDGES` order, the
        other ops in :attr:`ops` order: ``6 * (len(ops) - 1)`` of them (24 on NAS-Bench-201), the
        neighbourhood :meth:`mutate` samples from and local search walks."""
        parent = self.check(arch)
        for pos in range(len(EDGES)):
            for op in self.ops:
                if op != parent[pos]:
                    yield parent[:pos] + (op,) + parent[pos + 1:]

    # -- graph -------------------------------------------------------------------------------------
    @functools.cache
    def _graph_cached(self, arch: CellArch) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...]]:
        f = self._f
        labels = [f["input"]] + [f[arch[e]] for e in _SLOT_EDGE] + [f["output"]]
        # 1. drop every zero-op node
        alive = {0, 7} | {s for s in range(1, 7) if arch[_SLOT_EDGE[s - 1]] != self.zero_op}
        edges = {(i, j) for i, j in _WIRING if i in alive and j in alive}
        # 2. repeatedly drop non-input nodes with neither in- nor out-edges (this can drop the output)
        changed = True
        while changed:
            changed = False
            for node in sorted(alive - {0}):
                if not any(node in e for e in edges):
                    alive.discard(node)
                    changed = True
        # 3. re-pad to 8 nodes: the last survivor moves to index 7, the gap becomes isolate nodes
        survivors = sorted(alive)
        new_index = {old: k for k, old in enumerate(survivors[:-1])}
        new_index[survivors[-1]] = NUM_NODES - 1
        node_ops = [f["isolate"]] * NUM_NODES
        for old, new in new_index.items():
            node_ops[new] = labels[old]
        adj = {(new_index[i], new_index[j]) for i, j in edges}
        for node in range(1, NUM_NODES):  # padding nodes (no edge at all) are fed from the input
            if not any(node in e for e in adj):
                adj.add((0, node))
        return tuple(node_ops), tuple(sorted(adj))

    def graph_arrays(self, arch: CellArch) -> tuple[np.ndarray, np.ndarray]:
        """(node_ops int8[8], adjacency uint8[8, 8]) of the original code's op-on-node conversion
        (module docstring); labels index :attr:`node_features`."""
        ops, edges = self._graph_cached(self.check(arch))
        adjacency = np.zeros((NUM_NODES, NUM_NODES), dtype=np.uint8)
        for i, j in edges:
            adjacency[i, j] = 1
        return np.array(ops, dtype=np.int8), adjacency

    def to_graph(self, arch: CellArch) -> Graph:
        return Graph(*self.graph_arrays(arch))

    # -- encodings ---------------------------------------------------------------------------------
    @functools.cache
    def _paths(self, arch: CellArch) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
        """(intermediate node indices, their path-op indices) of every node-0 -> node-7 path of the
        padded graph, sorted by (length, node indices). Isolate nodes have no out-edge, so never lie
        on a path."""
        node_ops, edges = self._graph_cached(arch)
        last = NUM_NODES - 1
        succ: dict[int, list[int]] = {}
        for i, j in edges:
            succ.setdefault(i, []).append(j)
        found: list[tuple[int, ...]] = []

        def walk(node: int, trail: tuple[int, ...]) -> None:
            for nxt in succ.get(node, ()):
                if nxt == last:
                    found.append(trail)
                else:
                    walk(nxt, trail + (nxt,))

        walk(0, ())
        found.sort(key=lambda p: (len(p), p))
        return tuple((p, tuple(self._path_op_index[node_ops[n]] for n in p)) for p in found)

    def encode_pape(self, arch: CellArch) -> np.ndarray:
        """Position-aware path encoding (SSNENAS), uint8[4 * 6p]: one 6p-bit block per input->output
        path of the padded graph, bit ``(node - 1) * p + op``; blocks sorted by (length, node indices)."""
        p = len(self.path_ops)
        out = np.zeros(self.encodings["pape"], dtype=np.uint8)
        for k, (path, ops) in enumerate(self._paths(self.check(arch))):
            for node, op in zip(path, ops):
                out[k * self.pape_block + (node - 1) * p + op] = 1
        return out

    def encode_path(self, arch: CellArch) -> np.ndarray:
        """BANANAS path encoding: bit ``sum_i p**i * (op_i + 1)`` (op_0 nearest the input, a bijective
        base-p numeral, so every op sequence has its own bit) for every input->output op sequence."""
        p = len(self.path_ops)
        out = np.zeros(self.encodings["path"], dtype=np.uint8)
        for _, ops in self._paths(self.check(arch)):
            out[sum(p ** i * (op + 1) for i, op in enumerate(ops))] = 1
        return out

    def encode_adjacency(self, arch: CellArch) -> np.ndarray:
        """Adjacency encoding: the 28 upper-triangular bits of the padded 8x8 matrix (row major) +
        for nodes 1..6 a one-hot over (the non-zero ops, isolate)."""
        node_ops, adjacency = self.graph_arrays(arch)
        rows, cols = np.triu_indices(NUM_NODES, k=1)
        ops = np.zeros((len(EDGES), len(self._ae_ops)), dtype=np.uint8)
        for k, label in enumerate(node_ops[1:7]):
            ops[k, self._ae_ops.index(self.node_features[label])] = 1
        return np.concatenate([adjacency[rows, cols], ops.ravel()]).astype(np.uint8)

    def encode(self, arch: CellArch, kind: str) -> np.ndarray:
        if kind not in _ENCODERS:
            raise InputError(f"unknown {self.title} encoding {kind!r}; choose one of "
                             f"{', '.join(_ENCODERS)}")
        return getattr(self, _ENCODERS[kind])(arch)

    def __reduce__(self):
        """Unpickles as the registered singleton (spaces hold only constants and caches)."""
        return (_registered, (self.name,))


def _registered(name: str) -> SearchSpace:
    from ssnenas.spaces import get_space

    return get_space(name)


__all__ = ["EDGES", "NUM_NODES", "CellArch", "CellOnEdgesSpace", "output_reachable"]
