"""Random search ("RA", an SSNENAS baseline, arXiv 2011.00186): ``budget`` distinct random architectures."""

from __future__ import annotations

from search_algos._base import NASSearcher


class RandomSearch(NASSearcher):
    """Random search over an architecture space: every trial a new, uniformly drawn architecture.

    With a store, architectures are drawn uniformly from its rows (the benchmark's archs); without
    one, from ``space.sample``. Keys never repeat within a run. Results never influence the draws,
    so batches (``k``, default 10) only bound how many trials run at once.

    Args:
        space, store, metric, mode, seed, budget, k, num_init, initial_archs: as :class:`NASSearcher`.

    Example::

        from search_algos import RandomSearch, run_direct
        searcher = RandomSearch(space="nasbench201", seed=0, budget=20)
        history = run_direct(searcher, lambda arch: {"val_acc": float(len(arch) % 7)}, budget=20)
    """

    algorithm = "random"

    def _propose(self, n: int) -> list:
        return self._random_unique(n)
