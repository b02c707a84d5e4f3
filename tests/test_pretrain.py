"""SS-RL / SS-CCL pre-training (arXiv 2011.00186): targets, mining, loss, checkpoints, CLI, Ray."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ssnenas.errors import InputError, StoreError
from ssnenas.predictors.gin import GINEncoder
from ssnenas.pretrain import (CCLConfig, SSRLConfig, arch_set, ccl_loss, hamming_matrix, load_archs,
                              load_pretrained_encoder, mine, normalized_ged, read_checkpoint, train_ccl,
                              train_ssrl)
from ssnenas.pretrain.ccl import center_regularizer
from ssnenas.spaces import get_space

NB201 = get_space("nasbench201")
CHAIN_SKIP = "|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"
CHAIN_CONV = "|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|nor_conv_3x3~2|"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def nb201_archs(synthetic_nb201_store):
    return load_archs("nasbench201", synthetic_nb201_store)


@pytest.fixture(scope="module")
def small_archs():
    """600 NB201 cells in benchmark order, built from the space alone (no data files needed)."""
    return arch_set("nasbench201", NB201.all_archs()[:600])


# -- GED target ---------------------------------------------------------------------------------
def test_ged_target_on_literal_nb201_cells():
    a, b = NB201.from_str(CHAIN_SKIP), NB201.from_str(CHAIN_CONV)
    pa, pb = NB201.encode(a, "pape"), NB201.encode(b, "pape")
    # one path input -> 1 -> 2 -> 3 -> output; bit (node - 1) * 4 + op (skip 0, conv3x3 2)
    assert np.flatnonzero(pa).tolist() == [0, 4, 8]
    assert np.flatnonzero(pb).tolist() == [0, 4, 10]
    ta, tb = torch.as_tensor(np.stack([pa, pa])), torch.as_tensor(np.stack([pb, pa]))
    got = normalized_ged(ta, tb, num_nodes=8)
    assert got.tolist() == pytest.approx([math.exp(-2 / 8), 1.0])
    assert got[0].item() == pytest.approx(NB201.ged(a, b))
    assert normalized_ged(torch.tensor([[1, 0, 1, 0, 1, 1, 0]]), torch.tensor([[0, 1, 1, 0, 0, 1, 0]]),
                          num_nodes=7).item() == pytest.approx(math.exp(-3 / 7))


def test_hamming_matmul_equals_elementwise():
    rng = np.random.default_rng(0)
    a = torch.as_tensor(rng.integers(0, 2, (7, 120)), dtype=torch.uint8)
    b = torch.as_tensor(rng.integers(0, 2, (11, 120)), dtype=torch.uint8)
    want = (a[:, None, :] != b[None, :, :]).sum(-1).float()
    assert torch.equal(hamming_matrix(a, b), want)


# -- SS-RL --------------------------------------------------------------------------------------
def test_ssrl_loss_decreases_on_nb201(nb201_archs, tmp_path):
    data = nb201_archs.take(np.arange(2000))
    cfg = SSRLConfig(epochs=3, lr=2e-3, seed=1)
    ckpt = train_ssrl(data, tmp_path / "rl.pt", config=cfg, device="cpu", progress=False)
    hist = ckpt["history"]
    assert [h["epoch"] for h in hist] == [0, 1, 2]
    assert hist[-1]["train_mse"] < 0.7 * hist[0]["train_mse"]
    assert hist[-1]["heldout_mse"] < hist[0]["heldout_mse"]
    assert ckpt["dims"] == {"num_features": 8, "width": 32, "layers": 3, "num_nodes": 8}
    assert ckpt["data"]["num_archs"] == 2000 and ckpt["space"] == "nasbench201"


def test_ssrl_split_is_random_and_pairs_drop_last():
    from ssnenas.pretrain.ssrl import epoch_pairs, split_indices

    cfg = SSRLConfig(epochs=1, lr=1e-3)
    train, held = split_indices(1000, cfg)
    assert len(train) == 900 and len(held) == 100
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(1000))
    assert train.tolist() != list(range(900))  # not the key order (the original's first 90%)
    legacy, _ = split_indices(1000, SSRLConfig(epochs=1, lr=1e-3, split="legacy"))
    assert legacy.tolist() == list(range(900))
    a, b = epoch_pairs(train, 0, cfg)
    assert len(a) == len(b) == 896  # 14 batches of 64
    a1, _ = epoch_pairs(train, 1, cfg)
    assert a.tolist() != a1.tolist()  # pairs re-drawn every epoch


# -- SS-CCL mining and loss ---------------------------------------------------------------------
HAND_PAPE = torch.tensor([[1, 1, 0, 0],   # 0
                          [1, 1, 0, 0],   # 1: duplicate of 0
                          [1, 0, 0, 0],   # 2
                          [0, 0, 1, 1],   # 3
                          [1, 1, 1, 0],   # 4
                          [0, 0, 0, 0]],  # 5
                         dtype=torch.uint8)


def test_mining_on_hand_built_batch():
    mined = mine(HAND_PAPE, torch.tensor([0, 2, 3]), num_negatives=3)
    assert mined.sets(HAND_PAPE) == {
        0: ([0, 1], [0, 1, 2]),  # d=[0,0,1,4,1,2]: d_min 0 (duplicate) -> anchor is its own positive
        2: ([0, 1, 5], [0, 1, 3]),  # d=[1,1,0,3,2,1]: d_min 1; eligible d>=1 in batch order
        3: ([5], [0, 1, 2]),  # d=[4,4,3,0,3,2]: d_min 2
    }
    assert mined.skipped == 0


def test_mining_with_margin_and_skips():
    mined = mine(HAND_PAPE, torch.tensor([0, 2, 3]), num_negatives=3, margin=1.0)
    # anchor 2: only d >= 2 are eligible -> {3, 4}, fewer than K = 3 -> skipped
    assert mined.sets(HAND_PAPE) == {0: ([0, 1], [2, 3, 4]), 3: ([5], [0, 1, 2])}
    assert mined.skipped == 1
    assert mined.source.tolist() == [0, 2]


def test_mining_caps_d_min_at_100():
    pape = torch.zeros(3, 300, dtype=torch.uint8)
    pape[1, :150] = 1
    pape[2, :200] = 1
    mined = mine(pape, torch.tensor([0]), num_negatives=1)
    # d = [0, 150, 200]; the code's mask value 100 caps d_min, so no positive -> anchor skipped
    assert mined.skipped == 1 and len(mined.anchors) == 0


def test_center_regularizer_literal():
    c = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    # off-diagonal entries of C C^T: 0, 0.6, 0.8 twice each -> 2.8 / 9
    assert center_regularizer(c).item() == pytest.approx(2.8 / 9)


def naive_ccl_loss(q, pape, anchors, K, margin, tau, m):
    """Algorithm 1 of SSNENAS written out row by row, as the original code builds it."""
    rows, centers = [], []
    for a in anchors:
        d = [int((pape[a] != pape[j]).sum()) for j in range(len(pape))]
        d_min = min([100] + [d[j] for j in range(len(pape)) if j != a])
        pos = [j for j in range(len(pape)) if d[j] == d_min]
        neg = [j for j in range(len(pape)) if d[j] >= d_min + margin]
        if len(neg) < K or not pos:
            continue
        neg = neg[:K]
        c = F.normalize(torch.stack([q[p] for p in pos]).mean(0), dim=0)
        for p in pos:
            rows.append(torch.stack([q[p] @ c] + [q[n] @ c for n in neg]) / tau)
        centers.append(c)
    logits = torch.stack(rows)
    ce = F.cross_entropy(logits, torch.zeros(len(rows), dtype=torch.long))
    cm = torch.stack(centers)
    gram = cm @ cm.T
    gram = gram - torch.diag(torch.diag(gram))
    return ce + m * 0.5 * gram.mean()


@pytest.mark.parametrize("margin", [0.0, 2.0])
def test_ccl_loss_equals_naive_reference(margin):
    gen = torch.Generator().manual_seed(7)
    base = torch.randint(0, 2, (12, 16), generator=gen, dtype=torch.uint8)
    pape = base[torch.randint(0, 12, (40,), generator=gen)]  # duplicates, as on NB201
    pape[::3, 0] ^= 1
    q0 = F.normalize(torch.randn(40, 8, generator=gen, dtype=torch.float64), dim=1)
    anchors = [3, 5, 8, 13, 21, 34, 0, 39]
    K = 25

    q1 = q0.clone().requires_grad_(True)
    want = naive_ccl_loss(q1, pape, anchors, K, margin, tau=0.07, m=0.5)
    want.backward()
    q2 = q0.clone().requires_grad_(True)
    mined = mine(pape, torch.tensor(anchors), num_negatives=K, margin=margin)
    got, stats = ccl_loss(q2, pape, mined, tau=0.07, center_weight=0.5, chunk_elems=70)  # 1 anchor/chunk
    got.backward()
    assert stats["anchors"] == len(anchors) - mined.skipped
    assert got.item() == pytest.approx(want.item(), rel=1e-10)
    assert torch.allclose(q2.grad, q1.grad, rtol=1e-8, atol=1e-12)
    assert got.item() - stats["ce"] == pytest.approx(0.25 * stats["center_reg"], rel=1e-6)


# -- checkpoints, resume, loading ---------------------------------------------------------------
class Interrupt(Exception):
    pass


def _stop_after(epoch_to_stop: int):
    def hook(epoch, metrics):
        if epoch == epoch_to_stop:
            raise Interrupt

    return hook


CCL_SMALL = dict(batch_size=300, train_samples=60, batch_step=20, min_negative_size=250, epochs=3)


def test_ccl_resume_equals_uninterrupted_run(small_archs, tmp_path):
    cfg = CCLConfig(**CCL_SMALL)
    full = train_ccl(small_archs, tmp_path / "full.pt", config=cfg, device="cpu", progress=False)
    with pytest.raises(Interrupt):
        train_ccl(small_archs, tmp_path / "cut.pt", config=cfg, device="cpu", progress=False,
                  on_epoch_end=_stop_after(0))
    assert read_checkpoint(tmp_path / "cut.pt")["epoch"] == 1
    resumed = train_ccl(small_archs, tmp_path / "cut.pt", config=cfg, device="cpu", progress=False)
    assert resumed["epoch"] == 3 and len(resumed["history"]) == 3
    for k, v in full["model"].items():
        assert torch.equal(v, resumed["model"][k]), k
    assert [h["loss"] for h in full["history"]] == [h["loss"] for h in resumed["history"]]
    assert full["history"][1]["steps"] == 6  # 2 batches x floor(60 / 20) chunks


def test_ssrl_resume_equals_uninterrupted_run(small_archs, tmp_path):
    cfg = SSRLConfig(epochs=2, lr=1e-3, batch_size=32)
    full = train_ssrl(small_archs, tmp_path / "full.pt", config=cfg, device="cpu", progress=False)
    with pytest.raises(Interrupt):
        train_ssrl(small_archs, tmp_path / "cut.pt", config=cfg, device="cpu", progress=False,
                   on_epoch_end=_stop_after(0))
    resumed = train_ssrl(small_archs, tmp_path / "cut.pt", config=cfg, device="cpu", progress=False)
    for k, v in full["model"].items():
        assert torch.equal(v, resumed["model"][k]), k
    assert full["history"][1]["heldout_mse"] == resumed["history"][1]["heldout_mse"]


def test_resume_with_other_settings_is_refused(small_archs, tmp_path):
    cfg = CCLConfig(**{**CCL_SMALL, "epochs": 1})
    train_ccl(small_archs, tmp_path / "c.pt", config=cfg, device="cpu", progress=False)
    with pytest.raises(InputError, match=r"c\.pt.*temperature"):
        train_ccl(small_archs, tmp_path / "c.pt", config=CCLConfig(**{**CCL_SMALL, "epochs": 1,
                                                                        "temperature": 0.1}),
                  device="cpu", progress=False)
    with pytest.raises(InputError, match="data fingerprint"):
        train_ccl(small_archs.take(np.arange(500)), tmp_path / "c.pt", config=cfg, device="cpu",
                  progress=False)


def test_load_pretrained_encoder_and_wrong_space(small_archs, tmp_path):
    train_ccl(small_archs, tmp_path / "ccl.pt", config=CCLConfig(**{**CCL_SMALL, "epochs": 1}),
              device="cpu", progress=False)
    train_ssrl(small_archs, tmp_path / "rl.pt", config=SSRLConfig(epochs=1, lr=1e-3), device="cpu",
               progress=False)
    for name, prefix in (("ccl.pt", "encoder_q.encoder."), ("rl.pt", "branch_a.")):
        sd = load_pretrained_encoder(tmp_path / name, space="nb201")
        enc = GINEncoder(8, width=32)
        enc.load_state_dict(sd)  # strict: exactly the encoder's keys
        model = read_checkpoint(tmp_path / name)["model"]
        assert torch.equal(sd["mlps.0.lin1.weight"], model[prefix + "mlps.0.lin1.weight"])
        assert torch.equal(sd["bns.2.running_mean"], model[prefix + "bns.2.running_mean"])
    with pytest.raises(StoreError, match=r"ccl\.pt.*nasbench201.*needs space nasbench101"):
        load_pretrained_encoder(tmp_path / "ccl.pt", space="nasbench101")
    with pytest.raises(StoreError, match=r"rl\.pt.*width=32.*width 64"):
        load_pretrained_encoder(tmp_path / "rl.pt", space="nasbench201", width=64)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(StoreError, match="junk.pt"):
        load_pretrained_encoder(tmp_path / "junk.pt", space="nasbench201")


def test_bad_ccl_sizes_are_refused(small_archs, tmp_path):
    with pytest.raises(InputError, match="--min-negative-size 300"):
        CCLConfig(batch_size=300, train_samples=60, batch_step=20, min_negative_size=300)
    with pytest.raises(InputError, match="--batch-size 1000 exceeds the 600"):
        train_ccl(small_archs, tmp_path / "x.pt", config=CCLConfig(batch_size=1000, train_samples=60,
                                                                   batch_step=20, min_negative_size=900),
                  progress=False)
    assert not (tmp_path / "x.pt").exists()


def test_darts_samples_its_architectures(tmp_path):
    data = load_archs("darts", None, num_archs=120, seed=5)
    assert data.x.shape == (120, 30, 11) and data.pape.shape == (120, 1224)
    assert load_archs("nb301", None, num_archs=120, seed=5).fingerprint == data.fingerprint
    assert load_archs("darts", None, num_archs=120, seed=6).fingerprint != data.fingerprint
    ckpt = train_ccl(data, tmp_path / "d.pt", config=CCLConfig(batch_size=120, train_samples=20, batch_step=10,
                                                               min_negative_size=100, epochs=1),
                     device="cpu", progress=False)
    assert ckpt["dims"]["num_features"] == 11 and ckpt["epoch"] == 1
    GINEncoder(11).load_state_dict(load_pretrained_encoder(tmp_path / "d.pt", space="darts"))
    with pytest.raises(InputError, match="--space nasbench101 without --data needs --num-archs"):
        load_archs("nasbench101", None)


def test_store_free_archs_of_nb101_and_nb201():
    nb101 = load_archs("nasbench101", None, num_archs=50, seed=1)
    assert nb101.num_archs == 50 and nb101.x.shape == (50, 7, 6) and nb101.pape.shape == (50, 120)
    # distinct module hashes give distinct padded graphs
    graphs = {tuple(row) for row in torch.cat([nb101.x.flatten(1), nb101.adj.flatten(1)], 1).tolist()}
    assert len(graphs) == 50
    nb201 = load_archs("nasbench201", None)
    assert nb201.num_archs == 15625 and nb201.x.shape == (15625, 8, 8)


# -- CLI ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_ss_ccl_smoke(synthetic_nb201_store, tmp_path):
    out = tmp_path / "ccl.pt"
    cmd = [sys.executable, "-m", "ssnenas", "pretrain", "ss-ccl", "--space", "nb201", "--data", str(synthetic_nb201_store),
           "--out", str(out), "--batch-size", "3000", "--train-samples", "60", "--batch-step", "30",
           "--min-negative-size", "2900", "--epochs", "1", "--device", "cpu", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    ckpt = read_checkpoint(out)
    assert ckpt["epoch"] == 1 and ckpt["config"]["min_negative_size"] == 2900
    assert ckpt["config"]["temperature"] == 0.07 and ckpt["config"]["center_weight"] == 0.5
    assert ckpt["history"][0]["steps"] == 10  # 5 batches x 2 steps
    bad = subprocess.run(cmd[:5] + ["--space", "nb101", "--data", str(synthetic_nb201_store), "--out", str(tmp_path / "b.pt")],
                         capture_output=True, text=True, timeout=300, env=env)
    assert bad.returncode == 2 and "holds the nasbench201 space" in bad.stderr
    assert not (tmp_path / "b.pt").exists()


def test_cli_ss_rl_in_process(synthetic_nb201_store, tmp_path, capsys):
    from ssnenas.cli import main

    out = tmp_path / "rl.pt"
    argv = ["pretrain", "ss-rl", "--space", "nasbench201", "--data", str(synthetic_nb201_store), "--out", str(out),
            "--epochs", "1", "--train-fraction", "0.05", "--device", "cpu", "--no-progress"]
    assert main(argv) == 0
    ckpt = read_checkpoint(out)
    assert ckpt["config"]["lr"] == 1e-4 and ckpt["config"]["seed"] == 3344  # original NB201 defaults
    assert ckpt["history"][0]["heldout_mse"] > 0
    assert main(argv) == 0  # already complete: resumes at epoch 1 of 1, nothing left to run
    assert "1 epoch(s)" in capsys.readouterr().out


# -- Ray Train ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_ray_train_two_cpu_workers(ray_session, small_archs, tmp_path):
    from ssnenas.pretrain.distributed import train_ccl_ray

    cfg = CCLConfig(batch_size=600, train_samples=60, batch_step=30, min_negative_size=250, epochs=2,
                    workers=2)
    ckpt = train_ccl_ray(small_archs, tmp_path / "ddp.pt", config=cfg, storage_path=tmp_path / "ray",
                         progress=False)
    assert ckpt["epoch"] == 2 and ckpt["config"]["workers"] == 2
    assert all(h["steps"] == 2 and h["rows"] > 0 for h in ckpt["history"])
    assert load_pretrained_encoder(tmp_path / "ddp.pt", space="nasbench201").keys() == \
        GINEncoder(8).state_dict().keys()
    # the same command again finds the finished checkpoint and returns it unchanged
    again = train_ccl_ray(small_archs, tmp_path / "ddp.pt", config=cfg, storage_path=tmp_path / "ray",
                          progress=False)
    assert again["history"] == ckpt["history"]
