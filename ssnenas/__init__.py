"""ssnenas: Ray-based predictor-guided evolutionary NAS (NPENAS) with self-supervised GIN predictors.

The library layer: search spaces, encodings, the benchmark store, predictors, pre-training, DARTS
training, analysis and the CLI. It never imports ``search_algos``, ``trainables`` or ``experiments``.
"""

__version__ = "0.1.0"
