"""Real candidate training for the open-domain DARTS search (algorithms.md §1.3, §8).

- :mod:`ssnenas.darts.ops`: the 8 DARTS operations and the cell preprocessing blocks;
- :mod:`ssnenas.darts.model`: the DARTS CIFAR network built from a genotype;
- :mod:`ssnenas.darts.data`: CIFAR-10 (``cifar-10-batches-py``) and the embedded 8x8 digits data;
- :mod:`ssnenas.darts.train`: the candidate training loop of §8 and params/FLOPs.
"""
