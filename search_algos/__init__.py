"""Architecture searchers as Ray Tune ``Searcher`` subclasses: NPENAS (arXiv 2003.12857) and its baselines.

One module per algorithm, all over the same search-space API (``ssnenas.spaces``):

- :class:`NPENAS` (``npenas.py``): predictor-guided evolution with a GIN predictor: NPENAS-NP,
  NPENAS-BO, the SS-RL / SS-CCL fine-tuned variants and the fixed-budget (``training_nums``) variants;
- :class:`REA` (``rea.py``): regularized evolution, worst-removal as the original (``aging=True``: oldest);
- :class:`RandomSearch` (``random_search.py``): unique random architectures;
- :class:`LocalSearch` (``local_search.py``): first-improvement hill climbing over one-edit
  neighbourhoods with random restarts (arXiv 2005.02960);
- :class:`BANANAS` (``bananas.py``): path-encoding MLP ensemble with independent Thompson sampling.

Every searcher suggests ``{"arch": <space.to_str(arch)>}``, proposes its architectures in batches (the
HEBOSearch pattern: ``None`` while a batch is in flight), treats missing/NaN/inf metrics as failed
trials, owns its RNGs (numpy + torch ``Generator``; the global RNGs are never touched) and round-trips
its whole state through ``save``/``restore`` and pickle. Two drivers: a ``ray.tune.Tuner``, or
:func:`run_direct` (a plain suggest / on_trial_complete loop for table lookups), or
:func:`run_cohort` (several such searches in lockstep, their predictor fits batched). The benchmark runner
builds searchers by name with :func:`make_searcher` (names in :data:`ALGORITHMS`; a ``-fixed`` one may add
``:N``, its ``training_nums``: :func:`parse_algorithm`), all of which :data:`REGISTRY` hands to it.
"""

from __future__ import annotations

from search_algos._templates import (ARCH_NOT_IN_STORE, BAD_ARCH, TUNE_METRIC_MODE_MISMATCH,
                                     TUNE_METRIC_MODE_NOT_PASSED, UNDEFINED_METRIC_MODE, UNDEFINED_SEARCH_SPACE,
                                     UNKNOWN_ALGORITHM)
from search_algos._base import NASSearcher  # noqa: E402
from search_algos._cohort import COHORT_SIZES, run_cohort  # noqa: E402
from search_algos._direct import run_direct  # noqa: E402
from search_algos.bananas import BANANAS  # noqa: E402
from search_algos.local_search import LocalSearch  # noqa: E402
from search_algos.npenas import NPENAS  # noqa: E402
from search_algos.random_search import RandomSearch  # noqa: E402
from search_algos.rea import REA  # noqa: E402
from search_algos._factory import (ALGORITHMS, algorithm_settings, canonical_algorithm, check_settings,  # noqa: E402
                                   make_searcher, parse_algorithm)
from ssnenas.runner.registry import AlgorithmRegistry  # noqa: E402

#: every algorithm above as the one value the library's drivers take (``ssnenas benchmark`` passes it to
#: ``ssnenas.runner.run_benchmark``): names, factory, settings check, drivers, default cohort sizes
#: (``local-search``, like random search and REA, fits no model: cohorts of 1, its default)
REGISTRY = AlgorithmRegistry(names=tuple(ALGORITHMS), make=make_searcher, run_direct=run_direct,
                             canonical=canonical_algorithm, check=check_settings, run_cohort=run_cohort,
                             cohort_sizes=COHORT_SIZES)

__all__ = ["ALGORITHMS", "ARCH_NOT_IN_STORE", "BAD_ARCH", "BANANAS", "COHORT_SIZES", "LocalSearch", "NASSearcher",
           "NPENAS", "REA", "REGISTRY", "RandomSearch", "TUNE_METRIC_MODE_MISMATCH", "TUNE_METRIC_MODE_NOT_PASSED",
           "UNDEFINED_METRIC_MODE", "UNDEFINED_SEARCH_SPACE", "UNKNOWN_ALGORITHM",
           "algorithm_settings", "canonical_algorithm", "check_settings", "make_searcher", "parse_algorithm",
           "run_cohort", "run_direct"]
