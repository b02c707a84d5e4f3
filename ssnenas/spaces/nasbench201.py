"""NAS-Bench-201 (arXiv 2001.00326): a 4-node cell with one op on each of its 6 edges.

Representations and conversions:

- ``NB201Arch``: the 6 edge ops as a tuple of op names, in the official string's edge order
  :data:`EDGES` = (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2);
- the official cell string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (:func:`parse_arch`,
  :func:`arch_to_str`); it is also the arch's ``key``;
- the 8-node op-on-node DAG (:func:`graph_arrays`) the GIN, the path encodings and the PAPE read;
- encodings: "adjacency" (58), "path" (5,461), "pape" (96).

The official benchmark index of a cell is its position in :func:`all_archs`: NAS-Bench-201 lists
the 5^6 cells in ``itertools.product`` order over :data:`OPS` and shuffles them once with
``random.seed(88)`` (checked against the ``index`` column of the real table in the tests).
"""

from __future__ import annotations

import functools
import itertools
import random
from typing import Callable

import numpy as np

from ssnenas.errors import InputError
from ssnenas.spaces.base import Graph, SearchSpace

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: one-hot vocabulary of the 8-node graph; the ``none`` slot is never set after conversion
NODE_FEATURES: tuple[str, ...] = (
    "input", "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", "isolate",
    "output")
#: (target, source) of each cell edge, in the official string's order
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))

NB201Arch = tuple[str, ...]

NUM_NODES = 8
EXAMPLE = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|"
           "+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
_FORM = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"

# Op-node slot s = 1..6 of the 8-node graph holds the op of edge _SLOT_EDGE[s - 1] of the arch
# tuple: (1<-0), (2<-0), (3<-0), (2<-1), (3<-1), (3<-2).
_SLOT_EDGE = (0, 1, 3, 2, 4, 5)
# Fixed wiring before `none` removal: an op-node reads the sum of the op-nodes entering its source.
_WIRING = ((0, 1), (0, 2), (0, 3), (1, 4), (1, 5), (2, 6), (4, 6), (3, 7), (5, 7), (6, 7))
# op index used by the path encoding and the PAPE (skip 0, conv1x1 1, conv3x3 2, avg_pool 3)
_PATH_OPS = ("skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
_PATH_OP_INDEX = {NODE_FEATURES.index(op): i for i, op in enumerate(_PATH_OPS)}
# adjacency encoding: one-hot over these per intermediate node 1..6
_AE_OPS = (*_PATH_OPS, "isolate")

_F = {name: i for i, name in enumerate(NODE_FEATURES)}
PAPE_MAX_PATHS = 4
PAPE_BLOCK = 6 * len(_PATH_OPS)  # 24 bits per path
PAPE_LEN = PAPE_MAX_PATHS * PAPE_BLOCK  # 96
PATH_LEN = sum(4 ** i for i in range(7))  # 5,461
ADJ_LEN = NUM_NODES * (NUM_NODES - 1) // 2 + 6 * len(_AE_OPS)  # 28 + 30 = 58


# -- strings ---------------------------------------------------------------------------------------
def parse_arch(text: str) -> NB201Arch:
    """The op tuple of an official NB201 cell string; :class:`InputError` names a malformed one."""
    if not isinstance(text, str):
        raise InputError(f"NAS-Bench-201 arch must be a string like {_FORM!r}, "
                         f"got {type(text).__name__}")

    def bad(why: str) -> InputError:
        return InputError(f"malformed NAS-Bench-201 arch string {text!r}: {why}; expected the form "
                          f"{_FORM} with op in {', '.join(OPS)}, e.g. {EXAMPLE}")

    groups = text.strip().split("+")
    if len(groups) != 3:
        raise bad(f"found {len(groups)} '+'-separated node groups instead of 3")
    ops: list[str] = []
    for target, group in enumerate(groups, start=1):
        if len(group) < 2 or group[0] != "|" or group[-1] != "|":
            raise bad(f"node group {group!r} must start and end with '|'")
        tokens = group[1:-1].split("|")
        if len(tokens) != target:
            raise bad(f"node {target} needs {target} edge(s), found {len(tokens)} in {group!r}")
        for source, token in enumerate(tokens):
            op, sep, src = token.partition("~")
            if not sep or src != str(source):
                raise bad(f"edge {token!r} must read 'op~{source}'")
            if op not in OPS:
                raise bad(f"unknown op {op!r}")
            ops.append(op)
    return tuple(ops)


def _check(arch: NB201Arch) -> NB201Arch:
    if not is_valid_arch(arch):
        raise InputError(f"not a NAS-Bench-201 arch: {arch!r}; expected a tuple of 6 ops from "
                         f"{', '.join(OPS)} (parse strings with parse_arch)")
    return tuple(arch)


def is_valid_arch(arch: object) -> bool:
    """True for a sequence of exactly 6 op names from :data:`OPS`."""
    return (isinstance(arch, (tuple, list)) and len(arch) == len(EDGES)
            and all(isinstance(op, str) and op in OPS for op in arch))


def arch_to_str(arch: NB201Arch) -> str:
    """The official cell string, the inverse of :func:`parse_arch`."""
    a = _check(arch)
    return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*a)


@functools.cache
def _all_archs() -> tuple[NB201Arch, ...]:
    archs = list(itertools.product(OPS, repeat=len(EDGES)))
    random.Random(88).shuffle(archs)  # NAS-Bench-201's generate_meta_info order
    return tuple(archs)


def all_archs() -> list[NB201Arch]:
    """All 15,625 cells in official NAS-Bench-201 index order (``all_archs()[index]``)."""
    return list(_all_archs())


# -- graph -----------------------------------------------------------------------------------------
@functools.cache
def _graph_cached(arch: NB201Arch) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...]]:
    labels = [_F["input"]] + [_F[arch[e]] for e in _SLOT_EDGE] + [_F["output"]]
    # 1. drop every `none` op-node
    alive = {0, 7} | {s for s in range(1, 7) if arch[_SLOT_EDGE[s - 1]] != "none"}
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
    node_ops = [_F["isolate"]] * NUM_NODES
    for old, new in new_index.items():
        node_ops[new] = labels[old]
    adj = {(new_index[i], new_index[j]) for i, j in edges}
    for node in range(1, NUM_NODES):  # padding nodes (no edge at all) are fed from the input
        if not any(node in e for e in adj):
            adj.add((0, node))
    return tuple(node_ops), tuple(sorted(adj))


def graph_arrays(arch: NB201Arch) -> tuple[np.ndarray, np.ndarray]:
    """(node_ops int8[8], adjacency uint8[8, 8]) of the original code's op-on-node conversion.

    Node 0 is the input, op-nodes 1..6 hold edges (1<-0), (2<-0), (3<-0), (2<-1), (3<-1), (3<-2),
    node 7 the output; `none` op-nodes are removed, then isolated nodes (possibly the output),
    survivors are renumbered consecutively, the last survivor goes to index 7, and the free slots
    become ``isolate`` nodes with an edge from node 0. Labels index :data:`NODE_FEATURES`.
    """
    ops, edges = _graph_cached(_check(arch))
    adjacency = np.zeros((NUM_NODES, NUM_NODES), dtype=np.uint8)
    for i, j in edges:
        adjacency[i, j] = 1
    return np.array(ops, dtype=np.int8), adjacency


@functools.cache
def _paths(arch: NB201Arch) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """(intermediate node indices, their path-op indices) of every node-0 -> node-7 path of the
    padded graph, sorted by (length, node indices). Isolate nodes have no out-edge, so never lie
    on a path."""
    node_ops, edges = _graph_cached(arch)
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
    return tuple((p, tuple(_PATH_OP_INDEX[node_ops[n]] for n in p)) for p in found)


def encode_pape(arch: NB201Arch) -> np.ndarray:
    """Position-aware path encoding (SSNENAS), uint8[96]: one 24-bit block per input->output path of
    the padded graph, bit ``(node - 1) * 4 + op``; blocks sorted by (length, node indices)."""
    out = np.zeros(PAPE_LEN, dtype=np.uint8)
    for k, (path, ops) in enumerate(_paths(_check(arch))):
        for node, op in zip(path, ops):
            out[k * PAPE_BLOCK + (node - 1) * len(_PATH_OPS) + op] = 1
    return out


def encode_path(arch: NB201Arch) -> np.ndarray:
    """BANANAS path encoding, uint8[5461]: bit ``sum_i 4**i * (op_i + 1)`` (op_0 nearest the input)
    for every input->output op sequence of the padded graph."""
    out = np.zeros(PATH_LEN, dtype=np.uint8)
    for _, ops in _paths(_check(arch)):
        out[sum(4 ** i * (op + 1) for i, op in enumerate(ops))] = 1
    return out


def encode_adjacency(arch: NB201Arch) -> np.ndarray:
    """Adjacency encoding, uint8[58]: the 28 upper-triangular bits of the padded 8x8 matrix (row
    major) + for nodes 1..6 a one-hot over (skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3,
    isolate)."""
    node_ops, adjacency = graph_arrays(arch)
    rows, cols = np.triu_indices(NUM_NODES, k=1)
    ops = np.zeros((6, len(_AE_OPS)), dtype=np.uint8)
    for k, label in enumerate(node_ops[1:7]):
        ops[k, _AE_OPS.index(NODE_FEATURES[label])] = 1
    return np.concatenate([adjacency[rows, cols], ops.ravel()]).astype(np.uint8)


_ENCODERS: dict[str, Callable[[NB201Arch], np.ndarray]] = {
    "path": encode_path, "pape": encode_pape, "adjacency": encode_adjacency}


# -- the space -------------------------------------------------------------------------------------
class NasBench201Space(SearchSpace):
    """NAS-Bench-201 cells as 6-tuples of edge ops; see the module docstring."""

    name = "nasbench201"
    num_nodes = NUM_NODES
    node_features = NODE_FEATURES
    encodings = {"path": PATH_LEN, "pape": PAPE_LEN, "adjacency": ADJ_LEN}

    def sample(self, rng: np.random.Generator) -> NB201Arch:
        """A cell drawn uniformly from the 5^6 strings."""
        return tuple(OPS[int(i)] for i in rng.integers(0, len(OPS), size=len(EDGES)))

    def mutate(self, arch: NB201Arch, rng: np.random.Generator,
               is_known: Callable[[NB201Arch], bool] | None = None) -> NB201Arch:
        """Exactly one edit: a target node 1..3 uniformly, one of its incoming edges uniformly,
        and a different op uniformly from the other 4 (``none`` included).

        With ``is_known`` the edit is redrawn until it accepts the child; after
        ``max_mutation_tries`` rejections the parent itself is returned.
        """
        parent = _check(arch)
        for _ in range(self.max_mutation_tries):
            target = int(rng.integers(1, 4))
            source = int(rng.integers(0, target))
            pos = EDGES.index((target, source))
            choices = [op for op in OPS if op != parent[pos]]
            child = parent[:pos] + (choices[int(rng.integers(0, len(choices)))],) + parent[pos + 1:]
            if is_known is None or is_known(child):
                return child
        return parent

    def is_valid(self, arch: NB201Arch) -> bool:
        return is_valid_arch(arch)

    def key(self, arch: NB201Arch) -> str:
        return arch_to_str(arch)

    def to_str(self, arch: NB201Arch) -> str:
        return arch_to_str(arch)

    def from_str(self, text: str) -> NB201Arch:
        return parse_arch(text)

    def to_graph(self, arch: NB201Arch) -> Graph:
        return Graph(*graph_arrays(arch))

    def encode(self, arch: NB201Arch, kind: str) -> np.ndarray:
        if kind not in _ENCODERS:
            raise InputError(f"unknown NAS-Bench-201 encoding {kind!r}; choose one of "
                             f"{', '.join(_ENCODERS)}")
        return _ENCODERS[kind](arch)

    def all_archs(self) -> list[NB201Arch]:
        """All 15,625 cells in official benchmark index order."""
        return all_archs()


SPACE = NasBench201Space()

__all__ = ["EDGES", "NB201Arch", "NODE_FEATURES", "OPS", "SPACE", "NasBench201Space", "all_archs",
           "arch_to_str", "encode_adjacency", "encode_pape", "encode_path", "graph_arrays",
           "is_valid_arch", "parse_arch"]
