"""The encoding analysis: exact isomorphism classes and the distinct/merged/split counts."""

from __future__ import annotations

import csv
import itertools
import json
import warnings

import numpy as np
import pytest

from nb101_checks import check_classes_match_hashes
from ssnenas.cli import main
from ssnenas.encstudy import (analyse, canonical_darts, canonical_nb101, canonical_nb201, encoding_stats,
                              sample_distinct)
from ssnenas.spaces import get_space
from ssnenas.spaces.darts import Genotype
from ssnenas.spaces.nasbench101 import arch_from_adjacency, arch_from_spec, module_hash
from ssnenas.spaces.nasbench201 import EDGES, all_archs, parse_arch


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_encoding_stats_hand_example():
    # classes A A B C C ; codes 1 2 1 3 3: A is split (2 codes), code 1 merges A and B
    stats = encoding_stats(list("AABCC"), [1, 2, 1, 3, 3])
    assert stats == {"distinct": 3, "merged": 2, "split": 2}
    assert encoding_stats(list("ABC"), [7, 8, 9]) == {"distinct": 3, "merged": 0, "split": 0}


def test_nb201_canonical_form_equivalences():
    def c(text: str):
        return canonical_nb201(parse_arch(text))

    # conv on 1<-0 with skip on 3<-1 is the same graph as conv on 2<-0 with skip on 3<-2
    a = c("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|")
    b = c("|none~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|skip_connect~2|")
    assert a == b
    # a dangling edge (node 1 -> node 2, node 2 reaching nothing) is pruned away
    d = c("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|none~0|skip_connect~1|none~2|")
    assert d == a
    # ops stay labels: the same wiring with a 1x1 conv is another class; so is skip vs conv
    assert c("|nor_conv_1x1~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|") != a
    assert c("|skip_connect~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|") != a
    # every cell whose output is cut off from the input is the zero cell
    zero1 = c("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    zero2 = c("|none~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|none~1|none~2|")
    assert zero1 == zero2 == ()


def test_nb201_all_cells_counts_and_known_values():
    space = get_space("nasbench201")
    result = analyse(space, space.all_archs())
    assert result["num_archs"] == 15625
    assert set(result) == {"space", "num_archs", "unique_up_to_isomorphism", "encodings"}
    enc = result["encodings"]
    assert enc["pape"]["distinct"] == 9741 and enc["path"]["distinct"] == 8046  # SSNENAS' counts
    assert enc["key"] == {"distinct": 15625, "merged": 0, "split": enc["key"]["split"]}
    uniq = result["unique_up_to_isomorphism"]
    assert uniq == 8765
    for s in enc.values():
        assert set(s) == {"distinct", "merged", "split"}
        assert 0 <= s["merged"] <= 15625 and 0 <= s["split"] <= 15625
        # codes >= classes - merged classes; a code-per-class encoding would give distinct == uniq
        assert s["distinct"] >= uniq - s["merged"]


def _nx_graph(arch):
    nx = pytest.importorskip("networkx")
    g = nx.DiGraph()
    for (dst, src), op in zip(EDGES, arch):
        if op != "none":
            g.add_edge(src, dst, op=op)
    if not (g.has_node(0) and g.has_node(3) and nx.has_path(g, 0, 3)):
        return nx.DiGraph()
    keep = ({0} | nx.descendants(g, 0)) & ({3} | nx.ancestors(g, 3))
    h = g.subgraph(keep).copy()
    for n in h:
        h.nodes[n]["role"] = {0: "in", 3: "out"}.get(n, "mid")
    return h


def test_nb201_classes_agree_with_networkx_isomorphism():
    """The canonical form partitions cells exactly as a real labelled-DAG isomorphism test does."""
    nx = pytest.importorskip("networkx")
    from networkx.algorithms.isomorphism import categorical_edge_match, categorical_node_match

    archs = all_archs()[:2500]
    nm, em = categorical_node_match("role", None), categorical_edge_match("op", None)
    reps: list[tuple[object, object]] = []  # (nx graph, canonical form) of one member per class
    by_hash: dict[str, list[int]] = {}  # candidates bucketed by an invariant (WL hash) to keep it fast
    for arch in archs:
        g, canon = _nx_graph(arch), canonical_nb201(arch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wl = nx.weisfeiler_lehman_graph_hash(g, node_attr="role", edge_attr="op") if len(g) else ""
        bucket = by_hash.setdefault(wl, [])
        match = next((i for i in bucket if nx.is_isomorphic(g, reps[i][0], node_match=nm, edge_match=em)), None)
        if match is None:
            bucket.append(len(reps))
            reps.append((g, canon))
        else:
            assert reps[match][1] == canon  # isomorphic -> same canonical form
    assert len({canon for _, canon in reps}) == len(reps)  # non-isomorphic -> different forms
    assert len(reps) == len({canonical_nb201(a) for a in archs})


def test_nb101_canonical_is_invariant_to_vertex_order():
    ops = ["input", "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3", "conv3x3-bn-relu", "output"]
    m = np.zeros((6, 6), dtype=int)
    for i, j in [(0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 5), (0, 5)]:
        m[i, j] = 1
    base = arch_from_spec(m, ops)
    seen = 0
    for perm in itertools.permutations(range(1, 5)):
        p = [0, *perm, 5]  # new index of old vertex v is p[v]
        m2 = np.zeros_like(m)
        for i, j in zip(*np.nonzero(m)):
            m2[p[i], p[j]] = 1
        if np.any(np.tril(m2)):
            continue  # not an upper-triangular (topological) order
        ops2 = [""] * 6
        for v, op in enumerate(ops):
            ops2[p[v]] = op
        other = arch_from_spec(m2, ops2)
        assert canonical_nb101(other) == canonical_nb101(base)
        assert module_hash(other.array(), other.ops) == module_hash(base.array(), base.ops)
        seen += 1
    assert seen > 1
    ops3 = list(ops)
    ops3[1], ops3[2] = ops3[2], ops3[1]  # swap two ops on non-equivalent vertices: another graph
    assert canonical_nb101(arch_from_spec(m, ops3)) != canonical_nb101(base)


def test_nb101_classes_match_the_official_hash(synthetic_nb101_csv):
    """On the generated table in the nb101_1k.csv layout (on the real one: tests/test_shared_tables.py)."""
    with open(synthetic_nb101_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    archs = [arch_from_adjacency(r["adjacency"], r["operations"]) for r in rows]
    check_classes_match_hashes(archs, [r["module_hash"] for r in rows])


def test_darts_canonical_form():
    def cell(*edges):
        return tuple(edges)

    normal = cell(("sep_conv_3x3", 0), ("skip_connect", 1), ("max_pool_3x3", 0), ("dil_conv_3x3", 1),
                  ("sep_conv_5x5", 2), ("avg_pool_3x3", 3), ("skip_connect", 0), ("sep_conv_3x3", 4))
    # nodes 0 and 1 only read the cell inputs: swapping them (and the reads of them) is an isomorphism
    swapped = cell(("max_pool_3x3", 0), ("dil_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 1),
                   ("sep_conv_5x5", 3), ("avg_pool_3x3", 2), ("skip_connect", 0), ("sep_conv_3x3", 4))
    g1, g2 = Genotype(normal, normal), Genotype(swapped, normal)
    space = get_space("darts")
    assert space.key(g1) != space.key(g2)
    assert canonical_darts(g1) == canonical_darts(g2)
    # a 'none' edge is no edge: node 3 reading node 2 through 'none' equals reading it not at all
    a = cell(("sep_conv_3x3", 0), ("none", 1), ("none", 0), ("none", 1),
             ("none", 0), ("none", 1), ("none", 0), ("none", 1))
    b = cell(("sep_conv_3x3", 0), ("none", 1), ("none", 0), ("none", 1),
             ("none", 0), ("none", 3), ("none", 2), ("none", 1))
    assert canonical_darts(Genotype(a, a)) == canonical_darts(Genotype(b, a))
    # normal and reduction cells are not interchangeable
    assert canonical_darts(Genotype(normal, a)) != canonical_darts(Genotype(a, normal))
    result = analyse(space, [g1, g2])
    assert result["unique_up_to_isomorphism"] == 1
    assert result["encodings"]["key"] == {"distinct": 2, "merged": 0, "split": 2}


def test_sample_distinct_and_darts_sample():
    space = get_space("darts")
    archs = sample_distinct(space, 200, np.random.default_rng(1))
    assert len({space.to_str(a) for a in archs}) == 200
    result = analyse(space, archs)
    assert result["num_archs"] == 200 and result["unique_up_to_isomorphism"] <= 200


def test_cli_json_contract(capsys):
    rc, out, _ = _run(capsys, "encodings", "--space", "nb201", "--num-archs", "300", "--seed", "3", "--json")
    assert rc == 0
    got = json.loads(out)
    assert set(got) == {"space", "num_archs", "unique_up_to_isomorphism", "encodings"}
    assert got["space"] == "nasbench201" and got["num_archs"] == 300
    assert set(got["encodings"]) == {"adjacency", "path", "pape", "key"}
    assert all(set(v) == {"distinct", "merged", "split"} for v in got["encodings"].values())
    rc, out2, _ = _run(capsys, "encodings", "--space", "nb201", "--num-archs", "300", "--seed", "3", "--json")
    assert json.loads(out2) == got  # seeded


def test_cli_store_and_out_file(tmp_path, capsys):
    from ssnenas.store.table import write_store

    space = get_space("nasbench101")
    archs = sample_distinct(space, 30, np.random.default_rng(0))
    keys = [space.key(a) for a in archs]
    uniq = {}
    for k, a in zip(keys, archs):
        uniq.setdefault(k, a)
    write_store(tmp_path / "store", benchmark="nasbench101", dataset="cifar10",
                columns={"key": list(uniq), "arch": [space.to_str(a) for a in uniq.values()],
                         "val_acc": [50.0] * len(uniq), "test_acc": [None] * len(uniq)},
                source="x", source_fingerprint="y")
    out = tmp_path / "res.json"
    rc, text, _ = _run(capsys, "encodings", "--space", "nasbench101", "--data", str(tmp_path / "store"),
                       "--out", str(out), "--json")
    assert rc == 0 and json.loads(out.read_text()) == json.loads(text)
    assert json.loads(text)["num_archs"] == len(uniq)
    assert json.loads(text)["unique_up_to_isomorphism"] == len(uniq)


@pytest.mark.parametrize("argv, names", [
    (["--space", "nb999"], "--space"),
    (["--space", "nb201", "--encodings", "pape", "onehot"], "--encodings onehot"),
    (["--space", "darts", "--num-archs", "0"], "--num-archs"),
    (["--space", "nb201", "--num-archs", "20000"], "--num-archs"),
    (["--space", "nb101", "--data", "/nonexistent/store"], "--data"),
])
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, argv, names):
    out = tmp_path / "res.json"
    rc, stdout, err = _run(capsys, "encodings", *argv, "--out", str(out))
    assert rc == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and names in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_store_of_another_space(tmp_path, capsys):
    from ssnenas.store.table import write_store

    text = get_space("nb201").to_str(all_archs()[0])
    write_store(tmp_path, benchmark="nasbench201", dataset="cifar10-valid",
                columns={"key": [text], "arch": [text], "val_acc": [50.0], "test_acc": [None]},
                source="x", source_fingerprint="y")
    rc, _, err = _run(capsys, "encodings", "--space", "darts", "--data", str(tmp_path))
    assert rc == 2 and "--data" in err and "nasbench201 store" in err


def test_figure_script_table_and_png(tmp_path, capsys):
    from experiments.encodings_figure import main as figure

    space = get_space("nasbench201")
    res = analyse(space, space.all_archs()[:200])
    path = tmp_path / "nb201-200.json"
    path.write_text(json.dumps(res))
    assert figure([str(path), "--png", str(tmp_path / "enc.png")]) == 0
    table = capsys.readouterr().out
    assert f"| nb201-200 | 200 | {res['unique_up_to_isomorphism']} | path |" in table
    assert (tmp_path / "enc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
