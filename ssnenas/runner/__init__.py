"""The closed-domain benchmark runner, as in the NPENAS (arXiv 2003.12857) and SSNENAS (arXiv
2011.00186) papers: T paired trials of every algorithm on a tabular benchmark, one Ray task per
(trial, algorithm) or per cohort of trials, spread over every CPU/GPU of a Ray cluster; re-running
the same run resumes it. Generic over searchers: the caller hands it an :class:`AlgorithmRegistry`
(the CLI passes ``search_algos.REGISTRY``).

One job per module: :mod:`~ssnenas.runner.config` (settings, seeds, paired initial archs),
:mod:`~ssnenas.runner.validate` (every input checked up front), :mod:`~ssnenas.runner.folder`
(run-folder identity and extension), :mod:`~ssnenas.runner.shipping` (the store to every node),
:mod:`~ssnenas.runner.tasks` (task and cohort bodies, the result table),
:mod:`~ssnenas.runner.metrics` (dashboard), :mod:`~ssnenas.runner.checkpoints` (task checkpoints),
:mod:`~ssnenas.runner.driver` (the Ray driver).
"""

from __future__ import annotations

from ssnenas.runner.config import (FORMAT_VERSION, INITIAL_SAMPLING, NUM_INITIAL, PREDICTOR_KINDS, BenchmarkConfig,
                                   initial_architectures, overrides_for, parse_assignments, parse_overrides,
                                   predictor_for, task_seed, task_specs)
from ssnenas.runner.driver import ray_lost_message, run_benchmark
from ssnenas.runner.folder import check_run_folder, write_run_config
from ssnenas.runner.registry import AlgorithmRegistry
from ssnenas.runner.shipping import StoreShipment, open_shipped_store
from ssnenas.runner.tasks import form_cohorts, run_cohort_task, run_task, split_cohort
from ssnenas.runner.validate import cohort_sizes, validate

__all__ = ["FORMAT_VERSION", "INITIAL_SAMPLING", "NUM_INITIAL", "PREDICTOR_KINDS", "AlgorithmRegistry",
           "BenchmarkConfig", "StoreShipment", "check_run_folder", "cohort_sizes", "form_cohorts",
           "initial_architectures", "open_shipped_store", "overrides_for", "parse_assignments", "parse_overrides",
           "predictor_for", "ray_lost_message", "run_benchmark", "run_cohort_task", "run_task", "split_cohort",
           "task_seed", "task_specs", "validate", "write_run_config"]
