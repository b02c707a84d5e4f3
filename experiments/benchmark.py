"""``python -m experiments.benchmark ARGS`` is ``ssnenas benchmark ARGS`` (see its --help); the runner
is the library package ssnenas.runner."""

from __future__ import annotations

import sys

from ssnenas.cli import run_command


def main(argv: list[str] | None = None) -> int:
    """Run ``ssnenas benchmark`` with ``argv`` (default: this process's arguments)."""
    return run_command("benchmark", argv)


if __name__ == "__main__":
    sys.exit(main())
