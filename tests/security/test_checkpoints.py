"""Trainer checkpoints are data: a DARTS ``trainer.pt`` (search candidates, ``ssnenas retrain``) is
written as tensors and plain values and read with ``torch.load(weights_only=True)``. A checkpoint that
needs unpickling (a payload, or an old file that pickled objects) is refused with one line naming the
file and ``--trust-pickle``; ``ssnenas evaluate`` and a resumed ``ssnenas retrain`` refuse it before
anything runs. Each payload only creates a marker file under tmp_path, which must never appear."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

from payloads import Touch, assert_no_marker, touch_marker_pickle
from ssnenas.cli import main
from ssnenas.darts.data import load_data
from ssnenas.darts.train import CandidateTrainer, TrainConfig, read_checkpoint
from ssnenas.errors import DataFormatError
from ssnenas.spaces.darts import SPACE, genotype_to_str

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = TrainConfig(epochs=2, channels=4, layers=3, batch_size=64)


def _trainer() -> CandidateTrainer:
    return CandidateTrainer(SPACE.sample(np.random.default_rng(3)), load_data("digits", split="search", seed=0), TINY)


def _torch_payload(path, marker, **entries) -> None:
    """A torch.save file shaped like a trainer checkpoint, with a payload object inside."""
    buf = io.BytesIO()
    torch.save({"genotype": "x", "config": {}, "model": {}, "epoch": 0, **entries, "payload": Touch(marker)}, buf)
    path.write_bytes(buf.getvalue())


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_a_trainer_checkpoint_is_plain_data_and_round_trips(tmp_path):
    a = _trainer()
    a.train_epoch()
    a.complexity()
    a.save(tmp_path / "trainer.pt")
    state = torch.load(tmp_path / "trainer.pt", weights_only=True)  # no pickled object in it
    assert state["epoch"] == 1 and state["genotype"] == genotype_to_str(a.genotype)
    b = _trainer()
    b.load(tmp_path / "trainer.pt")
    assert b.epoch == 1 and b.train_epoch()["val_acc"] == a.train_epoch()["val_acc"]


@pytest.mark.parametrize("how", ["torch", "pickle"])
def test_a_checkpoint_with_a_payload_is_refused_and_never_runs(tmp_path, how):
    marker, path = tmp_path / "marker", tmp_path / "trainer.pt"
    if how == "torch":
        _torch_payload(path, marker)
    else:
        path.write_bytes(touch_marker_pickle(marker, inside={"epoch": 1}))
    for load in (lambda: _trainer().load(path), lambda: read_checkpoint(path)):
        with pytest.raises(DataFormatError) as exc:
            load()
        text = str(exc.value)
        assert "\n" not in text and str(path) in text and "--trust-pickle" in text
    assert_no_marker(marker)


def test_an_old_pickled_checkpoint_loads_only_when_trusted(tmp_path):
    """A checkpoint whose values need unpickling (here numpy scalars, as an old or foreign writer may
    leave) is refused by default and read with trust_pickle=True."""
    a = _trainer()
    a.train_epoch()
    state = a.state_dict()
    state["best_val_acc"] = np.float64(state["best_val_acc"])
    torch.save(state, tmp_path / "old.pt")
    with pytest.raises(DataFormatError, match="--trust-pickle"):
        read_checkpoint(tmp_path / "old.pt")
    b = _trainer()
    b.load(tmp_path / "old.pt", trust_pickle=True)
    assert b.epoch == 1 and b.best_val_acc == a.best_val_acc


def test_a_damaged_checkpoint_is_one_line_naming_it(tmp_path):
    path = tmp_path / "trainer.pt"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataFormatError, match="not a readable DARTS trainer checkpoint") as exc:
        read_checkpoint(path)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)
    torch.save({"epoch": 1}, path)
    with pytest.raises(DataFormatError, match="not a ssnenas trainer checkpoint"):
        read_checkpoint(path)


def test_evaluate_refuses_a_payload_checkpoint_with_exit_2(tmp_path, capsys):
    marker = tmp_path / "marker"
    ckpt = tmp_path / "trainer.pt"
    _torch_payload(ckpt, marker, meta={"data": "digits"})
    assert main(["evaluate", "--checkpoint", str(ckpt)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(ckpt) in line and "--trust-pickle" in line
    assert main(["evaluate", "--checkpoint", str(tmp_path)]) == 2  # the folder form finds the same file
    assert str(ckpt) in _one_line(capsys.readouterr().err)
    assert_no_marker(marker)


def test_retrain_resume_refuses_a_payload_checkpoint_before_anything_runs(tmp_path, capsys):
    """``ssnenas retrain`` on an --out of the same settings resumes from its checkpoints: they are read as
    data in the driver first, so a poisoned one is refused (exit 2, one line) before Ray starts."""
    from ssnenas.darts.data import image_side
    from ssnenas.spaces.darts import parse_genotype

    arch = genotype_to_str(SPACE.sample(np.random.default_rng(7)))
    flags = ["--epochs", "1", "--channels", "4", "--layers", "3"]
    train = TrainConfig.retrain(cutout=image_side("digits") // 2, epochs=1, channels=4, layers=3).to_dict()
    train.pop("device")
    run = tmp_path / "rt"
    (run / "retrain" / "checkpoint_000000").mkdir(parents=True)
    spec = {"kind": "darts-retrain", "arch": genotype_to_str(parse_genotype(arch)), "data": "digits", "train": train}
    (run / "config.json").write_text(json.dumps(spec))
    marker = tmp_path / "marker"
    ckpt = run / "retrain" / "checkpoint_000000" / "trainer.pt"
    _torch_payload(ckpt, marker)
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    assert main(["retrain", "--genotype", arch, "--out", str(run), *flags]) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(ckpt) in line and "--trust-pickle" in line
    assert_no_marker(marker)
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before  # nothing written
