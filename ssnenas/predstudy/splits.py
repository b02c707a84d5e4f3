"""Paired, seeded train/test splits of a predictor study (the original code draws unseeded ones).

For repeat r and training size n the split depends only on ``(seed, r, n)``, never on the predictor,
so every predictor of a (repeat, size) cell trains on the same architectures and is scored on the
same remaining ones: differences between predictors are paired. The random permutation of the
labelled rows comes from ``numpy.random.default_rng(SeedSequence([seed, r, n]))``; the first n rows
are the training set, all others the test set (the original ``dataset_split_idx``, seeded).

The fit seed (network initialisation and the per-epoch visiting order, ``ssnenas.predictors.fit``)
is ``SeedSequence([seed, r, n, 1])``'s first 31-bit word, likewise shared by all predictors: a random
encoder starts from the same weights, and every predictor sees its batches in the same order.
"""

from __future__ import annotations

import numpy as np

_SPLIT, _FIT = 0, 1


def fit_seed(seed: int, repeat: int, train_size: int) -> int:
    """The shared fit seed of cell ``(repeat, train_size)`` under the study ``seed``."""
    ss = np.random.SeedSequence([int(seed), int(repeat), int(train_size), _FIT])
    return int(ss.generate_state(1, dtype=np.uint32)[0] >> 1)


def train_split(labelled: np.ndarray, train_size: int, *, seed: int,
                repeat: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` row indices: a seeded permutation of ``labelled`` cut after ``train_size``.

    ``train`` keeps the permutation's order (it is also the order the cell records); ``test`` is sorted.
    """
    labelled = np.asarray(labelled, dtype=np.int64)
    if not 0 < train_size < labelled.size:
        raise ValueError(f"train_size {train_size} must be in [1, {labelled.size - 1}]")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(repeat), int(train_size), _SPLIT]))
    perm = rng.permutation(labelled)
    return perm[:train_size].copy(), np.sort(perm[train_size:])
