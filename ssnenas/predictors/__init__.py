"""GIN performance predictors: the dense GIN encoder, the NPENAS/SSNENAS heads, the optimiser and
schedule of the original code, and fast fit/predict (NPENAS arXiv 2003.12857, SSNENAS arXiv 2011.00186)."""

from __future__ import annotations

from ssnenas.predictors.fit import Predictor, fit_eager, fit_many
from ssnenas.predictors.gin import GINEncoder
from ssnenas.predictors.heads import FineTuneHead, GaussianHead, NPHead, PredictorNet, gaussian_nll
from ssnenas.predictors.optim import lr_factors, make_adam, param_groups

__all__ = ["FineTuneHead", "GINEncoder", "GaussianHead", "NPHead", "Predictor", "PredictorNet",
           "fit_eager", "fit_many", "gaussian_nll", "lr_factors", "make_adam", "param_groups"]
