"""The fixed-budget NPENAS study (SSNENAS §5.2): ``-fixed:N`` algorithm names, the predictor frozen
after N, training_nums >= budget equal to the unrestricted search, the per-trial fit time in the
rows, the report's paired comparison with the unrestricted reference and its plot, and the
one-line errors of bad names and references.

Small settings throughout (a few epochs, 20 candidates, the tiny session checkpoints) on the synthetic
NAS-Bench-201 table (tests/synthetic_tables.py), so they run on any clone.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from search_algos import canonical_algorithm, make_searcher, parse_algorithm, run_direct
from search_algos._cohort import FitRequest, fulfil
from ssnenas.analysis import build_report, finished_tasks, format_table, result_path
from ssnenas.cli import main
from ssnenas.errors import InputError
from trainables.tabular import tabular_evaluator

FAST = {"epochs": 3, "num_candidates": 20, "children_per_parent": 10}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# -- names ----------------------------------------------------------------------------------------
def test_fixed_names_carry_their_training_nums():
    assert parse_algorithm("npenas-ssrl-fixed:20") == ("npenas-ssrl-fixed", 20)
    assert parse_algorithm("npenas-ssccl-fixed:150") == ("npenas-ssccl-fixed", 150)
    assert parse_algorithm("npenas-ssrl-fixed") == ("npenas-ssrl-fixed", None)
    assert parse_algorithm("npenas-ssrl") == ("npenas-ssrl", None)
    assert canonical_algorithm("NPENAS-NP-FIXED:80") == "npenas-np-fixed:80"
    s = make_searcher("npenas-np-fixed:80", space="nasbench201", store=None, seed=0, budget=100)
    assert s.training_nums == 80 and s.predictor == "gin"
    # the bare name keeps the original code's value (NB201: 50, NB101: SS variants 90)
    assert make_searcher("npenas-np-fixed", space="nasbench201", store=None, seed=0, budget=100).training_nums == 50


@pytest.mark.parametrize("name, message", [
    ("npenas-ssrl-fixed:0", "training_nums '0' after ':' must be a whole number >= 1"),
    ("npenas-ssrl-fixed:-5", "training_nums '-5'"),
    ("npenas-ssrl-fixed:020", "without leading zeros"),
    ("npenas-ssrl-fixed:2.5", "training_nums '2.5'"),
    ("npenas-ssrl-fixed:", "training_nums ''"),
    ("npenas-ssrl:20", "only the fixed-budget variants"),
    ("rea:3", "only the fixed-budget variants"),
    ("npenas-xx-fixed:20", "unknown search algorithm 'npenas-xx-fixed:20'"),
])
def test_bad_fixed_names_are_input_errors(name, message):
    with pytest.raises(InputError, match=None) as err:
        parse_algorithm(name)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_set_reaches_a_fixed_name_with_its_training_nums():
    from ssnenas.runner.config import overrides_for as _overrides_for
    from ssnenas.runner.config import parse_overrides as _parse_overrides
    from ssnenas.runner.config import predictor_for as _predictor_for

    overrides = _parse_overrides(["npenas-ssrl-fixed:20:epochs=50", "lr=0.01"])
    assert overrides == {"npenas-ssrl-fixed:20": {"epochs": 50}, "*": {"lr": 0.01}}
    assert _overrides_for("npenas-ssrl-fixed:20", overrides) == {"lr": 0.01, "epochs": 50}
    assert _overrides_for("npenas-ssrl-fixed:50", overrides) == {"lr": 0.01}
    assert _predictor_for("npenas-ssccl-fixed:20", {"ss-ccl": Path("/c.pt")}) == "/c.pt"


def test_training_nums_given_twice_is_an_error():
    with pytest.raises(InputError, match="training_nums is set twice"):
        make_searcher("npenas-np-fixed:20", space="nasbench201", store=None, seed=0, budget=50, training_nums=30)


# -- the search -----------------------------------------------------------------------------------
def _initial(store, trial: int) -> list[str]:
    return [str(a) for a in store.column("arch")[store.sample_indices(10, np.random.default_rng(trial))]]


def _search(name, store, ckpt, *, budget, seed=7, trial=0, **extra):
    s = make_searcher(name, space="nasbench201", store=store, seed=seed, budget=budget,
                      initial_archs=_initial(store, trial), predictor_checkpoint=ckpt, **FAST, **extra)
    run_direct(s, tabular_evaluator(store), budget)
    return s


def test_the_predictor_is_frozen_once_trained_on_n(synthetic_nb201_benchmark, nb201_checkpoints):
    ckpt = nb201_checkpoints["ss-rl"]
    sizes = []
    for n, fits in ((10, 1), (20, 2), (25, 3), (30, 3)):  # trained on 10, 20, 30 ...: first multiple of k >= N
        s = _search(f"npenas-ssrl-fixed:{n}", synthetic_nb201_benchmark, ckpt, budget=60)
        assert s.training_nums == n and s.timings["fits"] == fits, n
        sizes.append(s._fit_size)
        assert len(s.history) == 60  # the search itself goes on with all the data
    assert sizes == [10, 20, 30, 30]
    full = _search("npenas-ssrl", synthetic_nb201_benchmark, ckpt, budget=60)
    assert full.timings["fits"] == 5 and full.timings["predictor_fit_s"] > 0


def test_training_nums_100_and_150_equal_the_unrestricted_search_at_budget_100(synthetic_nb201_benchmark, nb201_checkpoints):
    """At NB201's budget 100 the predictor is trained on 10, 20, ..., 90 archs: N = 100 and 150 never
    freeze it. With the same seed the search is the unrestricted one; what still differs by default is
    the original code's batch size of the fixed variants (16 once the training set exceeds 10, against
    10), so the identity holds once the batch size is the same."""
    ckpt = nb201_checkpoints["ss-rl"]
    runs = {name: _search(name, synthetic_nb201_benchmark, ckpt, budget=100, batch_size=10)
            for name in ("npenas-ssrl", "npenas-ssrl-fixed:100", "npenas-ssrl-fixed:150")}
    archs = {name: [r["arch"] for r in s.history] for name, s in runs.items()}
    assert archs["npenas-ssrl-fixed:100"] == archs["npenas-ssrl"] == archs["npenas-ssrl-fixed:150"]
    assert {s.timings["fits"] for s in runs.values()} == {9}
    assert runs["npenas-ssrl-fixed:100"]._fit_size == 90
    # by default (no batch_size): the same 9 fits, on batches of 16 instead of 10
    fixed = make_searcher("npenas-ssrl-fixed:100", space="nasbench201", store=synthetic_nb201_benchmark, seed=7, budget=100,
                          predictor_checkpoint=ckpt)
    full = make_searcher("npenas-ssrl", space="nasbench201", store=synthetic_nb201_benchmark, seed=7, budget=100,
                         predictor_checkpoint=ckpt)
    assert [fixed._fit_batch_size(n) for n in range(10, 100, 10)] == [10] + [16] * 8
    assert [full._fit_batch_size(n) for n in range(10, 100, 10)] == [10] * 9


def test_a_cohort_trial_records_its_share_of_the_batched_fit():
    class Sleepy(FitRequest):
        def group_key(self):
            return ()

        @classmethod
        def fit_batch(cls, requests):
            time.sleep(0.2)
            return [None] * len(requests)

    requests = [Sleepy() for _ in range(4)]
    t0 = time.perf_counter()
    fulfil(requests)
    wall = time.perf_counter() - t0
    shares = [r.elapsed for r in requests]
    assert len(set(shares)) == 1 and 0.2 / 4 <= shares[0] <= wall / 4 + 1e-6


# -- the benchmark and its report -----------------------------------------------------------------
@pytest.fixture(scope="module")
def study_run(ray_session, synthetic_nb201_store, nb201_checkpoints, tmp_path_factory):
    """``ssnenas benchmark`` with the unrestricted SS-RL search and two fixed variants (cohorts of 2)."""
    run = tmp_path_factory.mktemp("fixed") / "run"
    argv = ["benchmark", "--quiet", "--space", "nasbench201", "--data", str(synthetic_nb201_store), "--algos", "npenas-ssrl",
            "npenas-ssrl-fixed:10", "npenas-ssrl-fixed:20", "--trials", "3", "--budget", "30", "--seed", "3",
            "--predictor", f"ss-rl={nb201_checkpoints['ss-rl']}", "--out", str(run),
            "--set", *(f"{k}={v}" for k, v in FAST.items())]
    assert main(argv) == 0
    return run, argv


def test_fixed_variants_run_in_the_benchmark_with_their_fit_time(study_run, capsys):
    run, argv = study_run
    files = finished_tasks(run)
    assert sorted(files) == sorted((t, a) for t in range(3)
                                   for a in ("npenas-ssrl", "npenas-ssrl-fixed:10", "npenas-ssrl-fixed:20"))
    assert files[(0, "npenas-ssrl-fixed:10")] == result_path(run, 0, "npenas-ssrl-fixed:10")
    assert files[(0, "npenas-ssrl-fixed:10")].name == "algo=npenas-ssrl-fixed%3A10.parquet"
    config = json.loads((run / "config.json").read_text())
    assert config["cohort_sizes"] == {"npenas-ssrl": 3, "npenas-ssrl-fixed:10": 3, "npenas-ssrl-fixed:20": 3}
    fits = {"npenas-ssrl": 2, "npenas-ssrl-fixed:10": 1, "npenas-ssrl-fixed:20": 2}
    for (trial, algo), path in files.items():
        t = pq.read_table(path).to_pydict()
        assert set(t["algorithm"]) == {algo}
        assert set(t["timing_fits"]) == {fits[algo]}
        assert len(set(t["timing_predictor_fit_s"])) == 1 and t["timing_predictor_fit_s"][0] > 0
    capsys.readouterr()
    assert main(argv) == 0  # resumable: the escaped file names are found again
    assert "all 9 tasks are already done" in capsys.readouterr().out


def test_the_report_compares_each_fixed_variant_with_the_unrestricted_search(study_run, capsys):
    run, _ = study_run
    assert main(["report", str(run), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    comps = report["comparisons"]
    assert sorted(comps) == ["npenas-ssrl-fixed:10", "npenas-ssrl-fixed:20"]
    c = comps["npenas-ssrl-fixed:10"]
    assert c["reference"] == "npenas-ssrl" and c["query"] == 30 and c["num_pairs"] == 3
    assert c["fits_mean"] == 1 and c["reference_fits_mean"] == 2
    assert c["predictor_fit_s_saving_pct"] == pytest.approx(
        100 * (1 - c["predictor_fit_s_mean"] / c["reference_predictor_fit_s_mean"]), abs=1e-4)
    assert set(c["diff_best_val_acc"]) == {"mean_diff", "sem", "wins", "losses", "ties", "p_value"}
    assert report["algorithms"]["npenas-ssrl"]["fits_mean"] == 2
    assert (run / "report.png").is_file() and (run / "fixed_budget.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["report", str(run), "--no-plot"]) == 0
    text = capsys.readouterr().out
    assert "paired comparison with the reference at 30 queries" in text
    section = text.split("paired comparison with the reference")[1].splitlines()
    row = next(line for line in section if line.startswith("npenas-ssrl-fixed:10 "))
    assert " npenas-ssrl " in row and row.rstrip().endswith("%")
    # an explicit reference compares every other algorithm with it
    r = build_report(run, reference="npenas-ssrl-fixed:20")
    assert {a: c["reference"] for a, c in r["comparisons"].items()} == {
        "npenas-ssrl": "npenas-ssrl-fixed:20", "npenas-ssrl-fixed:10": "npenas-ssrl-fixed:20"}


# -- the comparison's numbers, on a hand-written run ----------------------------------------------
VAL = {"x": [90.0, 91.0, 92.0, 93.0, 94.0], "x-fixed:5": [89.0, 91.0, 91.5, 93.0, 92.0]}
FIT = {"x": [10.0, 12.0, 8.0, 10.0, 10.0], "x-fixed:5": [2.0, 3.0, 1.0, 2.0, 2.0]}


def _hand_run(run: Path, *, timings: bool = True) -> None:
    config = {"kind": "benchmark", "space": "nasbench201", "benchmark": "nasbench201", "dataset": "cifar10-valid",
              "algorithms": ["x", "x-fixed:5", "y"], "trials": 5, "budget": 10, "seed": 0, "data_fingerprint": "f"}
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(config))
    for algo in config["algorithms"]:
        for trial in range(5):
            v = VAL.get(algo, [80.0] * 5)[trial]
            cols = {"trial": [trial] * 10, "algorithm": [algo] * 10, "seed": [1] * 10, "query": list(range(1, 11)),
                    "arch": ["a"] * 10, "key": [str(i) for i in range(10)],
                    "val_acc": [50.0] * 9 + [v], "test_acc": [60.0] * 9 + [v + 1],
                    "wall_time_s": [1.0] * 10, "search_time_s": [1.0] * 10}
            if timings and algo != "y":  # y: a searcher that fits no predictor and records nothing
                cols["timing_predictor_fit_s"] = [FIT[algo][trial]] * 10
                cols["timing_fits"] = [9.0 if algo == "x" else 1.0] * 10
            path = result_path(run, trial, algo)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.table(cols), path)


def test_the_paired_comparison_matches_scipy(tmp_path):
    _hand_run(tmp_path / "run")
    r = build_report(tmp_path / "run")
    assert list(r["comparisons"]) == ["x-fixed:5"]  # y is no fixed variant; x has no reference
    c = r["comparisons"]["x-fixed:5"]
    d = np.array(VAL["x-fixed:5"]) - np.array(VAL["x"])
    assert c["diff_best_val_acc"]["mean_diff"] == pytest.approx(d.mean())
    assert c["diff_best_val_acc"]["sem"] == pytest.approx(d.std(ddof=1) / np.sqrt(5))
    assert (c["diff_best_val_acc"]["wins"], c["diff_best_val_acc"]["losses"], c["diff_best_val_acc"]["ties"]) == \
        (0, 3, 2)
    assert c["diff_best_val_acc"]["p_value"] == pytest.approx(stats.wilcoxon(d[d != 0]).pvalue, abs=1e-6)
    assert c["diff_test_acc_of_best_val"]["mean_diff"] == pytest.approx(d.mean())
    assert (c["fits_mean"], c["reference_fits_mean"]) == (1.0, 9.0)
    assert c["predictor_fit_s_mean"] == 2.0 and c["reference_predictor_fit_s_mean"] == 10.0
    assert c["predictor_fit_s_saving_pct"] == pytest.approx(80.0)
    assert r["algorithms"]["y"]["predictor_fit_s_mean"] is None
    text = format_table(r)
    assert "x-fixed:5" in text and "80.0%" in text and f"{d.mean():+.3f}" in text
    other = build_report(tmp_path / "run", reference="y")
    assert sorted(other["comparisons"]) == ["x", "x-fixed:5"]
    assert other["comparisons"]["x"]["predictor_fit_s_saving_pct"] is None  # y records no fit time


@pytest.mark.parametrize("bars", ["p30p70", "sem"])
def test_the_study_plot_is_drawn_for_fixed_n_variants_only(tmp_path, bars):
    from ssnenas.analysis.plots import fixed_budget_series, plot_fixed_budget

    _hand_run(tmp_path / "run")
    r = build_report(tmp_path / "run")
    assert fixed_budget_series(r) == {"x": [(5, "x-fixed:5")]}
    assert plot_fixed_budget(r, tmp_path / "s.png", bars=bars).read_bytes()[:4] == b"\x89PNG"
    r["comparisons"] = {}
    assert plot_fixed_budget(r, tmp_path / "none.png") is None and not (tmp_path / "none.png").exists()


def test_a_run_from_before_the_fit_timings_still_reports(tmp_path):
    _hand_run(tmp_path / "run", timings=False)
    r = build_report(tmp_path / "run")
    c = r["comparisons"]["x-fixed:5"]
    assert c["predictor_fit_s_mean"] is None and c["predictor_fit_s_saving_pct"] is None
    assert c["diff_best_val_acc"]["mean_diff"] == pytest.approx(-0.7)
    assert "n/a" in format_table(r)


def test_a_committed_report_without_comparisons_still_prints(capsys, tmp_path):
    saved = Path(__file__).resolve().parents[1] / "experiments/results/benchmark/nb201-cifar10-valid.json"
    assert main(["report", str(saved), "--no-plot"]) == 0
    assert "paired comparison" not in capsys.readouterr().out


# -- bad input: one line, exit 2, nothing written -------------------------------------------------
@pytest.mark.parametrize("algo, message", [
    ("npenas-ssrl-fixed:0", "--algos npenas-ssrl-fixed:0: algorithm 'npenas-ssrl-fixed:0': training_nums '0'"),
    ("npenas-ssrl:20", "only the fixed-budget variants"),
    ("npenas-ssrl-fixed:x", "training_nums 'x' after ':'"),
    ("NPENAS-SSRL-FIXED:20", "--algos NPENAS-SSRL-FIXED:20: write it as npenas-ssrl-fixed:20"),
    ("bogus-fixed:20", "--algos: unknown algorithm 'bogus-fixed:20'"),
])
def test_bad_algorithm_names_are_one_line_exit_2(algo, message, synthetic_nb201_store, tmp_path, capsys):
    run = tmp_path / "run"
    rc = main(["benchmark", "--quiet", "--space", "nasbench201", "--data", str(synthetic_nb201_store), "--algos", "random",
               algo, "--trials", "2", "--budget", "20", "--out", str(run)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: ") and "\n" not in err and message in err, err
    assert not run.exists()


def test_a_bad_reference_is_one_line_exit_2(tmp_path, capsys):
    _hand_run(tmp_path / "run")
    assert main(["report", str(tmp_path / "run"), "--reference", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --reference nope: not an algorithm of this run") and "\n" not in err
    assert not (tmp_path / "run" / "report.png").exists() and not (tmp_path / "run" / "fixed_budget.png").exists()
    assert main(["report", str(tmp_path / "run"), "--json", "--no-plot"]) == 0
    (tmp_path / "saved.json").write_text(capsys.readouterr().out)
    assert main(["report", str(tmp_path / "saved.json"), "--reference", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--reference x:" in err and "saved report" in err and "\n" not in err
    assert not (tmp_path / "saved.png").exists()
