"""Turn ``ssnenas predictor-study`` outputs (study.json) into Markdown tables.

    python -m experiments.predictor_study_markdown RUN_DIR [RUN_DIR ...] [--fit-times] [--split]

Per study: Kendall τ (mean ± SEM over repeats) for each predictor and training size, then each
pre-trained predictor's paired τ gain over the baseline with its wins and Wilcoxon p-value. ``--split``
gives the τ table, the gains and the fit times as separate narrower tables. The renderer is the one of
the generated results pages (``ssnenas.analysis.pages``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ssnenas.analysis.pages import study_markdown

__all__ = ["main", "study_markdown"]


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
