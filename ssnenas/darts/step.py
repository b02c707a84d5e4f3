"""Launch-free training and validation steps of one DARTS candidate.

A search-size candidate (C 16, 8 cells, batch 64) runs hundreds of tiny kernels per step; on a GPU
the step is then bound by Python launching them, not by the GPU (measured on an H200: bf16 was
slower than fp32). Four ways to run the same fixed-shape step:

- ``eager``: plain PyTorch (the reference, and the fallback);
- ``graph``: the forward, backward and gradient clipping of a full batch captured once as a CUDA
  graph (``torch.cuda.CUDAGraph``) and replayed; SGD's update stays eager, as it is a handful of
  multi-tensor (foreach) kernels, so the learning rate, momentum buffers and a restored optimizer
  state are never baked into the graph. CUDA only;
- ``compile``: the network through ``torch.compile`` (fused kernels; forward and backward);
- ``compile-graph``: ``torch.compile(mode="reduce-overhead")``, i.e. compiled kernels replayed from
  CUDA graphs. CUDA only.

``auto`` is ``graph`` on CUDA and ``eager`` elsewhere (compiling costs minutes on a small CPU and
each candidate is a new network). Only full batches take the captured path: an epoch's last,
smaller batch runs eagerly on the same parameters, gradients and optimizer. A capture or
compilation that fails is reported once in the log (``logging`` warning) and the trainer falls back
to eager for the rest of its life; it never continues on a half-built graph.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Callable

import torch
from torch import nn

from ssnenas.errors import InputError

logger = logging.getLogger(__name__)

STEP_MODES = ("auto", "eager", "graph", "compile", "compile-graph")
#: eager steps run (on a side stream) before a CUDA graph is captured: cuDNN autotuning, the
#: allocator and lazily built state settle first (PyTorch's documented capture recipe)
GRAPH_WARMUP_STEPS = 3

_warned: set[str] = set()
#: extra ``torch.compile`` arguments (e.g. ``{"backend": "aot_eager"}``: tracing without code generation)
COMPILE_OPTIONS: dict = {}


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        logger.warning(message)


def resolve_step_mode(mode: str, device: torch.device) -> str:
    """The step mode to run: ``auto`` -> ``graph`` on CUDA, ``eager`` elsewhere."""
    if mode not in STEP_MODES:
        raise InputError(f"step_mode {mode!r} is unknown; choose one of {', '.join(STEP_MODES)}")
    if mode == "auto":
        return "graph" if device.type == "cuda" else "eager"
    if mode in ("graph", "compile-graph") and device.type != "cuda":
        raise InputError(f"step_mode {mode!r} replays CUDA graphs and needs a CUDA device, not {device.type}; "
                         "use 'eager' or 'compile'")
    return mode


def resolve_channels_last(flag: bool | None, device: torch.device) -> bool:
    """Channels-last memory format: on by default on CUDA (cuDNN's NHWC kernels), off on CPU."""
    return device.type == "cuda" if flag is None else bool(flag)


class StepRunner:
    """Runs training steps ``train(x, y) -> (loss, logits)`` and inference ``infer(x) -> logits`` of
    ``model`` in ``mode`` (see the module docstring); both return detached tensors on the device.

    ``autocast`` makes the autocast context of the run (bf16 or disabled). The loss is the mean
    cross-entropy (plus ``aux_weight`` × that of the auxiliary head when the model has one), the
    gradients are clipped to total norm ``grad_clip`` and ``optimizer`` steps.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, *, mode: str, grad_clip: float,
                 aux_weight: float, autocast: Callable[[], contextlib.AbstractContextManager],
                 channels_last: bool) -> None:
        self.model = model
        self.optimizer = optimizer
        self.requested = mode
        self.mode = mode
        self.grad_clip = grad_clip
        self.aux_weight = aux_weight
        self.autocast = autocast
        self.channels_last = channels_last
        self.criterion = nn.CrossEntropyLoss()
        self._compiled: nn.Module | None = None
        self._train_graph: dict | None = None
        self._eval_graphs: dict[tuple, dict] = {}
        self._warm = 0
        self._full_batch: int | None = None
        self._eval_batch: int | None = None

    # -- shared pieces ----------------------------------------------------------------------------
    def _format(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _loss(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with self.autocast():
            logits, logits_aux = net(x)
            loss = self.criterion(logits.float(), y)
            if logits_aux is not None:
                loss = loss + self.aux_weight * self.criterion(logits_aux.float(), y)
        return loss, logits

    def _clip(self) -> None:
        nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)

    def _eager_step(self, x: torch.Tensor, y: torch.Tensor, net: nn.Module | None = None,
                    set_to_none: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        self.optimizer.zero_grad(set_to_none=set_to_none)
        loss, logits = self._loss(self.model if net is None else net, x, y)
        loss.backward()
        self._clip()
        self.optimizer.step()
        return loss.detach(), logits.detach()

    def _fail(self, what: str, exc: BaseException) -> None:
        _warn_once(f"{self.requested}:{type(exc).__name__}",
                   f"step_mode {self.requested!r}: {what} failed ({type(exc).__name__}: "
                   f"{str(exc).splitlines()[0] if str(exc) else ''}); training continues in eager mode")
        self.mode = "eager"
        self._compiled = None
        self._train_graph = None
        self._eval_graphs = {}

    # -- training ---------------------------------------------------------------------------------
    def train(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One SGD step on the batch ``(x, y)``; returns ``(loss, logits)`` (detached)."""
        x = self._format(x)
        if self._full_batch is None:
            self._full_batch = len(x)
        full = len(x) == self._full_batch
        if self.mode == "eager" or not full:
            # graph mode keeps its gradient tensors (the graph writes into them): zero, don't drop
            return self._eager_step(x, y, set_to_none=self._train_graph is None)
        if self.mode in ("compile", "compile-graph"):
            return self._compiled_step(x, y)
        return self._graph_step(x, y)

    def _compiled_model(self) -> nn.Module:
        if self._compiled is None:
            kw = {"mode": "reduce-overhead"} if self.mode == "compile-graph" else {}
            self._compiled = torch.compile(self.model, dynamic=False, **{**kw, **COMPILE_OPTIONS})
        return self._compiled

    def _compiled_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mode == "compile-graph":
            torch.compiler.cudagraph_mark_step_begin()
        try:
            return self._eager_step(x, y, net=self._compiled_model())
        except Exception as exc:  # noqa: BLE001 - any compiler failure: fall back, said once
            if self._warm:  # it worked before: a real error of the step, not of the compiler
                raise
            self._fail("torch.compile", exc)
            return self._eager_step(x, y)
        finally:
            self._warm += 1

    def _graph_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        drop = float(getattr(self.model, "drop_path_prob", 0.0))
        g = self._train_graph
        if g is not None and g["drop"] != drop:  # drop-path probability is a constant of the graph
            g = self._train_graph = None
        if g is None:
            if self._warm < GRAPH_WARMUP_STEPS:
                self._warm += 1
                stream = torch.cuda.Stream()
                stream.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(stream):
                    out = self._eager_step(x, y)
                torch.cuda.current_stream().wait_stream(stream)
                return out
            try:
                g = self._train_graph = self._capture_train(x, y, drop)
            except Exception as exc:  # noqa: BLE001 - capture failed: fall back, said once
                self._fail("CUDA graph capture of the training step", exc)
                return self._eager_step(x, y)
        g["x"].copy_(x)
        g["y"].copy_(y)
        g["graph"].replay()
        self.optimizer.step()
        return g["loss"].detach(), g["logits"].detach()

    def _capture_train(self, x: torch.Tensor, y: torch.Tensor, drop: float) -> dict:
        static_x, static_y = x.clone(), y.clone()
        graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)  # the graph allocates the gradients it writes
        with torch.cuda.graph(graph):
            loss, logits = self._loss(self.model, static_x, static_y)
            loss.backward()
            self._clip()
        return {"graph": graph, "x": static_x, "y": static_y, "loss": loss, "logits": logits, "drop": drop}

    # -- inference --------------------------------------------------------------------------------
    @torch.no_grad()
    def infer(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of ``x`` in the model's current mode (the caller sets ``model.eval()``). Batches of
        the first size seen take the captured path; other sizes (a last, smaller batch) run eagerly."""
        x = self._format(x)
        if self._eval_batch is None:
            self._eval_batch = len(x)
        if self.mode == "eager" or len(x) != self._eval_batch:
            with self.autocast():
                return self.model(x)[0]
        if self.mode in ("compile", "compile-graph"):
            if self.mode == "compile-graph":
                torch.compiler.cudagraph_mark_step_begin()
            try:
                with self.autocast():
                    return self._compiled_model()(x)[0].clone()
            except Exception as exc:  # noqa: BLE001 - compiler failure: fall back, said once
                self._fail("torch.compile of the validation pass", exc)
                return self.infer(x)
        key = (tuple(x.shape), x.dtype, self.model.training)
        g = self._eval_graphs.get(key)
        if g is None:
            try:
                g = self._eval_graphs[key] = self._capture_eval(x)
            except Exception as exc:  # noqa: BLE001 - capture failure: fall back, said once
                self._fail("CUDA graph capture of the validation pass", exc)
                return self.infer(x)
        g["x"].copy_(x)
        g["graph"].replay()
        return g["logits"].clone()

    def _capture_eval(self, x: torch.Tensor) -> dict:
        static_x = x.clone()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream), self.autocast():
            self.model(static_x)  # warm-up (cuDNN autotuning) outside the capture
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), self.autocast():
            logits = self.model(static_x)[0]
        return {"graph": graph, "x": static_x, "logits": logits}
