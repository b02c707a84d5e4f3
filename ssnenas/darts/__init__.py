"""Real candidate training for the open-domain DARTS search (SSNENAS, arXiv 2011.00186).

- :mod:`ssnenas.darts.ops`: the 8 DARTS operations and the cell preprocessing blocks;
- :mod:`ssnenas.darts.model`: the DARTS CIFAR network built from a genotype;
- :mod:`ssnenas.darts.data`: CIFAR-10 (``cifar-10-batches-py``) and the embedded 8x8 digits data;
- :mod:`ssnenas.darts.train`: the original code's candidate training loop and params/FLOPs.
"""
