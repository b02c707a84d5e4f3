"""NAS-Bench-101 space: the module hash, pruning, padding, encodings, mutation, strings."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest

from ssnenas.errors import InputError
from ssnenas.spaces import get_space
from ssnenas.spaces.nasbench101 import (
    MAX_EDGES, MAX_VERTICES, NODE_FEATURES, OPS, SPACE, NB101Arch, NasBench101Space, arch_from_adjacency,
    arch_from_spec, graph_arrays, module_hash, prune)

C3, C1, MP = OPS


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def archs_1k(synthetic_nb101_csv: Path) -> list[NB101Arch]:
    """The 1,000 cells of the generated table in the real ``nb101_1k.csv`` layout (the real table's
    official hashes are checked in tests/test_shared_tables.py)."""
    return [arch_from_adjacency(r["adjacency"], r["operations"]) for r in _rows(synthetic_nb101_csv)]


def _bits(vector: np.ndarray) -> list[int]:
    assert set(np.unique(vector).tolist()) <= {0.0, 1.0}
    return np.flatnonzero(vector).tolist()


# -- the module hash (on the real tables: tests/test_shared_tables.py) ------------------------------------
def test_stored_pruned_specs_parse_bit_for_bit_and_hash_as_listed(synthetic_nb101_csv: Path) -> None:
    for r in _rows(synthetic_nb101_csv):
        arch = arch_from_adjacency(r["adjacency"], r["operations"])
        assert SPACE.to_str(arch) == f"{r['adjacency']}|{r['operations']}"  # already pruned: kept as is
        raw = np.array(list(r["adjacency"]), dtype=np.uint8).reshape(arch.num_vertices, arch.num_vertices)
        assert SPACE.key(arch) == module_hash(raw, r["operations"].split(",")) == r["module_hash"]


def test_module_hash_of_an_unpruned_spec_is_its_pruned_cell_s(synthetic_nb101_unpruned_csv: Path) -> None:
    """The hash of a 7x7 spec with vertices off every input -> output path equals the key of the cell that
    pruning leaves (two code paths: module_hash prunes the raw matrix, the key hashes the pruned arch)."""
    pruned_away = 0
    for r in _rows(synthetic_nb101_unpruned_csv):
        raw = np.array(list(r["adjacency"]), dtype=np.uint8).reshape(7, 7)
        arch = arch_from_adjacency(r["adjacency"], r["operations"])
        assert module_hash(raw, r["operations"].split(",")) == SPACE.key(arch) == r["module_hash"]
        assert SPACE.is_valid(arch)
        pruned_away += arch.num_vertices < 7
    assert pruned_away > 400  # the generated specs are unpruned, as the real nb101_500.csv's


def test_hash_is_isomorphism_invariant(archs_1k: list[NB101Arch]) -> None:
    """Relabelling intermediate vertices in any order that keeps the matrix upper-triangular keeps the
    hash; changing one op changes it."""
    relabelled = 0
    for arch in archs_1k[:150]:
        m, n = arch.array(), arch.num_vertices
        expected = module_hash(m, arch.ops)
        for perm in itertools.permutations(range(1, n - 1)):
            order = [0, *perm, n - 1]
            pm = m[np.ix_(order, order)]
            if np.any(np.tril(pm)) or list(perm) == sorted(perm):
                continue
            assert module_hash(pm, [arch.ops[i] for i in order]) == expected
            relabelled += 1
        ops = list(arch.ops)
        ops[1] = C1 if ops[1] != C1 else MP
        assert module_hash(m, ops) != expected
    assert relabelled > 100


def test_hash_of_smallest_cell_is_stable() -> None:
    # input -> output: the graph_util recipe by hand (md5 of "(out, in, label)" then 2 neighbour rounds)
    import hashlib

    def md5(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()

    h = [md5(str((1, 0, -1))), md5(str((0, 1, -2)))]
    for _ in range(2):
        h = [md5("|" + h[1] + "|" + h[0]), md5(h[0] + "||" + h[1])]
    assert module_hash(np.array([[0, 1], [0, 0]]), ["input", "output"]) == md5(str(sorted(h)))


# -- pruning and validity -------------------------------------------------------------------------
def test_prune_drops_dead_ends_unreachable_and_isolated_vertices() -> None:
    m = np.zeros((7, 7), dtype=int)
    for i, j in [(0, 1), (1, 6), (0, 2), (3, 6), (1, 4), (4, 6)]:  # 2: dead end, 3: unreachable, 5: alone
        m[i, j] = 1
    ops = ["input", C3, C1, MP, C3, C1, "output"]
    matrix, pops = prune(m, ops)
    assert pops == ["input", C3, C3, "output"]
    np.testing.assert_array_equal(matrix, [[0, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]])
    assert m.sum() == 6  # input untouched
    assert prune(np.array([[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]),
                 ["input", C3, C1, "output"]) is None
    arch = arch_from_spec(m, ops)
    assert arch == NB101Arch(((0, 1, 0, 0), (0, 0, 1, 1), (0, 0, 0, 1), (0, 0, 0, 0)),
                             ("input", C3, C3, "output"))


def test_edge_limit_applies_after_pruning() -> None:
    m = np.triu(np.ones((7, 7), dtype=int), 1)  # 21 edges: invalid
    ops = ["input", C3, C3, C3, C3, C3, "output"]
    with pytest.raises(InputError, match="21 edges"):
        arch_from_spec(m, ops)
    m[5, :] = 0  # vertex 5 becomes a dead end; 15 edges remain after pruning: still invalid
    with pytest.raises(InputError, match="15 edges"):
        arch_from_spec(m, ops)
    chain = np.eye(7, k=1, dtype=int)
    chain[0, 2:5] = 1  # 6 chain edges + 3 skips = 9
    assert arch_from_spec(chain, ops).num_vertices == 7
    chain[0, 5] = 1
    with pytest.raises(InputError, match="10 edges"):
        arch_from_spec(chain, ops)


@pytest.mark.parametrize("adjacency, operations, match", [
    ("0" * 64, ",".join(["input"] + [C3] * 6 + ["output"]), "8 vertices"),
    ("0100" "0010" "0001" "0100", f"input,{C3},{C1},output", "upper-triangular"),
    ("0100" "0010" "0001" "0000", f"input,{C3},conv5x5,output", "unknown op 'conv5x5'"),
    ("0100" "0000" "0001" "0000", f"input,{C3},{C1},output", "not connected"),
    ("0100" "0010" "0001" "0000", f"{C3},{C3},{C1},output", "must start with 'input'"),
    ("010" "001" "000", f"input,{C3},{C1},output", "9 adjacency bits"),
    ("01x0" "0010" "0001" "0000", f"input,{C3},{C1},output", "'0'/'1'"),
    ("", "", "'0'/'1'"),
])
def test_arch_from_adjacency_rejects_bad_specs(adjacency: str, operations: str, match: str) -> None:
    with pytest.raises(InputError, match=match) as err:
        arch_from_adjacency(adjacency, operations)
    assert repr(adjacency) in str(err.value)


def test_is_valid_requires_a_valid_pruned_spec() -> None:
    good = arch_from_adjacency("0100" "0010" "0001" "0000", f"input,{C3},{C1},output")
    assert SPACE.is_valid(good)
    unpruned = NB101Arch(((0, 1, 1), (0, 0, 0), (0, 0, 0)), ("input", C3, "output"))  # 1 is a dead end
    assert not SPACE.is_valid(unpruned)
    assert not SPACE.is_valid(NB101Arch(((0, 1), (0, 0)), ("input", "maxpool5x5")))
    assert not SPACE.is_valid(NB101Arch(((0, 1), (0,)), ("input", "output")))


# -- padded graph and encodings -------------------------------------------------------------------
def _five_vertex() -> NB101Arch:
    m = np.zeros((5, 5), dtype=int)
    for i, j in [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4), (0, 4)]:
        m[i, j] = 1
    return arch_from_spec(m, ["input", C3, C1, MP, "output"])


def test_graph_arrays_pads_to_seven_nodes_with_isolates_fed_from_input() -> None:
    arch = _five_vertex()
    node_ops, adj = graph_arrays(arch.array(), arch.ops)
    assert node_ops.dtype == np.int8 and adj.dtype == np.uint8
    np.testing.assert_array_equal(node_ops, [0, 1, 2, 3, 5, 5, 4])
    np.testing.assert_array_equal(adj, [
        [0, 1, 1, 0, 1, 1, 1],
        [0, 0, 0, 1, 0, 0, 0],
        [0, 0, 0, 1, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0]])
    graph = SPACE.to_graph(arch)
    np.testing.assert_array_equal(graph.node_ops, node_ops)
    np.testing.assert_array_equal(graph.adjacency, adj)
    assert graph.one_hot(SPACE.num_features).shape == (7, 6)
    assert [NODE_FEATURES[i] for i in node_ops] == ["input", C3, C1, MP, "isolate", "isolate", "output"]
    # the smallest cell: all five intermediate slots are isolates hanging off the input
    node_ops, adj = graph_arrays(np.array([[0, 1], [0, 0]]), ["input", "output"])
    np.testing.assert_array_equal(node_ops, [0, 5, 5, 5, 5, 5, 4])
    np.testing.assert_array_equal(adj[0], [0, 1, 1, 1, 1, 1, 1])
    assert adj[1:].sum() == 0


def test_graph_arrays_of_real_cells(archs_1k: list[NB101Arch]) -> None:
    for arch in archs_1k[:300]:
        node_ops, adj = graph_arrays(arch.array(), arch.ops)
        n = arch.num_vertices
        assert node_ops[0] == 0 and node_ops[6] == 4 and np.all(node_ops[n - 1:6] == 5)
        assert not np.any(np.tril(adj))
        assert adj.sum() == np.sum(arch.matrix) + (7 - n)  # one input edge per isolate
        assert np.all(adj[n - 1:6].sum(axis=1) == 0)


def test_path_encoding_index_rule() -> None:
    # paths: (), conv3x3 -> maxpool, conv1x1 -> maxpool;  index = sum_i 3^i (op_i + 1)
    pe = SPACE.encode(_five_vertex(), "path")
    assert pe.shape == (364,) and pe.dtype == np.float32
    assert _bits(pe) == [0, 1 * 1 + 3 * 3, 1 * 2 + 3 * 3]
    # the longest path conv1x1 x5 -> index 2*(1+3+9+27+81) = 242; maxpool x5 -> 363 (last bit)
    chain = np.eye(7, k=1, dtype=int)
    assert _bits(SPACE.encode(arch_from_spec(chain, ["input"] + [C1] * 5 + ["output"]), "path")) == [242]
    assert _bits(SPACE.encode(arch_from_spec(chain, ["input"] + [MP] * 5 + ["output"]), "path")) == [363]


def _seven_vertex() -> NB101Arch:
    m = np.zeros((7, 7), dtype=int)
    for i, j in [(0, 1), (0, 2), (0, 3), (2, 4), (1, 5), (4, 6), (5, 6), (3, 6)]:
        m[i, j] = 1
    return arch_from_spec(m, ["input", C3, C1, MP, C3, MP, "output"])


def test_pape_blocks_are_sorted_by_length_then_node_indices() -> None:
    arch = _seven_vertex()  # paths (3,), (2, 4), (1, 5): enumerated (2,4) before (1,5), sorted the other way
    pape = SPACE.encode(arch, "pape")
    assert pape.shape == (120,) and pape.dtype == np.float32
    # block k starts at 15k; bit (node - 1) * 3 + op
    assert _bits(pape) == [(3 - 1) * 3 + 2,
                           15 + 0, 15 + (5 - 1) * 3 + 2,
                           30 + 3 + 1, 30 + (4 - 1) * 3 + 0]
    assert _bits(SPACE.encode(arch, "path")) == [3, 2 + 3 * 1, 1 + 3 * 3]
    # the direct path is an all-zero first block
    assert _bits(SPACE.encode(_five_vertex(), "pape")) == [15 + 0, 15 + 8, 30 + 4, 30 + 8]


def test_adjacency_encoding_layout() -> None:
    ae = SPACE.encode(_five_vertex(), "adjacency")
    assert ae.shape == (41,) and ae.dtype == np.float32
    # 21 upper-triangular bits (row-major) of the padded matrix, then 5 one-hots over [c3, c1, mp, isolate]
    assert _bits(ae) == [0, 1, 3, 4, 5, 7, 11, 17, 21 + 0, 25 + 1, 29 + 2, 33 + 3, 37 + 3]


def test_encodings_on_real_cells(archs_1k: list[NB101Arch]) -> None:
    for arch in archs_1k[:300]:
        for kind, length in SPACE.encodings.items():
            assert SPACE.encode(arch, kind).shape == (length,)
        n_paths = SPACE.encode(arch, "path").sum()
        assert n_paths >= 1
        ae = SPACE.encode(arch, "adjacency")
        assert ae[21:].sum() == 5
    with pytest.raises(InputError, match="unknown NAS-Bench-101 encoding"):
        SPACE.encode(archs_1k[0], "gcn")
    assert SPACE.ged(archs_1k[0], archs_1k[0]) == 1.0
    assert SPACE.ged(archs_1k[0], archs_1k[1]) < 1.0


# -- sample / mutate ------------------------------------------------------------------------------
def test_sample_is_valid_and_reproducible() -> None:
    def draw(seed: int) -> list[NB101Arch]:
        rng = np.random.default_rng(seed)
        return [SPACE.sample(rng) for _ in range(50)]

    a = draw(7)
    assert a == draw(7)
    assert a != draw(8)
    assert all(SPACE.is_valid(x) for x in a)
    assert len({SPACE.key(x) for x in a}) > 30


def test_mutate_returns_valid_children_never_larger(archs_1k: list[NB101Arch]) -> None:
    rng = np.random.default_rng(0)
    changed = 0
    for parent in archs_1k[:200]:
        child = SPACE.mutate(parent, rng)
        assert SPACE.is_valid(child)
        assert child.num_vertices <= parent.num_vertices
        assert np.sum(child.matrix) <= MAX_EDGES and child.num_vertices <= MAX_VERTICES
        changed += SPACE.key(child) != SPACE.key(parent)
    assert changed > 150


def test_mutate_is_reproducible_and_respects_is_known(archs_1k: list[NB101Arch]) -> None:
    parents = archs_1k[:30]

    def run(seed: int) -> list[NB101Arch]:
        rng = np.random.default_rng(seed)
        return [SPACE.mutate(p, rng) for p in parents]

    assert run(3) == run(3)
    assert run(3) != run(4)
    known = {SPACE.key(a) for a in archs_1k}
    rng = np.random.default_rng(1)
    for parent in parents[:5]:
        child = SPACE.mutate(parent, rng, is_known=lambda a: SPACE.key(a) in known)
        assert SPACE.key(child) in known
    # nothing is ever known: after 500 tries the parent comes back unchanged
    calls = []
    assert SPACE.mutate(parents[0], rng, is_known=lambda a: calls.append(a) or False) == parents[0]
    assert 100 < len(calls) <= NasBench101Space.max_mutation_tries  # only valid children reach is_known


def test_mutate_smallest_cell_gives_back_parent() -> None:
    tiny = arch_from_spec([[0, 1], [0, 0]], ["input", "output"])
    assert SPACE.mutate(tiny, np.random.default_rng(0)) == tiny  # the only flip disconnects it


# -- strings --------------------------------------------------------------------------------------
def test_to_str_from_str_round_trip(archs_1k: list[NB101Arch]) -> None:
    for arch in archs_1k:
        assert SPACE.from_str(SPACE.to_str(arch)) == arch
    assert SPACE.to_str(_five_vertex()) == (
        "01101" "00010" "00010" "00001" "00000" f"|input,{C3},{C1},{MP},output")


@pytest.mark.parametrize("text", [
    "",
    "0100001000010000",
    "0100|0010|input,output",
    "0100001000010000|input,conv3x3-bn-relu,output",
    "010000100001000|input,conv3x3-bn-relu,conv1x1-bn-relu,output",
    "01000010000100002|input,conv3x3-bn-relu,conv1x1-bn-relu,output",
    "0100000000010000|input,conv3x3-bn-relu,conv1x1-bn-relu,output",
    "0100001000010000|input,conv3x3,conv1x1-bn-relu,output",
])
def test_from_str_rejects_malformed_strings(text: str) -> None:
    with pytest.raises(InputError) as err:
        SPACE.from_str(text)
    assert repr(text) in str(err.value)
    assert "comma-joined ops" in str(err.value)  # says what form is expected


def test_registered_under_its_names() -> None:
    assert get_space("nasbench101") is SPACE and get_space("nb101") is SPACE
    assert SPACE.num_nodes == 7 and SPACE.num_features == 6
    assert SPACE.encodings == {"path": 364, "pape": 120, "adjacency": 41}
