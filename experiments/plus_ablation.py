"""The ssnenas-plus ablation table: every variant folder paired with npenas-ssccl of the 600-trial run.

    python -m experiments.plus_ablation --reference R600 --cost-reference ABL/DS-base \
        --variant iso=ABL/DS-iso --variant nbr5=ABL/DS-nbr5 ... --out experiments/results/benchmark/X.json
    python -m experiments.plus_ablation --reference R600 --variant plus=R600@ssnenas-plus \
        --variant ls=R600@local-search ...      (algorithms of one run against its npenas-ssccl)

Each variant folder is an ``ssnenas benchmark --algos ssnenas-plus --set ...`` run (its settings are read
from its config); ``--cost-reference`` is the folder whose settings equal npenas-ssccl's, run on the
same machine, the unit of the cost column. See ``ssnenas.analysis.ablation``.
"""

from __future__ import annotations

import argparse
import json
import sys

from ssnenas.analysis.ablation import ablation
from ssnenas.atomic import atomic_json
from ssnenas.errors import SsnenasError


def _p(p: float | None) -> str:
    return "-" if p is None else f"{p:.2g}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", required=True, help="run folder holding the reference algorithm")
    ap.add_argument("--reference-algo", default="npenas-ssccl")
    ap.add_argument("--algo", default="ssnenas-plus", help="the algorithm name inside the variant folders")
    ap.add_argument("--variant", action="append", required=True, metavar="LABEL=RUN[@ALGO]",
                    help="a variant folder (its algorithm: --algo, or ALGO after @)")
    ap.add_argument("--cost-reference", help="variant folder with the reference's settings (cost unit)")
    ap.add_argument("--data", help="the store the runs searched, when their recorded path is not here")
    ap.add_argument("--cost-note", help="one clause on how the costs were measured, shown in the caption")
    ap.add_argument("--out", help="write the JSON here (default: print it)")
    args = ap.parse_args(argv)
    try:
        variants = []
        for item in args.variant:
            label, sep, where = item.partition("=")
            if not sep:
                raise SystemExit(f"--variant {item!r}: expected LABEL=RUN[@ALGO]")
            run, at, algo = where.partition("@")
            variants.append({"label": label, "run": run, "algorithm": algo if at else args.algo})
        cost = None if args.cost_reference is None else {"run": args.cost_reference, "algorithm": args.algo}
        doc = ablation(args.reference, args.reference_algo, variants, cost, data=args.data)
        if args.cost_note:
            doc["cost_note"] = args.cost_note
    except SsnenasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        atomic_json(args.out, doc)
    else:
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
    for row in doc["rows"]:
        cells = "  ".join(f"@{q}: {a['regret']:.2f} ({a['delta']:+.2f}, p={_p(a['p_value'])})"
                          for q, a in row["at"].items())
        cost = f"  cost {row['cost']:.2f}x" if "cost" in row else ""
        print(f"{row['label']:>12} n={row['num_pairs']}  {cells}{cost}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
