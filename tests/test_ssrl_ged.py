"""SS-RL's GED target choice: normalised exp(-d / n_nodes) (default) or the raw Hamming distance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ssnenas.errors import InputError
from ssnenas.pretrain import SSRLConfig, arch_set, read_checkpoint, train_ssrl
from ssnenas.pretrain.checkpoint import save_checkpoint
from ssnenas.pretrain.ged import ged_target
from ssnenas.spaces import get_space

NB201 = get_space("nasbench201")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def small_archs():
    return arch_set("nasbench201", NB201.all_archs()[:600])


def test_ged_target_kinds():
    a = torch.tensor([[1, 0, 1, 0, 1, 1, 0], [1, 1, 1, 1, 0, 0, 0]], dtype=torch.uint8)
    b = torch.tensor([[0, 1, 1, 0, 0, 1, 0], [1, 1, 1, 1, 0, 0, 0]], dtype=torch.uint8)
    assert ged_target(a, b, 7, "raw").tolist() == [3.0, 0.0]
    assert ged_target(a, b, 7).tolist() == pytest.approx([math.exp(-3 / 7), 1.0])
    assert ged_target(a, b, 7, "normalized").tolist() == pytest.approx([math.exp(-3 / 7), 1.0])
    with pytest.raises(ValueError, match="unknown GED kind 'log'"):
        ged_target(a, b, 7, "log")
    with pytest.raises(InputError, match="--ged 'log'"):
        SSRLConfig(epochs=1, lr=1e-3, ged="log")


def test_raw_ged_regresses_distances_with_a_linear_output(small_archs, tmp_path):
    cfg = SSRLConfig(epochs=3, lr=3e-3, batch_size=32, ged="raw", seed=2)
    ckpt = train_ssrl(small_archs, tmp_path / "raw.pt", config=cfg, device="cpu", progress=False)
    assert ckpt["config"]["ged"] == "raw"
    hist = ckpt["history"]
    assert hist[-1]["train_mse"] < 0.5 * hist[0]["train_mse"]
    # targets are Hamming distances (mean well above 1), so the fitted MSE must be far below their
    # variance only if the output can leave (0, 1): a sigmoid head could not get there
    pape = small_archs.pape.to(torch.float32)
    d = (pape[:, None, :] != pape[None, :, :]).sum(-1).float()
    assert d.mean() > 3 and hist[-1]["heldout_mse"] < ((d - 1).clamp(min=0) ** 2).mean()
    norm = train_ssrl(small_archs, tmp_path / "norm.pt", config=SSRLConfig(epochs=1, lr=1e-3, batch_size=32),
                      device="cpu", progress=False)
    assert norm["config"]["ged"] == "normalized" and norm["history"][0]["heldout_mse"] < 1


class Interrupt(Exception):
    pass


def _stop(epoch, metrics):
    raise Interrupt


def test_resume_with_other_ged_is_refused_and_old_checkpoints_read_as_normalized(small_archs, tmp_path):
    out = tmp_path / "rl.pt"
    with pytest.raises(Interrupt):  # killed after its first of 2 epochs
        train_ssrl(small_archs, out, config=SSRLConfig(epochs=2, lr=1e-3, batch_size=32), device="cpu",
                   progress=False, on_epoch_end=_stop)
    with pytest.raises(InputError, match=r"rl\.pt.*ged: checkpoint 'normalized' vs now 'raw'"):
        train_ssrl(small_archs, out, config=SSRLConfig(epochs=2, lr=1e-3, batch_size=32, ged="raw"),
                   device="cpu", progress=False)
    # a checkpoint written before --ged existed has no "ged" knob: it ran normalised
    old = read_checkpoint(out)
    del old["config"]["ged"]
    save_checkpoint(out, old)
    with pytest.raises(InputError, match="ged"):
        train_ssrl(small_archs, out, config=SSRLConfig(epochs=2, lr=1e-3, batch_size=32, ged="raw"),
                   device="cpu", progress=False)
    resumed = train_ssrl(small_archs, out, config=SSRLConfig(epochs=2, lr=1e-3, batch_size=32), device="cpu",
                         progress=False)
    assert resumed["epoch"] == 2 and resumed["config"]["ged"] == "normalized"


def test_cli_bad_ged_exits_2_and_writes_nothing(tmp_path, capsys):
    from ssnenas.cli import main

    out = tmp_path / "rl.pt"
    rc = main(["pretrain", "ss-rl", "--space", "nasbench201", "--out", str(out), "--epochs", "1",
               "--ged", "log", "--device", "cpu", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "--ged 'log'" in err
    assert list(tmp_path.iterdir()) == []


def test_cli_raw_ged_recorded(tmp_path, capsys):
    from ssnenas.cli import main

    out = tmp_path / "rl.pt"
    argv = ["pretrain", "ss-rl", "--space", "nasbench201", "--out", str(out), "--epochs", "1",
            "--train-fraction", "0.02", "--ged", "raw", "--device", "cpu", "--no-progress"]
    assert main(argv) == 0
    ckpt = read_checkpoint(out)
    assert ckpt["config"]["ged"] == "raw" and ckpt["data"]["num_archs"] == 15625
    assert np.isfinite(ckpt["history"][0]["heldout_mse"])
