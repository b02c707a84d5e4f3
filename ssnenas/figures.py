"""Writing figures: one atomic PNG writer for every plot of the project (run reports, the predictor
study, the DARTS search), kept below all of them so none imports another's plotting module for it."""

from __future__ import annotations

import os
from pathlib import Path

from ssnenas.atomic import atomic_path


def save_png(fig, path: str | os.PathLike, *, dpi: int | None = None) -> Path:
    """Write ``fig`` as a PNG atomically (a killed run never leaves half a plot) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return path
