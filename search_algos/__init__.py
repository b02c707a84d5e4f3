"""Architecture searchers as Ray Tune ``Searcher`` subclasses: NPENAS (arXiv 2003.12857) and its baselines.

One module per algorithm, all over the same search-space API (``ssnenas.spaces``):

- :class:`NPENAS` (``npenas.py``): predictor-guided evolution with a GIN predictor: NPENAS-NP,
  NPENAS-BO, the SS-RL / SS-CCL fine-tuned variants and the fixed-budget (``training_nums``) variants;
- :class:`REA` (``rea.py``): regularized evolution, worst-removal as the original (``aging=True``: oldest);
- :class:`RandomSearch` (``random_search.py``): unique random architectures;
- :class:`BANANAS` (``bananas.py``): path-encoding MLP ensemble with independent Thompson sampling.

Every searcher suggests ``{"arch": <space.to_str(arch)>}``, proposes its architectures in batches (the
HEBOSearch pattern: ``None`` while a batch is in flight), treats missing/NaN/inf metrics as failed
trials, owns its RNGs (numpy + torch ``Generator``; the global RNGs are never touched) and round-trips
its whole state through ``save``/``restore`` and pickle. Two drivers: a ``ray.tune.Tuner``, or
:func:`run_direct` (a plain suggest / on_trial_complete loop for table lookups), or
:func:`run_cohort` (several such searches in lockstep, their predictor fits batched). The benchmark runner
builds searchers by name with :func:`make_searcher` (names in :data:`ALGORITHMS`; a ``-fixed`` one may add
``:N``, its ``training_nums``: :func:`parse_algorithm`).
"""

from __future__ import annotations

# Recurring messages (the templates of ray.tune.search): each names the class, the value seen and the fix.
UNDEFINED_SEARCH_SPACE = (
    "{cls} has no search space (space={space!r}, store={store!r}); pass space='nasbench101' | "
    "'nasbench201' | 'darts' (or a SearchSpace object) or store=BenchmarkStore.open(DIR) to "
    "{cls}(...) or to search_algos.make_searcher(...)")
UNDEFINED_METRIC_MODE = (
    "{cls} has no metric/mode (metric={metric!r}, mode={mode!r}); pass metric= and mode= to "
    "{cls}(...), or to tune.TuneConfig(metric=..., mode=...) of a Tuner whose param_space is non-empty "
    "(Tune hands them to the searcher only then)")
# Tune calls set_search_properties only for a non-empty param_space: TuneConfig's metric/mode never arrive
TUNE_METRIC_MODE_NOT_PASSED = (
    "{cls} has no metric/mode (metric={metric!r}, mode={mode!r}); tune.TuneConfig has metric={tune_metric!r}, "
    "mode={tune_mode!r}, but Tune hands them to a searcher only when the Tuner's param_space is non-empty, "
    "and it is empty: pass metric={tune_metric!r}, mode={tune_mode!r} to {cls}(...) as well")
TUNE_METRIC_MODE_MISMATCH = (
    "{cls} optimises metric={metric!r}, mode={mode!r} but tune.TuneConfig has metric={tune_metric!r}, "
    "mode={tune_mode!r}; Tune hands TuneConfig's metric/mode to a searcher only when the Tuner's "
    "param_space is non-empty, and it is empty, so they were not applied: pass the same metric and mode "
    "to {cls}(...) and to tune.TuneConfig(...)")
BAD_ARCH = (
    "{cls}: {where} is {arch!r}, not a {space} architecture string ({why}); pass strings written by "
    "the space's to_str, e.g. {example!r}")
ARCH_NOT_IN_STORE = (
    "{cls}: {where} is {arch!r}, which is not in the store {store}; with a store every architecture "
    "must be a stored one: draw initial_archs from store.column('arch') or drop store=")
UNKNOWN_ALGORITHM = "unknown search algorithm {name!r}; choose one of {valid}"

from search_algos._base import NASSearcher  # noqa: E402
from search_algos._cohort import COHORT_SIZES, run_cohort  # noqa: E402
from search_algos._direct import run_direct  # noqa: E402
from search_algos.bananas import BANANAS  # noqa: E402
from search_algos.npenas import NPENAS  # noqa: E402
from search_algos.random_search import RandomSearch  # noqa: E402
from search_algos.rea import REA  # noqa: E402
from search_algos._factory import (ALGORITHMS, algorithm_settings, canonical_algorithm, check_settings,  # noqa: E402
                                   make_searcher, parse_algorithm)

__all__ = ["ALGORITHMS", "ARCH_NOT_IN_STORE", "BAD_ARCH", "BANANAS", "COHORT_SIZES", "NASSearcher", "NPENAS",
           "REA", "RandomSearch", "TUNE_METRIC_MODE_MISMATCH", "TUNE_METRIC_MODE_NOT_PASSED",
           "UNDEFINED_METRIC_MODE", "UNDEFINED_SEARCH_SPACE", "UNKNOWN_ALGORITHM",
           "algorithm_settings", "canonical_algorithm", "check_settings", "make_searcher", "parse_algorithm",
           "run_cohort", "run_direct"]
