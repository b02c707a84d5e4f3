"""Benchmark one NPENAS-NP predictor fit (300 epochs, 100 NB201 archs, batch 10 = 3,000 steps) on one
CPU thread: eager sparse PyG (GINConv on a Batch), eager dense (PredictorNet + torch.optim.Adam), the
fast hand-written engine, and P predictors fitted at once by the batched engine.

    .venv/bin/python -m experiments.bench_predictor [--json] [--eager-epochs 30] [--device cpu]

Eager paths are timed on ``--eager-epochs`` epochs and their full-fit time is projected from the
measured steps/s (``projected: true`` in the JSON); the fast paths run the full fit.
The measurement itself is ssnenas.measure.predictor_speed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ssnenas.measure import predictor_speed

NB201_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "nasbench201" / "nb201_200epoch.csv"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--eager-epochs", type=int, default=30, help="epochs timed for the eager paths")
    ap.add_argument("--many", type=int, nargs="*", default=[8, 40], help="P values for batched fits")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    out = predictor_speed.measure(epochs=args.epochs, n=args.n, batch_size=args.batch_size,
                                  eager_epochs=args.eager_epochs, many=args.many, device=args.device,
                                  threads=args.threads, csv_path=NB201_CSV)
    print(json.dumps(out, indent=1) if args.json else "\n".join(predictor_speed.table(out)))
    return out


if __name__ == "__main__":
    main()
