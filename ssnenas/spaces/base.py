"""The search-space contract every space module implements.

A space object is stateless: architectures are immutable, hashable values, all randomness comes
from the ``rng`` argument (a ``numpy.random.Generator``), and benchmark numbers live in the store,
never on arch objects.

Representations every space offers:
- the arch value itself (a frozen dataclass or tuple; hashable);
- ``to_str``/``from_str``: the string a Tune config carries (``{"arch": to_str(a)}``);
- ``key``: the canonical identity used for deduplication and benchmark lookups
  (NB101: the official module hash; NB201: the official cell string; DARTS: canonical genotype);
- ``to_graph``: node op indices (length ``num_nodes``) plus a ``num_nodes``² 0/1 adjacency,
  padded to a fixed node count, edges oriented input -> output;
- ``encode(arch, kind)`` for kind in ``encodings`` ("path", "pape", "adjacency");
- ``neighbours(arch)``: every architecture one edit away (local search), from ``one_edit_children``.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np


class Graph(NamedTuple):
    """A padded op-on-node DAG: ``node_ops[i]`` indexes the space's ``node_features`` vocabulary;
    ``adjacency[i, j] = 1`` for an edge i -> j (messages flow from i to j)."""

    node_ops: np.ndarray  # int8, shape [num_nodes]
    adjacency: np.ndarray  # uint8, shape [num_nodes, num_nodes]

    def one_hot(self, num_features: int) -> np.ndarray:
        """float32 [num_nodes, num_features] one-hot node features."""
        return np.eye(num_features, dtype=np.float32)[self.node_ops]


class SearchSpace:
    """Base class: subclasses set the class attributes and implement the abstract methods."""

    name: str = ""
    num_nodes: int = 0  # padded node count of to_graph (7, 8, 30)
    node_features: tuple[str, ...] = ()  # one-hot vocabulary of to_graph's node_ops
    encodings: dict[str, int] = {}  # kind -> vector length
    #: mutation retries when ``is_known`` rejects children; the parent is returned after that (as in
    #: the original code's NB101 mutation)
    max_mutation_tries: int = 500

    @property
    def num_features(self) -> int:
        return len(self.node_features)

    # -- abstract ---------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Any:
        raise NotImplementedError

    def mutate(self, arch: Any, rng: np.random.Generator,
               is_known: Callable[[Any], bool] | None = None) -> Any:
        """One mutation as NPENAS does it; ``is_known`` (e.g. "is in the benchmark") narrows validity."""
        raise NotImplementedError

    def is_valid(self, arch: Any) -> bool:
        raise NotImplementedError

    def key(self, arch: Any) -> str:
        raise NotImplementedError

    def to_str(self, arch: Any) -> str:
        raise NotImplementedError

    def from_str(self, text: str) -> Any:
        """Parse; a malformed string raises :class:`ssnenas.errors.InputError` naming it."""
        raise NotImplementedError

    def to_graph(self, arch: Any) -> Graph:
        raise NotImplementedError

    def encode(self, arch: Any, kind: str) -> np.ndarray:
        raise NotImplementedError

    def one_edit_children(self, arch: Any) -> Iterator[Any]:
        """Every valid architecture that one edit of ``arch`` gives, in a fixed order, possibly
        repeating a key or equal to ``arch``; :meth:`neighbours` cleans it up. What one edit is, is
        the space's choice (cells on edges: one op; NB101: one edge or one op; DARTS: one op or one
        input of one edge)."""
        raise NotImplementedError(f"{type(self).__name__} defines no one-edit neighbourhood")

    # -- shared -----------------------------------------------------------------------------
    def neighbours(self, arch: Any) -> list[Any]:
        """The one-edit neighbourhood of ``arch``: local search's moves (White et al., arXiv 2005.02960).

        Distinct by :meth:`key`, ``arch`` itself (and anything with its key) excluded, in the fixed
        order of :meth:`one_edit_children`, so a caller's own RNG decides the visiting order and a run
        stays reproducible. Unlike :meth:`mutate` it enumerates, rather than samples, the edits."""
        own = self.key(arch)
        seen, out = {own}, []
        for child in self.one_edit_children(arch):
            key = self.key(child)
            if key not in seen:
                seen.add(key)
                out.append(child)
        return out

    def ged(self, a: Any, b: Any) -> float:
        """Normalised graph edit distance, the SS-RL target: exp(-Hamming(PAPE_a, PAPE_b) / num_nodes).

        1 for identical encodings, decaying toward 0 (the "GED" of SSNENAS, arXiv 2011.00186).
        """
        d = int(np.count_nonzero(self.encode(a, "pape") != self.encode(b, "pape")))
        return math.exp(-d / self.num_nodes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, num_nodes={self.num_nodes})"
