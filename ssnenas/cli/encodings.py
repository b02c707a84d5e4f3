"""``ssnenas encodings``: how many architectures each encoding merges or splits, against graph isomorphism.

    ssnenas encodings --space nasbench201                                  # all 15,625 cells
    ssnenas encodings --space nasbench101 --data STORES/nb101-1k --json    # the store's cells
    ssnenas encodings --space darts --num-archs 10000 --seed 0             # sampled genotypes

For every encoding of the space (adjacency, path, pape = position-aware path encoding, key = the
canonical key) it counts the distinct vectors, ``merged`` = architectures whose vector is shared with
a non-isomorphic architecture, and ``split`` = architectures whose isomorphism class gets more than
one vector. The reference, ``unique_up_to_isomorphism``, is the number of isomorphism classes of the
pruned labelled DAGs, computed with an exact canonical form (every permutation of the intermediate
nodes, input and output fixed). NB201: ops on edges, ``none`` removes its edge, nodes off every
input->output path are dropped, skip/conv/pool stay distinct labels, every cell with its output cut
off is one (zero) class. NB101: the pruned spec, ops on nodes. DARTS: per cell, ``none`` removes its
edge and the order of the 4 concatenated nodes is ignored; the class is (normal, reduction). More in
the README, "Encoding analysis".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ssnenas.cli import add_command, plain

DEFAULT_SAMPLED = 10_000
#: --num-archs above this is a typo (the analysis holds every architecture's encodings in memory)
MAX_SAMPLED = 10 ** 7


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", required=True, help="nasbench101, nasbench201, darts or transnas101-micro "
                   "(nb101/nb201/nb301/tnb101-micro)")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="a prepared benchmark store: analyse its architectures (default: nasbench201 all "
                        f"15,625 cells; nasbench101 and darts {DEFAULT_SAMPLED:,} sampled distinct "
                        "architectures; sampled NB101 cells are pruned specs, not mapped to the benchmark's "
                        "stored matrix)")
    p.add_argument("--dataset", default=None, help="which store of a --data folder holding several")
    p.add_argument("--num-archs", type=int, default=None, metavar="N",
                   help="analyse N architectures: a seeded sample without replacement of the store or of "
                        f"all NB201 cells, or N sampled ones (default: all of them / {DEFAULT_SAMPLED:,})")
    p.add_argument("--seed", type=int, default=0, help="seed of any sampling (default 0)")
    p.add_argument("--encodings", nargs="+", default=None, metavar="NAME",
                   help="only these encodings (default: every one the space offers plus key)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="also write the JSON result to FILE (atomically)")
    p.add_argument("--json", action="store_true",
                   help='print {"space", "num_archs", "unique_up_to_isomorphism", '
                        '"encodings": {NAME: {"distinct", "merged", "split"}}}')


def _archs(args: argparse.Namespace, space: Any) -> tuple[list, str]:
    import numpy as np

    from ssnenas.checks import check_int, check_seed, naming_flag
    from ssnenas.encstudy import sample_distinct
    from ssnenas.errors import InputError, StoreError

    check_int("--num-archs", args.num_archs, maximum=MAX_SAMPLED)
    check_seed("--seed", args.seed)
    rng = np.random.default_rng(args.seed)
    if args.data is not None:
        from ssnenas.store.table import BenchmarkStore

        try:
            store = BenchmarkStore.open(args.data, dataset=args.dataset)
        except StoreError as exc:
            raise naming_flag("--data", args.data, exc) from None
        if store.space.name != space.name:
            raise InputError(f"--data {args.data}: a {store.space.name} store, not {space.name}; pass "
                             f"--space {store.space.name} or a {space.name} store")
        pool = list(store.column("arch"))
        source = f"store {store.path}"
    elif hasattr(space, "all_archs"):  # a space small enough to list (NB201, TransNAS-Bench-101 micro)
        pool, source = list(space.all_archs()), "all cells"
    else:
        n = args.num_archs or DEFAULT_SAMPLED
        return sample_distinct(space, n, rng), f"{n} sampled (seed {args.seed})"
    if args.num_archs is not None:
        if args.num_archs > len(pool):
            raise InputError(f"--num-archs {args.num_archs}: only {len(pool)} architectures in the "
                             f"{source}; pass at most {len(pool)}")
        pick = np.sort(rng.choice(len(pool), size=args.num_archs, replace=False))
        pool = [pool[int(i)] for i in pick]
        source += f", {args.num_archs} sampled (seed {args.seed})"
    archs = [space.from_str(a) if isinstance(a, str) else a for a in pool]
    return archs, source


def format_table(result: dict) -> str:
    """The result as a small text table."""
    lines = [f"{result['space']}: {result['num_archs']} architectures, "
             f"{result['unique_up_to_isomorphism']} unique up to isomorphism",
             f"{'encoding':<10} {'distinct':>9} {'merged':>8} {'split':>8}"]
    for name, s in result["encodings"].items():
        lines.append(f"{name:<10} {s['distinct']:>9} {s['merged']:>8} {s['split']:>8}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ssnenas.atomic import atomic_path
    from ssnenas.checks import check_out_file
    from ssnenas.encstudy import analyse
    from ssnenas.errors import InputError
    from ssnenas.spaces import get_space

    try:
        space = get_space(args.space)
    except InputError as exc:
        raise InputError(f"--space {args.space}: {exc}") from None
    check_out_file("--out", args.out)
    names = args.encodings
    if names is not None:
        offered = [*space.encodings, "key"]
        for name in names:
            if name not in offered:
                raise InputError(f"--encodings {name}: unknown for {space.name}; choose from {', '.join(offered)}")
    archs, _ = _archs(args, space)
    result = analyse(space, archs, encodings=names)
    text = json.dumps(result, indent=1)
    if args.out is not None:
        with atomic_path(args.out) as tmp:
            tmp.write_text(text + "\n")
    if args.json:
        sys.stdout.write(text + "\n")
    else:
        print(format_table(result))
    return 0


def register(subparsers: Any) -> None:
    """Add ``ssnenas encodings``."""
    p = add_command(subparsers, "encodings", help="distinct / merged / split architectures per encoding, "
                    "against graph isomorphism", doc=__doc__, add_arguments=_arguments, func=run)
    p.epilog = plain(__doc__.split("\n\n", 1)[1])  # the examples and the definitions of merged / split
