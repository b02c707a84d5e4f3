"""Analysis of finished runs: run-folder layout, best-so-far curves and statistics, plots, reports.

Reads only Parquet/JSON run folders (never ``search_algos`` or ``experiments``)::

    from ssnenas.analysis import build_report
    report = build_report("runs/nb201")      # the dict ``ssnenas report RUN --json`` prints
"""

from __future__ import annotations

from ssnenas.analysis.curves import AlgorithmCurves, algorithm_curves, best_so_far, checkpoints, stats
from ssnenas.analysis.report import build_report, format_table, load_curves
from ssnenas.analysis.runs import finished_tasks, read_config, read_results, result_path

__all__ = ["AlgorithmCurves", "algorithm_curves", "best_so_far", "build_report", "checkpoints",
           "finished_tasks", "format_table", "load_curves", "read_config", "read_results",
           "result_path", "stats"]
