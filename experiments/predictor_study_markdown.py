"""Turn ``ssnenas predictor-study`` outputs (study.json) into the README's Markdown tables.

    python -m experiments.predictor_study_markdown RUN_DIR [RUN_DIR ...] [--fit-times] [--split]

Per study: Kendall τ (mean ± SEM over repeats) for each predictor and training size, then each
pre-trained predictor's paired τ gain over the baseline with its wins and Wilcoxon p-value. ``--split``
gives the τ table, the gains and the fit times as three narrower tables (the README's baseline layout).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]


def _gain(d: dict | None, p_value) -> str:
    return "-" if d is None else f"{d['mean_diff']:+.3f} ({d['wins']}/{d['n']}, {p_value(d['p_value'])})"


def study_markdown(payload: dict, *, fit_times: bool = False, split: bool = False) -> str:
    """Markdown tables of one study payload (the object ``--json`` prints), each predictor at its largest
    epoch count: one wide table (τ and Δτ), or with ``split`` a τ table and a Δτ table (p < 1e-4 shown
    as <0.0001); with ``fit_times`` also the mean fit seconds per cell."""
    predictors = list(dict.fromkeys(r["predictor"] for r in payload["results"]))
    top = {p: max(r.get("epochs", 0) for r in payload["results"] if r["predictor"] == p) for p in predictors}
    by_cell = {(r["predictor"], r["train_size"]): r for r in payload["results"]
               if r.get("epochs", 0) == top[r["predictor"]]}
    paired = {(p["predictor"], p["train_size"]): p for p in payload["paired"]
              if p["metric"] == "kendall_tau" and p.get("epochs", 0) == top[p["predictor"]]}
    baseline = payload.get("baseline", "gin")
    others = [p for p in predictors if p != baseline]
    sizes = payload["train_sizes"]
    taus = {n: [f"{by_cell[(p, n)]['kendall_tau']:.3f} ± {by_cell[(p, n)]['kendall_tau_sem']:.3f}"
                for p in predictors] for n in sizes}
    epochs = payload["epochs"]
    shown = "/".join(map(str, epochs)) if isinstance(epochs, list) else epochs
    lines = [f"**{payload['benchmark']} / {payload['dataset']}** ({payload['num_archs']} archs, "
             f"{payload['repeats']} repeats, {shown} epochs; Δτ vs {baseline})", ""]
    p_value = (lambda v: "<0.0001" if v < 1e-4 else f"{v:.2g}") if split else (lambda v: f"{v:.1g}")
    gains = {n: [_gain(paired.get((p, n)), p_value) for p in others] for n in sizes}
    if split:
        lines += _table(["train size"] + [f"τ {p}" for p in predictors], [[str(n)] + taus[n] for n in sizes])
        lines += [""] + _table(["train size"] + [f"Δτ {p} − {baseline} (wins, p)" for p in others],
                               [[str(n)] + gains[n] for n in sizes])
    else:
        lines += _table(["train size"] + [f"τ {p}" for p in predictors] + [f"Δτ {p} (wins, p)" for p in others],
                        [[str(n)] + taus[n] + gains[n] for n in sizes])
    if fit_times:
        lines += ["", "Fit seconds per cell (mean; training plus, for the baselines, scoring all archs):", ""]
        lines += _table(["train size"] + [f"{p} ({top[p]} ep)" for p in predictors],
                        [[str(n)] + [f"{by_cell[(p, n)]['fit_seconds']:.2f}" for p in predictors] for n in sizes])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="predictor-study --out folders")
    parser.add_argument("--fit-times", action="store_true", help="also a table of mean fit seconds per cell")
    parser.add_argument("--split", action="store_true", help="τ and Δτ as two tables, p < 1e-4 as <0.0001")
    args = parser.parse_args(argv)
    for run in args.runs:
        payload = json.loads((run / "study.json").read_text())
        print(study_markdown(payload, fit_times=args.fit_times, split=args.split))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
