"""Custom Ray metrics of benchmark runs, pre-training and searches, for the dashboard and Prometheus.

Every metric carries the tags ``run`` (the run folder / checkpoint name), ``space``, ``dataset`` and
``algorithm`` (a search algorithm, or ``ss-rl``/``ss-ccl`` for pre-training). Ray exports them from
each node's metrics agent (``ray start --metrics-export-port``) with the prefix ``ray_``, e.g.
``ray_ssnenas_trials_completed_total{algorithm="rea",...}``.

Calls are cheap and never fail: outside an initialised Ray (plain scripts, unit tests without Ray)
they do nothing, and the metric objects are created once per process.

Ray drops a gauge series that is not set again within twice the export period
(``RAY_metrics_report_interval_ms``, 10 s by default), but a benchmark driver may wait minutes between
finished tasks; so the last value of every gauge is re-set by one daemon thread per process every half
export period while Ray is up (and stops being exported when the process ends).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

TAG_KEYS = ("run", "space", "dataset", "algorithm")

#: name -> (kind, description, extra tag keys). Units are in the names (seconds, percent).
METRICS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "ssnenas_trials_completed": ("counter", "(trial, algorithm) searches finished and written", ()),
    "ssnenas_trials_queued": ("gauge", "(trial, algorithm) searches submitted and not yet finished", ()),
    "ssnenas_best_val_error": ("gauge", "lowest validation error (100 - val acc, %) of any finished trial", ()),
    "ssnenas_best_test_error": ("gauge", "test error (%) of the architecture with that best validation error", ()),
    # a metric that is not an accuracy in percent (TransNAS-Bench-101: SSIM, a negative loss) is exported
    # as it is, not as 100 - value; the tag ``metric`` names it (the store's metric, e.g. valid_ssim)
    "ssnenas_best_val_metric": ("gauge", "highest validation value of the store's metric (higher is better; "
                                "not percent: SSIM, negative loss, ...) of any finished trial", ("metric",)),
    "ssnenas_best_test_metric": ("gauge", "test value of the store's metric of the architecture with that best "
                                 "validation value", ("metric",)),
    "ssnenas_predictor_fit_seconds": ("counter", "seconds spent fitting the search's predictor (summed)", ()),
    "ssnenas_predictor_fits": ("counter", "predictor fits done by finished searches", ()),
    "ssnenas_candidates_trained": ("counter", "candidate architectures trained (DARTS search)", ()),
    "ssnenas_pretrain_epoch": ("gauge", "pre-training epochs finished", ()),
    "ssnenas_pretrain_loss": ("gauge", "pre-training loss of the last epoch, per loss name", ("metric",)),
}

_OBJECTS: dict[str, Any] = {}
_GAUGES: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}  # last value of each gauge series
_LOCK = threading.Lock()
_REFRESHER: threading.Thread | None = None


def _refresh_period_s() -> float:
    try:
        return max(0.2, float(os.environ.get("RAY_metrics_report_interval_ms", 10000)) / 2000.0)
    except ValueError:
        return 5.0


def _refresh_forever(period: float) -> None:
    import time

    while True:
        time.sleep(period)
        if not _ray_ready():
            continue
        with _LOCK:
            items = list(_GAUGES.items())
        for (name, tag_items), value in items:
            try:
                _OBJECTS[name].set(value, tags=dict(tag_items))
            except Exception:  # pragma: no cover - Ray shutting down
                pass


def _keep_alive(name: str, value: float, tag_values: dict[str, str]) -> None:
    global _REFRESHER
    with _LOCK:
        _GAUGES[(name, tuple(sorted(tag_values.items())))] = value
        if _REFRESHER is None:
            _REFRESHER = threading.Thread(target=_refresh_forever, args=(_refresh_period_s(),),
                                          name="ssnenas-metrics", daemon=True)
            _REFRESHER.start()


def _ray_ready() -> bool:
    ray = sys.modules.get("ray")  # never import Ray just to find it is not running
    try:
        return ray is not None and ray.is_initialized()
    except Exception:  # pragma: no cover - a half-torn-down Ray
        return False


def _metric(name: str) -> Any:
    obj = _OBJECTS.get(name)
    if obj is None:
        from ray.util import metrics

        kind, description, extra = METRICS[name]
        cls = metrics.Counter if kind == "counter" else metrics.Gauge
        obj = _OBJECTS[name] = cls(name, description=description, tag_keys=TAG_KEYS + extra)
    return obj


def tags(*, run: str, space: str, dataset: str | None, algorithm: str) -> dict[str, str]:
    """The tag set of one (run, space, dataset, algorithm); ``None`` dataset becomes ``""``."""
    return {"run": str(run), "space": str(space), "dataset": str(dataset or ""), "algorithm": str(algorithm)}


def _emit(name: str, value: float, tag_values: dict[str, str]) -> bool:
    if not _ray_ready():
        return False
    try:
        metric = _metric(name)
        if METRICS[name][0] == "counter":
            if value > 0:
                metric.inc(float(value), tags=tag_values)
        else:
            metric.set(float(value), tags=tag_values)
            _keep_alive(name, float(value), tag_values)
    except Exception:  # monitoring must never break a run
        return False
    return True


def trials_completed(tag_values: dict[str, str], n: int = 1) -> bool:
    """Count ``n`` finished searches. Returns whether anything was recorded (False outside Ray)."""
    return _emit("ssnenas_trials_completed", n, tag_values)


def trials_queued(tag_values: dict[str, str], n: int) -> bool:
    """Set the number of submitted, unfinished searches."""
    return _emit("ssnenas_trials_queued", n, tag_values)


def best_error(tag_values: dict[str, str], val_error: float, test_error: float | None) -> bool:
    """Set the best validation error so far (%) and the test error (%) of that architecture."""
    ok = _emit("ssnenas_best_val_error", val_error, tag_values)
    if test_error is not None and test_error == test_error:  # skip NaN (no test column)
        _emit("ssnenas_best_test_error", test_error, tag_values)
    return ok


def best_metric(tag_values: dict[str, str], metric: str, val: float, test: float | None) -> bool:
    """Set the best validation value so far of a metric that is not percent (the gauges of
    :func:`best_error` would show 100 - SSIM) and the test value of that architecture."""
    tagged = {**tag_values, "metric": str(metric)}
    ok = _emit("ssnenas_best_val_metric", val, tagged)
    if test is not None and test == test:  # skip NaN (no test column)
        _emit("ssnenas_best_test_metric", test, tagged)
    return ok


def predictor_fit(tag_values: dict[str, str], seconds: float, fits: int) -> bool:
    """Add the predictor fitting time (s) and number of fits of one finished search."""
    ok = _emit("ssnenas_predictor_fit_seconds", seconds, tag_values)
    _emit("ssnenas_predictor_fits", fits, tag_values)
    return ok


def candidates_trained(tag_values: dict[str, str], n: int = 1) -> bool:
    """Count ``n`` candidate architectures trained by a search."""
    return _emit("ssnenas_candidates_trained", n, tag_values)


def pretrain_epoch(tag_values: dict[str, str], epoch: int, losses: dict[str, float]) -> bool:
    """Set the epochs finished (``epoch`` is 0-based, so ``epoch + 1``) and each loss of that epoch."""
    ok = _emit("ssnenas_pretrain_epoch", epoch + 1, tag_values)
    for key, value in losses.items():
        _emit("ssnenas_pretrain_loss", value, {**tag_values, "metric": str(key)})
    return ok
