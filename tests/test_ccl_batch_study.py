"""The SS-CCL batch-size analysis (README "SS-CCL batch size") on small inputs: SS-CCL checkpoints that differ
only in N (and M = N / 2, K = N - margin) compared by one labelled predictor study, then the README table."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from experiments.predictor_study_markdown import study_markdown
from ssnenas.cli import main
from ssnenas.predstudy import cell_path
from ssnenas.pretrain import CCLConfig, read_checkpoint, sample_archs, train_ccl

SIZES = (300, 150)  # N; the README's run uses 2500 / 5000 / 10000 / 15625 on all of NB201


@pytest.fixture(scope="module")
def batch_checkpoints(tmp_path_factory):
    d = tmp_path_factory.mktemp("ccl_batch")
    archs = sample_archs("nasbench201", 300, seed=5)
    paths = {}
    for n in SIZES:
        paths[n] = d / f"ccl_N{n}.pt"
        train_ccl(archs, paths[n], config=CCLConfig(batch_size=n, train_samples=n // 2, batch_step=min(20, n // 2),
                                                    min_negative_size=n - 50, epochs=1),
                  device="cpu", progress=False)
    return paths


@pytest.mark.slow  # one ~10 s CLI study on the full NB201 store
def test_labelled_ccl_checkpoints_of_several_n_compare_on_paired_splits(synthetic_nb201_store, batch_checkpoints, tmp_path):
    for n, path in batch_checkpoints.items():
        cfg = read_checkpoint(path)["config"]
        assert (cfg["batch_size"], cfg["train_samples"], cfg["min_negative_size"]) == (n, n // 2, n - 50)
    out = tmp_path / "study"
    labels = [f"ss-ccl:N{n}" for n in SIZES]
    args = ["predictor-study", "--space", "nb201", "--data", str(synthetic_nb201_store), "--predictors", "gin",
            *(f"{label}={batch_checkpoints[n]}" for label, n in zip(labels, SIZES)),
            "--baseline", "gin", "--train-sizes", "10", "--repeats", "2", "--epochs", "3", "--seed", "3",
            "--out", str(out), "--device", "cpu", "--no-progress", "--json"]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(args) == 0
    payload = json.loads(buf.getvalue())
    names = ["gin", *labels]
    assert [p["name"] for p in payload["predictors"]] == names
    assert [p["kind"] for p in payload["predictors"]] == ["gin", "ss-ccl", "ss-ccl"]
    assert len({p["checkpoint_sha256"] for p in payload["predictors"][1:]}) == 2
    assert {(p["predictor"], p["baseline"]) for p in payload["paired"]} == {(label, "gin") for label in labels}
    # paired: every checkpoint is fine-tuned on gin's split with gin's fit seed
    for r in range(2):
        cells = [json.loads(cell_path(out, p, 10, r).read_text()) for p in names]
        assert len({tuple(c["train_indices"]) for c in cells}) == 1 and len({c["fit_seed"] for c in cells}) == 1
    table = study_markdown(payload)
    assert "| train size | τ gin | τ ss-ccl:N300 | τ ss-ccl:N150 | Δτ ss-ccl:N300 (wins, p) |" in table
