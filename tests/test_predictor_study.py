"""Predictor study: correlations, paired splits, the CLI end to end, resume, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy import stats

from ssnenas.cli import main
from ssnenas.errors import InputError, StoreError
from ssnenas.predstudy import (DEFAULT_LR, StudyConfig, cell_path, fit_seed, paired_difference, parse_lr_overrides,
                               parse_predictors, rank_correlation, spread, summarise, train_split)


# -- metrics on literal data ---------------------------------------------------------------------
def test_rank_correlation_literal_values():
    # one swap in each half: 2 discordant of 10 pairs -> tau = 0.6; sum d^2 = 4 -> rho = 1 - 24/120 = 0.8
    c = rank_correlation([1, 2, 3, 4, 5], [1, 3, 2, 5, 4])
    assert c.kendall_tau == pytest.approx(0.6, abs=1e-12)
    assert c.spearman_rho == pytest.approx(0.8, abs=1e-12)
    assert not c.kendall_tau_nan and not c.spearman_rho_nan
    reverse = rank_correlation([0.9, 0.8, 0.7, 0.6], [1, 2, 3, 4])
    assert reverse.kendall_tau == pytest.approx(-1.0) and reverse.spearman_rho == pytest.approx(-1.0)


def test_rank_correlation_with_ties_equals_scipy_tau_b():
    pred = [0.31, 0.52, 0.52, 0.11, 0.90, 0.47, 0.47, 0.05]
    true = [91.2, 90.1, 93.3, 85.0, 93.3, 10.0, 88.8, 70.4]
    c = rank_correlation(pred, true)
    assert c.kendall_tau == pytest.approx(stats.kendalltau(pred, true).statistic, abs=1e-12)
    assert c.spearman_rho == pytest.approx(stats.spearmanr(pred, true).statistic, abs=1e-12)
    assert 0 < c.kendall_tau < c.spearman_rho < 1


def test_constant_prediction_counts_as_zero_and_is_flagged():
    c = rank_correlation([0.5, 0.5, 0.5, 0.5], [1.0, 2.0, 3.0, 4.0])
    assert (c.kendall_tau, c.spearman_rho, c.kendall_tau_nan, c.spearman_rho_nan) == (0.0, 0.0, True, True)


def test_spread_and_paired_difference_literal():
    s = spread([0.1, 0.2, 0.3, 0.4])
    assert s["mean"] == pytest.approx(0.25)
    assert s["std"] == pytest.approx(math.sqrt(0.05 / 3))
    assert s["sem"] == pytest.approx(math.sqrt(0.05 / 3) / 2)
    assert (s["min"], s["max"], s["n"]) == (0.1, 0.4, 4)
    assert spread([0.3])["std"] is None and spread([0.3])["sem"] is None
    # 5 positive differences of distinct size: exact two-sided Wilcoxon p = 2 / 2^5
    d = paired_difference([0.5, 0.6, 0.7, 0.8, 0.9], [0.4, 0.4, 0.4, 0.4, 0.4])
    assert d["p_value"] == pytest.approx(0.0625)
    assert d["mean_diff"] == pytest.approx(0.3) and (d["wins"], d["losses"], d["n"]) == (5, 0, 5)
    assert paired_difference([0.2, 0.3], [0.2, 0.3])["p_value"] is None  # no non-zero difference


def test_summarise_groups_and_counts_nan():
    rows = [{"predictor": "gin", "kind": "gin", "train_size": 20, "repeat": r, "kendall_tau": t,
             "spearman_rho": 2 * t, "kendall_tau_nan": t == 0.0, "spearman_rho_nan": t == 0.0, "lr": 1e-3,
             "epochs": 3, "fit_seconds": 1.0} for r, t in enumerate([0.0, 0.2, 0.4])]
    (res,) = summarise(rows)
    assert res["kendall_tau"] == pytest.approx(0.2) and res["spearman_rho"] == pytest.approx(0.4)
    assert res["kendall_tau_nan"] == 1 and res["n"] == 3
    assert res["kendall_tau_min"] == 0.0 and res["kendall_tau_max"] == 0.4


# -- splits and predictor specs ------------------------------------------------------------------
def test_train_split_is_seeded_disjoint_and_predictor_free():
    labelled = np.arange(1000)
    train, test = train_split(labelled, 50, seed=7, repeat=3)
    again, _ = train_split(labelled, 50, seed=7, repeat=3)
    assert np.array_equal(train, again)
    assert len(train) == 50 and len(test) == 950 and not set(train) & set(test)
    assert set(train) | set(test) == set(labelled.tolist())
    assert not np.array_equal(train, train_split(labelled, 50, seed=7, repeat=4)[0])
    assert not np.array_equal(train, train_split(labelled, 50, seed=8, repeat=3)[0])
    assert fit_seed(7, 3, 50) == fit_seed(7, 3, 50) != fit_seed(7, 4, 50)
    with pytest.raises(ValueError):
        train_split(labelled, 1000, seed=0, repeat=0)


def test_parse_predictors_lr_table_and_overrides():
    specs = parse_predictors(["gin", "ss-rl=a.pt", "ss-ccl=b.pt", "ss-ccl:140k=c.pt"], space="nasbench101")
    assert [(s.name, s.kind, s.lr) for s in specs] == [
        ("gin", "gin", 5e-3), ("ss-rl", "ss-rl", 5e-4), ("ss-ccl", "ss-ccl", 5e-3), ("ss-ccl:140k", "ss-ccl", 5e-3)]
    nb201 = parse_predictors(["gin", "ss-rl=a.pt", "ss-ccl=b.pt"], space="nasbench201",
                             lr_overrides=parse_lr_overrides(["ss-ccl=2e-3"]))
    assert [s.lr for s in nb201] == [1e-3, 1e-3, 2e-3]
    assert DEFAULT_LR["gin"]["darts"] == DEFAULT_LR["gin"]["nasbench101"]
    # every space the library has gets an lr (TransNAS-Bench-101 micro: NB201's, the same cell)
    from ssnenas.spaces import space_names

    for space in space_names():
        assert [s.lr for s in parse_predictors(["gin", "ss-rl=a.pt", "ss-ccl=b.pt"], space=space)]
    assert [s.lr for s in parse_predictors(["gin", "ss-rl=a.pt", "ss-ccl=b.pt"], space="transnas101-micro")] == \
        [s.lr for s in parse_predictors(["gin", "ss-rl=a.pt", "ss-ccl=b.pt"], space="nasbench201")]
    for bad in (["bogus"], ["gin=x.pt"], ["ss-rl"], ["gin", "gin"], [], ["ss-ccl:=c.pt"], ["ss-ccl:a/b=c.pt"]):
        with pytest.raises(InputError):
            parse_predictors(bad, space="nasbench201")
    with pytest.raises(InputError, match="no predictor or kind"):
        parse_predictors(["gin"], space="nasbench201", lr_overrides={"ss-rl": 1e-3})
    with pytest.raises(InputError):
        parse_lr_overrides(["gin:1e-3"])
    with pytest.raises(InputError):
        StudyConfig(train_sizes=(20, 20))


# -- the synthetic NB201 store, tiny pre-trained checkpoints, and one CLI run --------------------
@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """One-epoch SS-RL and SS-CCL checkpoints on 300 sampled NB201 cells (real format, tiny run)."""
    from ssnenas.pretrain import CCLConfig, SSRLConfig, sample_archs, train_ccl, train_ssrl

    d = tmp_path_factory.mktemp("ckpt")
    archs = sample_archs("nasbench201", 300, seed=5)
    train_ssrl(archs, d / "rl.pt", config=SSRLConfig(epochs=1, lr=1e-3), device="cpu", progress=False)
    train_ccl(archs, d / "ccl.pt", config=CCLConfig(batch_size=300, train_samples=40, batch_step=20,
                                                    min_negative_size=250, epochs=1), device="cpu", progress=False)
    return d / "rl.pt", d / "ccl.pt"


def _args(store, out, rl, ccl, *extra):
    return ["predictor-study", "--space", "nb201", "--data", str(store), "--predictors", "gin",
            f"ss-rl={rl}", f"ss-ccl={ccl}", "--train-sizes", "10", "30", "--repeats", "2", "--epochs", "3",
            "--seed", "11", "--out", str(out), "--device", "cpu", "--no-progress", "--json", *extra]


@pytest.fixture(scope="module")
def study(synthetic_nb201_store, checkpoints, tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "out"
    args = _args(synthetic_nb201_store, out, *checkpoints)
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(args) == 0
    return out, args, json.loads(buf.getvalue())


@pytest.mark.slow  # shares one ~10 s CLI run on the full NB201 store
def test_cli_run_json_schema_and_files(study):
    out, _, payload = study
    results = payload["results"]
    assert [(r["predictor"], r["train_size"]) for r in results] == [
        (p, n) for p in ("gin", "ss-rl", "ss-ccl") for n in (10, 30)]
    for r in results:
        for m in ("kendall_tau", "spearman_rho"):
            assert -1.0 <= r[m] <= 1.0
            assert r[f"{m}_min"] <= r[m] <= r[f"{m}_max"]
            assert r[f"{m}_std"] >= 0 and r[f"{m}_sem"] == pytest.approx(r[f"{m}_std"] / math.sqrt(2))
            assert r[f"{m}_nan"] in (0, 1, 2)
        assert r["n"] == 2 and r["epochs"] == 3
    lrs = {r["predictor"]: r["lr"] for r in results}
    assert lrs == {"gin": 1e-3, "ss-rl": 1e-3, "ss-ccl": 5e-3}  # the original code's NB201 learning rates
    paired = payload["paired"]
    assert {(p["predictor"], p["train_size"], p["metric"]) for p in paired} == {
        (p, n, m) for p in ("ss-rl", "ss-ccl") for n in (10, 30) for m in ("kendall_tau", "spearman_rho")}
    assert all(p["baseline"] == "gin" and p["n"] == 2 for p in paired)
    assert payload["cells_computed"] == 12 and payload["cells_resumed"] == 0
    assert payload["num_archs"] == 15625 and payload["space"] == "nasbench201"
    for name in ("repeats.parquet", "summary.parquet", "paired.parquet", "study.json"):
        assert (out / name).is_file()
    png = (out / "tau_vs_train_size.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    rows = pq.read_table(out / "repeats.parquet").to_pylist()
    assert len(rows) == 12
    # the summary is the mean of the per-repeat rows
    gin10 = [r["kendall_tau"] for r in rows if r["predictor"] == "gin" and r["train_size"] == 10]
    assert results[0]["kendall_tau"] == pytest.approx(np.mean(gin10))
    assert pq.read_table(out / "summary.parquet").num_rows == 6
    # the paired difference is over the same repeats (same splits) of predictor and baseline
    tau = {(r["predictor"], r["train_size"], r["repeat"]): r["kendall_tau"] for r in rows}
    p = next(p for p in paired if (p["predictor"], p["train_size"], p["metric"]) == ("ss-ccl", 30, "kendall_tau"))
    diffs = [tau[("ss-ccl", 30, r)] - tau[("gin", 30, r)] for r in range(2)]
    assert p["mean_diff"] == pytest.approx(np.mean(diffs)) and p["wins"] == sum(d > 0 for d in diffs)
    assert pq.read_table(out / "paired.parquet").num_rows == len(paired)


@pytest.mark.slow  # shares one ~10 s CLI run on the full NB201 store
def test_every_predictor_gets_the_same_split(study):
    out, _, _ = study
    for n in (10, 30):
        for r in range(2):
            cells = [json.loads(cell_path(out, p, n, r).read_text()) for p in ("gin", "ss-rl", "ss-ccl")]
            assert len({tuple(c["train_indices"]) for c in cells}) == 1
            assert len({c["fit_seed"] for c in cells}) == 1 and len({c["split_digest"] for c in cells}) == 1
            assert len(cells[0]["train_indices"]) == n and cells[0]["n_test"] == 15625 - n
    a = json.loads(cell_path(out, "gin", 10, 0).read_text())["train_indices"]
    b = json.loads(cell_path(out, "gin", 10, 1).read_text())["train_indices"]
    assert a != b
    # the pre-trained encoders give different predictions from the random one on the same split
    taus = {p: json.loads(cell_path(out, p, 30, 0).read_text())["kendall_tau"] for p in ("gin", "ss-rl", "ss-ccl")}
    assert len(set(taus.values())) == 3


@pytest.mark.slow  # shares one ~10 s CLI run on the full NB201 store
def test_resume_skips_finished_cells(study, capsys):
    out, args, first = study
    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["cells_computed"] == 0 and again["cells_resumed"] == 12
    assert again["results"] == first["results"]
    victim = cell_path(out, "ss-ccl", 30, 1)
    before = json.loads(victim.read_text())
    kept = cell_path(out, "gin", 10, 0)
    kept_before = kept.stat().st_mtime_ns
    victim.unlink()
    assert main(args) == 0
    third = json.loads(capsys.readouterr().out)
    assert third["cells_computed"] == 1 and third["cells_resumed"] == 11
    assert victim.is_file() and kept.stat().st_mtime_ns == kept_before
    after = json.loads(victim.read_text())
    # same split and fit seed; trained alone instead of batched with repeat 0, so equal up to float
    # rounding (which Adam with beta1 = 0 amplifies a little)
    assert after["train_indices"] == before["train_indices"] and after["fit_seed"] == before["fit_seed"]
    assert (after["group_size"], before["group_size"]) == (1, 2)
    assert after["kendall_tau"] == pytest.approx(before["kendall_tau"], abs=1e-3)
    untouched = [r for r in third["results"] if r["predictor"] != "ss-ccl" or r["train_size"] != 30]
    assert untouched == [r for r in first["results"] if r["predictor"] != "ss-ccl" or r["train_size"] != 30]


@pytest.mark.slow  # shares one ~10 s CLI run on the full NB201 store
def test_resume_refuses_other_settings(study, capsys):
    out, args, _ = study
    changed = [a if a != "3" else "4" for a in args]  # --epochs 3 -> 4
    assert main(changed) == 2
    err = capsys.readouterr().err
    assert "other settings" in err and "epochs: 3 there vs 4 now" in err


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mutate, message", [
    (lambda a, rl, ccl: a[:a.index("gin")] + ["gin", "bogus"] + a[a.index("--train-sizes"):], "unknown predictor"),
    (lambda a, rl, ccl: [x.replace(f"ss-rl={rl}", "ss-rl=/nonexistent/rl.pt") for x in a], "no such file"),
    (lambda a, rl, ccl: [x.replace(f"ss-rl={rl}", f"ss-rl={ccl}") for x in a], "not an ss-rl pre-training"),
    (lambda a, rl, ccl: [x if x != "30" else "15624" for x in a], "at most 15623"),
    (lambda a, rl, ccl: [x if x != "nb201" else "nb101" for x in a], "nasbench201"),
])
def test_bad_input_exits_2_without_output(synthetic_nb201_store, checkpoints, tmp_path, capsys, mutate, message):
    rl, ccl = checkpoints
    out = tmp_path / "never"
    args = mutate(_args(synthetic_nb201_store, out, rl, ccl), rl, ccl)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not out.exists()


def test_checkpoint_of_another_space_is_refused(checkpoints, tmp_path):
    from ssnenas.predstudy import load_predictor

    spec = parse_predictors([f"ss-ccl={checkpoints[1]}"], space="nasbench101")[0]
    with pytest.raises(StoreError, match="nasbench101"):
        load_predictor(spec, space="nasbench101", num_features=5)
