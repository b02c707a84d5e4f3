"""The DARTS CIFAR network built from a genotype (the evaluation network of DARTS, arXiv 1806.09055).

Layout: a 3x3 conv stem with ``stem_multiplier * C`` channels, then ``layers`` cells; the cells at
``layers // 3`` and ``2 * layers // 3`` are reduction cells (channels x2, spatial /2), the others
normal cells. Each cell preprocesses its two inputs (c_{k-2}, c_{k-1}) to ``C`` channels (1x1
ReLUConvBN, or FactorizedReduce when c_{k-2} is twice as large as c_{k-1}), computes its 4 nodes as
the sum of two ops each and concatenates them (4C channels out). Global average pooling and a linear
classifier follow; an optional auxiliary head reads the output of the cell at ``2 * layers // 3``.

Drop-path (probability ``model.drop_path_prob``, set per epoch by the trainer) zeroes a whole op
output per sample and rescales by 1/(1-p); it never applies to identity (skip) edges.
"""

from __future__ import annotations

import torch
from torch import nn

from ssnenas.darts.ops import FactorizedReduce, Identity, ReLUConvBN, make_op
from ssnenas.spaces.darts import NUM_STEPS, Genotype, genotype_problem


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero each sample's tensor with probability ``drop_prob``, scale survivors by 1/(1-p)."""
    if drop_prob <= 0.0:
        return x
    keep = 1.0 - drop_prob
    mask = torch.empty(x.size(0), 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x.div(keep) * mask


class Cell(nn.Module):
    """One normal or reduction cell of ``edges`` (8 ``(op, input)`` pairs, two per node)."""

    def __init__(self, edges: tuple[tuple[str, int], ...], c_prev_prev: int, c_prev: int, c: int, *,
                 reduction: bool, reduction_prev: bool) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = (FactorizedReduce(c_prev_prev, c) if reduction_prev
                            else ReLUConvBN(c_prev_prev, c, 1, 1, 0))
        self.preprocess1 = ReLUConvBN(c_prev, c, 1, 1, 0)
        self.inputs = [int(i) for _, i in edges]
        self.ops = nn.ModuleList(make_op(op, c, 2 if reduction and i < 2 else 1) for op, i in edges)
        self.multiplier = NUM_STEPS

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for k in range(NUM_STEPS):
            node = None
            for e in (2 * k, 2 * k + 1):
                op = self.ops[e]
                h = op(states[self.inputs[e]])
                if self.training and drop_prob > 0.0 and not isinstance(op, Identity):
                    h = drop_path(h, drop_prob)
                node = h if node is None else node + h
            states.append(node)
        return torch.cat(states[2:], dim=1)


class AuxiliaryHead(nn.Module):
    """The DARTS CIFAR auxiliary classifier on the 2L/3 feature map.

    On the standard 8x8 map it is DARTS's head (avg-pool 5 stride 3 -> 2x2); other map sizes are
    adaptively pooled to 2x2 first, so the head also works on small inputs (e.g. 8x8 digits -> 2x2).
    """

    def __init__(self, c: int, num_classes: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False)
        self.features = nn.Sequential(
            nn.ReLU(inplace=True), nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.relu(x)
        x = self.pool(x) if x.shape[-1] == 8 and x.shape[-2] == 8 else nn.functional.adaptive_avg_pool2d(x, 2)
        x = self.features(x)
        return self.classifier(x.flatten(1))


class DartsNetwork(nn.Module):
    """The DARTS CIFAR network of ``genotype`` (see the module docstring).

    ``forward(x)`` returns ``(logits, logits_aux)``; ``logits_aux`` is None unless the model is in
    training mode and was built with ``auxiliary=True``.
    """

    def __init__(self, genotype: Genotype, *, channels: int = 16, layers: int = 8, num_classes: int = 10,
                 in_channels: int = 3, auxiliary: bool = False, stem_multiplier: int = 3,
                 drop_path_prob: float = 0.0) -> None:
        super().__init__()
        why = genotype_problem(genotype)
        if why:
            raise ValueError(f"DartsNetwork: invalid genotype: {why}")
        if layers < 3:
            raise ValueError(f"DartsNetwork: layers must be >= 3 (two reduction cells), got {layers}")
        if channels < 1 or channels % 2:
            raise ValueError(f"DartsNetwork: channels must be a positive even number, got {channels}")
        self.genotype = genotype
        self.layers = layers
        self.auxiliary = auxiliary
        self.drop_path_prob = float(drop_path_prob)
        c_curr = stem_multiplier * channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        c_prev_prev, c_prev, c_curr = c_curr, c_curr, channels
        self.reduction_layers = (layers // 3, 2 * layers // 3)
        self.cells = nn.ModuleList()
        reduction_prev = False
        c_aux = None
        for i in range(layers):
            reduction = i in self.reduction_layers
            if reduction:
                c_curr *= 2
            edges = genotype.reduce if reduction else genotype.normal
            cell = Cell(edges, c_prev_prev, c_prev, c_curr, reduction=reduction, reduction_prev=reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, cell.multiplier * c_curr
            if i == 2 * layers // 3:
                c_aux = c_prev
        self.auxiliary_head = AuxiliaryHead(c_aux, num_classes) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits_aux = None
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == 2 * self.layers // 3 and self.auxiliary_head is not None and self.training:
                logits_aux = self.auxiliary_head(s1)
        out = self.global_pooling(s1)
        return self.classifier(out.flatten(1)), logits_aux


class LogitsOnly(nn.Module):
    """Wrap a :class:`DartsNetwork` so ``forward`` returns the logits only (FLOP counters, export)."""

    def __init__(self, model: DartsNetwork) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[0]


def count_parameters(model: nn.Module, *, include_auxiliary: bool = False) -> int:
    """Trainable parameters; the auxiliary head is left out by default (it is dropped at test time)."""
    return sum(p.numel() for name, p in model.named_parameters()
               if p.requires_grad and (include_auxiliary or "auxiliary_head" not in name))


def model_complexity(model: DartsNetwork, input_shape: tuple[int, int, int]) -> tuple[int, int]:
    """``(params, flops)`` of the inference network at ``input_shape`` = (C, H, W), via ptflops.

    ``params`` excludes the auxiliary head; ``flops`` are ptflops' multiply-accumulates (MACs) of one
    image in eval mode (the auxiliary head does not run then). Measured at the real input size, not
    at 224x224 as the original SSNENAS retraining code does.
    """
    from ptflops import get_model_complexity_info

    was_training = model.training
    model.eval()
    try:
        macs, _ = get_model_complexity_info(LogitsOnly(model), tuple(input_shape), as_strings=False,
                                            print_per_layer_stat=False, verbose=False, backend="pytorch")
    finally:
        model.train(was_training)
    return count_parameters(model), int(macs)
