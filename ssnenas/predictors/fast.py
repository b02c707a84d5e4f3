"""Fast, batched training of P independent GIN predictors with hand-written gradients.

Why: a predictor fit is 3,000 tiny steps (300 epochs, 100 graphs, batch 10); eager autograd spends
almost all of it in per-op overhead (3-5 ms/step). This engine keeps the whole data set and every
predictor's parameters on the device, packs each predictor's parameters into one row of a flat
``[P, D]`` tensor, computes forward and backward by hand with batched matmuls over a leading P axis
and runs Adam as a handful of whole-tensor ops, so a step costs about as much for P = 8 as for P = 1.

The maths is the NPENAS/SSNENAS predictor training (README, "GIN predictor and self-supervised
pre-training"), identical to the eager reference (``PredictorNet`` + ``torch.optim.Adam``), which
``tests/test_predictors.py`` checks step by step:
training-mode BatchNorm over all B·N nodes (batch statistics; running statistics updated with
momentum 0.1 and the unbiased variance), inverted dropout from pre-drawn uniforms, Adam with
β = (0, 0.9) (so the first moment is the gradient itself and its bias correction is 1), coupled
weight decay, a per-element lr (2× for legacy biases) times the per-step cosine factor.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ssnenas.predictors.heads import DROPOUT, LOG_SQRT_2PI, PredictorNet
from ssnenas.predictors.optim import ADAM_EPS, BETAS, is_legacy_bias

BN_EPS = 1e-5
BN_MOMENTUM = 0.1


#: elements per vectorised chunk that covers every CPU kernel (AVX512: 2 x 16 floats per step), x2
_LANES = 64


def lanewise(fn, t: Tensor) -> Tensor:
    """``fn(t)`` for an elementwise ``fn`` whose value must not depend on where an element sits.

    Why: PyTorch's CPU loops compute transcendental functions (sigmoid, exp, celu) in SIMD chunks
    and the leftover tail with scalar code, whose last bit can differ (different exp
    implementations). So the same predictor's value would depend on how many other predictors share
    the tensor (P) and on the batch size. Padding the flat buffer to a multiple of ``_LANES`` sends
    every element through the SIMD body, so a predictor trained in a batch of P equals the one
    trained alone bit for bit (tests/test_cohort.py). On CUDA every element runs the same code.
    """
    if t.device.type != "cpu":
        return fn(t)
    flat = t.reshape(-1)
    m = flat.numel()
    pad = (-m) % _LANES
    if pad:
        flat = torch.cat([flat, flat.new_zeros(pad)])
    return fn(flat)[:m].view(t.shape)


def _fast_shape(name: str, t: Tensor) -> Tensor:
    """Linear weights are kept as [in, out] so that ``baddbmm(bias, h, W)`` is ``h @ W + b``."""
    return t.t() if t.dim() == 2 else t


class BatchedTrainer:
    """Train P predictor networks of one head kind at once.

    Args:
        nets: the P initialised networks (same architecture); their parameters are copied in and,
            after :meth:`train`, copied back (with BatchNorm running statistics).
        x: ``[M, N, F]`` node features of the shared pool; adj: ``[M, N, N]``; y: ``[M]`` targets.
        lr, weight_decay, legacy_bias: optimiser settings (see ``ssnenas.predictors.optim``).
    """

    def __init__(self, nets: list[PredictorNet], x: Tensor, adj: Tensor, y: Tensor, *, lr: float,
                 weight_decay: float, legacy_bias: bool) -> None:
        assert BETAS[0] == 0.0, "the fast engine assumes beta1 = 0 (Adam betas (0, 0.9))"
        self.nets = nets
        self.kind = nets[0].head_kind
        self.rate = getattr(nets[0].head, "rate", 1.0)
        self.num_layers = nets[0].encoder.num_layers
        self.celu = nets[0].encoder.activation == "celu"
        dev = x.device
        self.P = len(nets)
        self.x = x
        n = adj.shape[-1]
        eye = torch.eye(n, dtype=x.dtype, device=dev)
        self.prop = adj.to(x.dtype).transpose(1, 2) * (1 - eye) + eye  # (I + A^T), self-loops removed
        self.y = y.to(x.dtype)
        self.agg0 = torch.bmm(self.prop, x)  # (I + A^T) X for every graph of the pool
        named = list(nets[0].named_parameters())
        self.names = [nm for nm, _ in named]
        shapes = [tuple(_fast_shape(nm, p).shape) for nm, p in named]
        sizes = [math.prod(s) for s in shapes]
        self.D = sum(sizes)
        self.flat = torch.empty(self.P, self.D, dtype=x.dtype, device=dev)
        self.v: dict[str, Tensor] = {}
        off = 0
        lr_vec, wd_vec = [], []
        for nm, s, k in zip(self.names, shapes, sizes):
            view = self.flat[:, off:off + k]
            self.v[nm] = view.view(self.P, 1, s[0]) if len(s) == 1 else view.view(self.P, *s)
            off += k
            legacy = legacy_bias and is_legacy_bias(nm)
            lr_vec.append(torch.full((k,), 2.0 * lr if legacy else lr, dtype=torch.float64))
            wd_vec.append(torch.full((k,), 0.0 if legacy else weight_decay, dtype=torch.float64))
        self.lr_vec = torch.cat(lr_vec).to(device=dev, dtype=x.dtype)
        self.wd_vec = torch.cat(wd_vec).to(device=dev, dtype=x.dtype)
        self.exp_avg_sq = torch.zeros_like(self.flat)
        self.step_count = 0
        L, H = self.num_layers, nets[0].encoder.width
        self.running_mean = torch.empty(L, self.P * H, dtype=x.dtype, device=dev)
        self.running_var = torch.empty(L, self.P * H, dtype=x.dtype, device=dev)
        self.num_batches = 0
        self.keep_grads = False  # tests: keep the last step's gradients (fast layout) in last_grads
        self.last_grads: dict[str, Tensor] = {}
        self._load()

    # -- packing ------------------------------------------------------------------------------
    def _load(self) -> None:
        with torch.no_grad():
            for p, net in enumerate(self.nets):
                params = dict(net.named_parameters())
                for nm in self.names:
                    self.v[nm][p].copy_(_fast_shape(nm, params[nm].detach()).reshape(self.v[nm][p].shape))
                for l, bn in enumerate(net.encoder.bns):
                    self.running_mean[l].view(self.P, -1)[p].copy_(bn.running_mean)
                    self.running_var[l].view(self.P, -1)[p].copy_(bn.running_var)
            self.num_batches = int(self.nets[0].encoder.bns[0].num_batches_tracked)

    def store(self) -> None:
        """Copy the trained parameters and BatchNorm statistics back into the networks."""
        with torch.no_grad():
            for p, net in enumerate(self.nets):
                params = dict(net.named_parameters())
                for nm in self.names:
                    w = params[nm]
                    src = self.v[nm][p]
                    src = src.reshape(w.shape[::-1]).t() if w.dim() == 2 else src.reshape(w.shape)
                    w.copy_(src)
                for l, bn in enumerate(net.encoder.bns):
                    bn.running_mean.copy_(self.running_mean[l].view(self.P, -1)[p])
                    bn.running_var.copy_(self.running_var[l].view(self.P, -1)[p])
                    bn.num_batches_tracked.fill_(self.num_batches)

    # -- one step -----------------------------------------------------------------------------
    def _bn_param(self, name: str) -> Tensor:
        """BatchNorm γ/β of all predictors as one contiguous [P·H] vector (channel = (p, h))."""
        return self.v[name].reshape(-1)

    def step(self, idx: Tensor, keep: Tensor | None, lr_factor: Tensor) -> None:
        """One optimiser step on batch ``idx`` ``[P, b]`` with dropout multipliers ``keep`` ``[P, b, 16]``.

        BatchNorm of P predictors is one ``native_batch_norm`` over P·H channels (nodes × channels
        layout), which also updates the running statistics exactly as ``nn.BatchNorm1d`` does.
        """
        v, P = self.v, self.P
        b = idx.shape[1]
        N = self.prop.shape[1]
        nodes = b * N
        prop = self.prop[idx].reshape(P * b, N, N)
        aten = torch.ops.aten
        cache = []
        with torch.no_grad():
            a = self.agg0[idx].reshape(P, nodes, -1)  # layer 1's aggregation does not depend on weights
            for l in range(self.num_layers):
                pre = f"encoder.mlps.{l}."
                if l > 0:
                    a = torch.bmm(prop, h).reshape(P, nodes, -1)
                z1 = torch.baddbmm(v[pre + "lin1.bias"], a, v[pre + "lin1.weight"])
                r1 = torch.relu(z1)
                z2 = torch.baddbmm(v[pre + "lin2.bias"], r1, v[pre + "lin2.weight"])
                r2 = lanewise(torch.nn.functional.celu, z2) if self.celu else torch.relu(z2)
                bn_in = r2.reshape(nodes, -1) if P == 1 else r2.transpose(0, 1).reshape(nodes, -1)
                gamma = self._bn_param(f"encoder.bns.{l}.weight")
                out, smean, sinv = aten.native_batch_norm(
                    bn_in, gamma, self._bn_param(f"encoder.bns.{l}.bias"), self.running_mean[l],
                    self.running_var[l], True, BN_MOMENTUM, BN_EPS)
                cache.append((a, r1, r2, bn_in, gamma, smean, sinv))
                h = out.reshape(nodes, P, -1).transpose(0, 1).reshape(P * b, N, -1)
            g = h.reshape(P, b, N, -1).mean(2)  # [P, b, H]
            yb = self.y[idx].unsqueeze(-1)  # [P, b, 1]
            grads: dict[str, Tensor] = {}
            dg = self._head_backward(g, yb, keep, grads, b)
            # encoder backward
            H = dg.shape[-1]
            dh = (dg * (1.0 / N)).unsqueeze(2).expand(P, b, N, H)
            for l in reversed(range(self.num_layers)):
                a, r1, r2, bn_in, gamma, smean, sinv = cache[l]
                pre = f"encoder.mlps.{l}."
                dout = dh.reshape(P, nodes, H).transpose(0, 1).reshape(nodes, -1)
                dbn, dgam, dbet = aten.native_batch_norm_backward(
                    dout, bn_in, gamma, self.running_mean[l], self.running_var[l], smean, sinv,
                    True, BN_EPS, [True, True, True])
                grads[f"encoder.bns.{l}.weight"] = dgam
                grads[f"encoder.bns.{l}.bias"] = dbet
                dr2 = dbn.reshape(nodes, P, H).transpose(0, 1)
                if self.celu:
                    dz2 = dr2 * (r2 + 1).clamp_max_(1)
                else:
                    dz2 = aten.threshold_backward(dr2, r2, 0)
                grads[pre + "lin2.weight"] = torch.bmm(r1.transpose(1, 2), dz2)
                grads[pre + "lin2.bias"] = dz2.sum(1)
                dz1 = aten.threshold_backward(
                    torch.bmm(dz2, v[pre + "lin2.weight"].transpose(1, 2)), r1, 0)
                grads[pre + "lin1.weight"] = torch.bmm(a.transpose(1, 2), dz1)
                grads[pre + "lin1.bias"] = dz1.sum(1)
                if l > 0:
                    da = torch.bmm(dz1, v[pre + "lin1.weight"].transpose(1, 2)).reshape(P * b, N, -1)
                    dh = torch.bmm(prop.transpose(1, 2), da)
            grad = torch.cat([grads[nm].reshape(P, -1) for nm in self.names], dim=1)
            if self.keep_grads:
                self.last_grads = {nm: grads[nm].reshape(P, -1).clone() for nm in self.names}
            self._adam(grad, lr_factor)
        self.num_batches += 1

    def _head_backward(self, g: Tensor, yb: Tensor, keep: Tensor | None, grads: dict[str, Tensor],
                       b: int) -> Tensor:
        """Forward and backward through the head; fills ``grads`` and returns dL/dg ``[P, b, H]``."""
        v = self.v
        if self.kind == "finetune":
            z = torch.baddbmm(v["head.fc.bias"], g, v["head.fc.weight"])
            s = lanewise(torch.sigmoid, z)
            dz = (s * self.rate - yb) * ((2.0 * self.rate / b) * s * (1 - s))
            grads["head.fc.weight"] = torch.bmm(g.transpose(1, 2), dz)
            grads["head.fc.bias"] = dz.sum(1)
            return torch.bmm(dz, v["head.fc.weight"].transpose(1, 2))
        if self.kind == "np":
            z3 = torch.baddbmm(v["head.fc1.bias"], g, v["head.fc1.weight"])
            r3 = torch.relu(z3)
            d3 = r3 * keep
            z4 = torch.baddbmm(v["head.fc2.bias"], d3, v["head.fc2.weight"])
            s = lanewise(torch.sigmoid, z4)
            dz4 = (s * self.rate - yb) * ((2.0 * self.rate / b) * s * (1 - s))
            grads["head.fc2.weight"] = torch.bmm(d3.transpose(1, 2), dz4)
            grads["head.fc2.bias"] = dz4.sum(1)
            dz3 = torch.ops.aten.threshold_backward(
                torch.bmm(dz4, v["head.fc2.weight"].transpose(1, 2)) * keep, r3, 0)
            grads["head.fc1.weight"] = torch.bmm(g.transpose(1, 2), dz3)
            grads["head.fc1.bias"] = dz3.sum(1)
            return torch.bmm(dz3, v["head.fc1.weight"].transpose(1, 2))
        # "bo": Gaussian NLL, loss = mean(½(y−μ)² e^{−c} + c/2 + log√(2π)), c = celu(std2(...)) = 2 log σ
        celu = torch.nn.functional.celu
        m1 = torch.baddbmm(v["head.mean1.bias"], g, v["head.mean1.weight"])
        c1 = lanewise(celu, m1)
        d1 = c1 * keep
        mu = torch.baddbmm(v["head.mean2.bias"], d1, v["head.mean2.weight"])
        s1 = torch.baddbmm(v["head.std1.bias"], g, v["head.std1.weight"])
        c2 = lanewise(celu, s1)
        s2 = torch.baddbmm(v["head.std2.bias"], c2, v["head.std2.weight"])
        c = lanewise(celu, s2)
        inv_var = lanewise(torch.exp, -c)
        diff = mu - yb
        dmu = diff * inv_var / b
        ds2 = (0.5 - 0.5 * diff * diff * inv_var) / b * (c + 1).clamp_max_(1)
        grads["head.mean2.weight"] = torch.bmm(d1.transpose(1, 2), dmu)
        grads["head.mean2.bias"] = dmu.sum(1)
        dm1 = torch.bmm(dmu, v["head.mean2.weight"].transpose(1, 2)) * keep * (c1 + 1).clamp_max_(1)
        grads["head.mean1.weight"] = torch.bmm(g.transpose(1, 2), dm1)
        grads["head.mean1.bias"] = dm1.sum(1)
        grads["head.std2.weight"] = torch.bmm(c2.transpose(1, 2), ds2)
        grads["head.std2.bias"] = ds2.sum(1)
        ds1 = torch.bmm(ds2, v["head.std2.weight"].transpose(1, 2)) * (c2 + 1).clamp_max_(1)
        grads["head.std1.weight"] = torch.bmm(g.transpose(1, 2), ds1)
        grads["head.std1.bias"] = ds1.sum(1)
        return (torch.bmm(dm1, v["head.mean1.weight"].transpose(1, 2))
                + torch.bmm(ds1, v["head.std1.weight"].transpose(1, 2)))

    def _adam(self, grad: Tensor, lr_factor: Tensor) -> None:
        """torch.optim.Adam with beta1 = 0: m = g + wd·p, v ← β₂v + (1−β₂)m², p ← p − lr·m/(√(v/bc₂) + eps)."""
        self.step_count += 1
        beta2 = BETAS[1]
        grad.addcmul_(self.wd_vec, self.flat)
        self.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (self.exp_avg_sq.sqrt() / math.sqrt(1 - beta2 ** self.step_count)).add_(ADAM_EPS)
        self.flat.addcdiv_(grad * (self.lr_vec * lr_factor), denom, value=-1.0)

    # -- the loop -----------------------------------------------------------------------------
    def train(self, order: Tensor, uniforms: Tensor | None, lr_factors: Tensor, batch_size: int,
              max_steps: int | None = None) -> None:
        """Run every epoch: ``order`` ``[P, E, n]`` pool indices in visiting order, ``uniforms``
        ``[P, E, n, 16]`` dropout uniforms aligned with ``order``, ``lr_factors`` ``[T]``."""
        E, n = order.shape[1], order.shape[2]
        keep_all = None
        if uniforms is not None:
            keep_all = (uniforms >= DROPOUT).to(self.x.dtype) * (1.0 / (1.0 - DROPOUT))
        t = 0
        for e in range(E):
            for s in range(0, n, batch_size):
                if max_steps is not None and t >= max_steps:
                    self.store()
                    return
                keep = None if keep_all is None else keep_all[:, e, s:s + batch_size]
                self.step(order[:, e, s:s + batch_size], keep, lr_factors[t])
                t += 1
        self.store()


__all__ = ["BatchedTrainer", "LOG_SQRT_2PI"]
