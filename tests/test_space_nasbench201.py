"""NAS-Bench-201 space: strings, official index order, the original code's op-on-node graph conversion,
encodings, sampling and mutation."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from ssnenas.errors import InputError
from ssnenas.spaces import get_space
from ssnenas.spaces import nasbench201 as nb
from ssnenas.spaces.base import Graph

SPACE = nb.SPACE
ALL_CONV = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
            "+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
MIXED = "|skip_connect~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|nor_conv_3x3~0|none~1|skip_connect~2|"
I, SK, C1, C3, AP, ISO, OUT = 0, 2, 3, 4, 5, 6, 7  # NODE_FEATURES indices


def adjacency(*edges: tuple[int, int]) -> np.ndarray:
    a = np.zeros((8, 8), dtype=np.uint8)
    for i, j in edges:
        a[i, j] = 1
    return a


def assert_graph(text: str, ops: list[int], edges: list[tuple[int, int]]) -> None:
    node_ops, adj = nb.graph_arrays(nb.parse_arch(text))
    assert node_ops.dtype == np.int8 and adj.dtype == np.uint8
    assert node_ops.tolist() == ops
    np.testing.assert_array_equal(adj, adjacency(*edges))


# -- strings and index order (the real table's official strings and order: tests/test_shared_tables.py) ---
def test_parse_round_trip_all_cells():
    archs = SPACE.all_archs()
    texts = [nb.arch_to_str(a) for a in archs]
    assert len(set(texts)) == 15625
    for arch, text in zip(archs, texts):
        assert nb.parse_arch(text) == arch
        assert SPACE.key(SPACE.from_str(text)) == text


def test_all_archs_known_indices():
    # facts of the official table (index column of nb201_200epoch.csv); no data file needed
    archs = nb.all_archs()
    assert nb.arch_to_str(archs[0]) == ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|"
                                        "+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
    assert nb.arch_to_str(archs[3]) == ("|avg_pool_3x3~0|+|skip_connect~0|none~1|"
                                        "+|none~0|none~1|skip_connect~2|")


def test_parse_gives_ops_in_string_order():
    assert nb.parse_arch(MIXED) == ("skip_connect", "nor_conv_1x1", "avg_pool_3x3",
                                    "nor_conv_3x3", "none", "skip_connect")
    assert nb.EDGES == ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))


@pytest.mark.parametrize("text", [
    "",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|",                       # 2 groups
    ALL_CONV.replace("nor_conv_3x3~2", "conv_7x7~2"),                         # unknown op
    ALL_CONV.replace("nor_conv_3x3~1|+", "nor_conv_3x3~2|+"),                 # wrong source
    ALL_CONV.replace("|+|", "+"),                                             # missing bars
    ALL_CONV + "+|none~0|",                                                   # 4 groups
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|nor_conv_3x3|+|none~0|none~1|+|none~0|none~1|none~2|",                  # no ~source
])
def test_malformed_strings_raise_input_error(text):
    with pytest.raises(InputError) as err:
        nb.parse_arch(text)
    assert repr(text) in str(err.value) and "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|" in str(err.value)


def test_bad_tuples_are_rejected():
    assert not SPACE.is_valid(("none",) * 5)
    assert not SPACE.is_valid(("none",) * 5 + ("conv",))
    assert SPACE.is_valid(("none",) * 6)
    with pytest.raises(InputError):
        nb.arch_to_str(("none",) * 7)
    with pytest.raises(InputError):
        SPACE.encode(("none",) * 6, "zero_cost")


# -- op-on-node conversion of the original code ----------------------------------------------------
def test_graph_full_cell_keeps_fixed_wiring():
    assert_graph(ALL_CONV, [I, C3, C3, C3, C3, C3, C3, OUT],
                 [(0, 1), (0, 2), (0, 3), (1, 4), (1, 5), (2, 6), (4, 6), (3, 7), (5, 7), (6, 7)])


def test_graph_none_removed_survivors_renumbered():
    # slots: 1 skip(1<-0), 2 conv1(2<-0), 3 conv3(3<-0), 4 avg(2<-1), 5 none(3<-1), 6 skip(3<-2)
    assert_graph(MIXED, [I, SK, C1, C3, AP, SK, ISO, OUT],
                 [(0, 1), (0, 2), (0, 3), (1, 4), (2, 5), (4, 5), (3, 7), (5, 7), (0, 6)])


def test_identical_graphs_example():
    # conv on 1<-0 + skip on 3<-1  vs  conv on 2<-0 + skip on 3<-2, all else none
    a = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|"
    b = "|none~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|skip_connect~2|"
    expected_edges = [(0, 1), (1, 2), (2, 7), (0, 3), (0, 4), (0, 5), (0, 6)]
    for text in (a, b):
        assert_graph(text, [I, C3, SK, ISO, ISO, ISO, ISO, OUT], expected_edges)
    pa, pb = nb.parse_arch(a), nb.parse_arch(b)
    assert SPACE.key(pa) != SPACE.key(pb)
    np.testing.assert_array_equal(SPACE.encode(pa, "pape"), SPACE.encode(pb, "pape"))
    assert SPACE.ged(pa, pb) == 1.0


def test_dangling_nodes_are_kept():
    # kept as in the original conversion (README, Decisions): op-nodes 1 and 2 have an in-edge but no
    # path to the output
    assert_graph("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|none~2|",
                 [I, C3, C1, SK, ISO, ISO, ISO, OUT],
                 [(0, 1), (0, 2), (0, 3), (3, 7), (0, 4), (0, 5), (0, 6)])
    # op-node 4 (2<-1) has no in-edge (1<-0 is none) but feeds 6 -> output: no input->output path
    text = "|none~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|"
    assert_graph(text, [I, C3, SK, ISO, ISO, ISO, ISO, OUT],
                 [(1, 2), (2, 7), (0, 3), (0, 4), (0, 5), (0, 6)])
    arch = nb.parse_arch(text)
    assert not SPACE.encode(arch, "pape").any() and not SPACE.encode(arch, "path").any()


def test_output_deleted_last_op_node_moves_to_index_7():
    # 3<-0, 3<-1, 3<-2 all none: step 2 deletes the output; op-node 4 (skip on 2<-1) is last
    text = "|nor_conv_1x1~0|+|avg_pool_3x3~0|skip_connect~1|+|none~0|none~1|none~2|"
    assert_graph(text, [I, C1, AP, ISO, ISO, ISO, ISO, SK],
                 [(0, 1), (0, 2), (1, 7), (0, 3), (0, 4), (0, 5), (0, 6)])
    arch = nb.parse_arch(text)
    assert np.flatnonzero(SPACE.encode(arch, "pape")).tolist() == [1]  # node 1, conv1x1
    assert np.flatnonzero(SPACE.encode(arch, "path")).tolist() == [2]


def test_output_deleted_only_input_survives():
    # 4 (avg on 2<-1) loses its only neighbours and is deleted too: node 0 isolate, node 7 input
    text = "|none~0|+|none~0|avg_pool_3x3~1|+|none~0|none~1|none~2|"
    assert_graph(text, [ISO, ISO, ISO, ISO, ISO, ISO, ISO, I],
                 [(0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (0, 6), (0, 7)])
    arch = nb.parse_arch(text)
    assert not SPACE.encode(arch, "pape").any()
    assert np.flatnonzero(SPACE.encode(arch, "path")).tolist() == [0]  # the empty path


def test_to_graph_is_a_graph():
    g = SPACE.to_graph(nb.parse_arch(ALL_CONV))
    assert isinstance(g, Graph) and g.node_ops.shape == (8,) and g.adjacency.shape == (8, 8)
    assert g.one_hot(SPACE.num_features).shape == (8, 8)
    assert SPACE.num_features == 8 and SPACE.node_features[1] == "none"


# -- encodings -------------------------------------------------------------------------------------
def test_encodings_literal():
    full, mixed = nb.parse_arch(ALL_CONV), nb.parse_arch(MIXED)
    # paths (3), (1,5), (2,6), (1,4,6); bit (node - 1) * 4 + op, conv3x3 = 2, 24 bits per path
    assert np.flatnonzero(SPACE.encode(full, "pape")).tolist() == [10, 26, 42, 54, 70, 74, 86, 94]
    assert np.flatnonzero(SPACE.encode(full, "path")).tolist() == [3, 15, 63]
    assert np.flatnonzero(SPACE.encode(full, "adjacency")).tolist() == [
        0, 1, 2, 9, 10, 16, 21, 23, 26, 27, 30, 35, 40, 45, 50, 55]
    # paths (3: conv3), (2: conv1, 5: skip), (1: skip, 4: avg, 5: skip)
    assert np.flatnonzero(SPACE.encode(mixed, "pape")).tolist() == [10, 29, 40, 48, 63, 64]
    assert np.flatnonzero(SPACE.encode(mixed, "path")).tolist() == [3, 6, 33]
    for kind, length in {"path": 5461, "pape": 96, "adjacency": 58}.items():
        v = SPACE.encode(mixed, kind)
        assert SPACE.encodings[kind] == length and v.shape == (length,) and v.dtype == np.uint8


def test_documented_unique_counts():
    """Counts that follow from the original code's conversion and encoders: over all 15,625 strings,
    9,741 distinct PAPEs and 8,046 distinct PEs; 125 cells lose their output, 80 of those still have a
    non-zero PAPE."""
    papes, pes, graphs = set(), set(), set()
    no_output = nonzero = 0
    for arch in nb.all_archs():
        pape = SPACE.encode(arch, "pape")
        papes.add(pape.tobytes())
        pes.add(SPACE.encode(arch, "path").tobytes())
        node_ops, adj = nb.graph_arrays(arch)
        graphs.add(node_ops.tobytes() + adj.tobytes())
        if node_ops[7] != OUT:
            no_output += 1
            nonzero += bool(pape.any())
        assert node_ops[1:7].tolist().count(1) == 0  # the `none` slot is never set
    assert (len(papes), len(pes)) == (9741, 8046)
    assert (no_output, nonzero) == (125, 80)
    assert len(graphs) == 14925  # measured: distinct converted graphs


def test_ged():
    a = nb.parse_arch(ALL_CONV)
    b = nb.parse_arch(MIXED)
    assert SPACE.ged(a, a) == 1.0
    d = int(np.count_nonzero(SPACE.encode(a, "pape") != SPACE.encode(b, "pape")))
    assert d == 12  # {10,26,42,54,70,74,86,94} xor {10,29,40,48,63,64}
    assert SPACE.ged(a, b) == pytest.approx(math.exp(-12 / 8))


# -- sampling and mutation -------------------------------------------------------------------------
def test_sample_reproducible_and_uniform():
    a = [SPACE.sample(np.random.default_rng(7)) for _ in range(2)]
    assert a[0] == a[1] and SPACE.is_valid(a[0])
    rng = np.random.default_rng(0)
    counts = Counter(op for _ in range(2000) for op in SPACE.sample(rng))
    assert set(counts) == set(nb.OPS)
    assert all(abs(c / 12000 - 0.2) < 0.02 for c in counts.values())


def test_mutation_changes_exactly_one_edge():
    rng = np.random.default_rng(1)
    positions = Counter()
    arch = nb.parse_arch(MIXED)
    for _ in range(3000):
        child = SPACE.mutate(arch, rng)
        diff = [k for k in range(6) if child[k] != arch[k]]
        assert len(diff) == 1 and SPACE.is_valid(child)
        positions[diff[0]] += 1
    # node 1 (1 edge) is picked 1/3 of the time, each edge of node 3 1/9
    assert abs(positions[0] / 3000 - 1 / 3) < 0.03
    assert abs(positions[3] / 3000 - 1 / 9) < 0.02
    assert abs(positions[1] / 3000 - 1 / 6) < 0.025


def test_mutation_reproducible_and_is_known():
    arch = nb.parse_arch(ALL_CONV)
    c1 = SPACE.mutate(arch, np.random.default_rng(3))
    c2 = SPACE.mutate(arch, np.random.default_rng(3))
    assert c1 == c2 != arch
    only_skip = SPACE.mutate(arch, np.random.default_rng(3), lambda a: "skip_connect" in a)
    assert "skip_connect" in only_skip
    assert SPACE.mutate(arch, np.random.default_rng(3), lambda a: False) == arch


def test_registered():
    assert get_space("nb201") is SPACE and get_space("nasbench201") is SPACE
    assert SPACE.name == "nasbench201" and SPACE.num_nodes == 8
