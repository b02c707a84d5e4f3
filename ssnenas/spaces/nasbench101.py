"""The NAS-Bench-101 cell space: everything this project knows about it, in one module.

Representations and conversions:

- **spec**: an ``n x n`` 0/1 upper-triangular adjacency (``n <= 7``, vertex 0 = input, ``n-1`` = output,
  at most 9 edges) plus ``n`` op names (``input``, ops from :data:`OPS`, ``output``).
- **arch** (:class:`NB101Arch`): a spec in the benchmark's *pruned* form (vertices not on an
  input->output path removed, as ``ModelSpec._prune`` does), held as tuples so it is hashable.
  :func:`prune` / :func:`arch_from_spec` / :func:`arch_from_adjacency` build one.
- **key**: the official module hash (:func:`module_hash`, ``graph_util.hash_module``), the canonical,
  isomorphism-invariant identity used for benchmark lookups and dedup (the original dedups by PAPE,
  which merges distinct graphs; README, Decisions).
- **string** (``to_str``/``from_str``): ``"<row-major bits of the pruned matrix>|<comma-joined ops>"``,
  e.g. ``"0110000100010000|input,conv3x3-bn-relu,maxpool3x3,output"`` (input -> two ops -> output).
- **graph** (:func:`graph_arrays`, ``to_graph``): the 7-node padded DAG of the original code
  (node features over :data:`NODE_FEATURES`, dummy ``isolate`` nodes fed from the input).
- **encodings** (on the padded graph): ``path`` (BANANAS PE, 364), ``pape`` (position-aware path
  encoding of SSNENAS, 120), ``adjacency`` (BANANAS AE, 41). All are float32 0/1 vectors.

Validity lives in one function, :func:`_pruned_or_reason`, which every constructor, ``sample``,
``mutate`` and ``from_str`` go through.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterator, Sequence

import numpy as np

from ssnenas.errors import InputError
from ssnenas.spaces.base import Graph, SearchSpace

OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
NODE_FEATURES: tuple[str, ...] = (
    "input", "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3", "output", "isolate")
INPUT, OUTPUT, ISOLATE = "input", "output", "isolate"
MAX_VERTICES = 7
MAX_EDGES = 9

PE_LENGTH = sum(len(OPS) ** k for k in range(MAX_VERTICES - 1))  # 1+3+9+27+81+243 = 364
OP_SPOTS = MAX_VERTICES - 2  # intermediate positions of the padded graph
PAPE_MAX_PATHS = 8  # most input->output paths of any valid spec (brute force over all 7-node DAGs)
PAPE_BLOCK = OP_SPOTS * len(OPS)  # 15 bits per path
PAPE_LENGTH = PAPE_MAX_PATHS * PAPE_BLOCK  # 120
AE_LENGTH = MAX_VERTICES * (MAX_VERTICES - 1) // 2 + OP_SPOTS * (len(OPS) + 1)  # 21 + 5*4 = 41

_FEATURE = {name: i for i, name in enumerate(NODE_FEATURES)}
_F_INPUT, _F_OUTPUT, _F_ISOLATE = _FEATURE[INPUT], _FEATURE[OUTPUT], _FEATURE[ISOLATE]
_HASH_LABEL = {INPUT: -1, OUTPUT: -2, **{op: i for i, op in enumerate(OPS)}}
_TRIU = np.triu_indices(MAX_VERTICES, 1)  # the 21 upper-triangular entries, row-major
# AE op block: feature index -> position in [conv3x3, conv1x1, maxpool3x3, isolate]
_AE_OP = np.array([-1, 0, 1, 2, -1, 3], dtype=np.int64)
_STRING_FORM = ("'<n*n row-major 0/1 bits of an upper-triangular adjacency, n <= 7>|<n comma-joined ops: "
                "input, then conv3x3-bn-relu / conv1x1-bn-relu / maxpool3x3, then output>'")
_STRING_EXAMPLE = "0110000100010000|input,conv3x3-bn-relu,maxpool3x3,output"


@dataclass(frozen=True)
class NB101Arch:
    """A NAS-Bench-101 cell in pruned form: ``matrix[i][j] = 1`` for an edge i -> j, ``ops[0] ==
    "input"``, ``ops[-1] == "output"``. Build it with :func:`arch_from_spec` (which prunes and checks)."""

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    def array(self) -> np.ndarray:
        """The adjacency as a fresh uint8 ``[n, n]`` array."""
        return np.array(self.matrix, dtype=np.uint8).reshape(len(self.ops), len(self.ops))


# -- validity and pruning ---------------------------------------------------------------------------
def _prune_lists(rows: list[list[int]], ops: Sequence[str]) -> tuple[list[list[int]], list[str]] | None:
    """ModelSpec._prune on list-of-lists: keep vertices reachable from the input AND reaching the output."""
    n = len(rows)
    succ = [[j for j in range(n) if rows[i][j]] for i in range(n)]
    pred = [[i for i in range(n) if rows[i][j]] for j in range(n)]
    seen_in, seen_out = {0}, {n - 1}
    for seen, nbrs in ((seen_in, succ), (seen_out, pred)):
        frontier = list(seen)
        while frontier:
            v = frontier.pop()
            for w in nbrs[v]:
                if w not in seen:
                    seen.add(w)
                    frontier.append(w)
    keep = sorted(seen_in & seen_out)
    if len(keep) < 2:  # official: more than n-2 extraneous vertices => input/output disconnected
        return None
    if len(keep) == n:
        return [list(r) for r in rows], list(ops)
    return [[rows[i][j] for j in keep] for i in keep], [ops[i] for i in keep]


def _pruned_or_reason(matrix: np.ndarray | Sequence[Sequence[int]],
                      ops: Sequence[str]) -> tuple[list[list[int]], list[str]] | str:
    """The one validity rule (nasbench ``ModelSpec`` + ``is_valid``): the pruned spec as lists, or a
    string saying why the spec is not a valid NAS-Bench-101 cell.

    Valid = square 0/1 strictly upper-triangular matrix with one op per vertex, ``input`` first,
    ``output`` last, known ops in between, and after pruning: connected, <= 7 vertices, <= 9 edges.
    """
    m = np.asarray(matrix)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        return f"adjacency must be a square matrix, got shape {m.shape}"
    n = m.shape[0]
    if len(ops) != n:
        return f"{n} vertices but {len(ops)} ops"
    if n < 2:
        return "a cell needs at least the input and the output vertex"
    if n > MAX_VERTICES:
        return f"{n} vertices, at most {MAX_VERTICES} allowed"
    rows = m.tolist()
    for i in range(n):
        for j in range(n):
            v = rows[i][j]
            if v not in (0, 1):
                return f"adjacency entry [{i}][{j}] is {v!r}, entries must be 0 or 1"
            if v and j <= i:
                return f"adjacency is not strictly upper-triangular (edge {i}->{j})"
    if ops[0] != INPUT or ops[-1] != OUTPUT:
        return f"ops must start with {INPUT!r} and end with {OUTPUT!r}, got {ops[0]!r} ... {ops[-1]!r}"
    for op in ops[1:-1]:
        if op not in OPS:
            return f"unknown op {op!r}; intermediate ops are {', '.join(OPS)}"
    pruned = _prune_lists(rows, ops)
    if pruned is None:
        return "input and output are not connected"
    edges = sum(map(sum, pruned[0]))
    if edges > MAX_EDGES:
        return f"{edges} edges after pruning, at most {MAX_EDGES} allowed"
    return pruned


def prune(matrix: np.ndarray, ops: Sequence[str]) -> tuple[np.ndarray, list[str]] | None:
    """The official pruning: drop every vertex that is not on an input->output path.

    Returns a new ``(uint8 matrix, ops)`` pair, or ``None`` if input and output are disconnected.
    Does not check ops, edge or vertex limits (see :func:`arch_from_spec` for that).
    """
    m = np.asarray(matrix)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(ops) or m.shape[0] < 2:
        raise InputError(f"cannot prune a spec with adjacency shape {m.shape} and {len(ops)} ops; "
                         "pass a square n x n matrix (n >= 2) and n ops")
    pruned = _prune_lists(m.tolist(), ops)
    if pruned is None:
        return None
    return np.array(pruned[0], dtype=np.uint8).reshape(len(pruned[1]), len(pruned[1])), pruned[1]


def _arch(rows: list[list[int]], ops: Sequence[str]) -> NB101Arch:
    return NB101Arch(tuple(tuple(int(v) for v in r) for r in rows), tuple(ops))


def arch_from_spec(matrix: np.ndarray | Sequence[Sequence[int]], ops: Sequence[str]) -> NB101Arch:
    """Check and prune a spec into an :class:`NB101Arch`; :class:`InputError` says why if invalid."""
    result = _pruned_or_reason(matrix, ops)
    if isinstance(result, str):
        raise InputError(f"invalid NAS-Bench-101 spec (ops {list(ops)}): {result}")
    return _arch(*result)


def _parse_spec(adjacency: str, operations: str, what: str) -> NB101Arch:
    """Shared parser of the CSV columns and of ``to_str`` strings; ``what`` names the input in errors."""
    bits = adjacency.strip()
    ops = [op.strip() for op in operations.split(",")] if operations.strip() else []
    n = len(ops)
    if not bits or set(bits) - {"0", "1"}:
        reason = "the adjacency part must be a non-empty string of '0'/'1' characters"
    elif n * n != len(bits):
        reason = f"{len(bits)} adjacency bits do not make an n*n matrix for the {n} ops given"
    else:
        result = _pruned_or_reason(np.frombuffer(bits.encode(), np.uint8).reshape(n, n) - ord("0"), ops)
        if not isinstance(result, str):
            return _arch(*result)
        reason = result
    raise InputError(f"{what}: {reason}; expected {_STRING_FORM}, e.g. {_STRING_EXAMPLE!r}")


def arch_from_adjacency(adjacency: str, operations: str) -> NB101Arch:
    """Build (and prune) an arch from the ``adjacency``/``operations`` columns of the NB101 CSV tables or
    the tfrecord's ``raw_adjacency``/``raw_operations``: row-major '0'/'1' string, comma-joined ops."""
    return _parse_spec(adjacency, operations,
                       f"invalid NAS-Bench-101 spec adjacency={adjacency!r} operations={operations!r}")


# -- the official module hash -------------------------------------------------------------------------
def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _hash_pruned(rows: list[list[int]], ops: Sequence[str]) -> str:
    """graph_util.hash_module on a pruned spec.

    Labels: -1 input, -2 output, op index in :data:`OPS`. Vertex v starts as md5(str((out_deg, in_deg,
    label))); then V rounds of h_v <- md5(sorted in-neighbour hashes joined + "|" + sorted
    out-neighbour hashes joined + "|" + h_v); the key is md5(str(sorted(h))).
    """
    n = len(rows)
    succ = [[j for j in range(n) if rows[i][j]] for i in range(n)]
    pred = [[i for i in range(n) if rows[i][j]] for j in range(n)]
    hashes = [_md5(str((len(succ[v]), len(pred[v]), _HASH_LABEL[ops[v]]))) for v in range(n)]
    for _ in range(n):
        hashes = [_md5("".join(sorted([hashes[w] for w in pred[v]])) + "|"
                       + "".join(sorted([hashes[w] for w in succ[v]])) + "|" + hashes[v])
                  for v in range(n)]
    return _md5(str(sorted(hashes)))


def module_hash(matrix: np.ndarray, ops: Sequence[str]) -> str:
    """The official NAS-Bench-101 module hash (32 hex) of a spec, computed on its pruned form.

    Isomorphism-invariant: relabelling intermediate vertices keeps it. Raises :class:`InputError` for an
    invalid spec.
    """
    result = _pruned_or_reason(matrix, ops)
    if isinstance(result, str):
        raise InputError(f"cannot hash NAS-Bench-101 spec (ops {list(ops)}): {result}")
    return _hash_pruned(*result)


# -- padded graph and encodings ----------------------------------------------------------------------
def graph_arrays(matrix: np.ndarray, ops: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The 7-node padded graph (the original code's ``matrix_dummy_nodes`` + ``find_isolate_node``).

    Edges of the n-vertex spec are copied, with edges into the output redirected to vertex 6; ops become
    the first n-1 ops, 7-n ``isolate`` nodes, then ``output``; every vertex other than the input left
    without any edge gets an edge from the input. Returns ``(node_ops int8[7] indexing NODE_FEATURES,
    adjacency uint8[7, 7])``. Meant for pruned specs (the benchmark's stored form); not validated beyond
    shapes and op names, for speed.
    """
    m = np.asarray(matrix)
    n = len(ops)
    if m.shape != (n, n) or not 2 <= n <= MAX_VERTICES:
        raise InputError(f"cannot pad a spec with adjacency shape {m.shape} and {n} ops to "
                         f"{MAX_VERTICES} nodes; pass an n x n matrix, 2 <= n <= {MAX_VERTICES}, and n ops")
    last = n - 1
    adj = np.zeros((MAX_VERTICES, MAX_VERTICES), dtype=np.uint8)
    adj[:last, :last] = m[:last, :last]
    adj[:last, MAX_VERTICES - 1] = m[:last, last]
    lonely = ~(adj.any(axis=0) | adj.any(axis=1))
    lonely[0] = False
    adj[0, lonely] = 1
    try:
        feats = [_FEATURE[op] for op in ops]
    except KeyError as err:
        raise InputError(f"unknown NAS-Bench-101 op {err.args[0]!r} in {list(ops)}; "
                         f"known: {', '.join(NODE_FEATURES)}") from None
    node_ops = np.full(MAX_VERTICES, _F_ISOLATE, dtype=np.int8)
    node_ops[:last] = feats[:last]
    node_ops[MAX_VERTICES - 1] = feats[last]
    return node_ops, adj


def _paths(adj: np.ndarray) -> list[tuple[int, ...]]:
    """Every input->output path of a padded graph as its tuple of intermediate vertex indices."""
    rows = adj.tolist()
    to = [[()]] + [[] for _ in range(MAX_VERTICES - 1)]  # to[j]: paths input -> j (intermediates only)
    for j in range(1, MAX_VERTICES):
        for i in range(j):
            if rows[i][j]:
                tail = () if i == 0 else (i,)
                to[j].extend(p + tail for p in to[i])
    return to[MAX_VERTICES - 1]


def path_encoding(node_ops: np.ndarray, adj: np.ndarray) -> np.ndarray:
    """BANANAS path encoding (364): bit Σ_i 3^i·(op_i + 1) per path, i = 0 nearest the input,
    op index conv3x3 = 0, conv1x1 = 1, maxpool3x3 = 2 (the direct path is bit 0)."""
    ops = node_ops.tolist()
    enc = np.zeros(PE_LENGTH, dtype=np.float32)
    for path in _paths(adj):
        enc[sum(len(OPS) ** i * ops[v] for i, v in enumerate(path))] = 1  # feature = op index + 1
    return enc


def pape_encoding(node_ops: np.ndarray, adj: np.ndarray) -> np.ndarray:
    """Position-aware path encoding (120, SSNENAS arXiv 2011.00186): one 15-bit block per path, bit
    (node - 1)·3 + op for each intermediate node; blocks sorted by (length, node indices), zero-padded."""
    ops = node_ops.tolist()
    paths = sorted(_paths(adj), key=lambda p: (len(p), p))
    if len(paths) > PAPE_MAX_PATHS:
        raise InputError(f"{len(paths)} input->output paths exceed the {PAPE_MAX_PATHS} a valid "
                         "NAS-Bench-101 cell can have; is the spec valid (<= 9 edges)?")
    enc = np.zeros(PAPE_LENGTH, dtype=np.float32)
    for k, path in enumerate(paths):
        for v in path:
            enc[k * PAPE_BLOCK + (v - 1) * len(OPS) + ops[v] - 1] = 1
    return enc


def adjacency_encoding(node_ops: np.ndarray, adj: np.ndarray) -> np.ndarray:
    """BANANAS adjacency encoding (41): the 21 upper-triangular bits of the padded matrix (row-major),
    then for nodes 1..5 a one-hot over [conv3x3, conv1x1, maxpool3x3, isolate]."""
    enc = np.zeros(AE_LENGTH, dtype=np.float32)
    n_edges = len(_TRIU[0])
    enc[:n_edges] = adj[_TRIU]
    op_pos = _AE_OP[node_ops[1:MAX_VERTICES - 1]]
    enc[n_edges + 4 * np.arange(OP_SPOTS) + op_pos] = 1
    return enc


_ENCODERS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "path": path_encoding, "pape": pape_encoding, "adjacency": adjacency_encoding}


# -- the space object ---------------------------------------------------------------------------------
class NasBench101Space(SearchSpace):
    """NAS-Bench-101 (Ying et al. 2019, arXiv 1902.09635): cells of <= 7 vertices, <= 9 edges, 3 ops.

    Arches are :class:`NB101Arch` values in pruned form; the key is the official module hash.
    """

    name = "nasbench101"
    num_nodes = MAX_VERTICES
    node_features = NODE_FEATURES
    encodings = {"path": PE_LENGTH, "pape": PAPE_LENGTH, "adjacency": AE_LENGTH}

    def sample(self, rng: np.random.Generator) -> NB101Arch:
        """A random valid spec (BANANAS ``random_cell``): 7x7 upper-triangular bits with p = 0.5 and
        uniform ops, redrawn until valid, returned pruned. Uniform over *benchmark keys* it is not:
        the store samples keys uniformly."""
        while True:
            matrix = np.triu(rng.integers(0, 2, size=(MAX_VERTICES, MAX_VERTICES)), 1)
            ops = [INPUT, *(OPS[i] for i in rng.integers(0, len(OPS), size=MAX_VERTICES - 2)), OUTPUT]
            result = _pruned_or_reason(matrix, ops)
            if not isinstance(result, str):
                return _arch(*result)

    def mutate(self, arch: NB101Arch, rng: np.random.Generator,
               is_known: Callable[[NB101Arch], bool] | None = None) -> NB101Arch:
        """Cell.mutate2 with mutation rate 1 on the pruned V-vertex matrix.

        Each try flips every upper-triangular entry with prob 1/V and replaces each of the V-2
        intermediate ops with prob 1/(V-2) by one of the other two (uniformly). The first try whose
        pruned child is valid (and ``is_known(child)``, when given) is returned, so a child never has
        more vertices than its parent; it may equal the parent, as in the original. After
        ``max_mutation_tries`` failed tries the parent is returned.
        """
        base = arch.array()
        v = arch.num_vertices
        rows, cols = np.triu_indices(v, 1)
        inner = v - 2
        for _ in range(self.max_mutation_tries):
            matrix = base.copy()
            flips = rng.random(len(rows)) < 1.0 / v
            matrix[rows[flips], cols[flips]] ^= 1
            ops = list(arch.ops)
            if inner > 0:
                changed = np.flatnonzero(rng.random(inner) < 1.0 / inner) + 1
                for pos, pick in zip(changed.tolist(), rng.integers(0, len(OPS) - 1, size=len(changed)).tolist()):
                    ops[pos] = [op for op in OPS if op != ops[pos]][pick]
            result = _pruned_or_reason(matrix, ops)
            if isinstance(result, str):
                continue
            child = _arch(*result)
            if is_known is None or is_known(child):
                return child
        return arch

    def one_edit_children(self, arch: NB101Arch) -> Iterator[NB101Arch]:
        """The valid pruned cells one edit of the pruned matrix gives: each upper-triangular entry
        flipped (row-major), then each intermediate op replaced by each of the other two. Pruning
        can only drop vertices, so, as with :meth:`mutate`, no child has more vertices than its parent
        (one edge cannot put a new vertex on an input -> output path anyway)."""
        base = arch.array()
        v = arch.num_vertices
        rows, cols = np.triu_indices(v, 1)
        for i, j in zip(rows.tolist(), cols.tolist()):
            matrix = base.copy()
            matrix[i, j] ^= 1
            result = _pruned_or_reason(matrix, arch.ops)
            if not isinstance(result, str):
                yield _arch(*result)
        for pos in range(1, v - 1):
            for op in OPS:
                if op != arch.ops[pos]:
                    ops = list(arch.ops)
                    ops[pos] = op
                    result = _pruned_or_reason(base, ops)
                    if not isinstance(result, str):
                        yield _arch(*result)

    def is_valid(self, arch: NB101Arch) -> bool:
        """True iff ``arch`` is a valid spec *and* already in pruned form (as every NB101Arch should be)."""
        try:
            result = _pruned_or_reason(np.array(arch.matrix, dtype=np.int64), arch.ops)
        except (TypeError, ValueError):  # ragged or non-numeric matrix
            return False
        return not isinstance(result, str) and _arch(*result) == arch

    def key(self, arch: NB101Arch) -> str:
        """The official module hash (benchmark key, dedup key)."""
        return _cached_key(arch)

    def to_str(self, arch: NB101Arch) -> str:
        """``"<row-major 0/1 bits of the pruned matrix>|<comma-joined ops>"``."""
        return "".join(str(b) for row in arch.matrix for b in row) + "|" + ",".join(arch.ops)

    def from_str(self, text: str) -> NB101Arch:
        """Parse :meth:`to_str`'s form (pruning it); :class:`InputError` names the string otherwise."""
        if not isinstance(text, str) or text.count("|") != 1:
            raise InputError(f"malformed NAS-Bench-101 architecture string {text!r}: expected "
                             f"{_STRING_FORM}, e.g. {_STRING_EXAMPLE!r}")
        bits, ops = text.split("|")
        return _parse_spec(bits, ops, f"malformed NAS-Bench-101 architecture string {text!r}")

    def to_graph(self, arch: NB101Arch) -> Graph:
        return Graph(*graph_arrays(arch.array(), arch.ops))

    def encode(self, arch: NB101Arch, kind: str) -> np.ndarray:
        """float32 0/1 vector: ``path`` (364), ``pape`` (120) or ``adjacency`` (41)."""
        if kind not in _ENCODERS:
            raise InputError(f"unknown NAS-Bench-101 encoding {kind!r}; choose one of {', '.join(_ENCODERS)}")
        return _ENCODERS[kind](*graph_arrays(arch.array(), arch.ops))


@lru_cache(maxsize=1 << 16)
def _cached_key(arch: NB101Arch) -> str:
    return module_hash(arch.array(), arch.ops)


SPACE = NasBench101Space()

__all__ = [
    "AE_LENGTH", "MAX_EDGES", "MAX_VERTICES", "NODE_FEATURES", "OPS", "PAPE_LENGTH", "PE_LENGTH", "SPACE",
    "NB101Arch", "NasBench101Space", "adjacency_encoding", "arch_from_adjacency", "arch_from_spec",
    "graph_arrays", "module_hash", "pape_encoding", "path_encoding", "prune",
]


def padded_adjacency_batch(adj_strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised :func:`graph_arrays` adjacency for many row-major 0/1 strings, grouped by vertex count.

    Used when converting the 423,624 official graphs. Same rule as :func:`graph_arrays` (tests compare
    the two on every real graph): copy edges, redirect edges into the output to vertex ``size-1``, feed every edgeless
    non-input vertex from the input. ``ok`` marks specs that are valid and already pruned (every
    vertex reachable from the input and reaching the output, <= ``max_edges`` edges).
    """
    size, max_edges = MAX_VERTICES, MAX_EDGES
    count = len(adj_strings)
    adj = np.zeros((count, size, size), dtype=np.uint8)
    lengths = np.fromiter(map(len, adj_strings), dtype=np.int64, count=count)
    adj_n = np.rint(np.sqrt(lengths)).astype(np.int64)
    ok = np.zeros(count, dtype=bool)
    for n in range(2, size + 1):
        rows = np.flatnonzero(lengths == n * n)
        if rows.size == 0:
            continue
        blob = "".join([adj_strings[i] for i in rows.tolist()]).encode("ascii", "replace")
        m = (np.frombuffer(blob, dtype=np.uint8).reshape(rows.size, n, n) - ord("0")).astype(np.int64)
        good = ((m == 0) | (m == 1)).all(axis=(1, 2))
        m = np.where(good[:, None, None], m, 0)
        good &= ~np.tril(m).any(axis=(1, 2)) & (m.sum(axis=(1, 2)) <= max_edges)
        fwd = np.zeros((rows.size, n), dtype=np.int64)
        fwd[:, 0] = 1
        bwd = np.zeros((rows.size, n), dtype=np.int64)
        bwd[:, n - 1] = 1
        for _ in range(n):
            fwd = np.minimum(fwd + np.einsum("bi,bij->bj", fwd, m), 1)
            bwd = np.minimum(bwd + np.einsum("bij,bj->bi", m, bwd), 1)
        good &= (fwd.all(axis=1) & bwd.all(axis=1))
        last = n - 1
        pad = np.zeros((rows.size, size, size), dtype=np.uint8)
        pad[:, :last, :last] = m[:, :last, :last]
        pad[:, :last, size - 1] = m[:, :last, last]
        lonely = ~(pad.any(axis=1) | pad.any(axis=2))
        lonely[:, 0] = False
        pad[:, 0, :] |= lonely.astype(np.uint8)
        adj[rows] = pad
        ok[rows] = good
    return adj, adj_n, ok
