"""``ssnenas search``: open-domain DARTS search (the driver: ``experiments.darts_search``, moving to the library)."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    from experiments.darts_search import register_cli

    register_cli(subparsers)
