"""The DARTS network, ops, params/FLOPs (ssnenas/darts/ops.py, model.py), the data readers and the
candidate training loop (data.py, train.py)."""

from __future__ import annotations

import pickle
import urllib.error

import numpy as np
import pytest
import torch

from ssnenas.darts import data as darts_data
from ssnenas.darts.data import (augment, download_cifar10, load_cifar10, load_data, load_digits_data,
                                resolve_data_spec)
from ssnenas.darts.model import DartsNetwork, count_parameters, drop_path, model_complexity
from ssnenas.darts.ops import OPS, FactorizedReduce, make_op
from ssnenas.darts.train import CandidateTrainer, TrainConfig, train_candidate
from ssnenas.errors import DataFormatError, InputError
from ssnenas.spaces.darts import OPS as SPACE_OPS
from ssnenas.spaces.darts import SPACE, parse_genotype

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: DARTS (second order) from the DARTS paper's genotypes.py
DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
            "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
            "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
            "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")


def test_ops_cover_the_space_and_keep_shapes():
    assert tuple(OPS) == SPACE_OPS
    x = torch.randn(2, 6, 8, 8)
    for name in OPS:
        for stride, size in ((1, 8), (2, 4)):
            y = make_op(name, 6, stride).eval()(x)
            assert y.shape == (2, 6, size, size), (name, stride)
    assert torch.count_nonzero(make_op("none", 6, 2)(x)) == 0
    assert sum(p.numel() for p in make_op("max_pool_3x3", 6, 1).parameters()) == 0
    # sep conv 3x3 on C=6: 2 x (depthwise 6*9 + pointwise 36 + BN 12) = 204 parameters
    assert sum(p.numel() for p in make_op("sep_conv_3x3", 6, 1).parameters()) == 204
    with pytest.raises(KeyError, match="sep_conv_3x3"):
        make_op("conv_7x7", 6, 1)
    with pytest.raises(ValueError, match="even"):
        FactorizedReduce(4, 5)


def test_darts_v2_at_the_evaluation_size_has_the_published_parameter_count():
    """DARTS's train.py logs "param size = 3.349342MB" for DARTS_V2 at C=36, 20 cells (aux excluded)."""
    model = DartsNetwork(parse_genotype(DARTS_V2), channels=36, layers=20, auxiliary=True)
    assert count_parameters(model) == 3_349_342
    assert count_parameters(model, include_auxiliary=True) > 3_349_342
    assert model.reduction_layers == (6, 13)
    model.train()
    logits, aux = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == aux.shape == (2, 10)
    model.eval()
    assert model(torch.randn(2, 3, 32, 32))[1] is None


def test_random_genotypes_build_and_complexity_is_consistent():
    rng = np.random.default_rng(3)
    for _ in range(3):
        g = SPACE.sample(rng)
        model = DartsNetwork(g, channels=4, layers=5, in_channels=1)
        logits, aux = model(torch.randn(3, 1, 8, 8))
        assert logits.shape == (3, 10) and aux is None
        params, flops = model_complexity(model, (1, 8, 8))
        assert params == count_parameters(model) > 0
        _, flops16 = model_complexity(model, (1, 16, 16))
        assert flops16 > 3 * flops  # conv MACs scale with the pixel count (x4)
        assert model.training  # model_complexity restores the mode


def test_drop_path_zeroes_whole_samples_and_keeps_the_mean():
    x = torch.ones(4000, 2, 3, 3)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        y = drop_path(x, 0.25)
    per = y.flatten(1)
    assert set(per.unique().tolist()) == {0.0, float(torch.tensor(1 / 0.75))}
    assert ((per == 0).all(1) | (per > 0).all(1)).all()
    assert abs(float(y.mean()) - 1.0) < 0.05
    assert drop_path(x, 0.0) is x


def test_digits_split_is_deterministic_and_disjoint():
    d = load_digits_data(seed=0)
    assert d.input_shape == (1, 8, 8) and d.num_classes == 10
    assert len(d.x_test) == 359 and len(d.x_train) + len(d.x_val) == 1797 - 359
    assert len(d.x_train) == len(d.x_val) == 719
    assert abs(float(d.x_train.mean())) < 1e-4  # normalised by the training split
    d2 = load_digits_data(seed=0)
    assert torch.equal(d.x_val, d2.x_val) and torch.equal(d.y_test, d2.y_test)
    full = load_digits_data(seed=0, split="full")
    assert full.x_val is None and len(full.x_train) == 1438
    assert not torch.equal(load_digits_data(seed=1).y_test, d.y_test)
    with pytest.raises(InputError, match="split"):
        load_digits_data(split="train")
    with pytest.raises(InputError, match="cifar10:PATH"):
        load_data("mnist")


def _fake_cifar(folder, n_per_batch=4):
    """The real layout: 5 data batches + test_batch, pickled dicts of b'data' (N,3072) uint8, b'labels'."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, name in enumerate([f"data_batch_{j}" for j in range(1, 6)] + ["test_batch"]):
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        data[:, 0] = i  # the first red pixel tags the file
        labels = [int(v) for v in rng.integers(0, 10, n_per_batch)]
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data,
                         b"filenames": [b"x.png"] * n_per_batch}, f, protocol=2)
    return folder


def test_cifar10_folder_reader_on_a_fake_folder(tmp_path):
    folder = _fake_cifar(tmp_path / "cifar-10-batches-py")
    d = load_cifar10(tmp_path)  # the parent works too
    assert d.input_shape == (3, 32, 32)
    assert len(d.x_train) == len(d.x_val) == 10 and len(d.x_test) == 4
    # search split in file order: batches 1-2 and half of 3 train, the rest validates (as the original)
    with open(folder / "data_batch_1", "rb") as f:
        first = pickle.load(f, encoding="bytes")
    assert d.y_train[:4].tolist() == list(first[b"labels"])
    full = load_data(f"cifar10:{folder}", split="full")
    assert len(full.x_train) == 20 and full.x_val is None
    (folder / "data_batch_3").write_bytes(b"garbage")
    with pytest.raises(DataFormatError, match="data_batch_3"):
        load_cifar10(folder)
    with open(folder / "data_batch_3", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f)
    with pytest.raises(DataFormatError, match=r"\(N, 3072\)"):
        load_cifar10(folder)
    with pytest.raises(InputError, match="missing data_batch_1"):
        load_cifar10(tmp_path / "nowhere")


def test_download_fails_clearly_offline(tmp_path, monkeypatch):
    def offline(*a, **k):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(darts_data.urllib.request, "urlopen", offline)
    with pytest.raises(InputError, match="offline.*--data digits"):
        download_cifar10(tmp_path / "c")
    assert not (tmp_path / "c" / "cifar-10-python.tar.gz").exists()
    _fake_cifar(tmp_path / "have" / "cifar-10-batches-py")
    assert download_cifar10(tmp_path / "have").name == "cifar-10-batches-py"  # no network needed
    # the --data spec a run records: the absolute batches folder, fetched first with --download
    have = (tmp_path / "have" / "cifar-10-batches-py").resolve()
    assert resolve_data_spec(f"cifar10:{tmp_path / 'have'}", download=True) == f"cifar10:{have}"
    assert resolve_data_spec("digits") == "digits"
    with pytest.raises(InputError, match="'digits'.*'cifar10:PATH'"):
        resolve_data_spec("imagenet:/x")


def test_search_download_offline_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    from ssnenas.cli import main

    monkeypatch.setattr(darts_data.urllib.request, "urlopen",
                        lambda *a, **k: (_ for _ in ()).throw(urllib.error.URLError("unreachable")))
    out = tmp_path / "run"
    assert main(["search", "--data", f"cifar10:{tmp_path / 'c'}", "--download", "--out", str(out)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot download CIFAR-10" in err and "--data digits" in err
    assert not out.exists()  # nothing was started or written


def test_augment_crop_flip_cutout():
    gen = torch.Generator().manual_seed(0)
    x = torch.arange(64, dtype=torch.float32).reshape(1, 1, 8, 8).repeat(50, 1, 1, 1)
    y = augment(x, padding=1, flip=False, cutout=0, gen=gen)
    assert y.shape == x.shape
    # every crop is a shift by at most one pixel: interior pixel (3,3) comes from a 3x3 window
    assert set(y[:, 0, 3, 3].tolist()) <= {float(v) for r in (2, 3, 4) for v in range(r * 8 + 2, r * 8 + 5)}
    assert len(set(y[:, 0, 3, 3].tolist())) > 1
    flipped = augment(x, padding=0, flip=True, cutout=0, gen=gen)
    assert {tuple(r) for r in flipped[:, 0, 0, :2].tolist()} == {(0.0, 1.0), (7.0, 6.0)}
    cut = augment(torch.ones(20, 1, 8, 8), padding=0, flip=False, cutout=4, gen=gen)
    zeros = (cut == 0).flatten(1).sum(1)
    assert (zeros <= 16).all() and (zeros >= 4).all()


@pytest.mark.slow
def test_training_learns_digits_and_resumes_exactly():
    data = load_digits_data()
    g = SPACE.sample(np.random.default_rng(1))
    # on the CPU: bit-exact resumption needs deterministic kernels (cuDNN's are not, by default)
    cfg = TrainConfig(epochs=3, channels=4, layers=3, batch_size=32, device="cpu")
    seen = []
    m = train_candidate(g, data, cfg, on_epoch=seen.append)
    assert [s["epoch"] for s in seen] == [1, 2, 3]
    assert m["best_val_acc"] == max(s["val_acc"] for s in seen)
    assert m["train_acc"] > 30.0 and seen[-1]["train_loss"] < seen[0]["train_loss"]
    assert m["lr"] < 0.025 and seen[0]["lr"] == 0.025  # cosine, stepped per epoch
    assert m["score"] == pytest.approx(0.5 * (m["best_val_acc"] + np.mean([s["val_acc"] for s in seen])))
    assert 0 <= m["test_acc"] <= 100 and m["params"] > 0 and m["flops"] > 0
    # two epochs, a save/restore into a fresh trainer, one more epoch == three epochs straight
    a = CandidateTrainer(g, data, cfg)
    a.train_epoch(); a.train_epoch()
    b = CandidateTrainer(g, data, cfg)
    b.load_state_dict(a.state_dict())
    last = b.train_epoch()
    assert last["val_acc"] == m["val_acc"] and last["train_loss"] == pytest.approx(m["train_loss"], rel=1e-6)
    assert last["test_acc"] == m["test_acc"]
    with pytest.raises(RuntimeError, match="already trained"):
        b.train_epoch()


def test_retrain_preset_is_the_darts_protocol():
    cfg = TrainConfig.retrain(epochs=2)
    assert (cfg.epochs, cfg.channels, cfg.layers, cfg.batch_size, cfg.auxiliary, cfg.drop_path, cfg.cutout) == \
        (2, 36, 20, 96, True, 0.2, 16)
    assert TrainConfig().to_dict()["lr"] == 0.025
