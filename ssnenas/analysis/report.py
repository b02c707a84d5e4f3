"""The report of a finished (or partial) run: JSON-ready numbers and a readable table.

``build_report(run)`` reads only ``RUN/config.json``, ``RUN/summary.json`` and the Parquet results,
and dispatches on the config's ``"kind"`` (only ``"benchmark"`` so far; DARTS runs will add one).
Output is deterministic for a given run folder: algorithms in the config's order (JSON keys
sorted), floats rounded to 6 decimals, NaN written as null.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ssnenas.analysis.curves import STATS, AlgorithmCurves, algorithm_curves, checkpoints, stats
from ssnenas.analysis.runs import read_config, read_results, read_summary
from ssnenas.errors import InputError

_DIGITS = 6
_METRICS = ("best_val_acc", "test_acc_of_best_val")


def _num(x: Any) -> float | None:
    x = float(x)
    return None if math.isnan(x) else round(x, _DIGITS)


def _list(a: np.ndarray) -> list[float | None]:
    return [_num(v) for v in np.asarray(a, dtype=np.float64)]


def load_curves(run: str | os.PathLike) -> tuple[dict[str, Any], dict[str, AlgorithmCurves]]:
    """``(config, {algorithm: curves})`` of a run, algorithms in the config's order."""
    config = read_config(run)
    if config["kind"] != "benchmark":  # pragma: no cover - only kind so far (read_config checks)
        raise InputError(f"{run}: no report for run kind {config['kind']!r}")
    table = read_results(run)
    queries = checkpoints(int(config["budget"]))
    return config, {a: algorithm_curves(table, a, queries) for a in config["algorithms"]}


def _algorithm_entry(c: AlgorithmCurves, has_test: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"queries": [int(q) for q in c.queries], "num_trials": int(len(c.trials))}
    for metric, matrix in zip(_METRICS, (c.best_val, c.test_of_best_val)):
        s = stats(matrix) if (metric == "best_val_acc" or has_test) else None
        for name in STATS:
            entry[f"{name}_{metric}"] = _list(s[name]) if s is not None else None
    for name, values in (("wall_time_s", c.wall_time_s), ("search_time_s", c.search_time_s)):
        entry[f"{name}_mean"] = _num(np.mean(values)) if len(values) else None
        entry[f"{name}_total"] = _num(np.sum(values)) if len(values) else None
    return entry


def read_report_json(path: str | os.PathLike) -> dict[str, Any]:
    """A benchmark report saved by ``ssnenas report RUN --json`` (e.g. the committed ones under
    experiments/results/benchmark), checked to be one."""
    import json

    try:
        report = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable report JSON ({exc}); pass a run folder or the output of "
                         "`ssnenas report RUN --json`") from None
    if not isinstance(report, dict) or report.get("kind") != "benchmark" or not isinstance(
            report.get("algorithms"), dict):
        raise InputError(f"{path}: not a benchmark report (`ssnenas report RUN --json` output); pass a run folder "
                         "or such a file")
    return report


def build_report(run: str | os.PathLike) -> dict[str, Any]:
    """The JSON report of ``run`` (see ``ssnenas report --help`` for the fields)."""
    config, curves = load_curves(run)
    has_test = any(c.has_test for c in curves.values())
    summary = read_summary(run) or {}
    return {
        "run": str(Path(run)),
        "kind": config["kind"],
        "space": config.get("space"),
        "benchmark": config.get("benchmark"),
        "dataset": config.get("dataset"),
        "data_fingerprint": config.get("data_fingerprint"),
        "budget": config.get("budget"),
        "trials": config.get("trials"),
        "seed": config.get("seed"),
        "has_test": has_test,
        "complete": summary.get("complete"),
        "algorithms": {a: _algorithm_entry(c, has_test) for a, c in curves.items()},
    }


def format_table(report: dict[str, Any]) -> str:
    """A plain-text table: per algorithm and checkpoint, mean ± std [P30, P70] of each metric, under
    a header line that says so."""
    lines = [f"run {report['run']}: {report['space']} / {report['dataset']}, budget {report['budget']}, "
             f"{report['trials']} trials, seed {report['seed']}",
             "each cell: mean ± std [P30, P70] over an algorithm's trials at that number of queried "
             "architectures, in % (std: standard deviation over trials, not the standard error; P30, P70: "
             "30th and 70th percentiles)"]
    metrics = [("best_val_acc", "best val acc %")]
    if report["has_test"]:
        metrics.append(("test_acc_of_best_val", "test acc of best val %"))
    else:
        lines.append("(the store has no test accuracy: only the best validation accuracy is reported)")
    for name, e in report["algorithms"].items():
        lines.append("")
        lines.append(f"{name}  ({e['num_trials']} trials, mean task wall time "
                     f"{_fmt(e['wall_time_s_mean'], 2)} s)")
        header = f"{'queries':>8}" + "".join(f"  {label:>34}" for _, label in metrics)
        lines.append(header)
        for i, q in enumerate(e["queries"]):
            cells = []
            for metric, _ in metrics:
                m, s = e[f"mean_{metric}"][i], e[f"std_{metric}"][i]
                lo, hi = e[f"p30_{metric}"][i], e[f"p70_{metric}"][i]
                cells.append(f"{_fmt(m)} ± {_fmt(s)} [{_fmt(lo)}, {_fmt(hi)}]")
            lines.append(f"{q:>8}" + "".join(f"  {c:>34}" for c in cells))
    return "\n".join(lines)


def _fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"
