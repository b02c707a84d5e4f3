"""Regularized evolution ("REA"; Real et al., https://arxiv.org/abs/1802.01548).

The SSNENAS baseline: a population seeded with ``num_init`` = 10 random architectures grows to
``population_size`` = 30; each step samples a tournament of ``tournament_size`` = 10 members
(uniformly, without replacement), mutates the winner (mutation rate 1) into one child, adds the child
and, once the population exceeds its size, removes the **worst** member, as the original code does
(its comments admit this is not aging evolution). ``aging=True`` removes the **oldest** instead (true
aging evolution). Children are not deduplicated: REA may re-evaluate an architecture by design. Unlike
the original, which loops while query <= budget, it evaluates exactly ``budget`` architectures, not
``budget + 1`` (README, Decisions).
"""

from __future__ import annotations

from search_algos._base import NASSearcher, check_int
from ssnenas.errors import InputError


class REA(NASSearcher):
    """Regularized evolution (worst-removal by default, ``aging=True`` for aging evolution).

    Args:
        population_size: population cap (default 30).
        tournament_size: members per tournament (default 10).
        aging: remove the oldest member instead of the worst (default False: the original).
        k: children per batch (default 1: one child per step, strictly sequential as the original;
            k > 1 runs k tournaments on the same population, so k trials can run at once).
        space, store, metric, mode, seed, budget, num_init, initial_archs: as :class:`NASSearcher`.

    Example::

        from search_algos import REA, run_direct
        searcher = REA(space="nasbench201", seed=0, budget=30)
        history = run_direct(searcher, lambda arch: {"val_acc": arch.count("conv") * 10.0}, budget=30)
    """

    algorithm = "rea"
    allow_duplicates = True

    def __init__(self, *, population_size: int = 30, tournament_size: int = 10, aging: bool = False,
                 k: int = 1, **kwargs) -> None:
        check_int("population_size", population_size, minimum=1)
        check_int("tournament_size", tournament_size, minimum=1)
        if tournament_size > population_size:
            raise InputError(f"REA: tournament_size={tournament_size} exceeds population_size="
                             f"{population_size}; use a tournament no larger than the population")
        super().__init__(k=k, **kwargs)
        self.population_size = int(population_size)
        self.tournament_size = int(tournament_size)
        self.aging = bool(aging)
        self._population: list[tuple[int, str, float]] = []  # (record index, arch string, error), by age
        self._absorbed = 0  # records already offered to the population

    def _absorb(self, upto: int | None = None) -> None:
        """Add newly completed successful trials (records before ``upto``, default all) in proposal
        order, removing as configured."""
        upto = len(self._records) if upto is None else upto
        for i in range(self._absorbed, upto):
            rec = self._records[i]
            if rec["status"] == "ok":
                self._population.append((i, rec["arch"], self._error(rec["value"])))
                if len(self._population) > self.population_size:
                    if self.aging:
                        self._population.pop(0)
                    else:  # the worst; among equal errors the oldest
                        worst = max(range(len(self._population)),
                                    key=lambda j: (self._population[j][2], -j))
                        self._population.pop(worst)
        self._absorbed = upto

    def _revised(self, index: int) -> None:
        """A failed trial succeeded when Tune ran it again: if the population already passed over its
        record, rebuild it in proposal order, as if the trial had succeeded the first time."""
        if index < self._absorbed:
            upto, self._population, self._absorbed = self._absorbed, [], 0
            self._absorb(upto)

    @property
    def population(self) -> list[dict]:
        """The current population, oldest first: ``arch`` and ``error``."""
        return [{"arch": a, "error": e} for _, a, e in self._population]

    def _propose(self, n: int) -> list:
        self._absorb()
        if not self._population:  # every trial so far failed: start again from random archs
            return self._random_unique(n)
        is_known = self._is_known()
        children = []
        for _ in range(n):
            size = min(self.tournament_size, len(self._population))
            picks = self._rng.choice(len(self._population), size=size, replace=False)
            winner = min(picks.tolist(), key=lambda j: (self._population[j][2], j))
            parent = self._arch(self._population[winner][1])
            children.append(self.space.mutate(parent, self._rng, is_known))
        return children
