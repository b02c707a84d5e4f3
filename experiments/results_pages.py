"""Generate the results pages of docs/ from the committed result files, or check that they are current.

    python -m experiments.results_pages            # rewrite every page whose tables changed
    python -m experiments.results_pages --check    # exit 1 naming each stale page, change nothing
    python -m experiments.results_pages record RESULT --command "CMD" --wall-time-s S [--machine M]
        [--date D] [--code-version V]          # add / update RESULT's provenance entry
    python -m experiments.results_pages record RESULT -- CMD ARG ...   # run CMD, time it, record it

The pages and their blocks: ssnenas/analysis/pages.py. Provenance: experiments/results/provenance.json.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

from ssnenas.analysis.pages import record_provenance, stale_pages, write_pages
from ssnenas.errors import SsnenasError

ROOT = Path(__file__).resolve().parents[1]


def _record(argv: list[str], root: Path) -> int:
    run_cmd: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, run_cmd = argv[:at], argv[at + 1:]
    p = argparse.ArgumentParser(prog="python -m experiments.results_pages record",
                                description="add or update the provenance entry of one result file")
    p.add_argument("result", help="the result file, under experiments/results/")
    p.add_argument("--command", help="the command that made it (default: the command after --)")
    p.add_argument("--wall-time-s", help="its wall time in seconds, or a short text (default: timed here)")
    p.add_argument("--machine", help="default: this machine's CPU model and cores (or GPU with --device)")
    p.add_argument("--device", default="cpu", help="cuda[:N] to name the GPU as the machine")
    p.add_argument("--date", help="default: today (UTC)")
    p.add_argument("--code-version", help="default: git describe of this checkout")
    args = p.parse_args(argv)
    wall: float | str | None = args.wall_time_s
    if run_cmd:
        start = time.perf_counter()
        rc = subprocess.run(run_cmd, cwd=root).returncode
        if rc != 0:
            print(f"error: {shlex.join(run_cmd)} exited {rc}; nothing recorded", file=sys.stderr)
            return rc
        wall = round(time.perf_counter() - start, 1)
    if args.command is None and not run_cmd:
        p.error("give --command, or the command to run after --")
    if wall is None:
        p.error("give --wall-time-s, or the command to run after -- (it is timed)")
    try:
        wall = float(wall)
    except ValueError:
        pass
    entry = record_provenance(root, args.result, command=args.command or shlex.join(run_cmd), wall_time_s=wall,
                              code=args.code_version, machine=args.machine, date=args.date, device=args.device)
    print(f"recorded {args.result}: {entry}")
    return 0


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["record"]:
            return _record(argv[1:], root)
        p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        p.add_argument("--check", action="store_true", help="exit 1 naming the stale pages; write nothing")
        p.add_argument("--root", type=Path, default=root, help="repository root (default: this checkout)")
        args = p.parse_args(argv)
        if args.check:
            stale = stale_pages(args.root)
            for page in stale:
                print(f"stale: {page}", file=sys.stderr)
            if stale:
                print("regenerate with: python -m experiments.results_pages", file=sys.stderr)
                return 1
            print("results pages are up to date")
            return 0
        changed = write_pages(args.root)
        print("\n".join(f"wrote {page}" for page in changed) or "results pages are up to date")
        return 0
    except SsnenasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
