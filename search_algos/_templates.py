"""The recurring user-facing messages of the searchers, as templates (the pattern of ray.tune.search).

Each names the class, the value seen and the fix. They live in a module of their own, below every
searcher module, so that ``_base``/``_factory`` read them without importing the package ``__init__``
(which imports them: an import circle); ``search_algos`` re-exports them.
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
# a searcher's budget ends a Tune run silently: Tune stops asking once the searcher says FINISHED
BUDGET_BELOW_NUM_SAMPLES = (
    "{cls}(budget={budget}) is below tune.TuneConfig(num_samples={num_samples}): the searcher suggests "
    "{budget} trials, then FINISHED, and Tune ends the run after {budget} of the {num_samples} trials; "
    "pass budget={num_samples} (or budget=None to let num_samples decide) or num_samples={budget}")
BAD_ARCH = (
    "{cls}: {where} is {arch!r}, not a {space} architecture string ({why}); pass strings written by "
    "the space's to_str, e.g. {example!r}")
ARCH_NOT_IN_STORE = (
    "{cls}: {where} is {arch!r}, which is not in the store {store}; with a store every architecture "
    "must be a stored one: draw initial_archs from store.column('arch') or drop store=")
UNKNOWN_ALGORITHM = "unknown search algorithm {name!r}; choose one of {valid}"
