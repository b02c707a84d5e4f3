"""Ablations: variants of a search, each run in its own folder, paired against one reference algorithm.

Why a module of its own: a benchmark report compares algorithms of *one* run folder at its budget,
while an ablation compares settings (``ssnenas benchmark --set ...``, one folder per setting) with a
reference whose trials live elsewhere (the 600-trial tables), early in the search. Trials pair by
number: a benchmark trial's initial cells depend only on the base seed and the trial
(``ssnenas.runner.config.initial_architectures``), so trial t of every folder starts alike.

Regret at q queries, per trial: the table's best validation value minus the best one found in the
first q queries (``BenchmarkStore.best``); lower is better. Δ regret = variant − reference per
trial (negative: the variant is ahead), with the two-sided Wilcoxon signed-rank p-value
(``ssnenas.stats.paired_difference``). Cost: mean search seconds per trial (a cohort's time shared by
its trials) and predictor fits per trial, next to the reference's cost measured in ``cost_reference``,
a run of the reference's settings on the same machine.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ssnenas.analysis.curves import AlgorithmCurves
from ssnenas.analysis.report import config_metric, load_curves
from ssnenas.metric_spec import PERCENT
from ssnenas.errors import InputError
from ssnenas.stats import paired_difference

QUERIES = (30, 50, 100)


class _Runs:
    """Run folders read once each (an ablation pairs many algorithms of one folder with its reference)."""

    def __init__(self) -> None:
        self._loaded: dict[str, tuple[dict[str, Any], dict[str, AlgorithmCurves]]] = {}

    def curves(self, run: str | os.PathLike, algorithm: str) -> tuple[dict[str, Any], AlgorithmCurves]:
        key = str(Path(run).resolve())
        if key not in self._loaded:
            self._loaded[key] = load_curves(run)
        config, curves = self._loaded[key]
        if algorithm not in curves:
            raise InputError(f"{run}: has no algorithm {algorithm!r}; it has {', '.join(curves)}")
        return config, curves[algorithm]


def table_best(configs: Sequence[dict[str, Any]], data: str | os.PathLike | None = None) -> float:
    """The best validation value of the runs' store (what regret is measured from), read from ``data``
    (a store of the same table, e.g. where a run made elsewhere recorded another path) or else the first
    of ``configs`` whose store is on this machine (runs of one store: their fingerprints are equal)."""
    from ssnenas.store import BenchmarkStore

    if data is not None:
        return float(BenchmarkStore.open(data).best()["val_acc"])
    for config in configs:
        if Path(config["data"]).exists():
            return float(BenchmarkStore.open(config["data"]).best()["val_acc"])
    raise InputError(f"none of the runs' stores is here ({', '.join(c['data'] for c in configs)}); prepare it "
                     "(python -m experiments.prepare_tables) and pass it as data=")


def _column(c: AlgorithmCurves, q: int) -> np.ndarray:
    hit = np.flatnonzero(c.queries == q)
    if not len(hit):
        raise InputError(f"{c.algorithm}: no checkpoint at {q} queries (has {c.queries.tolist()})")
    return c.best_val[:, hit[0]]


def variant_row(label: str, settings: dict[str, Any], c: AlgorithmCurves, ref: AlgorithmCurves, best: float,
                queries: Sequence[int] = QUERIES) -> dict[str, Any]:
    """One ablation row: mean regrets of the variant and the reference on their common trials, and
    the paired Δ regret with its p-value, at each of ``queries``."""
    common, ia, ib = np.intersect1d(c.trials, ref.trials, return_indices=True)
    if not len(common):
        raise InputError(f"{label}: no trial in common with {ref.algorithm}; run the same trial numbers")
    row: dict[str, Any] = {"label": label, "settings": settings, "num_pairs": int(len(common)), "at": {}}
    for q in queries:
        r_var, r_ref = best - _column(c, q)[ia], best - _column(ref, q)[ib]
        d = paired_difference(r_var, r_ref)
        row["at"][str(q)] = {"regret": float(np.mean(r_var)), "reference_regret": float(np.mean(r_ref)),
                             "delta": d["mean_diff"], "sem": d["sem"], "wins": d["losses"],
                             "losses": d["wins"], "p_value": d["p_value"]}
    row["search_time_s_mean"] = float(np.mean(c.search_time_s))
    row["fits_mean"] = None if c.fits is None else float(np.nanmean(c.fits))
    return row


def ablation(reference_run: str | os.PathLike, reference: str, variants: Sequence[dict[str, Any]],
             cost_reference: dict[str, Any] | None = None, queries: Sequence[int] = QUERIES,
             data: str | os.PathLike | None = None) -> dict[str, Any]:
    """The ablation table: ``variants`` are ``{"label", "run", "algorithm"}`` (the folder's ``--set``
    settings are read from its config); every row is paired with ``reference`` in ``reference_run``.
    ``cost_reference`` (same keys) is the reference's settings run on the variants' machine, whose
    search seconds per trial are the unit of the ``cost`` column; ``data``: the store to read the table's
    best value from when the runs' recorded store paths are not on this machine."""
    runs = _Runs()
    ref_config, ref = runs.curves(reference_run, reference)
    loaded = [(v, *runs.curves(v["run"], v["algorithm"])) for v in variants]
    for v, config, _ in loaded:
        if config.get("data_fingerprint") != ref_config.get("data_fingerprint"):
            raise InputError(f"{v['run']}: searched another table than {reference_run}; pair runs of one store")
    best = table_best([ref_config] + [config for _, config, _ in loaded], data)
    rows = []
    for v, config, c in loaded:
        overrides = config.get("overrides") or {}
        settings = {**overrides.get("*", {}), **overrides.get(v["algorithm"], {})}
        rows.append(variant_row(v["label"], settings, c, ref, best, queries))
    unit = None
    if cost_reference is not None:
        _, cr = runs.curves(cost_reference["run"], cost_reference["algorithm"])
        unit = float(np.mean(cr.search_time_s))
        for row in rows:
            row["cost"] = row["search_time_s_mean"] / unit
    metric = config_metric(ref_config)
    return {"kind": "ablation", "reference": reference, "reference_run": str(Path(reference_run)),
            **({} if metric == PERCENT else {"metric": metric.to_dict()}),
            "benchmark": ref_config.get("benchmark"), "dataset": ref_config.get("dataset"),
            "budget": ref_config.get("budget"), "seed": ref_config.get("seed"), "table_best": best,
            "queries": [int(q) for q in queries], "cost_unit_s": unit, "rows": rows}
