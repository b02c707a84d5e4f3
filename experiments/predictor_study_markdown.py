"""Turn ``ssnenas predictor-study`` outputs (study.json) into the README's Markdown tables.

    python -m experiments.predictor_study_markdown RUN_DIR [RUN_DIR ...]

Per study: Kendall τ (mean ± SEM over repeats) for each predictor and training size, then each
pre-trained predictor's paired τ gain over the baseline with its wins and Wilcoxon p-value.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def study_markdown(payload: dict, *, fit_times: bool = False) -> str:
    """Markdown table of one study payload (the object ``--json`` prints): each predictor at its
    largest epoch count; with ``fit_times`` a second table of the mean fit seconds per cell."""
    predictors = list(dict.fromkeys(r["predictor"] for r in payload["results"]))
    top = {p: max(r.get("epochs", 0) for r in payload["results"] if r["predictor"] == p) for p in predictors}
    by_cell = {(r["predictor"], r["train_size"]): r for r in payload["results"]
               if r.get("epochs", 0) == top[r["predictor"]]}
    paired = {(p["predictor"], p["train_size"]): p for p in payload["paired"]
              if p["metric"] == "kendall_tau" and p.get("epochs", 0) == top[p["predictor"]]}
    baseline = payload.get("baseline", "gin")
    others = [p for p in predictors if p != baseline]
    head = ["train size"] + [f"τ {p}" for p in predictors] + [f"Δτ {p} (wins, p)" for p in others]
    epochs = payload["epochs"]
    shown = "/".join(map(str, epochs)) if isinstance(epochs, list) else epochs
    lines = [f"**{payload['benchmark']} / {payload['dataset']}** ({payload['num_archs']} archs, "
             f"{payload['repeats']} repeats, {shown} epochs; Δτ vs {baseline})", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for size in payload["train_sizes"]:
        cells = [str(size)]
        for p in predictors:
            r = by_cell[(p, size)]
            cells.append(f"{r['kendall_tau']:.3f} ± {r['kendall_tau_sem']:.3f}")
        for p in others:
            d = paired.get((p, size))
            cells.append("-" if d is None else
                         f"{d['mean_diff']:+.3f} ({d['wins']}/{d['n']}, {d['p_value']:.1g})")
        lines.append("| " + " | ".join(cells) + " |")
    if fit_times:
        lines += ["", "Fit seconds per cell (mean; training plus, for the baselines, scoring all archs):", "",
                  "| train size | " + " | ".join(f"{p} ({top[p]} ep)" for p in predictors) + " |",
                  "|" + "---|" * (len(predictors) + 1)]
        for size in payload["train_sizes"]:
            lines.append(f"| {size} | " + " | ".join(f"{by_cell[(p, size)]['fit_seconds']:.2f}"
                                                    for p in predictors) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="predictor-study --out folders")
    parser.add_argument("--fit-times", action="store_true", help="also a table of mean fit seconds per cell")
    args = parser.parse_args(argv)
    for run in args.runs:
        print(study_markdown(json.loads((run / "study.json").read_text()), fit_times=args.fit_times))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
