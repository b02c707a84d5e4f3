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

import importlib
import sys
import types
from typing import Any

#: where each public name lives; imported on first use (PEP 562), so that ``ssnenas --help`` and a
#: command that needs only the settings (``ssnenas.runner.config``) do not import the driver, Ray and torch
_HOMES = {
    "ssnenas.runner.config": ("FORMAT_VERSION", "INITIAL_SAMPLING", "NUM_INITIAL", "PREDICTOR_KINDS",
                              "BenchmarkConfig", "initial_architectures", "overrides_for", "parse_assignments",
                              "parse_overrides", "predictor_for", "task_seed", "task_specs"),
    "ssnenas.runner.driver": ("ray_lost_message", "run_benchmark"),
    "ssnenas.runner.folder": ("check_run_folder", "write_run_config"),
    "ssnenas.runner.registry": ("AlgorithmRegistry",),
    "ssnenas.runner.shipping": ("StoreShipment", "open_shipped_store"),
    "ssnenas.runner.tasks": ("form_cohorts", "run_cohort_task", "run_task", "split_cohort"),
    "ssnenas.runner.validate": ("cohort_sizes", "validate"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


class _Package(types.ModuleType):
    """This package, whose ``validate`` stays the function: importing the submodule of that name (the
    driver does) would otherwise rebind the package's attribute to the module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "validate" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'ssnenas.runner' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = ["FORMAT_VERSION", "INITIAL_SAMPLING", "NUM_INITIAL", "PREDICTOR_KINDS", "AlgorithmRegistry",
           "BenchmarkConfig", "StoreShipment", "check_run_folder", "cohort_sizes", "form_cohorts",
           "initial_architectures", "open_shipped_store", "overrides_for", "parse_assignments", "parse_overrides",
           "predictor_for", "ray_lost_message", "run_benchmark", "run_cohort_task", "run_task", "split_cohort",
           "task_seed", "task_specs", "validate", "write_run_config"]
