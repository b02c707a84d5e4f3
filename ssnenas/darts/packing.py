"""How many DARTS candidates share one GPU: a memory model of the candidate network.

One search-size candidate (C 16, 8 cells, batch 64) uses a few hundred MB and a small part of a
modern GPU's compute, so a search packs several candidates per GPU (Ray's fractional ``num_gpus``).
The number is the largest that fits in memory and has a CPU to drive it:

    per_gpu = min(max_per_gpu, cpus_per_gpu, useful, floor(usable_gpu_bytes / candidate_bytes))

with ``usable_gpu_bytes`` = 90 % of the GPU's memory and ``useful`` = the trials the search can run at
once per GPU (synchronous NPENAS never runs more than max(k, num_init) candidates at a time). The
candidate's bytes (:func:`candidate_memory_bytes`):

    candidate_bytes = 1.5 · saved_activations(batch) + 4 · parameter_bytes + dataset_bytes + 1 GiB

``saved_activations`` are the bytes autograd keeps for the backward pass, counted exactly with
``torch.autograd.graph.saved_tensors_hooks`` on forward passes of the worst-case cell (every edge a
``sep_conv_5x5``, the op that saves the most) of one and of two images on the CPU, and extrapolated
linearly to the batch (the weights saved for the backward are counted once); ×1.5
covers the backward's temporaries; 4 × parameters = weights, gradients, momentum and the clipping's
temporaries; the images of the data set live on the GPU (float32); 1 GiB covers the process's CUDA
context, cuDNN workspaces and the allocator's slack. ``experiments/gpu_check.sh`` prints the model
next to the peak memory measured on a GPU.
"""

from __future__ import annotations

import math

import torch

from ssnenas.darts.model import DartsNetwork
from ssnenas.spaces.darts import NUM_STEPS, Genotype

#: the fixed part of a candidate's GPU memory (CUDA context, cuDNN workspace, allocator slack)
PROCESS_OVERHEAD_BYTES = 1 << 30
#: fraction of a GPU's memory the packing plans to use
USABLE_FRACTION = 0.9
#: never more candidates than this per GPU (beyond it, the GPU's compute is shared too thinly to pay)
MAX_PER_GPU = 16
#: the GPU memory assumed when the driver cannot see the GPU (16 GiB: the smallest current data-centre GPU)
ASSUMED_GPU_BYTES = 16 << 30

WORST_CELL = tuple(("sep_conv_5x5", i) for _ in range(NUM_STEPS) for i in (0, 1))
WORST_GENOTYPE = Genotype(normal=WORST_CELL, reduce=WORST_CELL)


def saved_activation_bytes(net: torch.nn.Module, input_shape: tuple[int, int, int], images: int = 2) -> int:
    """Bytes autograd saves for the backward pass of one training forward of ``images`` images."""
    seen: dict[tuple, int] = {}

    def pack(t: torch.Tensor):
        key = (t.untyped_storage().data_ptr(), t.dtype)
        seen[key] = max(seen.get(key, 0), t.untyped_storage().nbytes())
        return t

    net.train()
    x = torch.randn(images, *input_shape)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        logits, _ = net(x)
        logits.sum()
    return sum(seen.values())


def candidate_memory_bytes(*, channels: int, layers: int, batch_size: int, input_shape: tuple[int, int, int],
                           num_classes: int, dataset_images: int, bf16: bool = False) -> int:
    """GPU bytes of one training candidate (the formula in the module docstring)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = DartsNetwork(WORST_GENOTYPE, channels=channels, layers=layers, num_classes=num_classes,
                           in_channels=input_shape[0])
    one, two = saved_activation_bytes(net, input_shape, 1), saved_activation_bytes(net, input_shape, 2)
    per_image = two - one  # the rest (weights saved for the backward) does not grow with the batch
    act = one + per_image * (batch_size - 1)
    if bf16:  # autocast saves most activations in bf16: half the bytes (conservatively 0.6)
        act *= 0.6
    params = sum(p.numel() * p.element_size() for p in net.parameters())
    data = dataset_images * math.prod(input_shape) * 4
    return int(1.5 * act + 4 * params + data + PROCESS_OVERHEAD_BYTES)


def candidates_per_gpu(*, gpu_bytes: int, candidate_bytes: int, cpus_per_gpu: float, useful: int | None = None,
                       max_per_gpu: int = MAX_PER_GPU) -> int:
    """How many candidates to pack on one GPU (at least 1; the formula in the module docstring)."""
    fit = int(gpu_bytes * USABLE_FRACTION // max(1, candidate_bytes))
    caps = [max_per_gpu, int(cpus_per_gpu + 1e-9), fit]
    if useful is not None:
        caps.append(int(useful))
    return max(1, min(caps))
