"""GIN predictors: the dense encoder against PyG, the schedule, the fast engine against autograd,
determinism, and that a fit actually learns a ranking."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import kendalltau

from ssnenas.predictors import GINEncoder, Predictor, fit_many
from ssnenas.predictors.fast import BatchedTrainer
from ssnenas.predictors.fit import _init_net, draw_order, fit_eager
from ssnenas.predictors.heads import DROPOUT, PredictorNet, gaussian_nll
from ssnenas.predictors.optim import lr_factors, make_adam, param_groups


@pytest.fixture(autouse=True)
def one_thread():
    """Single-threaded, as predictor fits run (one CPU per Ray task); also makes float sums repeatable.
    Adam with beta1 = 0 turns rounding noise in near-zero gradients (biases feeding ReLU -> BN) into
    ±lr steps, so engine comparisons need identical reduction orders."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def random_dags(m: int, n: int = 8, f: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.eye(f)[torch.randint(0, f, (m, n), generator=g)]
    adj = torch.triu((torch.rand(m, n, n, generator=g) < 0.4).float(), 1)
    return x, adj


def synthetic_target(x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
    """A learnable 'val error': depends on op counts and on ops feeding ops (2-hop structure)."""
    conv = x[:, :, 4].sum(1)
    pool = x[:, :, 5].sum(1)
    chained = torch.einsum("bi,bij,bj->b", x[:, :, 4], adj, x[:, :, 3])
    return 9.0 - 0.8 * conv + 0.5 * pool - 0.6 * chained


# -- encoder vs PyG ------------------------------------------------------------------------------
def test_dense_encoder_equals_pyg_ginconv_and_mean_pool() -> None:
    from torch_geometric.data import Batch, Data
    from torch_geometric.nn import GINConv, global_mean_pool
    from torch_geometric.utils import remove_self_loops

    x, adj = random_dags(6, seed=1)
    adj[:, 3, 3] = 1.0  # self-loops must be ignored by the dense encoder
    enc = GINEncoder(8).train()
    convs, bns = [], []
    for k in range(3):
        mlp = torch.nn.Sequential(torch.nn.Linear(8 if k == 0 else 32, 32), torch.nn.ReLU(),
                                  torch.nn.Linear(32, 32))
        convs.append(GINConv(mlp, eps=0.0, train_eps=False))  # (its reset_parameters re-inits mlp)
        mlp[0].load_state_dict(enc.mlps[k].lin1.state_dict())
        mlp[2].load_state_dict(enc.mlps[k].lin2.state_dict())
        bns.append(torch.nn.BatchNorm1d(32).train())
    batch = Batch.from_data_list([Data(x=x[i], edge_index=remove_self_loops(adj[i].nonzero().t())[0])
                                  for i in range(len(x))])
    h = batch.x
    for conv, bn in zip(convs, bns):
        h = bn(torch.relu(conv(h, batch.edge_index)))
    expected = global_mean_pool(h, batch.batch)
    got = enc(x, adj)
    assert got.shape == (6, 32)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(enc.bns[2].running_mean, bns[2].running_mean)  # BN over all B·N nodes
    # eval mode (running statistics) agrees too
    enc.eval()
    h = batch.x
    for conv, bn in zip(convs, bns):
        h = bn.eval()(torch.relu(conv(h, batch.edge_index)))
    torch.testing.assert_close(enc(x, adj), global_mean_pool(h, batch.batch), rtol=1e-5, atol=1e-5)
    assert enc.node_embeddings(x, adj).shape == (6, 8, 32)


def test_message_direction_and_self_loops() -> None:
    """Node j sums its predecessors i (adj[i, j] = 1); reversing edges changes the embedding."""
    x, adj = random_dags(4, seed=2)
    enc = GINEncoder(8).eval()
    with torch.no_grad():
        base = enc(x, adj)
        assert not torch.allclose(base, enc(x, adj.transpose(1, 2)))
        loops = adj + torch.eye(8)
        torch.testing.assert_close(enc(x, loops), base)


def test_mask_matches_unpadded_graph() -> None:
    x, adj = random_dags(1, n=6, seed=3)
    enc = GINEncoder(8).eval()
    xp = torch.zeros(1, 8, 8)
    xp[:, :6] = x
    ap = torch.zeros(1, 8, 8)
    ap[:, :6, :6] = adj
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 0, 0]])
    with torch.no_grad():
        torch.testing.assert_close(enc(xp, ap, mask), enc(x, adj))
        assert enc.node_embeddings(xp, ap, mask)[0, 6:].abs().sum() == 0


# -- optimiser and schedule -----------------------------------------------------------------------
def test_cosine_over_true_step_count() -> None:
    f = lr_factors(epochs=2, n_train=25, batch_size=10)  # 2 · ⌈25/10⌉ = 6 steps
    expected = [0.5 * (1 + math.cos(math.pi * k / 6)) for k in range(6)]
    np.testing.assert_allclose(f, expected)
    assert f[0] == 1.0 and np.all(np.diff(f) < 0)


def test_legacy_cosine_overshoots() -> None:
    f = lr_factors(epochs=2, n_train=25, batch_size=10, legacy=True)  # T' = ⌊50/10⌋ = 5
    np.testing.assert_allclose(f, [0.5 * (1 + math.cos(math.pi * (t + 1) / 5)) for t in range(1, 7)])
    np.testing.assert_allclose(f[:4], [0.6545085, 0.3454915, 0.0954915, 0.0], atol=1e-7)
    assert f[5] > f[4] > f[3]  # the lr rises again past T'


def test_legacy_bias_groups() -> None:
    net = PredictorNet(8, head="np")
    clean = param_groups(net, lr=0.005)
    assert len(clean) == 1 and clean[0]["weight_decay"] == 1e-4
    weights, biases = param_groups(net, lr=0.005, legacy_bias=True)
    names = {id(p): n for n, p in net.named_parameters()}
    assert {names[id(p)] for p in biases["params"]} == {n for n in names.values() if "bias" in n}
    assert "encoder.bns.0.bias" in {names[id(p)] for p in biases["params"]}
    assert "encoder.bns.0.weight" in {names[id(p)] for p in weights["params"]}  # BN γ is decayed
    assert (weights["lr"], weights["weight_decay"], biases["lr"], biases["weight_decay"]) == \
        (0.005, 1e-4, 0.01, 0.0)
    opt = make_adam(net, lr=0.005, legacy_bias=True)
    assert opt.defaults["betas"] == (0.0, 0.9)


def test_gaussian_nll_literal() -> None:
    # ½·(3−1)²/2² + log(√(2π)·2) = 0.5 + 0.918938533 + 0.693147181
    got = gaussian_nll(torch.tensor([3.0, 3.0]), torch.tensor([1.0, 1.0]), torch.tensor([2.0, 2.0]))
    assert got.item() == pytest.approx(2.112085714, abs=1e-6)


# -- fast engine vs autograd -----------------------------------------------------------------------
@pytest.mark.parametrize("head", ["np", "finetune", "bo"])
def test_fast_gradients_equal_autograd(head: str) -> None:
    x, adj = random_dags(23, seed=4)
    y = synthetic_target(x, adj)
    ref = _init_net(8, head, 10.0, 3, None).train()
    net = _init_net(8, head, 10.0, 3, None).train()
    order, u = draw_order(3, epochs=1, n=23, dropout=True)
    idx = order[0, :10]
    ref.set_dropout_uniforms(u[0, :10])
    ref.loss(ref(x[idx], adj[idx]), y[idx]).backward()
    tr = BatchedTrainer([net], x, adj, y, lr=0.0, weight_decay=0.0, legacy_bias=False)
    tr.keep_grads = True
    keep = (u[0, :10] >= DROPOUT).float() / (1 - DROPOUT)
    tr.step(idx[None], keep[None], torch.tensor(1.0))
    scale = max(p.grad.abs().max().item() for p in ref.parameters())
    for name, p in ref.named_parameters():
        g = tr.last_grads[name][0]
        g = g.reshape(p.shape[::-1]).t() if p.dim() == 2 else g.reshape(p.shape)
        torch.testing.assert_close(g, p.grad, rtol=1e-4, atol=1e-5 * scale,
                                   msg=f"{head}: gradient of {name}")
    tr.store()
    for (name, a), b in zip(ref.named_buffers(), net.buffers()):
        torch.testing.assert_close(a, b, msg=f"{head}: BN buffer {name}")


@pytest.mark.parametrize(("head", "legacy_bias", "steps"),
                         [("np", False, 7), ("np", True, 1), ("finetune", False, 7)])
def test_fast_steps_equal_eager_reference(head: str, legacy_bias: bool, steps: int) -> None:
    """Adam steps (seven cross an epoch boundary and a short last batch) agree. With legacy biases a
    flipped noise-gradient of a pre-BN bias (see below) shows at step 1 and then spreads, so that case
    checks one step (which is what exercises its 2× lr / no-decay groups)."""
    x, adj = random_dags(23, seed=5)
    y = synthetic_target(x, adj)
    kw = dict(head=head, epochs=5, batch_size=10, lr=5e-3, legacy_bias=legacy_bias, steps=steps)
    ref = fit_eager(8, x, adj, y, seed=3, **kw).state_dict()
    fast = fit_many(8, x, adj, y, seeds=[3], **kw)[0].net.state_dict()
    assert ref.keys() == fast.keys()
    for k in ref:
        if k.endswith("lin2.bias"):
            # The bias right before ReLU -> BatchNorm has a gradient that is mostly rounding noise
            # (BN removes any shift of active units); Adam with beta1 = 0 turns noise into ±lr steps,
            # so only the bound |diff| <= 2 · lr_max · steps holds for it.
            assert (fast[k] - ref[k]).abs().max() <= 2 * (2 * 5e-3) * steps
            continue
        torch.testing.assert_close(fast[k].float(), ref[k].float(), rtol=1e-3, atol=1e-4, msg=k)
    assert int(fast["encoder.bns.0.num_batches_tracked"]) == steps


def test_fit_many_equals_separate_fits() -> None:
    x, adj = random_dags(40, seed=6)
    y = synthetic_target(x, adj)
    rows = np.array([np.arange(0, 20), np.arange(20, 40)])
    many = fit_many(8, x, adj, y, seeds=[11, 12], train_idx=rows, epochs=3, batch_size=10, steps=4)
    for p, (seed, r) in enumerate(zip([11, 12], rows)):
        one = fit_many(8, x[r], adj[r], y[r], seeds=[seed], epochs=3, batch_size=10, steps=4)[0]
        for k, v in one.net.state_dict().items():
            torch.testing.assert_close(many[p].net.state_dict()[k].float(), v.float(),
                                       rtol=1e-5, atol=1e-6, msg=k)


# -- the Predictor wrapper -------------------------------------------------------------------------
def test_fit_is_deterministic_for_a_seed() -> None:
    x, adj = random_dags(30, seed=7)
    y = synthetic_target(x, adj)
    runs = [Predictor(8, rate=10.0).fit(x, adj, y, epochs=5, batch_size=10, seed=s).predict(x, adj)
            for s in (1, 1, 2)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], runs[2])
    eager = [Predictor(8, engine="eager").fit(x, adj, y, epochs=2, seed=1).predict(x, adj) for _ in (0, 1)]
    np.testing.assert_array_equal(eager[0], eager[1])


def test_fit_learns_a_ranking() -> None:
    x, adj = random_dags(300, seed=8)
    y = synthetic_target(x, adj)
    pred = Predictor(8, head="np", rate=15.0)
    pred.fit(x[:100], adj[:100], y[:100], epochs=100, batch_size=10, lr=5e-3, seed=0)
    train_mse = float(np.mean((pred.predict(x[:100], adj[:100]) - y[:100].numpy()) ** 2))
    assert train_mse < 0.25 * float(y[:100].var())
    held = pred.predict(x[100:], adj[100:], batch_size=64)
    tau = kendalltau(held, y[100:].numpy()).statistic
    assert tau > 0.4, tau  # held-out graphs; an untrained predictor gives about 0
    # prediction batch size does not matter in eval mode
    np.testing.assert_allclose(pred.predict(x[100:], adj[100:], batch_size=7), held, rtol=1e-5, atol=1e-5)


def test_bo_head_sample_and_sigma_floor() -> None:
    x, adj = random_dags(40, seed=9)
    y = synthetic_target(x, adj)
    pred = Predictor(8, head="bo").fit(x, adj, y, epochs=20, batch_size=10, seed=0)
    assert pred.net.encoder.activation == "celu"
    mu, sigma = pred.predict_dist(x, adj)
    assert np.all(sigma >= math.exp(-0.5) - 1e-6)
    s1 = pred.sample(x, adj, np.random.default_rng(5))
    s2 = pred.sample(x, adj, np.random.default_rng(5))
    np.testing.assert_array_equal(s1, s2)
    assert s1.shape == (40,) and not np.allclose(s1, mu)
    np.testing.assert_allclose(pred.predict(x, adj), mu)
    with pytest.raises(ValueError, match="head='bo'"):
        Predictor(8).fit(x, adj, y, epochs=1).predict_dist(x, adj)


def test_load_encoder_state_starts_from_pretrained() -> None:
    x, adj = random_dags(20, seed=10)
    y = synthetic_target(x, adj)
    enc = GINEncoder(8)
    with torch.no_grad():
        for p in enc.parameters():
            p.add_(1.0)
    pred = Predictor(8, head="finetune").load_encoder_state(enc.state_dict())
    start = fit_many(8, x, adj, y, seeds=[0], head="finetune", encoder_state=pred.encoder_state,
                     epochs=1, steps=0)[0]
    for k, v in enc.state_dict().items():
        torch.testing.assert_close(start.net.encoder.state_dict()[k], v, msg=k)
    pred.fit(x, adj, y, epochs=2, seed=0)  # fine-tunes everything (nothing frozen)
    assert not torch.allclose(pred.net.encoder.mlps[0].lin1.weight, enc.mlps[0].lin1.weight)


def test_bad_inputs_name_the_fix() -> None:
    x, adj = random_dags(5, seed=11)
    with pytest.raises(ValueError, match="num_features"):
        Predictor(6).fit(x, adj, torch.zeros(5), epochs=1)
    with pytest.raises(ValueError, match="one per graph"):
        Predictor(8).fit(x, adj, torch.zeros(4), epochs=1)
    with pytest.raises(ValueError, match="head="):
        Predictor(8, head="mlp")
    with pytest.raises(RuntimeError, match="fit"):
        Predictor(8).predict(x, adj)


def test_state_dict_round_trip() -> None:
    x, adj = random_dags(20, seed=12)
    y = synthetic_target(x, adj)
    a = Predictor(8).fit(x, adj, y, epochs=3, seed=0)
    b = Predictor(8).load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a.predict(x, adj), b.predict(x, adj))


def test_nb201_table_fit_ranks(synthetic_nb201_csv) -> None:
    """A predictor fitted on 100 cells of the generated NB201 table ranks 500 others (the same fit on the
    real table: tests/test_shared_tables.py)."""
    tau = nb201_fit_tau(synthetic_nb201_csv)
    assert tau > 0.4, tau


def nb201_fit_tau(path) -> float:
    """Kendall tau of a GIN predictor fitted (60 epochs) on 100 random cells of an NB201 CSV, on 500 others."""
    import csv

    from ssnenas.spaces.nasbench201 import SPACE

    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    pick = np.random.default_rng(0).choice(len(rows), size=600, replace=False)
    graphs = [SPACE.to_graph(SPACE.from_str(rows[i]["arch"])) for i in pick]
    x = np.stack([g.one_hot(SPACE.num_features) for g in graphs])
    adj = np.stack([g.adjacency for g in graphs]).astype(np.float32)
    y = np.array([100.0 - float(rows[i]["cifar10-valid_val_acc"]) for i in pick], dtype=np.float32)
    pred = Predictor(SPACE.num_features, rate=100.0).fit(x[:100], adj[:100], y[:100], epochs=60, seed=0)
    return kendalltau(pred.predict(x[100:], adj[100:]), y[100:]).statistic
