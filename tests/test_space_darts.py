"""DARTS space: genotype strings, canonical keys, the 30-node graph, PAPE/path/adjacency
encodings, sampling and mutation."""

from __future__ import annotations

import csv
import math
from collections import Counter

import numpy as np
import pytest

from ssnenas.errors import InputError
from ssnenas.spaces import darts as d
from ssnenas.spaces import get_space

SPACE = d.SPACE
NORMAL = (("sep_conv_3x3", 0), ("sep_conv_5x5", 1), ("skip_connect", 0), ("dil_conv_3x3", 2),
          ("max_pool_3x3", 1), ("avg_pool_3x3", 3), ("dil_conv_5x5", 0), ("none", 4))
REDUCE = (("max_pool_3x3", 0), ("avg_pool_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 1),
          ("sep_conv_5x5", 1), ("dil_conv_3x3", 2), ("dil_conv_5x5", 0), ("sep_conv_3x3", 1))
HAND = d.Genotype(normal=NORMAL, reduce=REDUCE)
HAND_STR = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_5x5', 1), ('skip_connect', 0), "
    "('dil_conv_3x3', 2), ('max_pool_3x3', 1), ('avg_pool_3x3', 3), ('dil_conv_5x5', 0), "
    "('none', 4)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('avg_pool_3x3', 1), "
    "('sep_conv_3x3', 0), ('skip_connect', 1), ('sep_conv_5x5', 1), ('dil_conv_3x3', 2), "
    "('dil_conv_5x5', 0), ('sep_conv_3x3', 1)], reduce_concat=[2, 3, 4, 5])")
# NODE_FEATURES indices
IN, NONE, MAX, AVG, SKIP, SEP3, SEP5, DIL3, DIL5, CAT, OUT = range(11)


@pytest.fixture(scope="module")
def csv_genotypes(synthetic_darts_csv):
    """The genotype strings of the generated table in the nb301_500.csv layout (500 distinct keys, then 10
    rows repeating a key in another string); the real table's: tests/test_shared_tables.py."""
    with open(synthetic_darts_csv, newline="") as fh:
        return [r["genotype"] for r in csv.DictReader(fh)]


def swapped(g: d.Genotype, cell: int, node: int) -> d.Genotype:
    cells = [list(g.normal), list(g.reduce)]
    c = cells[cell]
    c[2 * node], c[2 * node + 1] = c[2 * node + 1], c[2 * node]
    return d.Genotype(normal=tuple(cells[0]), reduce=tuple(cells[1]))


# -- strings --------------------------------------------------------------------------------------
def test_parse_round_trip_all_csv_genotypes(csv_genotypes):
    assert len(csv_genotypes) == 510
    keys = set()
    for text in csv_genotypes:
        g = d.parse_genotype(text)
        assert SPACE.is_valid(g)
        assert d.genotype_to_str(g) == text and SPACE.from_str(SPACE.to_str(g)) == g
        key = SPACE.key(g)
        assert SPACE.key(d.parse_genotype(key)) == key
        keys.add(key)
        paths = [len(d.cell_paths(cell)) for cell in g.cells]
        assert all(2 <= n <= 18 for n in paths)
    assert len(keys) == 500 and len(set(csv_genotypes)) == 510  # swapped siblings: one key, two strings


def test_parse_hand_built():
    assert d.parse_genotype(HAND_STR) == HAND
    assert d.genotype_to_str(HAND) == HAND_STR
    # DARTS' own printout uses range(2, 6) for concat; positional fields are accepted too
    alt = HAND_STR.replace("[2, 3, 4, 5]", "range(2, 6)")
    assert d.parse_genotype(alt) == HAND
    assert d.parse_genotype(
        f"Genotype({list(NORMAL)}, [2, 3, 4, 5], {list(REDUCE)}, [2, 3, 4, 5])") == HAND


@pytest.mark.parametrize("text, why", [
    (HAND_STR.replace("'none', 4", "'conv_7x7', 4"), "unknown op"),
    (HAND_STR.replace("('sep_conv_5x5', 1)", "('sep_conv_5x5', 2)"), "node 0 may read inputs 0..1"),
    (HAND_STR.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 0)"), "must differ"),
    (HAND_STR.replace("('sep_conv_3x3', 0), ('sep_conv_5x5', 1), ", ""), "exactly 8"),
    (HAND_STR.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[4, 5]"), "concatenates"),
    (HAND_STR.replace(", reduce_concat=[2, 3, 4, 5]", ""), "missing field"),
    (HAND_STR[:-1] + ", extra=1)", "unknown field"),
    (HAND_STR[:40], "expression"),
    ("__import__('os').system('true')", "Genotype(...) call"),
    (HAND_STR.replace("'none', 4", "__import__('os').getcwd(), 4"), "literal"),
    (HAND_STR.replace("('none', 4)", "('none', 4, 5)"), "(op, input) pair"),
    (HAND_STR.replace("('none', 4)", "('none', True)"), "input True"),
    ("", "expression"),
])
def test_malformed_genotypes_raise_input_error(text, why):
    with pytest.raises(InputError) as err:
        d.parse_genotype(text)
    msg = str(err.value)
    assert why in msg and "normal_concat=[2, 3, 4, 5]" in msg


def test_invalid_values_rejected():
    bad = d.Genotype(normal=NORMAL[:7], reduce=REDUCE)
    assert not SPACE.is_valid(bad) and not SPACE.is_valid("x")
    for call in (lambda: SPACE.key(bad), lambda: d.genotype_to_str(bad), lambda: d.encode_pape(bad),
                 lambda: d.graph_arrays(bad), lambda: SPACE.encode(HAND, "zero_cost")):
        with pytest.raises(InputError):
            call()


def test_key_is_canonical():
    key = SPACE.key(HAND)
    assert SPACE.key(swapped(HAND, 0, 3)) == key      # ('dil_conv_5x5', 0) comes before input 4
    assert SPACE.key(swapped(swapped(HAND, 1, 2), 0, 1)) == key
    assert key == HAND_STR  # HAND is already canonical (each node's inputs ascending)
    assert "('dil_conv_5x5', 0), ('none', 4)" in SPACE.key(swapped(HAND, 0, 3))
    other = d.Genotype(normal=NORMAL[:7] + (("skip_connect", 4),), reduce=REDUCE)
    assert SPACE.key(other) != key


# -- graph ----------------------------------------------------------------------------------------
def _adj(edges: list[tuple[int, int]]) -> np.ndarray:
    a = np.zeros((30, 30), dtype=np.uint8)
    for i, j in edges:
        a[i, j] = 1
    return a


NORMAL_OPS = [IN, IN, SEP3, SEP5, CAT, SKIP, DIL3, CAT, MAX, AVG, CAT, DIL5, NONE, CAT, OUT]
NORMAL_EDGES = [(0, 2), (1, 3), (2, 4), (3, 4), (0, 5), (4, 6), (5, 7), (6, 7),
                (1, 8), (7, 9), (8, 10), (9, 10), (0, 11), (10, 12), (11, 13), (12, 13), (13, 14)]
REDUCE_OPS = [IN, IN, MAX, AVG, CAT, SEP3, SKIP, CAT, SEP5, DIL3, CAT, DIL5, SEP3, CAT, OUT]
REDUCE_EDGES = [(0, 2), (1, 3), (2, 4), (3, 4), (0, 5), (1, 6), (5, 7), (6, 7),
                (1, 8), (4, 9), (8, 10), (9, 10), (0, 11), (1, 12), (11, 13), (12, 13),
                (7, 14), (10, 14), (13, 14)]  # concat 7 and 10 are read by no later node


def test_graph_of_both_cells():
    node_ops, adj = d.graph_arrays(HAND)
    assert node_ops.dtype == np.int8 and adj.dtype == np.uint8
    assert node_ops.tolist() == NORMAL_OPS + REDUCE_OPS
    expected = NORMAL_EDGES + [(i + 15, j + 15) for i, j in REDUCE_EDGES] + [(14, 15), (14, 16)]
    np.testing.assert_array_equal(adj, _adj(expected))
    # concat 10 of the normal cell is read by op-node 12, so (fixed rule: the whole row, not one
    # entry as in the original code) no 10 -> 14
    assert adj[10, 14] == 0
    g = SPACE.to_graph(swapped(HAND, 0, 3))  # equivalent genotype, same graph
    np.testing.assert_array_equal(g.node_ops, node_ops)
    np.testing.assert_array_equal(g.adjacency, adj)
    assert g.one_hot(SPACE.num_features).shape == (30, 11)


def test_graph_legacy_normal_only():
    node_ops, adj = d.graph_arrays(HAND, legacy_normal_only=True)
    assert node_ops.tolist() == NORMAL_OPS + [d.LEGACY_PAD_LABEL] * 15
    np.testing.assert_array_equal(adj, _adj(NORMAL_EDGES + [(10, 14)]))  # the concat-10 quirk
    assert d.LEGACY_NODE_MASK.tolist() == [True] * 15 + [False] * 15
    legacy = d.DartsSpace(legacy_normal_only=True)
    np.testing.assert_array_equal(legacy.to_graph(HAND).adjacency, adj)


# -- encodings ------------------------------------------------------------------------------------
def block(start: int, nodes_ops: list[tuple[int, int]]) -> list[int]:
    return [start] + [2 + 8 * k + op for k, op in nodes_ops]


def test_pape_literal_op_labels_follow_sorted_paths():
    """The normal cell has 14 paths; sorting by (length, [start, nodes]) moves e.g. the
    c_{k-2} -> node 3 path (op dil_conv_5x5, generated 10th) to block 2 (the original code
    left op labels in generation order)."""
    o = {op: i for i, op in enumerate(d.OPS)}
    expected_blocks = [
        block(0, [(0, o["sep_conv_3x3"])]),
        block(0, [(1, o["skip_connect"])]),
        block(0, [(3, o["dil_conv_5x5"])]),
        block(1, [(0, o["sep_conv_5x5"])]),
        block(1, [(2, o["max_pool_3x3"])]),
        block(0, [(0, o["sep_conv_3x3"]), (1, o["dil_conv_3x3"])]),
        block(0, [(1, o["skip_connect"]), (2, o["avg_pool_3x3"])]),
        block(1, [(0, o["sep_conv_5x5"]), (1, o["dil_conv_3x3"])]),
        block(1, [(2, o["max_pool_3x3"]), (3, o["none"])]),
        block(0, [(0, o["sep_conv_3x3"]), (1, o["dil_conv_3x3"]), (2, o["avg_pool_3x3"])]),
        block(0, [(1, o["skip_connect"]), (2, o["avg_pool_3x3"]), (3, o["none"])]),
        block(1, [(0, o["sep_conv_5x5"]), (1, o["dil_conv_3x3"]), (2, o["avg_pool_3x3"])]),
        block(0, [(0, o["sep_conv_3x3"]), (1, o["dil_conv_3x3"]), (2, o["avg_pool_3x3"]),
                  (3, o["none"])]),
        block(1, [(0, o["sep_conv_5x5"]), (1, o["dil_conv_3x3"]), (2, o["avg_pool_3x3"]),
                  (3, o["none"])]),
    ]
    pape = SPACE.encode(HAND, "pape")
    assert pape.shape == (1224,) and pape.dtype == np.uint8 and SPACE.encodings["pape"] == 1224
    normal = sorted(34 * b + bit for b, bits in enumerate(expected_blocks) for bit in bits)
    assert np.flatnonzero(pape[:612]).tolist() == normal
    assert pape[2 * 34 + 2 + 8 * 3 + o["dil_conv_5x5"]] == 1  # bit 101
    # reduction cell: 2 + 2 + 3 + 2 = 9 paths
    assert len(d.cell_paths(REDUCE)) == 9
    np.testing.assert_array_equal(pape, SPACE.encode(swapped(HAND, 1, 1), "pape"))


def test_pape_path_count_bounds_on_samples():
    rng = np.random.default_rng(11)
    longest = 0
    for _ in range(300):
        g = SPACE.sample(rng)
        for c, cell in enumerate(g.cells):
            n = len(d.cell_paths(cell))
            assert 2 <= n <= 18
            longest = max(longest, n)
            pape = d.encode_pape(g)[612 * c:612 * (c + 1)].reshape(18, 34)
            assert pape[:n, :2].sum(axis=1).tolist() == [1] * n and not pape[n:].any()
    full = d.Genotype(normal=(("skip_connect", 0), ("skip_connect", 1)) + tuple(
        (op, i) for k in (1, 2, 3) for op, i in (("sep_conv_3x3", k), ("sep_conv_3x3", k + 1))),
        reduce=REDUCE)
    assert len(d.cell_paths(full.normal)) == 18  # 2 + 3 + 5 + 8


def test_path_and_adjacency_encodings():
    pe = SPACE.encode(HAND, "path")
    assert pe.shape == (18724,) and SPACE.encodings["path"] == 18724 and pe.dtype == np.uint8
    o = {op: i for i, op in enumerate(d.OPS)}
    # c_{k-2} -sep3-> node 0: block (normal, start 0), index 8**0 * (op + 1)
    assert pe[o["sep_conv_3x3"] + 1] == 1
    # c_{k-1} -sep5-> node 0 -dil3-> node 1: block (normal, start 1)
    assert pe[4681 + (o["sep_conv_5x5"] + 1) + 8 * (o["dil_conv_3x3"] + 1)] == 1
    # reduction, c_{k-2} -sep3-> node 1: block 2
    assert pe[2 * 4681 + o["sep_conv_3x3"] + 1] == 1
    assert pe.sum() == 14 + 9  # all op sequences distinct here
    adj = SPACE.encode(HAND, "adjacency")
    assert adj.shape == (208,) and SPACE.encodings["adjacency"] == 208
    assert adj.reshape(16, 13).sum(axis=1).tolist() == [2] * 16
    assert adj[:13].tolist() == [1, 0, 0, 0, 0] + [0, 0, 0, 0, 1, 0, 0, 0]  # input 0, sep3
    np.testing.assert_array_equal(adj, SPACE.encode(swapped(HAND, 0, 2), "adjacency"))


def test_ged():
    assert SPACE.ged(HAND, HAND) == 1.0
    other = d.Genotype(normal=NORMAL[:7] + (("skip_connect", 4),), reduce=REDUCE)
    # node 3's edge from node 2 changes op none -> skip_connect: 2 bits in each path through it
    dist = int(np.count_nonzero(SPACE.encode(HAND, "pape") != SPACE.encode(other, "pape")))
    assert dist == 8  # 4 paths run through that edge
    assert SPACE.ged(HAND, other) == pytest.approx(math.exp(-8 / 30))


# -- sampling and mutation ------------------------------------------------------------------------
def test_sample_reproducible_valid_and_includes_none():
    a = SPACE.sample(np.random.default_rng(5))
    assert a == SPACE.sample(np.random.default_rng(5)) and SPACE.is_valid(a)
    rng = np.random.default_rng(6)
    ops = Counter(op for _ in range(500) for cell in SPACE.sample(rng).cells for op, _ in cell)
    assert set(ops) == set(d.OPS)
    assert all(abs(c / 8000 - 1 / 8) < 0.02 for c in ops.values())


def test_mutation_valid_reproducible_and_bounded(csv_genotypes):
    rng = np.random.default_rng(2)
    changed = Counter()
    for text in csv_genotypes[:500] * 4:
        g = d.parse_genotype(text)
        child = SPACE.mutate(g, rng)
        assert SPACE.is_valid(child)
        changed[sum(a != b for pc, cc in zip(g.cells, child.cells) for a, b in zip(pc, cc))] += 1
    assert set(changed) == {0, 1, 2}
    # an edit is a no-op with p = 1/2 * 1/8 (same op) + 1/2 * mean_k 2/(k+2) (same or sibling's
    # input) = 0.383; two edits hit distinct edges with p = 15/16: P(2 edges differ) ~ 0.357
    assert abs(changed[2] / 2000 - 0.357) < 0.04


def test_mutation_reproducible():
    c1 = SPACE.mutate(HAND, np.random.default_rng(9), edits=5)
    assert c1 == SPACE.mutate(HAND, np.random.default_rng(9), edits=5) != HAND
    assert SPACE.mutate(HAND, np.random.default_rng(9), edits=0) == HAND


def test_mutation_chain_stays_valid():
    rng = np.random.default_rng(4)
    g = SPACE.sample(rng)
    for _ in range(500):
        g = SPACE.mutate(g, rng)
        assert d.genotype_problem(g) is None


def test_mutation_is_known():
    rng = np.random.default_rng(8)
    seen = {SPACE.key(HAND)}
    child = SPACE.mutate(HAND, rng, lambda g: SPACE.key(g) not in seen)
    assert SPACE.key(child) not in seen
    assert SPACE.mutate(HAND, rng, lambda g: False) == HAND


def test_registered():
    assert get_space("darts") is SPACE and get_space("nb301") is SPACE
    assert SPACE.num_nodes == 30 and len(SPACE.node_features) == 11
    assert SPACE.node_features[0] == "input" and SPACE.node_features[-2:] == ("concat", "output")
