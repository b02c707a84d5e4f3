"""``ssnenas report``: the statistics checked against hand computations, on a hand-written run with
literal expected values and on a run of the real task code over the real NB201 table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ssnenas.analysis import best_so_far, build_report, checkpoints, format_table, read_results
from ssnenas.analysis.runs import result_path, write_result
from ssnenas.cli import main

# -- a hand-written run: algorithm "a" has 3 trials, "b" one trial of 21 queries (REA: budget + 1) --
# (val, test) at the positions that matter; every other query has val 50, test 50.
TRIALS_A = {
    0: {3: (80, 85), 15: (90, 91)},
    1: {2: (70, 72), 5: (70, 75), 12: (70, 99)},  # ties keep the first arch
    2: {1: (60, 66), 20: (95, 93)},
}
TRIAL_B = {4: (88, 89), 21: (99, 99)}  # the 21st query lies beyond the budget


def _write_run(run: Path, *, with_test: bool = True) -> None:
    config = {"kind": "benchmark", "space": "nasbench201", "benchmark": "nasbench201", "dataset": "cifar10-valid",
              "algorithms": ["b", "a"], "trials": 3, "budget": 20, "seed": 1, "data_fingerprint": "x"}
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(config))
    for algo, trials in (("a", TRIALS_A), ("b", {0: TRIAL_B})):
        for trial, special in trials.items():
            n = 21 if algo == "b" else 20
            val = [special.get(q, (50, 50))[0] for q in range(1, n + 1)]
            test = [special.get(q, (50, 50))[1] if with_test else None for q in range(1, n + 1)]
            table = pa.table({"trial": [trial] * n, "algorithm": [algo] * n, "seed": [11] * n,
                              "query": list(range(1, n + 1)), "arch": ["x"] * n, "key": [str(q) for q in range(n)],
                              "val_acc": pa.array(val, pa.float64()), "test_acc": pa.array(test, pa.float64()),
                              "wall_time_s": [2.0 + trial] * n, "search_time_s": [1.5] * n})
            path = result_path(run, trial, algo)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, path)


def test_best_so_far_and_checkpoints():
    v, t = best_so_far(np.array([np.nan, 3, 5, 5, 4, 7.0]), np.array([9, 1, 2, 3, 4, 5.0]))
    np.testing.assert_array_equal(v, [np.nan, 3, 5, 5, 5, 7])
    np.testing.assert_array_equal(t, [np.nan, 1, 2, 2, 2, 5])
    np.testing.assert_array_equal(checkpoints(100), np.arange(10, 101, 10))
    np.testing.assert_array_equal(checkpoints(25), [10, 20])


def test_report_matches_the_hand_computation(tmp_path):
    _write_run(tmp_path / "run")
    r = build_report(tmp_path / "run")
    assert list(r["algorithms"]) == ["b", "a"] and r["has_test"]
    a = r["algorithms"]["a"]
    assert a["queries"] == [10, 20] and a["num_trials"] == 3
    # q=10: best val (80, 70, 60), tests (85, 72, 66); q=20: (90, 70, 95), tests (91, 72, 93)
    assert a["mean_best_val_acc"] == [70.0, 85.0]
    assert a["std_best_val_acc"] == pytest.approx([math.sqrt(200 / 3), math.sqrt(350 / 3)], abs=1e-6)
    assert a["sem_best_val_acc"] == pytest.approx([10 / math.sqrt(3), math.sqrt(175) / math.sqrt(3)], abs=1e-6)
    assert a["p30_best_val_acc"] == pytest.approx([66.0, 82.0])
    assert a["p70_best_val_acc"] == pytest.approx([74.0, 92.0])
    assert a["mean_test_acc_of_best_val"] == pytest.approx([223 / 3, 256 / 3], abs=1e-6)
    assert a["p30_test_acc_of_best_val"] == pytest.approx([66 + 0.6 * 6, 72 + 0.6 * 19])
    assert a["wall_time_s_mean"] == 3.0 and a["search_time_s_total"] == 4.5
    b = r["algorithms"]["b"]  # one trial: std = sem = 0; the 21st query is not counted
    assert b["num_trials"] == 1 and b["mean_best_val_acc"] == [88.0, 88.0]
    assert b["mean_test_acc_of_best_val"] == [89.0, 89.0] and b["sem_best_val_acc"] == [0.0, 0.0]


def test_report_without_test_column_has_null_test_fields(tmp_path, capsys):
    _write_run(tmp_path / "run", with_test=False)
    r = build_report(tmp_path / "run")
    assert not r["has_test"]
    for entry in r["algorithms"].values():
        for s in ("mean", "std", "sem", "p30", "p70"):
            assert entry[f"{s}_test_acc_of_best_val"] is None
    assert r["algorithms"]["a"]["mean_best_val_acc"] == [70.0, 85.0]
    assert main(["report", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "no test accuracy" in out and "test acc of best val" not in out
    assert (tmp_path / "run" / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_json_is_deterministic_and_the_plot_is_written(tmp_path, capsys):
    _write_run(tmp_path / "run")
    assert main(["report", str(tmp_path / "run"), "--json", "--plot", str(tmp_path / "p.png")]) == 0
    first = capsys.readouterr().out
    assert main(["report", str(tmp_path / "run"), "--json", "--no-plot"]) == 0
    assert capsys.readouterr().out == first
    parsed = json.loads(first)
    assert parsed == json.loads(json.dumps(build_report(tmp_path / "run")))
    assert parsed["algorithms"]["a"]["mean_best_val_acc"] == [70.0, 85.0]
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["report", str(tmp_path / "run"), "--bars", "sem"]) == 0
    text = capsys.readouterr().out
    assert "a  (3 trials" in text and "70.000 ± 8.165 [66.000, 74.000]" in text


def test_report_of_a_non_run_is_one_line_exit_2(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "not a run folder" in err and "\n" not in err
    (tmp_path / "config.json").write_text(json.dumps({"kind": "darts-retrain"}))
    assert main(["report", str(tmp_path)]) == 2
    assert "run kind 'darts-retrain' has no report" in capsys.readouterr().err
    (tmp_path / "config.json").write_text(json.dumps({"kind": "darts-search"}))  # a search not started yet
    assert main(["report", str(tmp_path), "--no-plot"]) == 0
    assert "best: none finished yet" in capsys.readouterr().out


# -- the real task code on the real NB201 table (in-process, no Ray) ------------------------------
class RandomBackend:
    """Random search over the store's rows after the given initial archs."""

    ALGORITHMS = ("r1", "r2")

    def make_searcher(self, name, *, space, store, seed, budget, initial_archs=None, **kw):
        rng = np.random.default_rng(seed)
        rest = [str(a) for a in store.column("arch")[rng.choice(store.num_archs, budget, replace=False)]]
        return {"queue": list(initial_archs) + [a for a in rest if a not in initial_archs]}

    def run_direct(self, searcher, evaluate, budget):
        return [evaluate(a) for a in searcher["queue"][:budget]]

    def registry(self):
        from ssnenas.runner import AlgorithmRegistry

        return AlgorithmRegistry(names=self.ALGORITHMS, make=self.make_searcher, run_direct=self.run_direct)


def test_report_of_a_real_run_matches_numpy_on_the_parquet(synthetic_nb201_csv, tmp_path):
    from ssnenas import runner as bm
    from ssnenas.fingerprint import file_sha256
    from ssnenas.store.nasbench201 import prepare_nasbench201
    from ssnenas.store.table import BenchmarkStore

    store_file = prepare_nasbench201(synthetic_nb201_csv, "cifar10-valid", tmp_path / "store",
                                     val_column="cifar10-valid_val_acc", test_column="cifar10_test_acc")
    store = BenchmarkStore.open(store_file)
    config = bm.BenchmarkConfig(space="nasbench201", data=tmp_path / "store", algorithms=("r1", "r2"), trials=4,
                                budget=30, seed=5, out=tmp_path / "run", progress=False)
    _, run_config = bm.validate(config, RandomBackend().registry())
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(run_config))
    ship = bm.StoreShipment(path=str(store_file), sha256=file_sha256(store_file), size=store_file.stat().st_size)
    for trial in range(4):
        initial = bm.initial_architectures(store.space, store, 5, trial)
        for algo in ("r1", "r2"):
            spec = {"trial": trial, "algorithm": algo, "seed": bm.task_seed(5, trial, algo), "budget": 30,
                    "initial_archs": initial, "device": "cpu", "predictor_checkpoint": None, "overrides": {}}
            write_result(run, trial, algo, bm.run_task(spec, ship, RandomBackend().registry()), {})
    r = build_report(run)
    t = read_results(run).to_pydict()
    for algo in ("r1", "r2"):
        e = r["algorithms"][algo]
        assert e["queries"] == [10, 20, 30] and e["num_trials"] == 4
        best_val = np.zeros((4, 3))
        best_test = np.zeros((4, 3))
        for trial in range(4):
            rows = [i for i in range(len(t["trial"])) if t["trial"][i] == trial and t["algorithm"][i] == algo]
            val = np.array([t["val_acc"][i] for i in rows])
            test = np.array([t["test_acc"][i] for i in rows])
            for j, q in enumerate((10, 20, 30)):
                k = int(np.argmax(val[:q]))
                best_val[trial, j], best_test[trial, j] = val[k], test[k]
        for name, m in (("best_val_acc", best_val), ("test_acc_of_best_val", best_test)):
            np.testing.assert_allclose(e[f"mean_{name}"], m.mean(0), atol=1e-6)
            np.testing.assert_allclose(e[f"std_{name}"], m.std(0), atol=1e-6)
            np.testing.assert_allclose(e[f"sem_{name}"], m.std(0, ddof=1) / 2, atol=1e-6)
            np.testing.assert_allclose(e[f"p30_{name}"], np.percentile(m, 30, 0), atol=1e-6)
            np.testing.assert_allclose(e[f"p70_{name}"], np.percentile(m, 70, 0), atol=1e-6)
        # a best-so-far curve never goes down, and all 91.57 (NB201's best val) bounds it
        assert np.all(np.diff(e["mean_best_val_acc"]) >= 0) and max(e["mean_best_val_acc"]) <= 91.57
    text = format_table(r)
    assert "r1  (4 trials" in text and "test acc of best val %" in text


def test_report_counts_tasks_per_platform_and_says_when_a_run_mixes_them(tmp_path, capsys):
    _write_run(tmp_path / "run")  # files without a platform column: a run from before platforms
    assert build_report(tmp_path / "run")["platforms"] == {"unrecorded": 4}
    assert "platforms" not in format_table(build_report(tmp_path / "run"))  # one (unknown) platform: no note
    for trial, algo, platform in ((0, "a", "cpu A; torch 2 AVX2"), (1, "a", "cpu B; torch 2 AVX512"),
                                  (2, "a", "cpu B; torch 2 AVX512")):
        path = result_path(tmp_path / "run", trial, algo)
        t = pq.read_table(path)
        pq.write_table(t.append_column("platform", pa.array([platform] * t.num_rows)), path)
    r = build_report(tmp_path / "run")
    assert r["platforms"] == {"cpu A; torch 2 AVX2": 1, "cpu B; torch 2 AVX512": 2, "unrecorded": 1}
    assert ("computed on 3 platforms (cpu A; torch 2 AVX2: 1 task; cpu B; torch 2 AVX512: 2 tasks; "
            "unrecorded: 1 task): each is re-made bit for bit only on its own platform") in format_table(r)
    assert main(["report", str(tmp_path / "run"), "--json", "--no-plot"]) == 0
    assert json.loads(capsys.readouterr().out)["platforms"] == r["platforms"]


def test_plot_bars_span_p30_p70_even_when_the_mean_lies_outside(tmp_path):
    from ssnenas.analysis.curves import AlgorithmCurves
    from ssnenas.analysis.plots import error_bars, plot_errorbar

    # three of four trials found the optimum: mean error 92.5 lies above P70 = 91
    errors = np.array([[90.0], [90.0], [90.0], [100.0]])
    mean, lo, hi = error_bars(errors)
    assert (mean[0], lo[0], hi[0]) == (92.5, 90.0, 91.0)
    mean, lo, hi = error_bars(errors, "sem")
    assert hi[0] - mean[0] == pytest.approx(np.std(errors, ddof=1) / 2)
    curves = {"x": AlgorithmCurves("x", np.array([10]), np.arange(4), 100 - errors, 100 - errors,
                                   np.ones(4), np.ones(4))}
    out = plot_errorbar(curves, tmp_path / "skewed.png")
    assert out.read_bytes()[:4] == b"\x89PNG"
