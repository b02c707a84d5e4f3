"""A benchmark run's dashboard metrics (:mod:`ssnenas.metrics`), kept by the driver: searches queued
and completed, best errors so far (the best value itself for a metric that is not percent) and
predictor fit time, per algorithm. No-ops outside Ray."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow as pa


class RunMetrics:
    """The driver's view of a run for the dashboard: one ``finished`` call per (trial, algorithm)."""

    def __init__(self, out: Path, run_config: dict[str, Any], specs: list[dict[str, Any]]) -> None:
        from ssnenas import metrics
        from ssnenas.analysis.report import config_metric

        self.m = metrics
        self.metric = config_metric(run_config)  # percent: the error gauges, else the value ones
        self.tags = {a: metrics.tags(run=Path(out).name, space=run_config["space"],
                                     dataset=run_config["dataset"], algorithm=a)
                     for a in run_config["algorithms"]}
        self.queued = {a: 0 for a in self.tags}
        for spec in specs:
            self.queued[spec["algorithm"]] += 1
        self.best_val: dict[str, float] = {}
        for a, n in self.queued.items():
            metrics.trials_queued(self.tags[a], n)

    def finished(self, algorithm: str, table: pa.Table | None) -> None:
        """One trial of ``algorithm`` left the queue (``table``: its result, None when it failed or was lost)."""
        tags = self.tags[algorithm]
        self.queued[algorithm] -= 1
        self.m.trials_queued(tags, self.queued[algorithm])
        if table is None or not len(table):
            return
        self.m.trials_completed(tags)
        best = float(table["best_val_acc_so_far"][-1].as_py())
        val_err = self.metric.to_error(best)  # 100 - value for percent
        if val_err < self.best_val.get(algorithm, math.inf):
            self.best_val[algorithm] = val_err
            test = table["test_acc_of_best_val_so_far"][-1].as_py()
            if self.metric.is_percent:
                self.m.best_error(tags, val_err, None if test is None else 100.0 - float(test))
            else:
                self.m.best_metric(tags, self.metric.name, best, None if test is None else float(test))
        if "timing_predictor_fit_s" in table.column_names:
            fits = table["timing_fits"][0].as_py() if "timing_fits" in table.column_names else 0
            self.m.predictor_fit(tags, float(table["timing_predictor_fit_s"][0].as_py()), int(fits or 0))
