"""``python -m experiments.darts_retrain ARGS`` = ``ssnenas retrain ARGS`` (the library: ``ssnenas.darts.retrain``).

The names below stay importable from here for scripts written against this module."""

import sys

from ssnenas.cli import run_command
from ssnenas.cli.retrain import RETRAIN_HELP_DEFAULTS  # noqa: F401
from ssnenas.darts.retrain import evaluate_checkpoint, run_retrain  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    return run_command("retrain", argv)


if __name__ == "__main__":
    sys.exit(main())
