"""The ssnenas command line: neural architecture search with NPENAS / SSNENAS predictors on Ray.

Each sub-module registers its sub-commands through ``register(subparsers)``; a command's handler is
stored as ``func`` on the parsed namespace and returns an exit status. The CLI is the top floor: it may
import ``search_algos`` and ``trainables`` and hands their registries to the library's drivers; nothing
else in ``ssnenas`` imports them. User errors (:class:`ssnenas.errors.SsnenasError`) print one line and
exit 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from typing import Any, Callable

#: modules under ssnenas.cli that contribute commands, in --help order (a missing one is an import error)
COMMAND_MODULES = ("data", "pretrain", "predictor_study", "benchmark", "report", "runs", "encodings", "search",
                   "retrain")


EPILOG = ("Papers: NPENAS, arXiv 2003.12857; SSNENAS (SS-RL, SS-CCL), arXiv 2011.00186. "
          "`ssnenas COMMAND --help` describes each command; the project README has worked examples.")

_ROLES = re.compile(r":(?:class|func|meth|mod|attr|data|obj):`~?(?:[\w.]+\.)?([^`]+)`")


def plain(doc: str | None) -> str:
    """``doc`` (a reST docstring) as plain help text: ``x`` -> x, :func:`a.b.f` -> f."""
    text = _ROLES.sub(r"\1", doc or "")
    return text.replace("``", "")


def build_parser() -> argparse.ArgumentParser:
    from ssnenas import __version__

    parser = argparse.ArgumentParser(prog="ssnenas", description=plain(__doc__.splitlines()[0]), epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"ssnenas {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"ssnenas.cli.{name}").register(sub)
    return parser


def add_command(subparsers: Any, name: str, *, help: str, doc: str | None,
                add_arguments: Callable[[argparse.ArgumentParser], None],
                func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    """Register sub-command ``name`` whose description is the first paragraph of ``doc`` (a module's),
    shown as plain text."""
    p = subparsers.add_parser(name, help=help, description=plain((doc or "").split("\n\n")[0]),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=func)
    return p


def run_command(name: str, argv: list[str] | None = None) -> int:
    """``python -m experiments.X ARGS`` = ``ssnenas NAME ARGS`` (``argv`` defaults to ``sys.argv[1:]``)."""
    return main([name, *(sys.argv[1:] if argv is None else argv)])


def main(argv: list[str] | None = None) -> int:
    from ssnenas.errors import SsnenasError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SsnenasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
