"""Which kind of processor computed a task's floats, recorded with its results.

A seed fixes a search only on one platform: the same torch release picks other kernels on other
processors (another CPU's vector units and maths library, a GPU), whose float sums round differently,
and an NPENAS search then proposes other architectures from its first predictor-guided query on.
Measured on 2026-12-02 (torch 2.13.0 CPU, one thread a task): NPENAS-NP trials 0-23 of the NB201
cifar100 study (seed 0) on an Intel Xeon proposed the same 10 initial archs as on an AMD EPYC, then
other ones from query 11-14 in all 24 trials; on that Xeon, torch's AVX2 and AVX-512 kernels
(``ATEN_CPU_CAPABILITY``) gave the same 24 trials, so the CPU model is recorded with the kernel level.
Runs resumed on, or spread over, several kinds of machine therefore mix platforms; the results stay
valid samples of each algorithm, but a trial is re-made bit for bit only on its own platform.
"""

from __future__ import annotations

import functools
import platform
from collections import Counter
from collections.abc import Iterable


@functools.cache
def _cpu_model() -> str:
    """The processor's model name (Linux ``/proc/cpuinfo``; elsewhere what :mod:`platform` knows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


def compute_platform(device: str = "cpu") -> str:
    """One line naming what computes on ``device``: ``"cpu <model>; torch <version> <kernel level>"``
    (the level torch dispatches to: DEFAULT, AVX2, AVX512, ...) or ``"cuda <GPU name>; torch <version>
    CUDA <version>"``."""
    import torch

    if str(device).startswith("cuda") and torch.cuda.is_available():
        return (f"cuda {torch.cuda.get_device_name(torch.device(device))}; torch {torch.__version__} "
                f"CUDA {torch.version.cuda}")
    return f"cpu {_cpu_model()}; torch {torch.__version__} {torch.backends.cpu.get_cpu_capability()}"


def count_platforms(names: Iterable[str | None]) -> dict[str, int]:
    """``{platform: count}`` sorted by name; None (results written before 2026-12-02, when platforms
    were first recorded) counts as ``"unrecorded"``."""
    return dict(sorted(Counter(n or "unrecorded" for n in names).items()))


def mixed_platforms_note(counts: dict[str, int], unit: str = "task") -> str | None:
    """The report line for a run whose ``counts`` (``{platform: units}``) name several platforms, else None."""
    if len(counts) < 2:
        return None
    parts = "; ".join(f"{p}: {n} {unit}{'s' * (n != 1)}" for p, n in counts.items())
    return (f"computed on {len(counts)} platforms ({parts}): each is re-made bit for bit only on its own "
            "platform (see ssnenas.compute_platform)")
