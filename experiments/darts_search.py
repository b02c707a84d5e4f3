"""``python -m experiments.darts_search ARGS`` = ``ssnenas search ARGS`` (the driver: ``ssnenas.darts.search``).

The names below stay importable from here for scripts written against this module (and for the
``trial_dirname`` that Ray's ``tuner.pkl`` of an older search names)."""

import sys

from ssnenas.cli import run_command
from ssnenas.cli.search import run_search  # noqa: F401
from ssnenas.darts.resume import trial_dirname  # noqa: F401
from ssnenas.darts.search import DEFAULTS, SearchConfig, add_arguments, resolve_settings  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    return run_command("search", argv)


if __name__ == "__main__":
    sys.exit(main())
