"""Carry a benchmark run between machines and sessions: ``ssnenas pack`` / ``ssnenas unpack``.

    ssnenas pack RUN FILE [--algos ALGO ...] [--json]
    ssnenas unpack FILE RUN [--json]

``pack`` writes RUN's config and every finished task (of --algos only, when given) to one compressed
Parquet file; ``unpack`` re-creates them in RUN (a new folder, or one holding the same study: result
files already there are kept, so packs of several sessions merge). Re-running the run's
``ssnenas benchmark`` command on RUN then runs only the tasks no pack held.

A pack is checked whole before anything is written (a damaged or edited one is refused and leaves
nothing); unpack writes only inside RUN, never through a link; pack replaces FILE only when it is a
pack of the same run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add ``ssnenas pack`` and ``ssnenas unpack`` to the top-level parser."""
    from ssnenas.cli import plain

    doc = plain(__doc__.strip())
    p = subparsers.add_parser("pack", help="one file holding a benchmark run's finished tasks", description=doc,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, metavar="RUN", help="the --out folder of `ssnenas benchmark`")
    p.add_argument("file", type=Path, metavar="FILE", help="the pack to write (Parquet, e.g. RUN.pack.parquet); an existing FILE is replaced only if it "
                        "is a pack of the same run")
    p.add_argument("--algos", nargs="+", default=None, metavar="ALGO",
                   help="pack only these algorithms' tasks (default: all)")
    p.add_argument("--json", action="store_true",
                   help='print {"file", "tasks", "rows", "bytes", "algorithms": {NAME: tasks}}')
    p.set_defaults(func=_pack)
    u = subparsers.add_parser("unpack", help="re-create a packed benchmark run, to resume or report it",
                              description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    u.add_argument("file", type=Path, metavar="FILE", help="a pack written by `ssnenas pack`")
    u.add_argument("run", type=Path, metavar="RUN", help="a new folder, or a run folder of the same study")
    u.add_argument("--json", action="store_true",
                   help='print {"run", "written", "kept", "algorithms": {NAME: tasks written}}')
    u.set_defaults(func=_unpack)


def _pack(args: argparse.Namespace) -> int:
    from ssnenas.analysis.runpack import pack_run
    from ssnenas.checks import check_out_file

    if not args.file.exists():  # a new FILE under a regular file cannot be written: say so before reading RUN
        check_out_file("", args.file)
    out = pack_run(args.run, args.file, args.algos)
    per_algo = ", ".join(f"{a} {n}" for a, n in out["algorithms"].items())
    print(json.dumps(out, sort_keys=True) if args.json else
          f"packed {out['tasks']} finished tasks ({per_algo}; {out['rows']:,} rows) into {out['file']}, "
          f"{out['bytes']:,} bytes")
    return 0


def _unpack(args: argparse.Namespace) -> int:
    from ssnenas.analysis.runpack import unpack_run
    from ssnenas.checks import check_out_dir

    if not args.run.exists():  # a new RUN under a regular file cannot be made: say so before reading FILE
        check_out_dir("", args.run)
    out = unpack_run(args.file, args.run)
    print(json.dumps(out, sort_keys=True) if args.json else
          f"unpacked {out['written']} finished tasks into {out['run']} ({out['kept']} already there, kept); "
          "re-run the run's `ssnenas benchmark` command to resume it")
    return 0
