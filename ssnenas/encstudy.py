"""How well each architecture encoding identifies architectures, measured against graph isomorphism.

The reference is the isomorphism class of each architecture's *pruned labelled DAG*, computed here
by a canonical form (the lexicographically smallest labelled edge list over all permutations of the
intermediate nodes, input/output nodes fixed), never taken from the literature:

- NAS-Bench-201: the 4-node cell with ops on edges. ``none`` removes its edge; nodes not on an
  input -> output path are dropped with their edges; ``skip_connect``, the convolutions and the
  pooling stay edge labels (no identity folding). Every cell whose output is cut off from the input
  (it outputs zeros) falls into one class, the empty graph.
- NAS-Bench-101: the benchmark's pruned spec (ops on nodes, vertices off every input -> output path
  already removed); the 5! permutations of the intermediate vertices.
- DARTS: per cell, the two cell inputs (distinguishable) and the 4 intermediate nodes, edges
  labelled by op; ``none`` removes its edge, an intermediate node left without any input path is
  emptied (its out-edges dropped). The cell output concatenates all 4 intermediate nodes, and their
  order is treated as irrelevant (a channel permutation the next cell's 1x1 preprocessing absorbs), so
  all 4! node permutations count. An architecture's class is the pair (normal class, reduction class).

For an encoding E over a set of architectures (each a distinct value of the space):

- ``distinct``: the number of distinct E vectors;
- ``merged``: the number of architectures whose E vector is shared with a *non-isomorphic*
  architecture of the set (E cannot tell them apart: a false collision);
- ``split``: the number of architectures whose isomorphism class gets more than one E vector in the
  set (E separates equivalent graphs: a duplicate the encoding does not see).

A perfect encoding has ``distinct == unique_up_to_isomorphism`` and ``merged == split == 0``. The
encodings are the space's ``adjacency``, ``path`` (BANANAS), ``pape`` (position-aware path encoding,
SSNENAS arXiv 2011.00186) and ``key`` (the space's canonical key: NB101 module hash, NB201 cell
string, DARTS genotype with each node's two edges sorted).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any, Callable, Hashable, Iterable, Sequence

import numpy as np

from ssnenas.errors import InputError

KEY_ENCODING = "key"
Canon = Hashable


# -- canonical forms -------------------------------------------------------------------------------
def _canon_edges(edges: Iterable[tuple[int, int, Any]], inner: Sequence[int]) -> tuple:
    """Smallest sorted edge list over all relabellings of the ``inner`` nodes (others fixed)."""
    edges = list(edges)
    best: tuple | None = None
    for perm in itertools.permutations(inner):
        relabel = dict(zip(inner, perm))
        form = tuple(sorted((relabel.get(i, i), relabel.get(j, j), lab) for i, j, lab in edges))
        if best is None or form < best:
            best = form
    return best if best is not None else ()


def _on_path(edges: list[tuple[int, int, Any]], source: int, sink: int) -> set[int]:
    """Nodes reachable from ``source`` that also reach ``sink``."""
    fwd, bwd = defaultdict(list), defaultdict(list)
    for i, j, _ in edges:
        fwd[i].append(j)
        bwd[j].append(i)

    def reach(start: int, nbrs: dict) -> set[int]:
        seen, stack = {start}, [start]
        while stack:
            for m in nbrs[stack.pop()]:
                if m not in seen:
                    seen.add(m)
                    stack.append(m)
        return seen

    return reach(source, fwd) & reach(sink, bwd)


def canonical_nb201(arch: Sequence[str]) -> Canon:
    """Isomorphism-class key of an NB201 cell (6 edge ops in the official string's edge order)."""
    from ssnenas.spaces.nasbench201 import EDGES

    edges = [(src, dst, op) for (dst, src), op in zip(EDGES, arch) if op != "none"]
    keep = _on_path(edges, 0, 3)
    if 3 not in keep:
        return ()  # output cut off from the input: the zero cell
    edges = [e for e in edges if e[0] in keep and e[1] in keep]
    return _canon_edges(edges, (1, 2))


def canonical_nb101(arch: Any) -> Canon:
    """Isomorphism-class key of a pruned NB101 spec (ops on nodes, as labels of self-pairs)."""
    n = arch.num_vertices
    edges: list[tuple[int, int, Any]] = [(i, j, "") for i in range(n) for j in range(n) if arch.matrix[i][j]]
    edges += [(v, v, arch.ops[v]) for v in range(1, n - 1)]  # node labels as labelled self-pairs
    return (n, _canon_edges(edges, tuple(range(1, n - 1))))


def _canonical_darts_cell(cell: Sequence[tuple[str, int]]) -> tuple:
    # cell node ids: inputs 0, 1; intermediate node k is node k + 2 (a genotype input index already)
    edges = [(inp, 2 + e // 2, op) for e, (op, inp) in enumerate(cell) if op != "none"]
    alive = {0, 1}
    for k in range(4):  # topological order: a node lives if one of its edges leaves a live node
        if any(dst == 2 + k and src in alive for src, dst, _ in edges):
            alive.add(2 + k)
    edges = [e for e in edges if e[0] in alive and e[1] in alive]
    return _canon_edges(edges, (2, 3, 4, 5))


def canonical_darts(g: Any) -> Canon:
    """Isomorphism-class key of a DARTS genotype: (normal cell class, reduction cell class)."""
    return (_canonical_darts_cell(g.normal), _canonical_darts_cell(g.reduce))


CANONICAL: dict[str, Callable[[Any], Canon]] = {
    "nasbench201": canonical_nb201, "nasbench101": canonical_nb101, "darts": canonical_darts,
    # the NAS-Bench-201 cell with 4 ops, its zero op also named "none": the same canonical form
    "transnas101-micro": canonical_nb201}


# -- counting --------------------------------------------------------------------------------------
def encoding_stats(classes: Sequence[Canon], codes: Sequence[Hashable]) -> dict[str, int]:
    """``distinct``/``merged``/``split`` of one encoding (see the module docstring)."""
    if len(classes) != len(codes):
        raise ValueError("classes and codes must have one entry per architecture")
    classes_of_code: dict[Hashable, set] = defaultdict(set)
    codes_of_class: dict[Canon, set] = defaultdict(set)
    for c, e in zip(classes, codes):
        classes_of_code[e].add(c)
        codes_of_class[c].add(e)
    merged = sum(len(classes_of_code[e]) > 1 for e in codes)
    split = sum(len(codes_of_class[c]) > 1 for c in classes)
    return {"distinct": len(classes_of_code), "merged": int(merged), "split": int(split)}


def _code(vector: np.ndarray) -> bytes:
    return np.packbits(np.asarray(vector).astype(bool)).tobytes()


def analyse(space: Any, archs: Sequence[Any], *, encodings: Sequence[str] | None = None) -> dict:
    """The encoding analysis of ``archs`` (distinct values of ``space``) as the JSON object
    ``{"space", "num_archs", "unique_up_to_isomorphism", "encodings": {name: stats}}``."""
    canon = CANONICAL.get(space.name)
    if canon is None:
        raise InputError(f"--space {space.name}: no isomorphism test for this space")
    names = list(encodings) if encodings is not None else [*space.encodings, KEY_ENCODING]
    for name in names:
        if name != KEY_ENCODING and name not in space.encodings:
            raise InputError(f"--encodings {name}: unknown for {space.name}; choose from "
                             f"{', '.join([*space.encodings, KEY_ENCODING])}")
    if not archs:
        raise InputError("no architectures to analyse; pass --num-archs >= 1")
    classes = [canon(a) for a in archs]
    result: dict[str, Any] = {"space": space.name, "num_archs": len(archs),
                              "unique_up_to_isomorphism": len(set(classes)), "encodings": {}}
    for name in names:
        if name == KEY_ENCODING:
            codes: list[Hashable] = [space.key(a) for a in archs]
        else:
            codes = [_code(space.encode(a, name)) for a in archs]
        result["encodings"][name] = encoding_stats(classes, codes)
    return result


def sample_distinct(space: Any, n: int, rng: np.random.Generator, *, max_draws: int | None = None) -> list:
    """``n`` architectures drawn with ``space.sample``, distinct by their string form."""
    seen: dict[str, Any] = {}
    draws, limit = 0, max_draws or 100 * n + 1000
    while len(seen) < n:
        if draws >= limit:
            raise InputError(f"--num-archs {n}: only {len(seen)} distinct architectures found in "
                             f"{draws} draws; ask for fewer")
        a = space.sample(rng)
        seen.setdefault(space.to_str(a), a)
        draws += 1
    return list(seen.values())


__all__ = ["CANONICAL", "KEY_ENCODING", "analyse", "canonical_darts", "canonical_nb101",
           "canonical_nb201", "encoding_stats", "sample_distinct"]
