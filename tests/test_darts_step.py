"""Captured / compiled training steps of a DARTS candidate (ssnenas/darts/step.py) against eager.

Tolerances: a step mode changes only the order of floating-point operations (fused kernels,
channels-last convolutions), so after a few SGD steps the losses of eager and the other mode agree to
a relative 1e-4 and the weights to an absolute 1e-4 on this tiny network (CPU, float32); a mode that
dropped or repeated a step, used stale weights or a stale learning rate differs by orders more.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import numpy as np
import pytest
import torch

from ssnenas.darts.data import load_digits_data
from ssnenas.darts.step import STEP_MODES, StepRunner, resolve_channels_last, resolve_step_mode
from ssnenas.darts.train import CandidateTrainer, TrainConfig
from ssnenas.errors import InputError
from ssnenas.spaces.darts import SPACE

pytestmark = pytest.mark.usefixtures("one_torch_thread")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="CUDA graphs need a CUDA device (run experiments/gpu_check.sh on a GPU)")


def _small_data(n_train: int = 70):
    """Digits, cut so that an epoch has two full batches of 32 and one of 6 (the eager remainder)."""
    data = load_digits_data()
    return dataclasses.replace(data, x_train=data.x_train[:n_train], y_train=data.y_train[:n_train],
                               x_val=data.x_val[:100], y_val=data.y_val[:100])


def _epochs(mode: str, *, channels_last: bool | None = None, device: str = "cpu", epochs: int = 2, **kw):
    g = SPACE.sample(np.random.default_rng(3))
    cfg = TrainConfig(epochs=epochs, channels=4, layers=3, batch_size=32, device=device, step_mode=mode,
                      channels_last=channels_last, eval_batch_size=64, **kw)
    trainer = CandidateTrainer(g, _small_data(), cfg)
    out = [trainer.train_epoch() for _ in range(epochs)]
    weights = {k: v.detach().float().cpu().contiguous() for k, v in trainer.module.state_dict().items()}
    return trainer, out, weights


def _assert_same_training(a, b, *, rtol=1e-4, atol=1e-4):
    (_, ma, wa), (_, mb, wb) = a, b
    for ea, eb in zip(ma, mb):
        assert eb["train_loss"] == pytest.approx(ea["train_loss"], rel=rtol)
        assert eb["lr"] == ea["lr"]
        assert abs(eb["val_acc"] - ea["val_acc"]) <= 2.0  # at most 2 of 100 images flip near a tie
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=rtol, atol=atol, msg=k)


def test_mode_resolution_and_errors():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_step_mode("auto", cpu) == "eager" and resolve_step_mode("auto", cuda) == "graph"
    assert resolve_step_mode("compile", cpu) == "compile"
    for mode in ("graph", "compile-graph"):
        with pytest.raises(InputError, match="needs a CUDA device"):
            resolve_step_mode(mode, cpu)
    with pytest.raises(InputError, match="unknown"):
        resolve_step_mode("fast", cpu)
    assert set(STEP_MODES) == {"auto", "eager", "graph", "compile", "compile-graph"}
    assert resolve_channels_last(None, cpu) is False and resolve_channels_last(None, cuda) is True
    assert resolve_channels_last(True, cpu) is True
    with pytest.raises(InputError, match="needs a CUDA device"):
        CandidateTrainer(SPACE.sample(np.random.default_rng(0)), _small_data(),
                         TrainConfig(epochs=1, channels=4, layers=3, device="cpu", step_mode="graph"))


def test_cpu_default_is_the_eager_step_bit_for_bit():
    """``auto`` on a CPU is eager and NCHW: the default search keeps its numbers."""
    auto = _epochs("auto")
    eager = _epochs("eager", channels_last=False)
    assert auto[0].step_mode == "eager" and auto[0].channels_last is False
    assert [m["train_loss"] for m in auto[1]] == [m["train_loss"] for m in eager[1]]
    for k in auto[2]:
        assert torch.equal(auto[2][k], eager[2][k])


def test_channels_last_trains_like_nchw():
    nchw = _epochs("eager", channels_last=False)
    nhwc = _epochs("eager", channels_last=True)
    conv = nhwc[0].module.stem[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    _assert_same_training(nchw, nhwc)


def test_a_failed_compilation_is_said_once_and_training_continues_eagerly(monkeypatch, caplog):
    """A compiler that raises: one warning, then the eager step gives exactly the eager results."""
    import ssnenas.darts.step as step

    def broken(*args, **kwargs):
        def run(*a, **k):
            raise RuntimeError("no C++ compiler here")
        return run

    monkeypatch.setattr(torch, "compile", broken)
    monkeypatch.setattr(step, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="ssnenas.darts.step"):
        failed = _epochs("compile")
        again = _epochs("compile")
    eager = _epochs("eager")
    warnings = [r.getMessage() for r in caplog.records if "torch.compile" in r.getMessage()]
    assert len(warnings) == 1 and "continues in eager mode" in warnings[0] and "no C++ compiler" in warnings[0]
    assert failed[0].runner.mode == "eager" and again[0].runner.mode == "eager"
    assert [m["train_loss"] for m in failed[1]] == [m["train_loss"] for m in eager[1]]


def test_runner_steps_the_optimizer_once_per_batch_and_uses_the_current_lr():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = model

        def forward(self, x):
            return self.body(x), None

    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    runner = StepRunner(net, opt, mode="eager", grad_clip=1e9, aux_weight=0.4,
                        autocast=lambda: torch.autocast("cpu", enabled=False), channels_last=False)
    x, y = torch.randn(5, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1])
    w0 = model[1].weight.detach().clone()
    loss, logits = runner.train(x, y)
    grad = model[1].weight.grad.detach().clone()
    assert logits.shape == (5, 3) and not loss.requires_grad
    torch.testing.assert_close(model[1].weight.detach(), w0 - 0.1 * grad)
    assert torch.equal(runner.infer(x), net(x)[0].detach())


@pytest.mark.slow
def test_compiled_step_traces_the_eager_step(monkeypatch):
    """torch.compile's graph capture (dynamo + AOTAutograd, backend aot_eager: no code generation, so
    it takes seconds) of the training and the validation pass: the eager losses and weights."""
    import ssnenas.darts.step as step

    monkeypatch.setattr(step, "COMPILE_OPTIONS", {"backend": "aot_eager"})
    eager = _epochs("eager", epochs=1)
    compiled = _epochs("compile", epochs=1)
    assert compiled[0].runner.mode == "compile", "compilation fell back to eager"
    _assert_same_training(eager, compiled)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("SSNENAS_TEST_INDUCTOR") != "1",
                    reason="inductor code generation takes about 5 min on a 2-core CPU; "
                           "SSNENAS_TEST_INDUCTOR=1 runs it (experiments/gpu_check.sh does)")
def test_compiled_step_gives_the_eager_losses():
    """torch.compile with inductor (generated C++ / Triton kernels): same losses and weights as eager
    within the tolerances above, validation through the compiled eval graph included."""
    eager = _epochs("eager", epochs=1)
    compiled = _epochs("compile", epochs=1)
    assert compiled[0].runner.mode == "compile", "compilation fell back to eager"
    _assert_same_training(eager, compiled)


@needs_cuda
@pytest.mark.parametrize("mode", ["graph", "compile-graph"])
def test_cuda_graph_step_gives_the_eager_losses(mode):
    # 3 epochs of 2 full batches and a 6-image remainder: warm-up, capture, replays, eager remainders
    eager = _epochs("eager", device="cuda", epochs=3)
    captured = _epochs(mode, device="cuda", epochs=3)
    assert captured[0].runner.mode == mode
    _assert_same_training(eager, captured, rtol=1e-3, atol=1e-3)  # cuDNN picks other algorithms


@needs_cuda
def test_cuda_graph_step_survives_a_restore_and_bf16():
    eager = _epochs("eager", device="cuda", epochs=3, bf16=True)
    captured = _epochs("graph", device="cuda", epochs=3, bf16=True)
    for a, b in zip(eager[1], captured[1]):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=2e-2)  # bf16 rounding
    trainer = captured[0]
    state = trainer.state_dict()
    fresh = CandidateTrainer(trainer.genotype, _small_data(), dataclasses.replace(trainer.config, epochs=4))
    fresh.load_state_dict(state)
    assert fresh.train_epoch()["epoch"] == 4
