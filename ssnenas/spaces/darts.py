"""The DARTS CIFAR-10 space (arXiv 1806.09055): a normal and a reduction cell, as SSNENAS encodes them.

Representations and conversions:

- :class:`Genotype`: per cell 8 ``(op, input)`` edges, two per intermediate node k = 0..3 (edges
  2k, 2k+1), input in {0 = c_{k-2}, 1 = c_{k-1}, 2..k+1 = intermediate node input-2}, the two
  inputs of a node distinct; the cell output concatenates all 4 intermediate nodes;
- the DARTS string ``Genotype(normal=[...], normal_concat=[2, 3, 4, 5], reduce=[...],
  reduce_concat=[2, 3, 4, 5])`` (:func:`parse_genotype`, :func:`genotype_to_str`);
- ``key``: that string of the canonical genotype, whose two edges per node are sorted by input
  (the sum of a node's two edges does not depend on their order);
- the 30-node op-on-node graph of both cells (:func:`graph_arrays`);
- encodings: "pape" (1,224), "path" (18,724, BANANAS style), "adjacency" (208).

Deviations from the authors' code, fixed by default (README, Decisions): the GIN graph covers both
cells (``legacy_normal_only=True`` gives the authors' normal-cell-only graph with their concat-node
quirk), and the PAPE keeps each path's op labels with its node indices when sorting.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from ssnenas.errors import InputError
from ssnenas.spaces.base import Graph, SearchSpace

OPS: tuple[str, ...] = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
                        "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
NODE_FEATURES: tuple[str, ...] = ("input", *OPS, "concat", "output")

Edge = tuple[str, int]
CONCAT = (2, 3, 4, 5)
NUM_STEPS = 4  # intermediate nodes per cell
NUM_EDGES = 2 * NUM_STEPS
CELL_NODES = 15  # 2 inputs + 4 x (2 op-nodes + concat) + output
NUM_NODES = 2 * CELL_NODES

_OP_INDEX = {op: i for i, op in enumerate(OPS)}
_F = {name: i for i, name in enumerate(NODE_FEATURES)}

PAPE_MAX_PATHS = 2 + 3 + 5 + 8  # per cell: paths from a cell input to node 0, 1, 2, 3
PAPE_BLOCK = 2 + NUM_STEPS * len(OPS)  # 34 bits per path
PAPE_CELL = PAPE_MAX_PATHS * PAPE_BLOCK  # 612
PAPE_LEN = 2 * PAPE_CELL  # 1,224
PATH_BLOCK = sum(len(OPS) ** i for i in range(NUM_STEPS + 1))  # 4,681 per (cell, start input)
PATH_LEN = 4 * PATH_BLOCK  # 18,724
ADJ_EDGE = (NUM_STEPS + 1) + len(OPS)  # one-hot input (0..4) + one-hot op
ADJ_LEN = 2 * NUM_EDGES * ADJ_EDGE  # 208

#: the nodes a ``legacy_normal_only`` graph really has (the rest is padding, see graph_arrays)
LEGACY_NODE_MASK = np.arange(NUM_NODES) < CELL_NODES
#: label of the padding nodes 15..29 of a ``legacy_normal_only`` graph (they have no edges)
LEGACY_PAD_LABEL = _F["none"]

_FORM = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ... 8 (op, input) pairs], "
         "normal_concat=[2, 3, 4, 5], reduce=[... 8 pairs], reduce_concat=[2, 3, 4, 5])")
_FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")


@dataclass(frozen=True)
class Genotype:
    """A DARTS architecture: 8 ``(op, input)`` edges per cell; ``concat`` is always [2, 3, 4, 5]."""

    normal: tuple[Edge, ...]
    reduce: tuple[Edge, ...]

    @property
    def cells(self) -> tuple[tuple[Edge, ...], tuple[Edge, ...]]:
        return (self.normal, self.reduce)


# -- validity and strings -------------------------------------------------------------------------
def _cell_problem(edges: Any) -> str | None:
    """Why ``edges`` is not a valid cell, or None."""
    if not isinstance(edges, (tuple, list)) or len(edges) != NUM_EDGES:
        n = len(edges) if isinstance(edges, (tuple, list)) else type(edges).__name__
        return f"a cell needs exactly {NUM_EDGES} (op, input) edges, got {n}"
    for e, edge in enumerate(edges):
        if not isinstance(edge, (tuple, list)) or len(edge) != 2:
            return f"edge {e} is {edge!r}, not an (op, input) pair"
        op, inp = edge
        if not isinstance(op, str) or op not in _OP_INDEX:
            return f"edge {e} has unknown op {op!r} (ops: {', '.join(OPS)})"
        k = e // 2
        if isinstance(inp, bool) or not isinstance(inp, (int, np.integer)) or not 0 <= inp <= k + 1:
            return f"edge {e} (node {k}) has input {inp!r}; node {k} may read inputs 0..{k + 1}"
    for k in range(NUM_STEPS):
        if edges[2 * k][1] == edges[2 * k + 1][1]:
            return f"both edges of node {k} read input {edges[2 * k][1]}; they must differ"
    return None


def genotype_problem(g: Any) -> str | None:
    """Why ``g`` is not a valid :class:`Genotype`, or None (the one validity rule of the space)."""
    if not isinstance(g, Genotype):
        return f"expected a Genotype, got {type(g).__name__}"
    for name, cell in (("normal", g.normal), ("reduce", g.reduce)):
        why = _cell_problem(cell)
        if why:
            return f"{name} cell: {why}"
    return None


def _check(g: Genotype) -> Genotype:
    why = genotype_problem(g)
    if why:
        raise InputError(f"invalid DARTS genotype {g!r}: {why}")
    return g


def _literal(node: ast.expr, field: str) -> Any:
    if (field.endswith("_concat") and isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "range" and not node.keywords):
        return list(range(*(ast.literal_eval(a) for a in node.args)))  # genotypes printed by DARTS
    return ast.literal_eval(node)


def parse_genotype(text: str) -> Genotype:
    """A :class:`Genotype` from the DARTS ``Genotype(normal=..., ...)`` string.

    The text is parsed as a Python expression and each field read with ``ast.literal_eval`` (never
    evaluated). :class:`InputError` names a malformed string: unknown op, bad input index, two equal
    inputs of a node, a wrong number of edges or a concat other than [2, 3, 4, 5].
    """
    def bad(why: str) -> InputError:
        shown = text if len(text) <= 300 else text[:300] + "..."
        return InputError(f"malformed DARTS genotype {shown!r}: {why}; expected {_FORM}")

    if not isinstance(text, str):
        raise InputError(f"a DARTS genotype must be a string like {_FORM}, "
                         f"got {type(text).__name__}")
    if len(text) > 5000:
        raise bad(f"{len(text)} characters is far too long for a genotype")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise bad(f"not a Python-style expression ({type(exc).__name__})") from None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name)
            and tree.func.id == "Genotype"):
        raise bad("it must be a Genotype(...) call")
    if len(tree.args) > len(_FIELDS):
        raise bad(f"{len(tree.args)} positional fields, at most {len(_FIELDS)}")
    nodes = dict(zip(_FIELDS, tree.args))
    for kw in tree.keywords:
        if kw.arg not in _FIELDS:
            raise bad(f"unknown field {kw.arg!r} (fields: {', '.join(_FIELDS)})")
        if kw.arg in nodes:
            raise bad(f"field {kw.arg!r} given twice")
        nodes[kw.arg] = kw.value
    missing = [f for f in _FIELDS if f not in nodes]
    if missing:
        raise bad(f"missing field(s) {', '.join(missing)}")
    try:
        values = {f: _literal(n, f) for f, n in nodes.items()}
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        raise bad("a field is not a plain literal") from None
    for name in ("normal_concat", "reduce_concat"):
        if not isinstance(values[name], (list, tuple)) or tuple(values[name]) != CONCAT:
            raise bad(f"{name} is {values[name]!r}; this space always concatenates [2, 3, 4, 5]")
    cells = []
    for name in ("normal", "reduce"):
        why = _cell_problem(values[name])
        if why:
            raise bad(f"{name} cell: {why}")
        cells.append(tuple((str(op), int(inp)) for op, inp in values[name]))
    return Genotype(normal=cells[0], reduce=cells[1])


def genotype_to_str(g: Genotype) -> str:
    """The DARTS ``Genotype(...)`` string; :func:`parse_genotype` reads it back."""
    _check(g)

    def cell(edges: tuple[Edge, ...]) -> str:
        return "[" + ", ".join(f"({op!r}, {int(inp)})" for op, inp in edges) + "]"

    return (f"Genotype(normal={cell(g.normal)}, normal_concat=[2, 3, 4, 5], "
            f"reduce={cell(g.reduce)}, reduce_concat=[2, 3, 4, 5])")


def canonical(g: Genotype) -> Genotype:
    """The same genotype with each node's two edges sorted by (input, op)."""
    def cell(edges: tuple[Edge, ...]) -> tuple[Edge, ...]:
        return tuple(e for k in range(NUM_STEPS)
                     for e in sorted(edges[2 * k:2 * k + 2], key=lambda e: (e[1], e[0])))

    return Genotype(normal=cell(g.normal), reduce=cell(g.reduce))


# -- graph ----------------------------------------------------------------------------------------
def _cell_graph(edges: tuple[Edge, ...], *, concat_quirk: bool) -> tuple[list[int], np.ndarray]:
    """15-node graph of one cell: inputs 0, 1; node k's op-nodes 2+3k, 3+3k and concat 4+3k;
    output 14. A concat node feeds the output unless a later op-node reads it (13 always does);
    ``concat_quirk`` links concat 10 to the output unconditionally, as the authors' code does."""
    ops = [_F["input"], _F["input"]]
    adj = np.zeros((CELL_NODES, CELL_NODES), dtype=np.uint8)
    for k in range(NUM_STEPS):
        ops += [_F[edges[2 * k][0]], _F[edges[2 * k + 1][0]], _F["concat"]]
    ops.append(_F["output"])
    for e, (_, inp) in enumerate(edges):
        k, op_node = e // 2, 2 + 3 * (e // 2) + e % 2
        adj[inp if inp < 2 else 3 * (inp - 2) + 4, op_node] = 1
        adj[op_node, 4 + 3 * k] = 1
    for c in (4, 7, 10):
        if not adj[c].any() or (concat_quirk and c == 10):
            adj[c, 14] = 1
    adj[13, 14] = 1
    return ops, adj


def graph_arrays(g: Genotype, *, legacy_normal_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(node_ops int8[30], adjacency uint8[30, 30]) of the op-on-node graph of both cells.

    Normal cell at nodes 0..14, reduction cell at 15..29, plus 14 -> 15 and 14 -> 16 (the normal
    cell's output feeds both inputs of the reduction cell). The genotype is canonicalised first,
    so equivalent genotypes get one graph. ``legacy_normal_only=True`` reproduces the authors'
    GIN input (their converter reads only the first 15 nodes, and their concat rule checks one
    matrix entry instead of node 10's row): the normal cell alone, concat node 10 always linked to
    the output, padded to 30 with edge-less nodes labelled :data:`LEGACY_PAD_LABEL`; pass
    :data:`LEGACY_NODE_MASK` to the GIN to pool over the 15 real nodes only.
    """
    g = canonical(_check(g))
    node_ops = np.empty(NUM_NODES, dtype=np.int8)
    adjacency = np.zeros((NUM_NODES, NUM_NODES), dtype=np.uint8)
    if legacy_normal_only:
        ops, adj = _cell_graph(g.normal, concat_quirk=True)
        node_ops[:] = LEGACY_PAD_LABEL
        node_ops[:CELL_NODES] = ops
        adjacency[:CELL_NODES, :CELL_NODES] = adj
        return node_ops, adjacency
    for c, edges in enumerate(g.cells):
        ops, adj = _cell_graph(edges, concat_quirk=False)
        lo = c * CELL_NODES
        node_ops[lo:lo + CELL_NODES] = ops
        adjacency[lo:lo + CELL_NODES, lo:lo + CELL_NODES] = adj
    adjacency[CELL_NODES - 1, CELL_NODES] = 1
    adjacency[CELL_NODES - 1, CELL_NODES + 1] = 1
    return node_ops, adjacency


# -- encodings ------------------------------------------------------------------------------------
def cell_paths(edges: tuple[Edge, ...]) -> list[tuple[int, tuple[int, ...], tuple[int, ...]]]:
    """Every path from a cell input to an intermediate node as (start input 0/1, node ids k,
    op indices of the edges entering them), sorted by (length, [start, *node ids]).

    Every prefix counts as a path because all intermediate nodes are concatenated into the output;
    there are at most 2 + 3 + 5 + 8 = 18."""
    into: list[list[tuple[int, tuple[int, ...], tuple[int, ...]]]] = []
    for k in range(NUM_STEPS):
        here = []
        for op, inp in edges[2 * k:2 * k + 2]:
            o = _OP_INDEX[op]
            if inp < 2:
                here.append((inp, (k,), (o,)))
            else:
                here += [(s, nodes + (k,), ops + (o,)) for s, nodes, ops in into[inp - 2]]
        into.append(here)
    paths = [p for here in into for p in here]
    return sorted(paths, key=lambda p: (len(p[1]), (p[0], *p[1])))


def encode_pape(g: Genotype) -> np.ndarray:
    """Position-aware path encoding (PAPE, SSNENAS arXiv 2011.00186), uint8[1224]: per cell
    (normal, then reduction) one 34-bit block per path, bit ``start`` (0 = c_{k-2}, 1 = c_{k-1}) and
    bit ``2 + 8k + op`` for each node k on the path, blocks sorted by (length, [start, *nodes]) and
    zero-padded to 18. The op labels travel with their path when sorting (the original code pairs
    the unsorted op labels with the sorted node indices)."""
    _check(g)
    out = np.zeros(PAPE_LEN, dtype=np.uint8)
    for c, edges in enumerate(g.cells):
        for p, (start, nodes, ops) in enumerate(cell_paths(edges)):
            base = c * PAPE_CELL + p * PAPE_BLOCK
            out[base + start] = 1
            for k, o in zip(nodes, ops):
                out[base + 2 + k * len(OPS) + o] = 1
    return out


def encode_path(g: Genotype) -> np.ndarray:
    """BANANAS path encoding, uint8[18724]: one block of 8^0 + ... + 8^4 = 4,681 bits per (cell,
    start input); a path with ops o_0..o_{L-1} (o_0 nearest the input) sets bit
    ``sum_i 8**i * (o_i + 1)`` of its block. Mostly zeros: convert with ``np.flatnonzero`` or a
    sparse matrix to store many."""
    _check(g)
    out = np.zeros(PATH_LEN, dtype=np.uint8)
    for c, edges in enumerate(g.cells):
        for start, _, ops in cell_paths(edges):
            index = sum(len(OPS) ** i * (o + 1) for i, o in enumerate(ops))
            out[(2 * c + start) * PATH_BLOCK + index] = 1
    return out


def encode_adjacency(g: Genotype) -> np.ndarray:
    """Adjacency encoding, uint8[208]: for each edge of the canonical genotype (normal, then
    reduction; 2 per node) a one-hot of its input (0..4) followed by a one-hot of its op."""
    out = np.zeros((2, NUM_EDGES, ADJ_EDGE), dtype=np.uint8)
    for c, edges in enumerate(canonical(_check(g)).cells):
        for e, (op, inp) in enumerate(edges):
            out[c, e, inp] = 1
            out[c, e, NUM_STEPS + 1 + _OP_INDEX[op]] = 1
    return out.ravel()


_ENCODERS: dict[str, Callable[[Genotype], np.ndarray]] = {
    "pape": encode_pape, "path": encode_path, "adjacency": encode_adjacency}


# -- the space ------------------------------------------------------------------------------------
def _random_cell(rng: np.random.Generator) -> tuple[Edge, ...]:
    edges: list[Edge] = []
    for k in range(NUM_STEPS):
        inputs = rng.choice(k + 2, size=2, replace=False)
        ops = rng.integers(0, len(OPS), size=2)
        edges += [(OPS[int(o)], int(i)) for o, i in zip(ops, inputs)]
    return tuple(edges)


class DartsSpace(SearchSpace):
    """The DARTS space as :class:`Genotype` values; see the module docstring."""

    name = "darts"
    num_nodes = NUM_NODES
    node_features = NODE_FEATURES
    encodings = {"pape": PAPE_LEN, "path": PATH_LEN, "adjacency": ADJ_LEN}

    def __init__(self, *, legacy_normal_only: bool = False) -> None:
        self.legacy_normal_only = legacy_normal_only

    def sample(self, rng: np.random.Generator) -> Genotype:
        """Per cell and node k: two distinct inputs from range(k + 2) and two ops drawn uniformly
        from all 8 (``none`` included); normal and reduction independently."""
        return Genotype(normal=_random_cell(rng), reduce=_random_cell(rng))

    def mutate(self, arch: Genotype, rng: np.random.Generator,
               is_known: Callable[[Genotype], bool] | None = None, edits: int = 2) -> Genotype:
        """``edits`` edits (NPENAS' mutation_rate 2.0): each picks a cell, one of its 8 edges and,
        with probability 1/2, redraws its op uniformly from all 8 (possibly the same op), else its
        input from range(k + 2), skipped if that equals the sibling edge's input. The child can
        therefore equal the parent. With ``is_known`` the whole mutation is redrawn until it accepts
        the child; after ``max_mutation_tries`` rejections the parent is returned."""
        parent = _check(arch)
        for _ in range(self.max_mutation_tries):
            cells = [list(parent.normal), list(parent.reduce)]
            for _ in range(edits):
                cell = cells[int(rng.integers(0, 2))]
                e = int(rng.integers(0, NUM_EDGES))
                op, inp = cell[e]
                if rng.random() < 0.5:
                    cell[e] = (OPS[int(rng.integers(0, len(OPS)))], inp)
                else:
                    new = int(rng.integers(0, e // 2 + 2))
                    if new != cell[e ^ 1][1]:
                        cell[e] = (op, new)
            child = Genotype(normal=tuple(cells[0]), reduce=tuple(cells[1]))
            if is_known is None or is_known(child):
                return child
        return parent

    def one_edit_children(self, arch: Genotype) -> Iterator[Genotype]:
        """The genotypes with one edge of one cell changed: its op replaced by each of the other 7,
        or its input by each other one its node may read (``range(k + 2)``) that the sibling edge
        does not; normal cell first, edges in order: 2 * (8 * 7 + 12) = 136 of them, fewer when two
        edits give the same canonical genotype."""
        parent = _check(arch)
        for c, edges in enumerate(parent.cells):
            for e, (op, inp) in enumerate(edges):
                changed = [(o, inp) for o in OPS if o != op]
                changed += [(op, i) for i in range(e // 2 + 2) if i != inp and i != edges[e ^ 1][1]]
                for edge in changed:
                    cell = edges[:e] + (edge,) + edges[e + 1:]
                    yield Genotype(normal=cell, reduce=parent.reduce) if c == 0 else \
                        Genotype(normal=parent.normal, reduce=cell)

    def is_valid(self, arch: Genotype) -> bool:
        return genotype_problem(arch) is None

    def key(self, arch: Genotype) -> str:
        """The string of the canonical genotype (each node's edges sorted by input)."""
        return genotype_to_str(canonical(_check(arch)))

    def to_str(self, arch: Genotype) -> str:
        return genotype_to_str(arch)

    def from_str(self, text: str) -> Genotype:
        return parse_genotype(text)

    def to_graph(self, arch: Genotype) -> Graph:
        return Graph(*graph_arrays(arch, legacy_normal_only=self.legacy_normal_only))

    def encode(self, arch: Genotype, kind: str) -> np.ndarray:
        if kind not in _ENCODERS:
            raise InputError(f"unknown DARTS encoding {kind!r}; "
                             f"choose one of {', '.join(_ENCODERS)}")
        return _ENCODERS[kind](arch)


SPACE = DartsSpace()

__all__ = ["CONCAT", "Genotype", "LEGACY_NODE_MASK", "LEGACY_PAD_LABEL", "NODE_FEATURES", "OPS",
           "SPACE", "DartsSpace", "canonical", "cell_paths", "encode_adjacency", "encode_pape",
           "encode_path", "genotype_problem", "genotype_to_str", "graph_arrays", "parse_genotype"]
