"""The predictor baselines of the SSNENAS predictor comparison, trained on the study's paired splits.

========== ===================================================== ======= ====== ===== =========
kind       model                                                 epochs  batch  lr    input
========== ===================================================== ======= ====== ===== =========
np-nas     Wen et al.'s bidirectional GCN, 144 / 128 (:mod:`.npnas`) 300   10     1e-4  graph
seminas    SemiNAS LSTM encoder-predictor-decoder, self-training  200     100    1e-3  tokens
           on 1,000 unlabelled archs, trade-off 0.8 (:mod:`.seminas`)
mlp        MLP 512-2048-2048-512, MAE (:mod:`.mlp`)               200     32     1e-2  adjacency
bananas    BANANAS ensemble of 5 MLPs, 10 layers, MAE (:mod:`.mlp`) 200/150 32   1e-3/1e-2 path
========== ===================================================== ======= ====== ===== =========

(bananas: the BANANAS searcher's settings, :func:`.mlp.bananas_settings`: width 200,
200 epochs, lr 1e-3 on NB201 and TransNAS-Bench-101 micro; width 20, 150 epochs, lr 0.01 on NB101 and
DARTS.) The number of epochs is part of each baseline's recipe:
a study's ``--epochs`` grid applies to the GIN predictors only. Every baseline regresses the same
target as the GINs (validation accuracy as a fraction) and is scored on the same test rows.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np
import torch

BASELINE_KINDS = ("np-nas", "seminas", "mlp", "bananas")
ENSEMBLE = 5  # bananas members per repeat


def recipe(kind: str, space: str) -> dict[str, Any]:
    """``epochs``, ``batch_size``, ``lr`` (and the model's own knobs) of a baseline on ``space``."""
    if kind == "np-nas":
        return {"epochs": 300, "batch_size": 10, "lr": 1e-4}
    if kind == "seminas":
        from ssnenas.predstudy.seminas import TRADE_OFF, UNLABELLED

        return {"epochs": 200, "batch_size": 100, "lr": 1e-3, "trade_off": TRADE_OFF, "unlabelled": UNLABELLED}
    if kind == "mlp":
        # fused_adam: the same update in one kernel per tensor (see :func:`.mlp.fit_predict_mlp`)
        return {"epochs": 200, "batch_size": 32, "lr": 1e-2, "hidden": [512, 2048, 2048, 512],
                "encoding": "adjacency", "fused_adam": True}
    if kind == "bananas":
        from ssnenas.predstudy.mlp import bananas_settings

        settings = bananas_settings(space, "path")
        return {"epochs": settings["epochs"], "batch_size": 32, "lr": settings["lr"],
                "hidden": [settings["width"]] * 10, "ensemble": ENSEMBLE, "encoding": "path"}
    raise ValueError(f"unknown baseline {kind!r}; choose one of {', '.join(BASELINE_KINDS)}")


_ENCODED: dict[tuple[str, str, int, str], torch.Tensor] = {}


def encoded(data: Any, encoding: str, device: torch.device) -> torch.Tensor:
    """``[num_archs, D]`` float32 encoding of every store row, all-zero columns dropped (cached)."""
    from ssnenas.predstudy.mlp import active_columns
    from ssnenas.spaces import get_space

    key = (data.fingerprint, data.space, data.num_archs, encoding)
    got = _ENCODED.get(key)
    if got is None:
        if data.archs is None:
            raise ValueError("this StudyData holds no arch strings; load it with load_data(store)")
        space = get_space(data.space)
        mat = np.stack([space.encode(space.from_str(a), encoding) for a in data.archs]).astype(np.float32)
        got = _ENCODED[key] = torch.as_tensor(mat[:, active_columns(mat)])
    return got.to(device)


def fit_predict(kind: str, data: Any, train: np.ndarray, *, seeds: Sequence[int], lr: float,
                device: torch.device, epochs: int | None = None) -> tuple[np.ndarray, float, float]:
    """Fit baseline ``kind`` once per row of ``train`` (``[P, n]`` store rows) and predict every row.

    Returns (scores ``[P, num_archs]`` float64, fit seconds, predict seconds) for the whole group;
    the prediction time is folded into the fit for the models that predict inside their loop.
    """
    rc = recipe(kind, data.space)
    if epochs is not None:
        rc["epochs"] = int(epochs)
    y = torch.as_tensor(data.target, dtype=torch.float32, device=device).nan_to_num(0.0)
    idx = torch.as_tensor(np.asarray(train), dtype=torch.long, device=device)
    t0 = time.perf_counter()
    if kind == "np-nas":
        from ssnenas.predstudy.npnas import fit_predict_npnas

        scores = fit_predict_npnas(data.x.to(device), data.adj.to(device), y, idx, seeds=seeds,
                                   epochs=rc["epochs"], batch_size=rc["batch_size"], lr=lr)
    elif kind == "seminas":
        from ssnenas.predstudy.seminas import fit_predict_seminas, graph_tokens

        tokens = graph_tokens(data.x.to(device), data.adj.to(device))
        scores = fit_predict_seminas(tokens, y, idx, seeds=seeds, epochs=rc["epochs"],
                                     batch_size=rc["batch_size"], lr=lr, unlabelled=rc["unlabelled"],
                                     vocab=2 + data.num_features)
    elif kind in ("mlp", "bananas"):
        from ssnenas.predstudy.mlp import fit_predict_mlp

        x = encoded(data, rc["encoding"], device)
        if kind == "mlp":
            scores = fit_predict_mlp(x, y, idx, seeds=seeds, hidden=rc["hidden"], epochs=rc["epochs"],
                                     batch_size=rc["batch_size"], lr=lr, fused_adam=rc["fused_adam"])
        else:
            member_seeds = [int(np.random.SeedSequence([int(s), k]).generate_state(1)[0] >> 1)
                            for s in seeds for k in range(ENSEMBLE)]
            members = fit_predict_mlp(x, y, idx.repeat_interleave(ENSEMBLE, dim=0), seeds=member_seeds,
                                      hidden=rc["hidden"], epochs=rc["epochs"], batch_size=rc["batch_size"],
                                      lr=lr, betas=(0.9, 0.99), eps=1e-7)
            scores = members.reshape(len(seeds), ENSEMBLE, -1).mean(dim=1)
    else:
        raise ValueError(f"unknown baseline {kind!r}; choose one of {', '.join(BASELINE_KINDS)}")
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return scores.detach().cpu().numpy().astype(np.float64), time.perf_counter() - t0, 0.0
