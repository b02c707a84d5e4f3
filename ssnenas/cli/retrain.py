"""``ssnenas retrain`` / ``ssnenas evaluate``: final DARTS retraining (``experiments.darts_retrain``, moving to the library)."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    from experiments.darts_retrain import register_cli

    register_cli(subparsers)
