"""The report of a finished (or partial) run: JSON-ready numbers and a readable table.

``build_report(run)`` reads only ``RUN/config.json``, ``RUN/summary.json`` and the Parquet results,
and dispatches on the config's ``"kind"`` (only ``"benchmark"`` so far; DARTS runs will add one).
Output is deterministic for a given run folder: algorithms in the config's order (JSON keys
sorted), floats rounded to 6 decimals, NaN written as null.

Paired comparisons (``"comparisons"``): each compared algorithm against its reference, over the
trials both finished (the same initial architectures: a paired design), at the last checkpoint
(the budget): the mean difference of the best validation accuracy and of the test accuracy of the
best-by-validation architecture with its SEM, wins/losses and the two-sided Wilcoxon signed-rank
p-value (zero differences dropped; null when every difference is zero), and the predictor fitting
both did (fits per trial, fit seconds per trial, the saving in %). The reference is automatic for
the fixed-budget variants, whose unrestricted algorithm is in the run (``npenas-ssrl`` for
``npenas-ssrl-fixed`` and ``npenas-ssrl-fixed:N``), or one ``reference=`` for every other algorithm.

Numbers are the store's metric as it is (higher is better): an accuracy in percent for NAS-Bench-101,
-201 and DARTS, or what a TransNAS-Bench-101 task measures (an SSIM in 0..1, a negative loss). A run
whose metric is not the plain validation accuracy in percent has a ``"metric"`` entry (``metric``,
``metric_label``, ``metric_unit``, ``higher_is_better``; from its config.json) and the table and plots
label their numbers with it.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ssnenas.analysis.curves import STATS, AlgorithmCurves, algorithm_curves, checkpoints, stats
from ssnenas.analysis.runs import read_config, read_results, read_summary
from ssnenas.compute_platform import count_platforms, mixed_platforms_note
from ssnenas.errors import InputError
from ssnenas.metric_spec import PERCENT, MetricSpec
from ssnenas.stats import paired_difference

_DIGITS = 6
_METRICS = ("best_val_acc", "test_acc_of_best_val")


def _num(x: Any) -> float | None:
    x = float(x)
    return None if math.isnan(x) else round(x, _DIGITS)


def _list(a: np.ndarray) -> list[float | None]:
    return [_num(v) for v in np.asarray(a, dtype=np.float64)]


def _load(run: str | os.PathLike) -> tuple[dict[str, Any], pa.Table, dict[str, AlgorithmCurves]]:
    config = read_config(run)
    if config["kind"] != "benchmark":  # pragma: no cover - only kind so far (read_config checks)
        raise InputError(f"{run}: no report for run kind {config['kind']!r}")
    table = read_results(run)
    queries = checkpoints(int(config["budget"]))
    return config, table, {a: algorithm_curves(table, a, queries) for a in config["algorithms"]}


def load_curves(run: str | os.PathLike) -> tuple[dict[str, Any], dict[str, AlgorithmCurves]]:
    """``(config, {algorithm: curves})`` of a run, algorithms in the config's order."""
    config, _, curves = _load(run)
    return config, curves


def platform_counts(table: pa.Table) -> dict[str, int]:
    """Finished tasks per compute platform (``platform`` column, see ssnenas.compute_platform);
    tasks written before platforms were recorded count as ``"unrecorded"``."""
    if not table.num_rows:
        return {}
    firsts = table.filter(pc.equal(table["query"], 1))  # one row a task
    if "platform" not in table.column_names:
        return {"unrecorded": firsts.num_rows}
    return count_platforms(firsts["platform"].to_pylist())


def _algorithm_entry(c: AlgorithmCurves, has_test: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"queries": [int(q) for q in c.queries], "num_trials": int(len(c.trials))}
    for metric, matrix in zip(_METRICS, (c.best_val, c.test_of_best_val)):
        s = stats(matrix) if (metric == "best_val_acc" or has_test) else None
        for name in STATS:
            entry[f"{name}_{metric}"] = _list(s[name]) if s is not None else None
    for name, values in (("wall_time_s", c.wall_time_s), ("search_time_s", c.search_time_s)):
        entry[f"{name}_mean"] = _num(np.mean(values)) if len(values) else None
        entry[f"{name}_total"] = _num(np.sum(values)) if len(values) else None
    for name, values in (("predictor_fit_s", c.predictor_fit_s), ("fits", c.fits)):
        entry[f"{name}_mean"] = _nanmean(values)
    return entry


def _nanmean(values: np.ndarray | None) -> float | None:
    """Mean over the trials that recorded a value (None when none did)."""
    if values is None:
        return None
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return _num(v.mean()) if len(v) else None


#: ``npenas-ssrl-fixed`` / ``npenas-ssrl-fixed:20`` -> base ``npenas-ssrl`` (the naming rule of
#: search_algos, which this layer does not import), N = 20
_FIXED_NAME = re.compile(r"^(?P<base>.+)-fixed(?::(?P<nums>\d+))?$")


def fixed_budget_parts(algorithm: str) -> tuple[str, int | None] | None:
    """``(unrestricted algorithm, training_nums or None)`` of a fixed-budget name, else None."""
    m = _FIXED_NAME.match(algorithm)
    if m is None:
        return None
    return m["base"], (int(m["nums"]) if m["nums"] else None)


def reference_pairs(algorithms: list[str], reference: str | None = None) -> dict[str, str]:
    """``{algorithm: its reference}``: with ``reference``, every other algorithm against it; without,
    each fixed-budget variant against its unrestricted algorithm when the run has that one."""
    if reference is not None:
        if reference not in algorithms:
            raise InputError(f"--reference {reference}: not an algorithm of this run; choose one of "
                             f"{', '.join(algorithms)}")
        return {a: reference for a in algorithms if a != reference}
    out = {}
    for a in algorithms:
        parts = fixed_budget_parts(a)
        if parts is not None and parts[0] in algorithms:
            out[a] = parts[0]
    return out


def _paired(a: np.ndarray, b: np.ndarray) -> dict[str, Any] | None:
    keep = np.isfinite(a) & np.isfinite(b)
    if not keep.any():
        return None
    d = paired_difference(a[keep], b[keep])
    return {"mean_diff": _num(d["mean_diff"]), "sem": None if d["sem"] is None else _num(d["sem"]),
            "wins": d["wins"], "losses": d["losses"], "ties": int(keep.sum()) - d["wins"] - d["losses"],
            "p_value": None if d["p_value"] is None else float(f"{d['p_value']:.6g}")}  # tiny ones stay > 0


def compare(c: AlgorithmCurves, ref: AlgorithmCurves, has_test: bool) -> dict[str, Any]:
    """The paired comparison of ``c`` with ``ref`` at the last checkpoint (module docstring)."""
    common, ia, ib = np.intersect1d(c.trials, ref.trials, return_indices=True)
    entry: dict[str, Any] = {"reference": ref.algorithm, "query": int(c.queries[-1]) if len(c.queries) else None,
                             "num_pairs": int(len(common))}
    for metric, ma, mb in (("best_val_acc", c.best_val, ref.best_val),
                           ("test_acc_of_best_val", c.test_of_best_val, ref.test_of_best_val)):
        use = len(common) and ma.shape[1] and (metric == "best_val_acc" or has_test)
        entry[f"diff_{metric}"] = _paired(ma[ia, -1], mb[ib, -1]) if use else None
    for name in ("predictor_fit_s", "fits", "search_time_s"):
        va, vb = getattr(c, name), getattr(ref, name)
        ma = _nanmean(None if va is None else va[ia])
        mb = _nanmean(None if vb is None else vb[ib])
        entry[f"{name}_mean"], entry[f"reference_{name}_mean"] = ma, mb
        if name != "fits":
            entry[f"{name}_saving_pct"] = (_num(100.0 * (1.0 - ma / mb)) if ma is not None and mb else None)
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


def build_report(run: str | os.PathLike, reference: str | None = None) -> dict[str, Any]:
    """The JSON report of ``run`` (see ``ssnenas report --help`` for the fields); ``reference``: the
    algorithm every other one is compared with (default: each fixed-budget variant with its
    unrestricted algorithm, see the module docstring)."""
    config, table, curves = _load(run)
    has_test = any(c.has_test for c in curves.values())
    summary = read_summary(run) or {}
    pairs = reference_pairs(list(curves), reference)
    metric = config_metric(config)
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
        **({} if metric == PERCENT else {"metric": metric.to_dict()}),
        "has_test": has_test,
        "complete": summary.get("complete"),
        "platforms": platform_counts(table),
        "algorithms": {a: _algorithm_entry(c, has_test) for a, c in curves.items()},
        "comparisons": {a: compare(curves[a], curves[r], has_test) for a, r in pairs.items()},
    }


def format_table(report: dict[str, Any]) -> str:
    """A plain-text table: per algorithm and checkpoint, mean ± std [P30, P70] of each metric, under
    a header line that says so."""
    metric = report_metric(report)
    plain = metric == PERCENT
    unit = "in %" if plain else f"in {metric.label}, higher is better"
    lines = [f"run {report['run']}: {report['space']} / {report['dataset']}, budget {report['budget']}, "
             f"{report['trials']} trials, seed {report['seed']}",
             "each cell: mean ± std [P30, P70] over an algorithm's trials at that number of queried "
             f"architectures, {unit} (std: standard deviation over trials, not the standard error; P30, P70: "
             "30th and 70th percentiles)"]
    note = mixed_platforms_note(report.get("platforms") or {})
    if note:
        lines.append(note)
    short = short_unit(metric)
    metrics = [("best_val_acc", "best val acc %" if plain else f"best val {short}")]
    if report["has_test"]:
        metrics.append(("test_acc_of_best_val", "test acc of best val %" if plain else f"test of best val {short}"))
    elif plain:
        lines.append("(the store has no test accuracy: only the best validation accuracy is reported)")
    else:
        lines.append(f"(the store has no test split: only the best validation {short} is reported)")
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
    if report.get("comparisons"):
        lines += ["", *format_comparisons(report)]
    return "\n".join(lines)


def format_comparisons(report: dict[str, Any]) -> list[str]:
    """The paired-comparison table: one row per algorithm of the report at the last checkpoint."""
    comps = report["comparisons"]
    algos = report["algorithms"]
    q = next(iter(comps.values()))["query"]
    use_test = bool(report.get("has_test"))
    short = short_unit(report_metric(report))
    lines = [f"paired comparison with the reference at {q} queries (trials of both; mean [P30, P70] over trials; "
             "diff: mean of the per-trial differences algorithm - reference ± SEM, W/L: trials where the "
             "algorithm is better / worse (the rest tie), p: two-sided Wilcoxon signed-rank, zero differences "
             "dropped, n/a when all are zero; fits and fit s: predictor fits "
             "and seconds spent fitting per trial, a cohort's batched fit shared equally by its trials; "
             "saving: 1 - fit s / reference's fit s over the paired trials)"]
    head = (f"{'algorithm':<24} {'reference':<14} {'pairs':>5}  {'best val ' + short:>24} {'diff val':>16} "
            f"{'W/L':>7} {'p':>7}")
    if use_test:
        head += f"  {'test of best val ' + short:>24} {'diff test':>16} {'W/L':>7} {'p':>7}"
    head += f"  {'fits':>6} {'fit s':>8} {'saving':>8}"
    lines.append(head)
    def order(name: str) -> tuple:  # each reference, then what is compared with it by training_nums
        ref = comps[name]["reference"] if name in comps else name
        parts = fixed_budget_parts(name)
        return (list(algos).index(ref), name in comps, parts[1] or 0 if parts else 0, list(algos).index(name))

    for name in sorted(algos, key=order):
        e, c = algos[name], comps.get(name)
        if not e.get("num_trials"):
            continue
        i = len(e["queries"]) - 1

        def cell(metric: str) -> str:
            return (f"{_fmt(e[f'mean_{metric}'][i])} [{_fmt(e[f'p30_{metric}'][i])}, "
                    f"{_fmt(e[f'p70_{metric}'][i])}]")

        def diff(metric: str) -> tuple[str, str, str]:
            d = (c or {}).get(f"diff_{metric}")
            if not d:
                return "", "", ""
            p = d["p_value"]
            return (f"{d['mean_diff']:+.3f} ± {_fmt(d['sem'])}", f"{d['wins']}/{d['losses']}",
                    "<0.0001" if p is not None and p < 1e-4 else _fmt(p, 4))

        row = f"{name:<24} {(c or {}).get('reference', ''):<14} {(c or {}).get('num_pairs', e['num_trials']):>5}"
        dv, wv, pv = diff("best_val_acc")
        row += f"  {cell('best_val_acc'):>24} {dv:>16} {wv:>7} {pv:>7}"
        if use_test:
            dt, wt, pt = diff("test_acc_of_best_val")
            row += f"  {cell('test_acc_of_best_val'):>24} {dt:>16} {wt:>7} {pt:>7}"
        saving = (c or {}).get("predictor_fit_s_saving_pct")
        row += (f"  {_fmt(e.get('fits_mean'), 1):>6} {_fmt(e.get('predictor_fit_s_mean'), 2):>8} "
                f"{'' if saving is None else f'{saving:.1f}%':>8}")
        lines.append(row)
    return lines


def config_metric(config: dict[str, Any]) -> MetricSpec:
    """The metric of a run: its config.json ``metric``; for a run that recorded none (made before metrics
    were recorded), its store's metadata where the store is still at ``data``, else percent (every
    such run of NAS-Bench-101, -201 or DARTS)."""
    if isinstance(config.get("metric"), dict):
        return MetricSpec.from_metadata(config["metric"])
    if config.get("benchmark") in ("nasbench101", "nasbench201", "darts") or not config.get("data"):
        return PERCENT
    from ssnenas.errors import SsnenasError
    from ssnenas.store.table import read_metadata

    try:
        meta = read_metadata(config["data"])  # the run config records the store file itself
        return MetricSpec.from_metadata(meta) if meta.get("dataset") == config.get("dataset") else PERCENT
    except (SsnenasError, OSError, ValueError):
        return PERCENT


def report_metric(report: dict[str, Any]) -> MetricSpec:
    """The metric a report's numbers are (its ``metric`` entry; percent without one)."""
    return MetricSpec.from_metadata(report.get("metric")) if isinstance(report.get("metric"), dict) else PERCENT


def short_unit(metric: MetricSpec) -> str:
    """A column's few characters for the metric: ``%``, ``SSIM``, ``neg loss`` or the metric's name."""
    return {"percent": "%", "ssim": "SSIM", "neg_loss": "neg loss"}.get(metric.unit, metric.name)


def _fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"
