"""Predictor study (SSNENAS, arXiv 2011.00186): how well the supervised GIN and the SS-RL / SS-CCL
fine-tuned predictors rank the architectures they were not trained on, as a function of the training-set
size.

    from ssnenas.predstudy import StudyConfig, load_data, load_predictors, parse_predictors, run_study
    data = load_data(BenchmarkStore.open(dir), space="nasbench201")
    preds = load_predictors(parse_predictors(["gin", "ss-ccl=ccl.pt"], space=data.space),
                            space=data.space, num_features=data.num_features)
    rows = run_study(data, preds, "study-out", config=StudyConfig(train_sizes=(20, 50), repeats=20))
    payload = write_outputs(Path("study-out"), rows, meta={...})

The CLI is ``ssnenas predictor-study`` (:mod:`ssnenas.cli.predictor_study`).
"""

from __future__ import annotations

from ssnenas.predstudy.report import format_table, paired_comparisons, summarise, write_outputs
from ssnenas.predstudy.spec import (BASELINE, DEFAULT_LR, KINDS, LoadedPredictor, PredictorSpec, load_predictor,
                                    parse_lr_overrides, parse_predictors)
from ssnenas.predstudy.splits import fit_seed, train_split
from ssnenas.predstudy.study import (DEFAULT_TRAIN_SIZES, StudyConfig, StudyData, cell_path, config_dict,
                                     load_data, load_predictors, run_study)
from ssnenas.stats import Correlation, paired_difference, rank_correlation, spread

__all__ = ["BASELINE", "DEFAULT_LR", "DEFAULT_TRAIN_SIZES", "KINDS", "Correlation", "LoadedPredictor",
           "PredictorSpec", "StudyConfig", "StudyData", "cell_path", "config_dict", "fit_seed", "format_table",
           "load_data", "load_predictor", "load_predictors", "paired_comparisons", "paired_difference",
           "parse_lr_overrides", "parse_predictors", "rank_correlation", "run_study", "spread", "summarise",
           "train_split", "write_outputs"]
