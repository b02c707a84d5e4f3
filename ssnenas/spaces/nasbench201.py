"""NAS-Bench-201 (arXiv 2001.00326): a 4-node cell with one op on each of its 6 edges.

Representations and conversions:

- ``NB201Arch``: the 6 edge ops as a tuple of op names, in the official string's edge order
  :data:`EDGES` = (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2);
- the official cell string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (:func:`parse_arch`,
  :func:`arch_to_str`); it is also the arch's ``key``;
- the 8-node op-on-node DAG (:func:`graph_arrays`) the GIN, the path encodings and the PAPE read;
- encodings: "adjacency" (58), "path" (5,461), "pape" (96).

The cell topology, sampling, mutation, graph conversion and encodings are shared with every space of
this cell (:mod:`ssnenas.spaces.cell_on_edges`); this module adds the op list, the string form and the
official index order.

The official benchmark index of a cell is its position in :func:`all_archs`: NAS-Bench-201 lists
the 5^6 cells in ``itertools.product`` order over :data:`OPS` and shuffles them once with
``random.seed(88)`` (checked against the ``index`` column of the real table in the tests).
"""

from __future__ import annotations

import functools
import random

import numpy as np

from ssnenas.errors import InputError
from ssnenas.spaces.cell_on_edges import EDGES, NUM_NODES, CellOnEdgesSpace

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")

NB201Arch = tuple[str, ...]

EXAMPLE = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|"
           "+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
_FORM = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"


class NasBench201Space(CellOnEdgesSpace):
    """NAS-Bench-201 cells as 6-tuples of edge ops; see the module docstring."""

    name = "nasbench201"
    title = "NAS-Bench-201"

    def __init__(self) -> None:
        super().__init__(OPS)

    def parse(self, text: str) -> NB201Arch:
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

    def format_ops(self, ops: NB201Arch) -> str:
        return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)

    def all_archs(self) -> list[NB201Arch]:
        """All 15,625 cells in official benchmark index order."""
        return list(_all_archs())


SPACE = NasBench201Space()

#: one-hot vocabulary of the 8-node graph; the ``none`` slot is never set after conversion
NODE_FEATURES: tuple[str, ...] = SPACE.node_features
PAPE_MAX_PATHS = 4
PAPE_BLOCK = SPACE.pape_block  # 24 bits per path
PAPE_LEN = SPACE.encodings["pape"]  # 96
PATH_LEN = SPACE.encodings["path"]  # 5,461
ADJ_LEN = SPACE.encodings["adjacency"]  # 28 + 30 = 58


@functools.cache
def _all_archs() -> tuple[NB201Arch, ...]:
    archs = SPACE.product_archs()
    random.Random(88).shuffle(archs)  # NAS-Bench-201's generate_meta_info order
    return tuple(archs)


# -- module-level forms of the space's methods (the names the rest of the project imports) ---------
def parse_arch(text: str) -> NB201Arch:
    """The op tuple of an official NB201 cell string; :class:`InputError` names a malformed one."""
    return SPACE.parse(text)


def is_valid_arch(arch: object) -> bool:
    """True for a sequence of exactly 6 op names from :data:`OPS`."""
    return SPACE.is_valid(arch)


def arch_to_str(arch: NB201Arch) -> str:
    """The official cell string, the inverse of :func:`parse_arch`."""
    return SPACE.to_str(arch)


def all_archs() -> list[NB201Arch]:
    """All 15,625 cells in official NAS-Bench-201 index order (``all_archs()[index]``)."""
    return list(_all_archs())


def graph_arrays(arch: NB201Arch) -> tuple[np.ndarray, np.ndarray]:
    """(node_ops int8[8], adjacency uint8[8, 8]) of the original code's op-on-node conversion.

    Node 0 is the input, op-nodes 1..6 hold edges (1<-0), (2<-0), (3<-0), (2<-1), (3<-1), (3<-2),
    node 7 the output; `none` op-nodes are removed, then isolated nodes (possibly the output),
    survivors are renumbered consecutively, the last survivor goes to index 7, and the free slots
    become ``isolate`` nodes with an edge from node 0. Labels index :data:`NODE_FEATURES`.
    """
    return SPACE.graph_arrays(arch)


def encode_pape(arch: NB201Arch) -> np.ndarray:
    """Position-aware path encoding (SSNENAS), uint8[96]: one 24-bit block per input->output path of
    the padded graph, bit ``(node - 1) * 4 + op``; blocks sorted by (length, node indices)."""
    return SPACE.encode_pape(arch)


def encode_path(arch: NB201Arch) -> np.ndarray:
    """BANANAS path encoding, uint8[5461]: bit ``sum_i 4**i * (op_i + 1)`` (op_0 nearest the input)
    for every input->output op sequence of the padded graph."""
    return SPACE.encode_path(arch)


def encode_adjacency(arch: NB201Arch) -> np.ndarray:
    """Adjacency encoding, uint8[58]: the 28 upper-triangular bits of the padded 8x8 matrix (row
    major) + for nodes 1..6 a one-hot over (skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3,
    isolate)."""
    return SPACE.encode_adjacency(arch)


__all__ = ["EDGES", "NB201Arch", "NODE_FEATURES", "NUM_NODES", "OPS", "SPACE", "NasBench201Space",
           "all_archs", "arch_to_str", "encode_adjacency", "encode_pape", "encode_path", "graph_arrays",
           "is_valid_arch", "parse_arch"]
