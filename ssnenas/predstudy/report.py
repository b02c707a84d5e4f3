"""Summaries of a predictor study and its files: Parquet tables, the plot and the JSON payload.

Files written into the out dir (each atomically):

- ``repeats.parquet``: one row per (predictor, train_size, repeat) (see :func:`~.study.run_study`);
- ``summary.parquet``: one row per (predictor, train_size, epochs), the fields of :func:`summarise`;
- ``paired.parquet``: one row per (predictor, train_size, epochs, metric), :func:`paired_comparisons`;
- ``tau_vs_train_size.png``: Kendall τ (left) and Spearman ρ (right) against the training-set
  size, one line per predictor (at its largest epoch count), mean ± SEM error bars;
- ``tau_vs_epochs.png`` (only for an epoch grid): Kendall τ against the fine-tuning epochs, one
  panel per training-set size;
- ``study.json``: the ``--json`` payload (settings, results, paired comparisons).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ssnenas.atomic import atomic_path
from ssnenas.figures import save_png
from ssnenas.stats import paired_difference, spread

METRICS = ("kendall_tau", "spearman_rho")
PLOT_FILE = "tau_vs_train_size.png"
EPOCHS_PLOT_FILE = "tau_vs_epochs.png"


def _groups(rows: Sequence[dict]) -> dict[tuple[str, int, int], list[dict]]:
    out: dict[tuple[str, int, int], list[dict]] = {}
    for row in rows:
        out.setdefault((row["predictor"], int(row["train_size"]), int(row["epochs"])), []).append(row)
    for v in out.values():
        v.sort(key=lambda r: r["repeat"])
    return out


def summarise(rows: Sequence[dict]) -> list[dict[str, Any]]:
    """Per (predictor, train_size, epochs), in first-seen order: ``kendall_tau`` and ``spearman_rho`` (means
    over repeats) and, for each metric M, ``M_std``, ``M_sem``, ``M_min``, ``M_max``, ``M_p30``,
    ``M_p70`` and ``M_nan`` (repeats whose raw value was NaN and counted as 0); ``n`` repeats,
    ``kind``, ``lr``, ``epochs`` and ``fit_seconds`` (mean per cell)."""
    results = []
    for (name, n, _), group in _groups(rows).items():
        res: dict[str, Any] = {"predictor": name, "train_size": n, "kind": group[0]["kind"]}
        for m in METRICS:
            s = spread([r[m] for r in group])
            res[m] = s["mean"]
            for k in ("std", "sem", "min", "max", "p30", "p70"):
                res[f"{m}_{k}"] = s[k]
            res[f"{m}_nan"] = int(sum(bool(r[f"{m}_nan"]) for r in group))
        res["n"] = len(group)
        res["lr"] = group[0]["lr"]
        res["epochs"] = group[0]["epochs"]
        res["fit_seconds"] = float(np.mean([r["fit_seconds"] for r in group]))
        results.append(res)
    return results


def paired_comparisons(rows: Sequence[dict], baseline: str = "gin") -> list[dict[str, Any]]:
    """Each other predictor vs ``baseline`` per training size, epochs and metric, over the shared
    repeats (same splits by construction): the fields of :func:`~.metrics.paired_difference` plus
    ``predictor``, ``baseline``, ``train_size``, ``epochs``, ``baseline_epochs``, ``metric``. The
    baseline is taken at the same epoch count when it has it, else at its largest. Empty when
    ``baseline`` is absent."""
    groups = _groups(rows)
    base_epochs: dict[int, list[int]] = {}
    for (name, n, e) in groups:
        if name == baseline:
            base_epochs.setdefault(n, []).append(e)
    out = []
    for (name, n, e), group in groups.items():
        if name == baseline or n not in base_epochs:
            continue
        be = e if e in base_epochs[n] else max(base_epochs[n])
        base = groups[(baseline, n, be)]
        by_rep = {r["repeat"]: r for r in base}
        pairs = [(r, by_rep[r["repeat"]]) for r in group if r["repeat"] in by_rep]
        for m in METRICS:
            d = paired_difference([a[m] for a, _ in pairs], [b[m] for _, b in pairs])
            out.append({"predictor": name, "baseline": baseline, "train_size": n, "epochs": e,
                        "baseline_epochs": be, "metric": m, **d})
    return out


def _write_parquet(path: Path, rows: Sequence[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(list(rows)) if rows else pa.table({})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def plot(results: Sequence[dict], path: Path, *, title: str = "") -> None:
    """Mean τ and ρ against training-set size, one line per predictor at its largest epoch count,
    ±SEM error bars."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    names = list(dict.fromkeys(r["predictor"] for r in results))
    top = {name: max(r["epochs"] for r in results if r["predictor"] == name) for name in names}
    for ax, m, label in zip(axes, METRICS, ("Kendall τ", "Spearman ρ")):
        for i, name in enumerate(names):
            rs = sorted((r for r in results if r["predictor"] == name and r["epochs"] == top[name]),
                        key=lambda r: r["train_size"])
            sem = [r[f"{m}_sem"] or 0.0 for r in rs]
            dodge = 1.0 + 0.012 * (i - (len(names) - 1) / 2)  # keep overlapping error bars apart
            ax.errorbar([r["train_size"] * dodge for r in rs], [r[m] for r in rs], yerr=sem, marker="o",
                        capsize=3, label=name)
        ax.set_xlabel("training-set size")
        ax.set_ylabel(f"{label} (mean ± SEM)")
        ax.grid(alpha=0.3)
    axes[0].legend()
    if title:
        fig.suptitle(title)
    save_png(fig, path, dpi=120)


def plot_epochs(results: Sequence[dict], path: Path, *, title: str = "") -> None:
    """Mean τ (±SEM) against the fine-tuning epochs, one panel per training-set size."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    sizes = sorted({r["train_size"] for r in results})
    names = list(dict.fromkeys(r["predictor"] for r in results))
    fig, axes = plt.subplots(1, len(sizes), figsize=(3.2 * len(sizes), 3.4), constrained_layout=True,
                             squeeze=False, sharey=True)
    for ax, n in zip(axes[0], sizes):
        for name in names:
            rs = sorted((r for r in results if r["predictor"] == name and r["train_size"] == n),
                        key=lambda r: r["epochs"])
            ax.errorbar([r["epochs"] for r in rs], [r["kendall_tau"] for r in rs],
                        yerr=[r["kendall_tau_sem"] or 0.0 for r in rs], marker="o", capsize=3, label=name)
        ax.set_title(f"{n} training archs", fontsize=10)
        ax.set_xlabel("epochs")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("Kendall τ (mean ± SEM)")
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    save_png(fig, path, dpi=110)


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        return _clean(v.item())
    return v


def write_outputs(out: Path, rows: Sequence[dict], *, meta: dict[str, Any],
                  baseline: str = "gin") -> dict[str, Any]:
    """Write every study file into ``out`` and return the JSON payload
    ``{"results": summarise(rows), "paired": ..., "files": {...}, **meta}``."""
    out = Path(out)
    results = summarise(rows)
    paired = paired_comparisons(rows, baseline)
    files = {"repeats": out / "repeats.parquet", "summary": out / "summary.parquet",
             "paired": out / "paired.parquet", "plot": out / PLOT_FILE, "json": out / "study.json"}
    _write_parquet(files["repeats"], rows)
    _write_parquet(files["summary"], results)
    _write_parquet(files["paired"], paired)
    epochs = meta.get("epochs", "")
    grid = isinstance(epochs, (list, tuple)) and len(epochs) > 1
    shown = "/".join(map(str, epochs)) if isinstance(epochs, (list, tuple)) else epochs
    kinds = {r.get("kind") for r in rows}
    gin_only = kinds <= {"gin", "ss-rl", "ss-ccl"}
    title = (f"{meta.get('benchmark', '')}/{meta.get('dataset', '')}, {'' if gin_only else 'GINs '}"
             f"{shown} epochs{'' if gin_only else ', baselines their recipes'}")
    plot(results, files["plot"], title=title)
    if grid:
        files["epochs_plot"] = out / EPOCHS_PLOT_FILE
        plot_epochs(results, files["epochs_plot"], title=title)
    payload = _clean({**meta, "results": results, "paired": paired,
                      "files": {k: str(v) for k, v in files.items()}})
    with atomic_path(files["json"]) as tmp:
        tmp.write_text(json.dumps(payload, indent=1))
    return payload


def format_table(payload: dict[str, Any]) -> str:
    """Human-readable summary: τ/ρ mean ± SEM per cell, then the paired τ differences vs the baseline."""
    lines = [f"{'predictor':<16} {'n':>5} {'epochs':>6} {'kendall_tau':>18} {'spearman_rho':>18} {'nan':>4} "
             f"{'reps':>4} {'fit s':>8}"]
    for r in payload["results"]:
        def fmt(m: str) -> str:
            sem = r[f"{m}_sem"]
            return f"{r[m]:.4f} ± {sem:.4f}" if sem is not None else f"{r[m]:.4f}"
        lines.append(f"{r['predictor']:<16} {r['train_size']:>5} {r['epochs']:>6} {fmt('kendall_tau'):>18} "
                     f"{fmt('spearman_rho'):>18} {r['kendall_tau_nan']:>4} {r['n']:>4} {r['fit_seconds']:>8.3f}")
    taus = [p for p in payload["paired"] if p["metric"] == "kendall_tau"]
    if taus:
        lines.append("")
        lines.append(f"paired Kendall tau difference vs {taus[0]['baseline']} (same splits), Wilcoxon signed-rank:")
        for p in taus:
            sem = "n/a" if p["sem"] is None else f"{p['sem']:.4f}"
            pv = "n/a" if p["p_value"] is None else f"{p['p_value']:.3g}"
            lines.append(f"  {p['predictor']:<14} n={p['train_size']:<5} e={p['epochs']:<4} "
                         f"diff {p['mean_diff']:+.4f} ± {sem} "
                         f"(wins {p['wins']}/{p['n']}, p = {pv})")
    return "\n".join(lines)
