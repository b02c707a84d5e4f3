"""What a benchmark's numbers are, and how searchers and predictors turn them into something to minimise.

A store's ``val_acc``/``test_acc`` columns hold one higher-is-better metric whose unit its metadata
names (``metric_unit``): an accuracy in percent (NAS-Bench-101, -201, DARTS and the classification tasks
of TransNAS-Bench-101), an SSIM in 0..1 (autoencoder, surface normals) or a negative loss (room layout).
:class:`MetricSpec` holds that description and the two maps the search code needs:

- :meth:`MetricSpec.to_error`, what the evolution ranks and the predictors regress (lower is better). The
  GIN predictor of NPENAS ends in ``rate · sigmoid`` and its rate, learning rate and epochs were tuned on
  errors in percent (0..100); BANANAS' MLPs were tuned on the same scale. So every unit maps onto 0..100:

  * ``percent``: ``100 - value``, exactly the error of the original code (bit-identical searches);
  * ``ssim``: ``(1 - value) · 100``, the shortfall from a perfect reconstruction in percent of the maximum;
  * ``neg_loss``: the loss ``L = -value`` (>= 0, unbounded) squashed to ``100 · L / (1 + |L|)``, which is
    strictly increasing (the ranking is the loss's), 0 for a perfect layout and below 100 for any loss,
    so a sigmoid head of rate 100 never saturates (``100 · L`` would leave the range for L > 1);
  * ``unknown`` (a column ssnenas has no description of): ``50 · (1 - v / (1 + |v|))``, strictly
    decreasing in the value and inside (0, 100) whatever its sign or size.

- :meth:`MetricSpec.to_fraction`, the target of the predictor studies' ``sigmoid`` head (no rate, higher is
  better, 0..1): ``value / 100`` for percent (the original code's), the SSIM itself, and ``1 - error / 100``
  for the others. Rank correlations are those of the metric, since both maps are monotone.

Without a store (a Tune user's own trainable) the metric is percent, as before.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np

from ssnenas.errors import DataFormatError

UNITS = ("percent", "ssim", "neg_loss", "unknown")


@dataclass(frozen=True)
class MetricSpec:
    """A higher-is-better benchmark metric: ``name`` (the store's metric or column), ``label`` (an axis
    label, e.g. ``"autoencoder validation SSIM (0..1)"``), ``unit`` (one of :data:`UNITS`)."""

    name: str = "val_acc"
    label: str = "validation accuracy (%)"
    unit: str = "percent"
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise DataFormatError(f"metric {self.name!r}: unit {self.unit!r} is unknown; one of {', '.join(UNITS)}")
        if not self.higher_is_better:
            raise DataFormatError(f"metric {self.name!r} is lower-is-better; ssnenas stores hold higher-is-better "
                                  "metrics (prepare the store again with `ssnenas data prepare`)")

    @property
    def is_percent(self) -> bool:
        return self.unit == "percent"

    def to_error(self, value: Any) -> Any:
        """What the searchers minimise, on a 0..100 scale (see the module docstring); float or array."""
        if self.unit == "percent":
            return 100.0 - value
        if self.unit == "ssim":
            return (1.0 - value) * 100.0
        if self.unit == "neg_loss":
            loss = -np.asarray(value, dtype=np.float64)
            return _like(value, 100.0 * loss / (1.0 + np.abs(loss)))
        v = np.asarray(value, dtype=np.float64)
        return _like(value, 50.0 * (1.0 - v / (1.0 + np.abs(v))))

    def to_fraction(self, value: Any) -> Any:
        """The predictor studies' higher-is-better target in 0..1 (see the module docstring)."""
        if self.unit == "percent":
            return value / 100.0
        if self.unit == "ssim":
            return value
        return 1.0 - self.to_error(value) / 100.0

    def axis_label(self, *, test: bool = False, best: bool = True) -> str:
        """The y label of a search plot: the best validation value, or (``test``) the test value of the
        best-by-validation architecture; a plain accuracy keeps the plots' original wording."""
        if self.label == PERCENT.label:
            if test:
                return "test accuracy of the best-by-validation\narchitecture (%)"
            return "best validation accuracy (%)" if best else "validation accuracy (%)"
        if test:
            what = self.label.replace("validation", "test", 1) if "validation" in self.label else f"test {self.label}"
            return f"{what} of the\nbest-by-validation architecture"
        return f"best {self.label}" if best else self.label

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (a run's config.json ``metric``): ``metric``, ``metric_label``, ``metric_unit``,
        ``higher_is_better``, the names store metadata uses."""
        d = asdict(self)
        return {"metric": d["name"], "metric_label": d["label"], "metric_unit": d["unit"],
                "higher_is_better": d["higher_is_better"]}

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any] | None) -> "MetricSpec":
        """The metric a store's metadata (or a run config's ``metric`` entry) describes; percent where
        it says nothing (stores of NAS-Bench-101/-201 and DARTS, runs made before metrics were recorded)."""
        meta = meta or {}
        unit = meta.get("metric_unit") or "percent"
        if unit == "percent" and "metric_label" not in meta:
            return PERCENT
        return cls(name=str(meta.get("metric") or "val_acc"),
                   label=str(meta.get("metric_label") or PERCENT.label),
                   unit=str(unit), higher_is_better=bool(meta.get("higher_is_better", True)))


def _like(value: Any, out: np.ndarray) -> Any:
    """``out`` as a Python float when ``value`` was a scalar."""
    return float(out) if np.ndim(value) == 0 and not isinstance(value, np.ndarray) else out


#: the metric of a store that says nothing: validation accuracy in percent
PERCENT = MetricSpec()


def metric_of_store(store: Any) -> MetricSpec:
    """The metric of a ``BenchmarkStore`` (percent when ``store`` is None)."""
    return PERCENT if store is None else MetricSpec.from_metadata(getattr(store, "metadata", None))
