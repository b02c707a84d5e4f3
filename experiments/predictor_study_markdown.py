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


def study_markdown(payload: dict) -> str:
    """Markdown table of one study payload (the object ``--json`` prints)."""
    predictors = list(dict.fromkeys(r["predictor"] for r in payload["results"]))
    by_cell = {(r["predictor"], r["train_size"]): r for r in payload["results"]}
    paired = {(p["predictor"], p["train_size"]): p for p in payload["paired"] if p["metric"] == "kendall_tau"}
    others = [p for p in predictors if p != payload.get("baseline", "gin")]
    head = ["train size"] + [f"τ {p}" for p in predictors] + [f"Δτ {p} (wins, p)" for p in others]
    lines = [f"**{payload['benchmark']} / {payload['dataset']}** ({payload['num_archs']} archs, "
             f"{payload['repeats']} repeats, {payload['epochs']} epochs)", "",
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
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="predictor-study --out folders")
    args = parser.parse_args(argv)
    for run in args.runs:
        print(study_markdown(json.loads((run / "study.json").read_text())))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
