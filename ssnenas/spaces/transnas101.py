"""TransNAS-Bench-101 micro (Duan et al., CVPR 2021, arXiv 2105.11871): the NAS-Bench-201 cell with 4 ops.

The benchmark trains the same 4^6 = 4,096 cells on seven tasks. Its cell is NAS-Bench-201's (4 nodes,
one op on each of the 6 edges), so sampling, mutation, the 8-node graph and the encodings come from
:mod:`ssnenas.spaces.cell_on_edges`; this module adds the ops and the string form:

- ops (official codes): ``0`` zero (``none``, removes its edge), ``1`` skip connection
  (``skip_connect``), ``2`` ReLU-conv1x1-BN (``nor_conv_1x1``), ``3`` ReLU-conv3x3-BN (``nor_conv_3x3``);
  the names are NAS-Bench-201's for the same operations;
- the official string ``64-41414-a_bc_def``: ``64`` the stem width, ``41414`` the macro skeleton, then
  the cell code grouped by destination node: node 1 from node 0 (``a``), node 2 from nodes 0, 1
  (``bc``), node 3 from nodes 0, 1, 2 (``def``), the edge order of NAS-Bench-201's string. It is the
  arch's ``key`` and ``to_str``; :meth:`parse` also accepts the bare cell code ``a_bc_def``;
- encodings: "adjacency" (52), "path" (1,093), "pape" (72); graph features
  ``input, none, skip_connect, nor_conv_1x1, nor_conv_3x3, isolate, output`` (7).

:meth:`~TransNAS101MicroSpace.all_archs` lists the cells in ``itertools.product`` order of the codes
(``0_00_000``, ``0_00_001``, ...), the order of the shared table ``tnb101_micro.csv``.

Cells whose three inputs of node 3 are all zero (``a_bc_000``, 64 of them) and the others whose output
cannot be reached from the input output zeros: the benchmark trained each such network and they share
one value per task. The graph conversion treats them as NAS-Bench-201's cut-off cells (the output node
is removed, see :mod:`ssnenas.spaces.cell_on_edges`).
"""

from __future__ import annotations

import re

from ssnenas.errors import InputError
from ssnenas.spaces.cell_on_edges import EDGES, CellOnEdgesSpace

#: op names in official code order 0..3
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")
#: the micro space's stem width and macro skeleton, the fixed prefix of every official string
PREFIX = "64-41414-"
EXAMPLE = "64-41414-3_32_132"
_FORM = "64-41414-a_bc_def"
_CODE = re.compile(r"([0-3])_([0-3]{2})_([0-3]{3})")

TNB101Arch = tuple[str, ...]


class TransNAS101MicroSpace(CellOnEdgesSpace):
    """TransNAS-Bench-101 micro cells as 6-tuples of edge ops; see the module docstring."""

    name = "transnas101-micro"
    title = "TransNAS-Bench-101 micro"

    def __init__(self) -> None:
        super().__init__(OPS)

    def parse(self, text: str) -> TNB101Arch:
        """The op tuple of an official string ``64-41414-a_bc_def`` (or the bare code ``a_bc_def``)."""
        if not isinstance(text, str):
            raise InputError(f"TransNAS-Bench-101 micro arch must be a string like {_FORM!r}, "
                             f"got {type(text).__name__}")
        stripped = text.strip()
        code = stripped[len(PREFIX):] if stripped.startswith(PREFIX) else stripped
        match = _CODE.fullmatch(code)
        if match is None:
            why = ("a macro-space or other skeleton; only the micro space 64-41414 is supported"
                   if "-" in code else "the cell code must be a_bc_def with every digit 0-3")
            raise InputError(f"not a TransNAS-Bench-101 micro code: {text!r} ({why}); expected {_FORM} "
                             f"(op codes 0 zero, 1 skip, 2 conv1x1, 3 conv3x3; node 1 from 0, node 2 from "
                             f"0 and 1, node 3 from 0, 1 and 2), e.g. {EXAMPLE}")
        digits = "".join(match.groups())
        return tuple(OPS[int(d)] for d in digits)

    def format_ops(self, ops: TNB101Arch) -> str:
        d = [str(OPS.index(op)) for op in ops]
        return f"{PREFIX}{d[0]}_{d[1]}{d[2]}_{d[3]}{d[4]}{d[5]}"

    def cell_code(self, arch: TNB101Arch) -> str:
        """The bare cell code ``a_bc_def`` (the official string without its ``64-41414-`` prefix)."""
        return self.to_str(arch)[len(PREFIX):]


SPACE = TransNAS101MicroSpace()

__all__ = ["EDGES", "EXAMPLE", "OPS", "PREFIX", "SPACE", "TNB101Arch", "TransNAS101MicroSpace"]
