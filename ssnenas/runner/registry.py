"""The searchers a benchmark run can use, as one typed value its caller hands to the runner.

Why a value and not a module: the runner is library code and must not import ``search_algos`` (the
package above it); the CLI builds nothing itself either, it passes ``search_algos.REGISTRY``. A test
passes a registry of toy searchers. Every field is a plain function or a dict, so the registry
pickles into Ray tasks by reference (``search_algos``'s functions) or by value (a test's).

    from search_algos import REGISTRY
    from ssnenas.runner import BenchmarkConfig, run_benchmark
    run_benchmark(BenchmarkConfig(space="nasbench201", data=..., algorithms=("rea",), trials=4,
                                  budget=100, seed=0, out=Path("runs/x")), REGISTRY)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


@dataclass(frozen=True)
class AlgorithmRegistry:
    """Search algorithms by name: how to build, vet and run them, alone or in cohorts.

    - ``names``: every base name ``make`` accepts (the order reports use);
    - ``make(name, *, space, store, seed, budget, initial_archs, predictor_checkpoint, device,
      **settings)``: a searcher (``suggest`` / ``on_trial_complete``);
    - ``run_direct(searcher, evaluate, budget)``: one search in a plain loop;
    - ``canonical(name)``: the one spelling of a name (raises for an unknown one), e.g. a ``-fixed``
      variant with its ``:N``; None: the names are exactly ``names``;
    - ``check(name, *, space, store, budget, predictor_checkpoint, **settings)``: raise for settings
      ``make`` would refuse, before any task runs; None: nothing to check up front;
    - ``run_cohort(searchers, evaluators, budget)``: several searches of one algorithm in lockstep
      (a result or an exception per searcher); None: one trial per task only;
    - ``cohort_sizes``: default trials per cohort task by base name (1 where absent).
    """

    names: tuple[str, ...]
    make: Callable[..., Any]
    run_direct: Callable[[Any, Callable[[str], dict], int], Any]
    canonical: Callable[[str], str] | None = None
    check: Callable[..., None] | None = None
    run_cohort: Callable[[Sequence[Any], Sequence[Callable[[str], dict]], int], list] | None = None
    cohort_sizes: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "cohort_sizes", dict(self.cohort_sizes))

    @property
    def runs_cohorts(self) -> bool:
        """Whether these searchers can run several trials in lockstep (:attr:`run_cohort`)."""
        return self.run_cohort is not None

    def default_cohort_size(self, name: str) -> int:
        """Trials per task of ``name`` by default: its base name's size (``npenas-ssrl-fixed:20`` takes
        ``npenas-ssrl-fixed``'s), 1 where it has none or cohorts are not supported."""
        if not self.runs_cohorts:
            return 1
        table = self.cohort_sizes
        return max(1, int(table.get(name, table.get(name.partition(":")[0], 1))))

    def auto_cohort_size(self, name: str, trials: int) -> int:
        """The ``--cohort-size auto`` rule: the default size, never more than the ``trials`` to run."""
        return max(1, min(self.default_cohort_size(name), int(trials)))
