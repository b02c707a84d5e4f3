"""Predictor-study baselines (np-nas, seminas, mlp, bananas) and the epoch grid, on small inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy import stats

from ssnenas.cli import main
from ssnenas.errors import InputError
from ssnenas.predstudy import StudyConfig, parse_predictors
from ssnenas.predstudy.baselines import recipe
from ssnenas.predstudy.mlp import active_columns, fit_predict_mlp
from ssnenas.predstudy.npnas import fit_predict_npnas, normalised_adjacency
from ssnenas.predstudy.seminas import fit_predict_seminas, graph_tokens
from ssnenas.spaces import get_space

NB201 = get_space("nasbench201")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def toy():
    """400 NB201 cells with a learnable synthetic target: the share of 3x3 convs on the 6 edges."""
    archs = NB201.all_archs()[:400]
    graphs = [NB201.to_graph(a) for a in archs]
    x = torch.as_tensor(np.stack([g.one_hot(NB201.num_features) for g in graphs]))
    adj = torch.as_tensor(np.stack([g.adjacency for g in graphs]), dtype=torch.float32)
    y = torch.tensor([0.5 + 0.4 * a.count("nor_conv_3x3") / 6 for a in archs], dtype=torch.float32)
    enc = np.stack([NB201.encode(a, "adjacency") for a in archs]).astype(np.float32)
    return archs, x, adj, y, torch.as_tensor(enc[:, active_columns(enc)])


def _tau(scores: torch.Tensor, y: torch.Tensor, test: np.ndarray) -> float:
    return stats.kendalltau(scores[test].numpy(), y[test].numpy()).statistic


TRAIN = torch.arange(0, 120).reshape(1, -1)
TEST = np.arange(120, 400)


def test_mlp_learns_and_members_are_independent(toy):
    _, _, _, y, enc = toy
    one = fit_predict_mlp(enc, y, TRAIN, seeds=[5], hidden=[32, 32], epochs=40, batch_size=32, lr=1e-2)
    assert one.shape == (1, 400)
    assert _tau(one[0], y, TEST) > 0.6
    # a second member with other rows and seed does not change the first one's result
    two = fit_predict_mlp(enc, y, torch.cat([TRAIN, torch.arange(200, 320).reshape(1, -1)]), seeds=[5, 9],
                          hidden=[32, 32], epochs=40, batch_size=32, lr=1e-2)
    assert torch.allclose(two[0], one[0], atol=1e-5)
    assert not torch.allclose(two[1], one[0], atol=1e-3)
    # the fused Adam kernel (the mlp recipe's) is the same update, equal to rounding
    fused = fit_predict_mlp(enc, y, TRAIN, seeds=[5], hidden=[32, 32], epochs=40, batch_size=32, lr=1e-2,
                            fused_adam=True)
    assert torch.allclose(fused, one, atol=1e-4)
    assert recipe("mlp", "nasbench201")["fused_adam"] and "fused_adam" not in recipe("bananas", "nasbench201")


def test_npnas_learns_and_adjacency_is_row_normalised(toy):
    _, x, adj, y, _ = toy
    fwd, bwd = normalised_adjacency(adj[:5])
    assert torch.allclose(fwd.sum(-1), torch.ones(5, 8)) and torch.allclose(bwd.sum(-1), torch.ones(5, 8))
    # node 0 (input) has no predecessor: forward it only keeps itself
    assert torch.equal(fwd[:, 0, 0], torch.ones(5))
    scores = fit_predict_npnas(x, adj, y, TRAIN, seeds=[1], epochs=60, batch_size=10, lr=1e-3)
    assert scores.shape == (1, 400) and _tau(scores[0], y, TEST) > 0.5


def test_graph_tokens_literal_cell():
    arch = NB201.from_str("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|")
    g = NB201.to_graph(arch)
    x = torch.as_tensor(g.one_hot(NB201.num_features))[None]
    adj = torch.as_tensor(g.adjacency, dtype=torch.float32)[None]
    tokens = graph_tokens(x, adj)
    assert tokens.shape == (1, 8 * 7 // 2 + 7)
    # node 1: edge from node 0, op nor_conv_3x3 (feature 4) -> tokens [1, 6]
    assert tokens[0, :2].tolist() == [1, 2 + NB201.node_features.index("nor_conv_3x3")]
    ops = [int(t) - 2 for t in tokens[0, [1, 4, 8, 13, 19, 26, 34]]]
    assert ops == g.node_ops[1:].tolist()


def test_seminas_learns_with_self_training(toy, monkeypatch):
    _, x, adj, y, _ = toy
    tokens = graph_tokens(x, adj)
    scores = fit_predict_seminas(tokens, y, TRAIN, seeds=[3], epochs=30, batch_size=20, lr=3e-3,
                                 unlabelled=100, vocab=2 + NB201.num_features)
    assert scores.shape == (1, 400) and _tau(scores[0], y, TEST) > 0.4
    assert float(scores.min()) > 0 and float(scores.max()) < 1  # sigmoid output


def test_recipes_match_the_papers_and_the_bananas_searcher():
    assert recipe("np-nas", "nasbench201") == {"epochs": 300, "batch_size": 10, "lr": 1e-4}
    assert recipe("seminas", "nasbench101")["trade_off"] == 0.8
    assert recipe("seminas", "nasbench101")["epochs"] == 200 and recipe("seminas", "darts")["batch_size"] == 100
    assert recipe("mlp", "nasbench101")["hidden"] == [512, 2048, 2048, 512]
    from search_algos.bananas import default_settings

    for space, width in (("nasbench101", 20), ("nasbench201", 200), ("darts", 20), ("transnas101-micro", 200)):
        b, want = recipe("bananas", space), default_settings(space, "path")
        assert (b["hidden"][0], b["epochs"], b["lr"], len(b["hidden"])) == (want["width"], want["epochs"], want["lr"], 10)
        assert want["width"] == width  # TransNAS-Bench-101 micro has NB201's cell, so NB201's settings


def test_parse_baselines():
    specs = parse_predictors(["gin", "np-nas", "seminas", "mlp", "bananas"], space="nasbench201",
                             lr_overrides={"mlp": 3e-3})
    assert [(s.kind, s.lr, s.checkpoint) for s in specs[1:]] == [
        ("np-nas", 1e-4, None), ("seminas", 1e-3, None), ("mlp", 3e-3, None), ("bananas", 1e-3, None)]
    with pytest.raises(InputError, match="'mlp=x.pt'.*takes no checkpoint"):
        parse_predictors(["mlp=x.pt"], space="nasbench201")
    with pytest.raises(InputError, match="'xgb'.*np-nas, seminas, mlp, bananas"):
        parse_predictors(["xgb"], space="nasbench201")
    with pytest.raises(InputError, match="--epochs: give at least one"):
        StudyConfig(epochs=())
    with pytest.raises(InputError, match="--epochs 0"):
        StudyConfig(epochs=(0, 100))
    assert StudyConfig(epochs=300).epochs == (300,)


@pytest.fixture(scope="module")
def baseline_study(synthetic_nb201_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("bl") / "study"
    argv = ["predictor-study", "--space", "nb201", "--data", str(synthetic_nb201_store), "--predictors", "gin", "mlp",
            "bananas", "np-nas", "seminas", "--train-sizes", "20", "--repeats", "2", "--epochs", "3", "6",
            "--baseline-epochs", "2", "--out", str(out), "--json", "--no-progress", "--device", "cpu"]
    return out, argv


@pytest.mark.slow
def test_cli_baselines_and_epoch_grid(baseline_study, capsys, monkeypatch):
    import ssnenas.predstudy.seminas as seminas

    monkeypatch.setattr(seminas, "UNLABELLED", 50)
    out, argv = baseline_study
    assert main(argv) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["epochs"] == [3, 6]
    got = {(r["predictor"], r["epochs"]) for r in payload["results"]}
    assert got == {("gin", 3), ("gin", 6), ("mlp", 2), ("bananas", 2), ("np-nas", 2), ("seminas", 2)}
    assert all(r["fit_seconds"] > 0 and r["n"] == 2 for r in payload["results"])
    names = sorted(p.name for p in (out / "cells").iterdir())
    assert "gin__n20__r0__e3.json" in names and "gin__n20__r1__e6.json" in names
    assert "mlp__n20__r0.json" in names and len(names) == 2 * 6
    # the baselines pair with gin at its largest epoch count; gin's own grid values are not paired
    paired = {(p["predictor"], p["epochs"], p["baseline_epochs"]) for p in payload["paired"]
              if p["metric"] == "kendall_tau"}
    assert paired == {("mlp", 2, 6), ("bananas", 2, 6), ("np-nas", 2, 6), ("seminas", 2, 6)}
    cell = json.loads((out / "cells" / "seminas__n20__r0.json").read_text())
    assert cell["settings"]["recipe"]["unlabelled"] == 50 and cell["settings"]["recipe"]["epochs"] == 2
    gin = json.loads((out / "cells" / "gin__n20__r0__e3.json").read_text())
    assert cell["split_digest"] == gin["split_digest"] and cell["fit_seed"] == gin["fit_seed"]  # paired
    assert (out / "tau_vs_epochs.png").is_file()
    # resume: nothing recomputed
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["cells_computed"] == 0


@pytest.mark.parametrize("extra, message", [
    (["--predictors", "gin", "bananas=ck.pt"], "bananas=ck.pt"),
    (["--predictors", "gin", "lstm"], "unknown predictor 'lstm'"),
    (["--predictors", "gin", "--baseline-epochs", "0"], "--baseline-epochs 0"),
    (["--predictors", "gin", "--epochs", "100", "100"], "--epochs [100, 100]"),
])
def test_bad_baseline_input_exits_2(synthetic_nb201_store, tmp_path, capsys, extra, message):
    out = tmp_path / "study"
    rc = main(["predictor-study", "--space", "nb201", "--data", str(synthetic_nb201_store), "--train-sizes", "20",
               "--repeats", "1", "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_markdown_picks_each_predictors_largest_epochs_and_fit_times():
    from experiments.predictor_study_markdown import study_markdown

    def res(p, n, e, tau, fit):
        return {"predictor": p, "train_size": n, "epochs": e, "kendall_tau": tau, "kendall_tau_sem": 0.01,
                "fit_seconds": fit}

    payload = {"benchmark": "nasbench201", "dataset": "cifar10-valid", "num_archs": 15625, "repeats": 5,
               "epochs": [50, 300], "train_sizes": [20], "baseline": "gin",
               "results": [res("gin", 20, 50, 0.1, 0.1), res("gin", 20, 300, 0.2, 0.3), res("mlp", 20, 200, 0.15, 9.0)],
               "paired": [{"predictor": "mlp", "train_size": 20, "epochs": 200, "metric": "kendall_tau",
                           "mean_diff": -0.05, "wins": 1, "n": 5, "p_value": 0.3}]}
    text = study_markdown(payload, fit_times=True)
    assert "50/300 epochs" in text
    assert "| 20 | 0.200 ± 0.010 | 0.150 ± 0.010 | -0.050 (1/5, 0.3) |" in text
    assert "| 20 | 0.30 | 9.00 |" in text and "mlp (200 ep)" in text


def test_markdown_split_layout_gives_tau_and_gain_tables_apart():
    from experiments.predictor_study_markdown import study_markdown

    payload = {"benchmark": "nasbench101", "dataset": "cifar10", "num_archs": 1000, "repeats": 20,
               "epochs": 300, "train_sizes": [20], "baseline": "gin",
               "results": [{"predictor": p, "train_size": 20, "epochs": e, "kendall_tau": t, "kendall_tau_sem": 0.02,
                            "fit_seconds": 1.0} for p, e, t in (("gin", 300, 0.2), ("np-nas", 300, 0.3))],
               "paired": [{"predictor": "np-nas", "train_size": 20, "epochs": 300, "metric": "kendall_tau",
                           "mean_diff": 0.1, "wins": 18, "n": 20, "p_value": 3e-5}]}
    lines = study_markdown(payload, split=True).splitlines()
    assert "| 20 | 0.200 ± 0.020 | 0.300 ± 0.020 |" in lines
    assert "| train size | Δτ np-nas − gin (wins, p) |" in lines
    assert "| 20 | +0.100 (18/20, <0.0001) |" in lines
