"""TransNAS-Bench-101 micro space: official strings, the NAS-Bench-201 cell machinery it shares, encodings,
isomorphism classes and cut-off cells, sampling and mutation, pre-training on its cells."""

from __future__ import annotations

import argparse
import json
import math
import pickle
from collections import Counter

import numpy as np
import pytest

from ssnenas.encstudy import analyse, canonical_nb201
from ssnenas.errors import InputError
from ssnenas.spaces import canonical_name, get_space
from ssnenas.spaces import nasbench201 as nb201
from ssnenas.spaces import transnas101 as tnb
from ssnenas.spaces.base import Graph
from ssnenas.spaces.cell_on_edges import CellOnEdgesSpace

SPACE = tnb.SPACE
BEST_SCENE = "64-41414-3_32_132"  # the class_scene optimum of the real table (data README)
I, NONE, SK, C1, C3, ISO, OUT = range(7)  # node_features indices


# -- strings ---------------------------------------------------------------------------------------
def test_official_string_round_trip_and_edge_order():
    arch = SPACE.from_str(BEST_SCENE)
    # a=3 (1<-0), bc=32 (2<-0, 2<-1), def=132 (3<-0, 3<-1, 3<-2): NB201's edge order
    assert arch == ("nor_conv_3x3", "nor_conv_3x3", "nor_conv_1x1", "skip_connect", "nor_conv_3x3",
                    "nor_conv_1x1")
    assert SPACE.key(arch) == SPACE.to_str(arch) == BEST_SCENE
    assert SPACE.from_str("3_32_132") == arch  # the bare cell code is accepted, the key is the full string
    assert SPACE.cell_code(arch) == "3_32_132"
    assert nb201.arch_to_str(arch) == ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|"
                                       "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")


def test_all_cells_in_code_order():
    archs = SPACE.all_archs()
    assert len(archs) == 4096 == len(set(archs))
    strings = [SPACE.to_str(a) for a in archs]
    assert strings[:3] == ["64-41414-0_00_000", "64-41414-0_00_001", "64-41414-0_00_002"]
    assert strings[-1] == "64-41414-3_33_333"
    assert all(SPACE.from_str(s) == a for s, a in zip(strings, archs))


@pytest.mark.parametrize("text", [
    "", "64-41414-4_00_000", "64-41414-0_00_00", "64-41414-0_000_00", "64-41414-0-00-000",
    "64-1234-basic", "64-41414-0_00_000_0", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "32-41414-0_00_000",
])
def test_not_a_micro_code_is_one_input_error(text):
    with pytest.raises(InputError) as err:
        SPACE.from_str(text)
    msg = str(err.value)
    assert "\n" not in msg and repr(text) in msg and "64-41414-a_bc_def" in msg


def test_bad_values_rejected():
    with pytest.raises(InputError):
        SPACE.from_str(None)  # type: ignore[arg-type]
    assert not SPACE.is_valid(("avg_pool_3x3",) * 6)  # NB201's fifth op is not in this space
    assert not SPACE.is_valid(("none",) * 5) and SPACE.is_valid(("none",) * 6)
    with pytest.raises(InputError, match="TransNAS-Bench-101 micro"):
        SPACE.to_str(("avg_pool_3x3",) * 6)
    with pytest.raises(InputError, match="unknown TransNAS-Bench-101 micro encoding"):
        SPACE.encode(("none",) * 6, "zero_cost")


def test_registered_with_aliases_and_pickles_as_itself():
    for name in ("transnas101-micro", "tnb101-micro", "transnas101_micro", "transbench101_micro"):
        assert get_space(name) is SPACE
    assert canonical_name("tnb101-micro") == "transnas101-micro"
    assert pickle.loads(pickle.dumps(SPACE)) is SPACE
    assert pickle.loads(pickle.dumps(nb201.SPACE)) is nb201.SPACE


# -- the shared cell machinery ---------------------------------------------------------------------
def test_one_module_for_both_spaces():
    assert isinstance(SPACE, CellOnEdgesSpace) and isinstance(nb201.SPACE, CellOnEdgesSpace)
    assert type(SPACE).mutate is type(nb201.SPACE).mutate is CellOnEdgesSpace.mutate
    assert type(SPACE).graph_arrays is CellOnEdgesSpace.graph_arrays
    assert SPACE.node_features == ("input", "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "isolate",
                                   "output")
    assert SPACE.encodings == {"path": 1093, "pape": 72, "adjacency": 52}
    assert SPACE.num_nodes == 8 and SPACE.num_features == 7


def test_graph_is_nb201_graph_with_its_labels():
    """Every cell converts to exactly the graph NB201 gives the same op tuple (labels renamed)."""
    rename = np.array([SPACE.node_features.index(f) if f in SPACE.node_features else -1
                       for f in nb201.NODE_FEATURES])
    for arch in SPACE.all_archs():
        ops, adj = SPACE.graph_arrays(arch)
        ops201, adj201 = nb201.graph_arrays(arch)
        np.testing.assert_array_equal(adj, adj201)
        np.testing.assert_array_equal(ops, rename[ops201])


def test_graph_literal():
    g = SPACE.to_graph(SPACE.from_str(BEST_SCENE))
    assert isinstance(g, Graph) and g.one_hot(7).shape == (8, 7)
    assert g.node_ops.tolist() == [I, C3, C3, SK, C1, C3, C1, OUT]
    assert sorted(zip(*np.nonzero(g.adjacency))) == [
        (0, 1), (0, 2), (0, 3), (1, 4), (1, 5), (2, 6), (3, 7), (4, 6), (5, 7), (6, 7)]


def test_encodings_literal():
    arch = SPACE.from_str(BEST_SCENE)
    # paths (3: skip), (1: conv3, 5: conv3), (2: conv3, 6: conv1), (1: conv3, 4: conv1, 6: conv1);
    # 18-bit blocks, bit (node - 1) * 3 + op with skip 0, conv1x1 1, conv3x3 2
    assert np.flatnonzero(SPACE.encode(arch, "pape")).tolist() == [6, 20, 32, 41, 52, 56, 64, 70]
    # bit sum 3**i * (op_i + 1): (skip) 1, (c3, c1) 3 + 6, (c3, c3) 3 + 9, (c3, c1, c1) 3 + 6 + 18
    assert np.flatnonzero(SPACE.encode(arch, "path")).tolist() == [1, 9, 12, 27]
    assert np.flatnonzero(SPACE.encode(arch, "adjacency")).tolist() == [
        0, 1, 2, 9, 10, 16, 21, 23, 26, 27, 30, 34, 36, 41, 46, 49]
    for kind, length in SPACE.encodings.items():
        v = SPACE.encode(arch, kind)
        assert v.shape == (length,) and v.dtype == np.uint8


def test_ged():
    a, b = SPACE.from_str(BEST_SCENE), SPACE.from_str("64-41414-3_33_333")
    assert SPACE.ged(a, a) == 1.0
    d = int(np.count_nonzero(SPACE.encode(a, "pape") != SPACE.encode(b, "pape")))
    assert SPACE.ged(a, b) == pytest.approx(math.exp(-d / 8)) and 0 < d


def test_another_op_list_is_a_few_lines():
    class ThreeOps(CellOnEdgesSpace):
        name, title = "three-ops", "three-op cell"

        def __init__(self) -> None:
            super().__init__(("zero", "skip", "conv"))

        def format_ops(self, ops):
            return "".join(str(self.ops.index(op)) for op in ops)

        def parse(self, text):
            return tuple(self.ops[int(c)] for c in text)

    space = ThreeOps()
    assert space.encodings == {"path": 127, "pape": 48, "adjacency": 46}
    assert len(space.all_archs()) == 729 and space.to_str(space.from_str("120201")) == "120201"
    assert space.graph_arrays(space.from_str("000000"))[0][7] == space.node_features.index("input")
    child = space.mutate(space.from_str("121212"), np.random.default_rng(0))
    assert sum(x != y for x, y in zip(child, space.from_str("121212"))) == 1


# -- cut-off cells and isomorphism (facts of the conversion, measured here) ------------------------
def test_cut_off_cells_handled_as_nb201():
    archs = SPACE.all_archs()
    cut = [a for a in archs if not SPACE.output_reachable(a)]
    assert len(cut) == 169  # every input -> output path holds a zero op: the cell outputs zeros
    # NB201's conversion deletes the output node only when node 3's three inputs are all zero (64 cells,
    # 4^3); 36 of those keep a non-zero PAPE (the last survivor becomes node 7, as in NB201)
    lost = [a for a in archs if SPACE.graph_arrays(a)[0][7] != OUT]
    assert len(lost) == 64 and all(a[3:] == ("none",) * 3 for a in lost)
    assert sum(SPACE.encode(a, "pape").any() for a in lost) == 36
    assert sum(not SPACE.encode(a, "pape").any() for a in cut) == 133
    # the isomorphism reference puts every cut-off cell into one (empty) class, as for NB201
    classes = Counter(canonical_nb201(a) for a in archs)
    assert classes[()] == 169
    assert SPACE.output_reachable(SPACE.from_str("0_00_001")) is False  # node 2 is cut from the input
    assert SPACE.output_reachable(SPACE.from_str("1_00_001")) is False
    assert SPACE.output_reachable(SPACE.from_str("1_01_001")) is True


def test_isomorphism_classes_and_encoding_counts():
    result = analyse(SPACE, SPACE.all_archs())
    assert result["unique_up_to_isomorphism"] == 1948
    assert result["encodings"] == {
        "path": {"distinct": 1697, "merged": 2271, "split": 169},
        "pape": {"distinct": 2260, "merged": 228, "split": 2332},
        "adjacency": {"distinct": 3772, "merged": 21, "split": 2332},
        "key": {"distinct": 4096, "merged": 0, "split": 2332}}


def test_encodings_command_lists_all_cells(capsys):
    from ssnenas.cli import encodings

    parser = argparse.ArgumentParser()
    encodings.register(parser.add_subparsers())
    args = parser.parse_args(["encodings", "--space", "tnb101-micro", "--json", "--encodings", "pape"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["space"] == "transnas101-micro" and out["num_archs"] == 4096
    assert out["unique_up_to_isomorphism"] == 1948 and out["encodings"]["pape"]["distinct"] == 2260


# -- sampling and mutation -------------------------------------------------------------------------
def test_sample_uniform_over_four_ops():
    assert SPACE.sample(np.random.default_rng(7)) == SPACE.sample(np.random.default_rng(7))
    rng = np.random.default_rng(0)
    counts = Counter(op for _ in range(2000) for op in SPACE.sample(rng))
    assert set(counts) == set(tnb.OPS)
    assert all(abs(c / 12000 - 0.25) < 0.02 for c in counts.values())


def test_mutation_one_edit_and_is_known():
    rng = np.random.default_rng(1)
    arch = SPACE.from_str(BEST_SCENE)
    positions = Counter()
    for _ in range(3000):
        child = SPACE.mutate(arch, rng)
        diff = [k for k in range(6) if child[k] != arch[k]]
        assert len(diff) == 1 and SPACE.is_valid(child)
        positions[diff[0]] += 1
    assert abs(positions[0] / 3000 - 1 / 3) < 0.03 and abs(positions[3] / 3000 - 1 / 9) < 0.02
    only_zero = SPACE.mutate(arch, np.random.default_rng(3), lambda a: "none" in a)
    assert "none" in only_zero
    assert SPACE.mutate(arch, np.random.default_rng(3), lambda a: False) == arch


# -- pre-training on the space's cells (no labels) ---------------------------------------------------
@pytest.mark.parametrize("method", ["ss-rl", "ss-ccl"])
def test_pretrain_command_on_the_space(method, tmp_path, capsys, one_torch_thread):
    import torch

    from ssnenas.cli import pretrain
    from ssnenas.pretrain.checkpoint import load_pretrained_encoder, read_checkpoint

    parser = argparse.ArgumentParser()
    pretrain.register(parser.add_subparsers())
    out = tmp_path / f"{method}.pt"
    tiny = (["--batch-size", "1000", "--train-samples", "40", "--batch-step", "20", "--min-negative-size", "900"]
            if method == "ss-ccl" else ["--batch-size", "256"])
    args = parser.parse_args(["pretrain", method, "--space", "tnb101-micro", "--out", str(out), "--epochs", "1",
                              "--device", "cpu", "--no-progress", *tiny])
    assert args.func(args) == 0
    ckpt = read_checkpoint(out)
    assert ckpt["space"] == "transnas101-micro" and ckpt["epoch"] == 1
    assert ckpt["dims"]["num_features"] == 7
    assert ckpt["data"]["num_archs"] == 4096  # every cell, no store, no labels
    assert torch.isfinite(torch.tensor(ckpt["history"][-1][next(iter(ckpt["history"][-1]))])).all()
    assert load_pretrained_encoder(out, space="transnas101-micro")
    with pytest.raises(Exception, match="pre-trained for nasbench201") as err:
        load_pretrained_encoder(out, space="nasbench201")
    assert "\n" not in str(err.value)
    assert f"{method} transnas101-micro: 1 epoch(s)" in capsys.readouterr().out
