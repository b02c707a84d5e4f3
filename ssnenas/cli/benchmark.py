"""``ssnenas benchmark``: closed-domain benchmark runs (the driver: ``experiments.benchmark``, moving to the library)."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    from experiments.benchmark import register_cli

    register_cli(subparsers)
