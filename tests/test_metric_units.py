"""Nothing assumes percent (issue 26): a store's metric (an SSIM in 0..1, a negative loss, a percent
accuracy) decides what the searchers minimise, what the predictors regress, what the predictor studies
fit, how reports and plots label their numbers and which dashboard gauges a run sets; percent stores
search exactly as before (tests/test_searchers.py and tests/test_cohort.py pin that bit for bit)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from search_algos import make_searcher, run_direct
from search_algos._factory import FIXED_TRAINING_NUMS
from search_algos.npenas import default_rate
from ssnenas.errors import DataFormatError
from ssnenas.metric_spec import PERCENT, MetricSpec, metric_of_store
from ssnenas.stats import rank_correlation
from ssnenas.store import BenchmarkStore
from ssnenas.store import transnas101 as tnb
from test_report import _write_run
from test_store_transnas101 import write_generated_csv
from trainables.tabular import tabular_evaluator

SPACE = "transnas101-micro"
SSIM = MetricSpec("autoencoder_valid_ssim", "autoencoder validation SSIM (0..1)", "ssim")
NEG_LOSS = MetricSpec("room_layout_valid_neg_loss", "room_layout validation negative L2 loss", "neg_loss")


@pytest.fixture(scope="module")
def tnb_stores(tmp_path_factory) -> dict[str, BenchmarkStore]:
    """Stores of the generated TransNAS-Bench-101 table (tests/test_store_transnas101.py): an SSIM task,
    the room-layout task (a negative loss) and a percent task."""
    root = tmp_path_factory.mktemp("tnb_units")
    csv = write_generated_csv(root / "tnb101_generated.csv")
    out = {}
    for task in ("autoencoder", "room_layout", "class_scene"):
        out[task] = BenchmarkStore.open(tnb.prepare_transnas101(csv, task, root / task))
    return out


# -- the metric's maps ---------------------------------------------------------------------------
def test_percent_error_is_exactly_100_minus_value():
    values = np.array([0.0, 12.345678901234567, 91.60666666, 100.0])
    for v in values:
        assert PERCENT.to_error(float(v)) == 100.0 - float(v)  # the same float operation, bit for bit
        assert PERCENT.to_fraction(float(v)) == float(v) / 100.0
    assert PERCENT.axis_label() == "best validation accuracy (%)"


@pytest.mark.parametrize("spec, values", [
    (SSIM, np.linspace(0.0, 1.0, 41)),
    (NEG_LOSS, np.linspace(-50.0, 0.0, 41)),  # losses of any size stay below 100
    (MetricSpec("x", "x", "unknown"), np.linspace(-30.0, 30.0, 41)),
])
def test_other_units_map_monotonically_into_0_100(spec, values):
    err = spec.to_error(values)
    frac = spec.to_fraction(values)
    assert np.all(np.diff(err) < 0), "a higher metric must be a lower error"
    assert np.all(np.diff(frac) > 0)
    assert err.min() >= 0.0 and err.max() <= 100.0 and frac.min() >= 0.0 and frac.max() <= 1.0
    np.testing.assert_allclose(frac, 1.0 - err / 100.0)
    assert isinstance(spec.to_error(float(values[3])), float)


def test_ssim_and_loss_values():
    assert SSIM.to_error(0.577) == pytest.approx(42.3)
    assert SSIM.to_fraction(0.577) == 0.577
    assert NEG_LOSS.to_error(0.0) == 0.0 and NEG_LOSS.to_error(-1.0) == pytest.approx(50.0)
    assert NEG_LOSS.to_error(-0.3) == pytest.approx(100 * 0.3 / 1.3)


def test_metric_from_store_metadata(tnb_stores, synthetic_nb201_benchmark):
    assert metric_of_store(None) is PERCENT
    assert metric_of_store(synthetic_nb201_benchmark) is PERCENT  # NB201 stores say nothing: percent
    auto, room, scene = (metric_of_store(tnb_stores[t]) for t in ("autoencoder", "room_layout", "class_scene"))
    assert (auto.unit, auto.name, auto.label) == ("ssim", "autoencoder_valid_ssim",
                                                  "autoencoder validation SSIM (0..1)")
    assert room.unit == "neg_loss" and scene.unit == "percent" and scene.is_percent and scene != PERCENT
    assert MetricSpec.from_metadata(auto.to_dict()) == auto
    with pytest.raises(DataFormatError, match="unit 'furlongs' is unknown"):
        MetricSpec.from_metadata({"metric_unit": "furlongs"})
    with pytest.raises(DataFormatError, match="lower-is-better"):
        MetricSpec.from_metadata({"metric_unit": "neg_loss", "higher_is_better": False})


# -- the searchers ---------------------------------------------------------------------------------
def test_searchers_minimise_the_stores_error(tnb_stores, synthetic_nb201_benchmark):
    for task, spec_unit in (("autoencoder", "ssim"), ("room_layout", "neg_loss"), ("class_scene", "percent")):
        store = tnb_stores[task]
        s = make_searcher("npenas-np", space=SPACE, store=store, seed=0, budget=10)
        assert s.metric_spec.unit == spec_unit
        assert s.rate == 100.0  # not the 10 every TransNAS error (45..95) would saturate
        v = float(store.column("val_acc")[7])
        assert s._error(v) == s.metric_spec.to_error(v)
    s = make_searcher("npenas-np", space="nasbench201", store=synthetic_nb201_benchmark, seed=0, budget=10)
    assert s.rate == 10.0 and s._error(91.25) == 100.0 - 91.25
    assert make_searcher("npenas-np", space="nasbench201", store=None, seed=0, budget=10)._error(91.25) == 8.75
    # the original rates are untouched
    assert [default_rate("nasbench201", d) for d in ("cifar10-valid", "cifar100", "ImageNet16-120")] == \
        [10.0, 30.0, 55.0]
    assert default_rate("nasbench101", None) == 10.0 and default_rate("darts", None) == 15.0
    assert default_rate("nasbench201", "cifar100", "ssim") == 100.0


def test_best_is_the_highest_value_for_a_negative_metric(tnb_stores):
    store = tnb_stores["room_layout"]
    s = make_searcher("rea", space=SPACE, store=store, seed=3, budget=15)
    history = run_direct(s, tabular_evaluator(store), 15)
    assert s.best()["value"] == max(r["val_acc"] for r in history) < 0


def test_fixed_variants_exist_for_the_space(tnb_stores):
    assert FIXED_TRAINING_NUMS[SPACE] == FIXED_TRAINING_NUMS["nasbench201"]
    for name in ("npenas-np-fixed", "npenas-ssrl-fixed", "npenas-ssccl-fixed"):
        assert FIXED_TRAINING_NUMS[SPACE][name] == 50
    s = make_searcher("npenas-np-fixed", space=SPACE, store=tnb_stores["autoencoder"], seed=0, budget=10)
    assert s.training_nums == 50


@pytest.mark.parametrize("task", ["autoencoder", "room_layout"])
def test_npenas_predictor_fits_the_store_error(task, tnb_stores, one_torch_thread):
    """NPENAS-NP's own predictor (its head, rate and target) on 40 evaluated cells of an SSIM / negative-loss
    task: the training loss falls with training, the predictions spread inside the head's range, and they
    rank 300 unseen cells. The old target (100 - value, rate 10) is shown to saturate at the rate."""
    store = tnb_stores[task]
    s = make_searcher("npenas-np", space=SPACE, store=store, seed=0, budget=10)
    rows = np.random.default_rng(5).choice(store.num_archs, 340, replace=False)
    x, adj = store.features(rows)
    x, adj = x.astype(np.float32), adj.astype(np.float32)
    values = store.column("val_acc")[rows]
    y = np.array([s._error(float(v)) for v in values], dtype=np.float32)
    tr, te = slice(0, 40), slice(40, None)

    def fit(epochs: int, target: np.ndarray = y, predictor=None):
        p = predictor or s._new_predictor()
        return p.fit(x[tr], adj[tr], target[tr], epochs=epochs, batch_size=10, lr=s.lr, seed=1)

    losses = {e: float(np.mean((fit(e).predict(x[tr], adj[tr]) - y[tr]) ** 2)) for e in (2, 150)}
    assert losses[150] < 0.25 * losses[2], losses
    pred = fit(150).predict(x[te], adj[te])
    assert pred.std() > 0.2 * y[te].std()  # not constant
    assert pred.max() < 0.99 * s.rate and pred.min() > 0.01 * s.rate  # not saturated
    tau = rank_correlation(pred, y[te]).kendall_tau
    assert tau > 0.5, tau
    # the bug this replaces: errors 100 - value (about 47..100) against a head of rate 10
    from ssnenas.predictors import Predictor

    old = fit(150, (100.0 - values).astype(np.float32), Predictor(s.space.num_features, head="np", rate=10.0))
    assert old.predict(x[te], adj[te]).min() > 9.9  # every prediction pinned at the rate: ranks nothing


@pytest.mark.slow
@pytest.mark.parametrize("task", ["autoencoder", "room_layout"])
def test_npenas_np_is_not_worse_than_random_search(task, tnb_stores, one_torch_thread):
    """4 paired trials x budget 40 (the runner's protocol: the same 10 initial cells for both algorithms
    of a trial), default NPENAS-NP settings: its mean best value is at least random search's."""
    store = tnb_stores[task]
    best = {"random": [], "npenas-np": []}
    for trial in range(4):
        rng = np.random.default_rng(trial)
        initial = [store.column("arch")[i] for i in rng.choice(store.num_archs, 10, replace=False)]
        for algo in best:
            s = make_searcher(algo, space=SPACE, store=store, seed=100 + trial, budget=40, initial_archs=initial)
            best[algo].append(max(r["val_acc"] for r in run_direct(s, tabular_evaluator(store), 40)))
    assert np.mean(best["npenas-np"]) >= np.mean(best["random"]), best


# -- the predictor study ---------------------------------------------------------------------------
def test_predictor_study_targets(tnb_stores, synthetic_nb201_benchmark):
    from ssnenas.predstudy.study import load_data

    nb = load_data(synthetic_nb201_benchmark, space="nasbench201")
    np.testing.assert_array_equal(nb.target, synthetic_nb201_benchmark.column("val_acc") / 100.0)
    for task in ("autoencoder", "room_layout"):
        store = tnb_stores[task]
        d = load_data(store, space=SPACE)
        raw = store.column("val_acc")
        assert d.target.min() > 0.0 and d.target.max() <= 1.0  # a sigmoid head can fit it
        assert rank_correlation(d.target, raw).kendall_tau == pytest.approx(1.0)
    np.testing.assert_array_equal(load_data(tnb_stores["autoencoder"], space=SPACE).target,
                                  tnb_stores["autoencoder"].column("val_acc"))


# -- reports, plots, gauges ------------------------------------------------------------------------
def _ssim_run(run: Path, metric: dict | None = SSIM.to_dict(), **config) -> Path:
    """test_report's run, its values read as an SSIM task's (config.json records the metric)."""
    _write_run(run)
    path = run / "config.json"
    cfg = {**json.loads(path.read_text()), "space": SPACE, "benchmark": SPACE, "dataset": "autoencoder", **config}
    if metric is not None:
        cfg["metric"] = metric
    path.write_text(json.dumps(cfg))
    return run


@pytest.fixture
def drawn(monkeypatch):
    from ssnenas.analysis import plots

    seen: dict = {}

    def capture(fig, path, **kw):
        seen["ylabels"] = [ax.get_ylabel() for ax in fig.axes]
        import matplotlib.pyplot as plt

        plt.close(fig)
        return path

    monkeypatch.setattr(plots, "save_png", capture)
    return seen


def test_report_labels_name_the_metric(tmp_path, drawn, capsys):
    from ssnenas.analysis import plots
    from ssnenas.analysis.report import build_report, format_table, load_curves
    from ssnenas.cli import main

    run = _ssim_run(tmp_path / "run")
    report = build_report(run, reference="b")
    assert report["metric"] == SSIM.to_dict()
    text = format_table(report)
    assert "in autoencoder validation SSIM (0..1), higher is better" in text.splitlines()[1]
    assert "best val SSIM" in text and "test of best val SSIM" in text and "%" not in text.split("paired")[0]
    plots.plot_report(report, tmp_path / "p.png")
    assert drawn["ylabels"] == ["autoencoder test SSIM (0..1) of the\nbest-by-validation architecture"]
    _, curves = load_curves(run)
    plots.plot_errorbar(curves, tmp_path / "q.png", metric=NEG_LOSS)
    assert drawn["ylabels"] == ["room_layout test negative L2 loss of the\nbest-by-validation architecture"]
    assert main(["report", str(run), "--plot", str(tmp_path / "r.png")]) == 0
    assert "best val SSIM" in capsys.readouterr().out
    assert drawn["ylabels"][0].startswith("autoencoder test SSIM")


def test_a_percent_report_is_unchanged(tmp_path):
    from ssnenas.analysis.report import build_report, format_table

    _write_run(tmp_path / "a")
    plain = build_report(tmp_path / "a")
    _ssim_run(tmp_path / "b", metric=PERCENT.to_dict(), space="nasbench201", benchmark="nasbench201",
              dataset="cifar10-valid")
    recorded = build_report(tmp_path / "b")
    assert "metric" not in plain and "metric" not in recorded
    assert format_table(recorded).replace(str(tmp_path / "b"), "RUN") == \
        format_table(plain).replace(str(tmp_path / "a"), "RUN")
    assert "in % (std" in format_table(plain) and "best val acc %" in format_table(plain)


def test_a_run_without_a_recorded_metric_reads_its_store(tnb_stores, tmp_path):
    from ssnenas.analysis.report import build_report, config_metric

    store = tnb_stores["room_layout"]
    run = _ssim_run(tmp_path / "run", metric=None, dataset="room_layout", data=str(store.path))
    assert config_metric(json.loads((run / "config.json").read_text())) == metric_of_store(store)
    assert build_report(run)["metric"]["metric_unit"] == "neg_loss"
    assert config_metric({"benchmark": SPACE, "dataset": "room_layout", "data": str(tmp_path / "gone")}) is PERCENT


class _Gauges:
    """Stands in for ssnenas.metrics: records the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, name):
        return lambda *a, **k: self.calls.append((name, *a))


@pytest.mark.parametrize("metric, want", [
    (SSIM.to_dict(), ("best_metric", "autoencoder_valid_ssim", 0.5, 0.25)),
    (None, ("best_error", 50.0, 75.0)),
])
def test_gauges_show_the_metric_unless_percent(metric, want, tmp_path):
    from ssnenas.runner.metrics import RunMetrics

    config = {"space": SPACE, "dataset": "autoencoder", "algorithms": ["rea"]}
    if metric is not None:
        config["metric"] = metric
    m = RunMetrics(tmp_path, config, [{"algorithm": "rea"}, {"algorithm": "rea"}])
    m.m = _Gauges()
    table = pa.table({"best_val_acc_so_far": [0.4, 0.5] if metric else [40.0, 50.0],
                      "test_acc_of_best_val_so_far": [0.2, 0.25] if metric else [20.0, 25.0]})
    m.finished("rea", table)
    got = [c for c in m.m.calls if c[0] in ("best_metric", "best_error")]
    assert len(got) == 1 and got[0][0] == want[0] and got[0][2:] == want[1:]
    lower = pa.table({"best_val_acc_so_far": [0.3] if metric else [30.0], "test_acc_of_best_val_so_far": [0.9]})
    m.finished("rea", lower)  # a worse trial does not lower the best so far
    assert len([c for c in m.m.calls if c[0] in ("best_metric", "best_error")]) == 1
    assert not math.isnan(m.best_val["rea"])


@pytest.mark.slow
def test_benchmark_records_the_metric_and_reports_it(ray_session, tnb_stores, tmp_path, capsys):
    """``ssnenas benchmark`` on an SSIM store writes the metric into config.json; ``ssnenas report`` labels
    its table with it."""
    from ssnenas.cli import main

    run = tmp_path / "run"
    store = tnb_stores["autoencoder"]
    assert main(["benchmark", "--quiet", "--space", SPACE, "--data", str(store.path), "--algos", "random", "rea",
                 "--trials", "2", "--budget", "20", "--out", str(run)]) == 0
    assert json.loads((run / "config.json").read_text())["metric"] == metric_of_store(store).to_dict()
    capsys.readouterr()
    assert main(["report", str(run), "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "in autoencoder validation SSIM (0..1), higher is better" in out and "best val SSIM" in out
    assert "in %" not in out
