"""Markdown table and bar chart of ``ssnenas encodings --out`` results.

    python -m experiments.encodings_figure RESULT.json [...] --png encodings.png

One panel per result file: per encoding the distinct codes, the merged and the split architectures as
bars, the number of isomorphism classes as a dashed line (a perfect encoding reaches it with no
merged or split bar). Prints the README table on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ssnenas.analysis.pages import encodings_table


def markdown(results: list[tuple[str, dict]]) -> str:
    """The table of the results pages (``ssnenas.analysis.pages.encodings_table``) as one string."""
    return "\n".join(encodings_table(results))


def plot(results: list[tuple[str, dict]], png: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ssnenas.analysis.plots import save_png

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.6), squeeze=False)
    for ax, (label, r) in zip(axes[0], results):
        names = list(r["encodings"])
        x = np.arange(len(names))
        for k, (field, color) in enumerate((("distinct", "C0"), ("merged", "C3"), ("split", "C1"))):
            ax.bar(x + (k - 1) * 0.27, [r["encodings"][n][field] for n in names], 0.27, label=field,
                   color=color)
        ax.axhline(r["unique_up_to_isomorphism"], color="k", ls="--", lw=1, label="isomorphism classes")
        ax.set_xticks(x, names)
        ax.set_title(f"{label} ({r['num_archs']:,} archs)", fontsize=10)
    axes[0][0].set_ylabel("architectures / codes")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return save_png(fig, png, dpi=110)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="+", type=Path, help="JSON files written by ssnenas encodings --out")
    p.add_argument("--png", type=Path, default=None, help="bar chart to write")
    args = p.parse_args(argv)
    results = []
    for path in args.results:
        try:
            results.append((path.stem, json.loads(path.read_text())))
        except (OSError, ValueError) as exc:
            print(f"error: {path}: not a readable ssnenas encodings result ({exc})", file=sys.stderr)
            return 2
    print(markdown(results))
    if args.png is not None:
        plot(results, args.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
