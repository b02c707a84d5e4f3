"""The machinery every searcher shares: batches, bookkeeping, failed trials, RNGs and state.

A subclass implements one method, ``_propose(n) -> list[arch]``: the next ``n`` architectures given
everything completed so far (:meth:`NASSearcher._successes`). The base class hands them out one per
``suggest`` (the HEBOSearch pattern), returns ``None`` while a batch is in flight, and starts the next
batch only when every trial of the current one has completed. So a searcher's decisions depend on the
*set* of results of each batch, taken in proposal order, never on the order in which Tune finishes the
trials: a run is reproducible from its seed under any driver and any concurrency.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch
from ray.tune.search import Searcher

from search_algos import _templates
from search_algos._candidates import best_parents, mutation_candidates
from ssnenas.errors import DataFormatError, InputError
from ssnenas.metric_spec import MetricSpec, metric_of_store
from ssnenas.spaces import SearchSpace, get_space
from ssnenas.torchdata import from_plain, load_data, pickles_trusted, save_data, to_plain

if TYPE_CHECKING:
    from ssnenas.store import BenchmarkStore

logger = logging.getLogger(__name__)

#: keys of ``NASSearcher.timings`` (seconds, except the counts)
#: the layout of a saved searcher state (``save``/``restore``)
STATE_FORMAT, STATE_VERSION = "ssnenas-searcher-state", 1
TIMING_KEYS = ("propose_s", "initial_s", "candidates_s", "predictor_fit_s", "predict_s", "fits", "batches")


def _messages():  # the message templates (search_algos/_templates.py, below every searcher module)
    return _templates


def _config_arch(result: dict | None) -> str | None:
    """The ``arch`` of a Tune result's config (flattened ``config/arch`` or nested), if any."""
    if not result:
        return None
    arch = result.get("config/arch")
    if arch is None and isinstance(result.get("config"), dict):
        arch = result["config"].get("arch")
    return arch if isinstance(arch, str) else None


def _tune_run_objective() -> tuple[str | None, str | None, bool] | None:
    """``(metric, mode, param_space is non-empty)`` of the ``ray.tune.run`` call (``Tuner.fit`` runs
    one) that is asking this searcher for trials, or None outside Tune (e.g. :func:`run_direct`).

    Tune hands ``TuneConfig``'s metric/mode to a searcher only through ``set_search_properties``, which
    ``ray.tune.run`` calls only when ``param_space`` is non-empty; its frame is the one place that holds
    both values then. Read-only, and None when Tune's layout differs (the check is skipped)."""
    loc = _tune_run_locals()
    if loc is None:
        return None
    metric, mode = loc.get("metric"), loc.get("mode")
    if (metric is None or isinstance(metric, str)) and (mode is None or isinstance(mode, str)):
        return metric, mode, bool(loc.get("config"))
    return None


def _tune_run_num_samples() -> int | None:
    """``num_samples`` of the ``ray.tune.run`` call asking this searcher for trials (``TuneConfig``'s),
    or None outside Tune, for an endless run (``num_samples=-1``) or when Tune's layout differs."""
    loc = _tune_run_locals()
    n = None if loc is None else loc.get("num_samples")
    if isinstance(n, bool) or not isinstance(n, int) or not 0 < n < sys.maxsize:
        return None
    return n


def _tune_run_locals() -> dict | None:
    """The local variables of the ``ray.tune.run`` frame (``Tuner.fit`` runs one) that is asking this
    searcher for trials, or None outside Tune. Read-only."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "run" and frame.f_globals.get("__name__") == "ray.tune.tune":
            return frame.f_locals
        frame = frame.f_back
    return None


def check_int(name: str, value: Any, *, minimum: int | None = None, allow_none: bool = False) -> None:
    """Raise ``TypeError``/``InputError`` naming ``name`` and echoing the value got."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int{' or None' if allow_none else ''}, got {value!r} "
                        f"({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {value}")


class NASSearcher(Searcher):
    """Base class of the architecture searchers (see the module docstring).

    Args:
        space: search-space name or object; optional when ``store`` is given (its space is used).
        store: a prepared benchmark store: initial and random architectures are drawn uniformly
            from its rows, mutation children must be stored ones, graphs come from its columns.
        metric, mode: the result key to optimise and its direction (default ``"val_acc"``, ``"max"``:
            the store's higher-is-better metric, percent without a store; or an error with ``"min"``);
            predictors regress the error, ``100 - value`` for percent (:meth:`_error`).
        seed: seeds the searcher's own numpy and torch generators (None: fresh OS entropy, recorded
            in ``self.seed``). The global RNGs are never used.
        budget: total number of trials to suggest (None: until Tune's ``num_samples`` stops it).
        k: architectures per batch after the initial one.
        num_init: size of the initial (random) batch; ``len(initial_archs)`` when those are given.
        initial_archs: arch strings of the initial batch (paired comparisons share them).
    """

    #: label of the algorithm (plots, logs)
    algorithm: str = "base"
    #: REA re-evaluates architectures by design; the others never propose a seen key twice
    allow_duplicates: bool = False
    #: caches rebuilt on demand, left out of the saved state
    _transient: tuple[str, ...] = ("_arch_cache",)

    def __init__(self, *, space: str | SearchSpace | None = None, store: BenchmarkStore | None = None,
                 metric: str | None = "val_acc", mode: str | None = "max", seed: int | None = None,
                 budget: int | None = None, k: int = 10, num_init: int = 10,
                 initial_archs: Sequence[str] | None = None) -> None:
        msg = _messages()
        cls = type(self).__name__
        if mode is not None and mode not in ("min", "max"):
            raise InputError(f"{cls}: mode must be 'min' or 'max', got {mode!r}")
        if metric is not None and not isinstance(metric, str):
            raise TypeError(f"{cls}: metric must be a str, got {metric!r} ({type(metric).__name__})")
        check_int("seed", seed, allow_none=True)
        check_int("budget", budget, minimum=1, allow_none=True)
        check_int("k", k, minimum=1)
        check_int("num_init", num_init, minimum=1)
        if store is not None and not hasattr(store, "sample_indices"):
            raise TypeError(f"{cls}: store must be a BenchmarkStore (BenchmarkStore.open(DIR)), got "
                            f"{type(store).__name__}")
        if space is None and store is None:
            raise InputError(msg.UNDEFINED_SEARCH_SPACE.format(cls=cls, space=space, store=store))
        space_obj = get_space(space) if isinstance(space, str) else (space if space is not None else store.space)
        if store is not None and store.space.name != space_obj.name:
            raise InputError(f"{cls}: space={space_obj.name!r} but the store {store.path} holds "
                             f"{store.space.name} architectures; drop space= or pass a matching store")
        super().__init__(metric=metric, mode=mode)
        self.space: SearchSpace = space_obj
        self.store = store
        self.seed: int = int(np.random.SeedSequence().entropy % (2 ** 63)) if seed is None else int(seed)
        self._rng = np.random.default_rng(self.seed)
        self._torch_gen = torch.Generator().manual_seed(
            int(np.random.SeedSequence([self.seed, 1]).generate_state(1)[0]))
        self.budget = budget
        self.k = int(k)
        self._initial: list[str] | None = None
        if initial_archs is not None:
            self._initial = self._check_initial(initial_archs)
            num_init = len(self._initial)
        self.num_init = int(num_init)
        self._max_concurrent: int | None = None
        # bookkeeping (all plain, picklable)
        self._records: list[dict] = []  # one per handed-out trial, in proposal order
        self._pending: list[tuple[str, str]] = []  # (arch string, key) proposed, not yet handed out
        self._live: dict[str, int] = {}  # trial_id -> record index
        self._completed: set[str] = set()
        self._reopened: set[int] = set()  # records of failed trials that Tune runs again
        self._seen: set[str] = set()  # keys of every proposal so far
        self._num_batches = 0
        self.timings: dict[str, float] = {k_: 0.0 for k_ in TIMING_KEYS}
        self._arch_cache: dict[str, Any] = {}
        self._tune_checked = False  # TuneConfig's metric/mode compared (once per process; not saved)

    # -- checks ---------------------------------------------------------------------------------------
    def _check_initial(self, initial_archs: Sequence[str]) -> list[str]:
        msg = _messages()
        cls = type(self).__name__
        if isinstance(initial_archs, str) or len(initial_archs) == 0:
            raise InputError(f"{cls}: initial_archs must be a non-empty list of arch strings, got "
                             f"{initial_archs!r}")
        out, keys = [], set()
        example = self.space.to_str(self.space.sample(np.random.default_rng(0)))
        for i, text in enumerate(initial_archs):
            where = f"initial_archs[{i}]"
            if not isinstance(text, str):
                raise InputError(msg.BAD_ARCH.format(cls=cls, where=where, arch=text, space=self.space.name,
                                                     why=f"a {type(text).__name__}", example=example))
            try:
                arch = self.space.from_str(text)
            except (InputError, ValueError) as exc:
                raise InputError(msg.BAD_ARCH.format(cls=cls, where=where, arch=text, space=self.space.name,
                                                     why=str(exc), example=example)) from None
            key = self.space.key(arch)
            if self.store is not None and key not in self.store:
                raise InputError(msg.ARCH_NOT_IN_STORE.format(cls=cls, where=where, arch=text,
                                                              store=self.store.path))
            if key in keys:
                raise InputError(f"{cls}: initial_archs[{i}] = {text!r} repeats an earlier architecture "
                                 f"(key {key!r}); initial architectures must be distinct")
            keys.add(key)
            out.append(self.space.to_str(arch))
        return out

    def _check_ready(self) -> None:
        if not self._tune_checked:  # once per Tune run (and process): the first suggest
            self._check_tune_budget()
            self._check_tune_objective()
        if not self._metric or not self._mode:
            raise ValueError(_messages().UNDEFINED_METRIC_MODE.format(
                cls=type(self).__name__, metric=self._metric, mode=self._mode))

    def _check_tune_objective(self) -> None:
        """Inside a Tune run with an empty ``param_space``, compare ``tune.TuneConfig``'s metric/mode
        with this searcher's: Tune skips ``set_search_properties`` then, so they would never meet."""
        found = _tune_run_objective()
        metric, mode, has_param_space = found if found is not None else (None, None, True)
        if has_param_space or (not metric and not mode):
            self._tune_checked = True  # outside Tune, or set_search_properties took them, or none given
            return
        msg = _messages()
        cls = type(self).__name__
        if not self._metric or not self._mode:
            raise InputError(msg.TUNE_METRIC_MODE_NOT_PASSED.format(
                cls=cls, metric=self._metric, mode=self._mode, tune_metric=metric, tune_mode=mode))
        if (metric and metric != self._metric) or (mode and mode != self._mode):
            raise InputError(msg.TUNE_METRIC_MODE_MISMATCH.format(
                cls=cls, metric=self._metric, mode=self._mode, tune_metric=metric, tune_mode=mode))
        self._tune_checked = True

    def _check_tune_budget(self) -> None:
        """Warn when Tune asks for more trials (``TuneConfig(num_samples=N)``) than ``budget``: the
        searcher reports FINISHED after ``budget`` trials and Tune ends the run early without a word."""
        wanted = _tune_run_num_samples() if self.budget is not None else None
        if wanted is not None and wanted > self.budget:
            cls = type(self).__name__
            warnings.warn(_messages().BUDGET_BELOW_NUM_SAMPLES.format(cls=cls, budget=self.budget,
                                                                       num_samples=wanted),
                          UserWarning, stacklevel=4)

    # -- the Searcher hooks -----------------------------------------------------------------------------
    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec) -> bool:
        """Called by Tune before the first ``suggest`` when the Tuner's ``param_space`` is non-empty
        (never for an empty one: see :meth:`_check_tune_objective`). Takes ``metric``/``mode`` when passed.

        Returns False, so that Tune raises its own "unresolved parameters" error, when ``config`` holds
        search-space entries (``tune.uniform(0, 1)``, ``tune.grid_search([...])``): this searcher
        suggests only the architecture, so a trainable would otherwise get the raw domain object.
        Raises ``InputError`` when ``config`` defines ``"arch"``, which the searcher suggests. Other
        (constant) entries are merged into every trial by Tune.
        """
        cls = type(self).__name__
        if config and "arch" in config:
            raise InputError(f"{cls}: the Tuner's param_space defines 'arch' ({config['arch']!r}), but {cls} "
                             "suggests the architecture of every trial; drop 'arch' from param_space")
        if config:
            from ray.tune.search.variant_generator import _has_unresolved_values

            if _has_unresolved_values(config):
                return False
        if mode is not None and mode not in ("min", "max"):
            raise InputError(f"{cls}: mode must be 'min' or 'max', got {mode!r}")
        if metric:
            self._metric = metric
        if mode:
            self._mode = mode
        return True

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        """Tune's ``max_concurrent_trials``: at most this many trials of a batch run at once.

        Returns True: the searcher limits itself (batches make ``ConcurrencyLimiter`` unnecessary).
        """
        check_int("max_concurrent", max_concurrent, minimum=1)
        self._max_concurrent = int(max_concurrent)
        return True

    def suggest(self, trial_id: str) -> dict | str | None:
        """The next trial's config ``{"arch": <arch string>}``; ``None`` while the current batch is
        in flight (ask again after a completion) or ``max_concurrent`` trials run;
        ``Searcher.FINISHED`` once ``budget`` trials were suggested or the space is exhausted."""
        self._check_ready()
        if trial_id in self._live:
            return {"arch": self._records[self._live[trial_id]]["arch"]}
        if self.budget is not None and len(self._records) >= self.budget:
            return Searcher.FINISHED
        if self._max_concurrent is not None and len(self._live) >= self._max_concurrent:
            return None
        if not self._pending:
            if self._live:
                return None
            if not self._new_batch():
                return Searcher.FINISHED
        arch, key = self._pending.pop(0)
        self._live[trial_id] = len(self._records)
        self._records.append({"trial_id": trial_id, "arch": arch, "key": key, "batch": self._num_batches - 1,
                              "value": None, "test": None, "status": "live"})
        return {"arch": arch}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Intermediate results are not data: a trial counts once, when it completes. The first one of
        a failed trial that Tune runs again puts it back in flight (see :meth:`on_trial_complete`)."""
        if trial_id not in self._live:
            index = self._rerun_index(trial_id, result, warn=False)
            if index is not None:
                self._reopen(trial_id, index)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """Record a finished trial. A missing, NaN or ±inf metric, or ``error=True``, marks it failed:
        it is never re-proposed and never used as data.

        A failed trial that Tune runs again (``Tuner.restore(resume_errored=True)`` keeps its trial id;
        ``restart_errored=True`` gives it a new id, recognised by its ``config/arch``; in-process retries
        under ``FailureConfig(max_failures=...)`` never report the failure) takes the re-run's result in
        its own record: the state is as if it had succeeded the first time, the architecture counted
        once against ``budget``. A second completion of a successful trial, or a call for a trial this
        searcher did not suggest, logs a warning and does nothing."""
        index = self._live.pop(trial_id, None)
        if index is None:
            index = self._rerun_index(trial_id, result, warn=True)
            if index is None:
                return
            if self._metric_value(result, error) is None:
                logger.info("%s: trial %s (%s) failed again", type(self).__name__, trial_id,
                            self._records[index]["arch"])
                return
            self._reopen(trial_id, index)
            self._live.pop(trial_id)
        self._completed.add(trial_id)
        rec = self._records[index]
        value = self._metric_value(result, error)
        rerun = index in self._reopened
        self._reopened.discard(index)
        if value is None:
            rec["status"] = "failed"
            logger.info("%s: trial %s (%s) failed or reported no finite %r; not used as data",
                        type(self).__name__, trial_id, rec["arch"], self._metric)
            return
        rec["status"] = "ok"
        rec["value"] = value
        try:
            test = float((result or {}).get("test_acc"))
        except (TypeError, ValueError):
            test = math.nan
        rec["test"] = test if math.isfinite(test) else None
        if rerun:
            self._revised(index)

    def _metric_value(self, result: dict | None, error: bool) -> float | None:
        """The finite metric of a result, or None for an error / missing / non-numeric / NaN / inf."""
        value = None if (error or not result) else result.get(self._metric)
        try:
            value = float(value) if value is not None else None
        except (TypeError, ValueError):
            return None
        return value if value is not None and math.isfinite(value) else None

    def _rerun_index(self, trial_id: str, result: dict | None, *, warn: bool) -> int | None:
        """The record of a failed trial that ``trial_id`` runs again, or None (warning when ``warn``):
        the same id (resumed), or an unknown id whose ``config/arch`` is that of a failed record
        (restarted: the first such record, as REA may hold an architecture more than once)."""
        cls = type(self).__name__
        for i in range(len(self._records) - 1, -1, -1):
            if self._records[i]["trial_id"] == trial_id:
                if self._records[i]["status"] == "failed":
                    return i
                if warn:
                    logger.warning("%s: trial %s completed twice; the second result is ignored", cls, trial_id)
                return None
        arch = _config_arch(result)
        if arch is not None:
            for i, rec in enumerate(self._records):
                if rec["status"] == "failed" and rec["arch"] == arch:
                    return i
        if warn:
            logger.warning("%s: on_trial_complete for unknown trial %s (neither suggested by this searcher "
                           "nor a re-run of a failed trial); ignored", cls, trial_id)
        return None

    def _reopen(self, trial_id: str, index: int) -> None:
        """Put the failed record ``index`` back in flight under ``trial_id`` (Tune runs it again)."""
        rec = self._records[index]
        logger.info("%s: failed trial %s (%s) runs again as %s; its result will replace the failure",
                    type(self).__name__, rec["trial_id"], rec["arch"], trial_id)
        self._completed.discard(rec["trial_id"])
        rec.update(trial_id=trial_id, status="live", value=None, test=None)
        self._live[trial_id] = index
        self._reopened.add(index)

    def _revised(self, index: int) -> None:
        """Hook: the failed record ``index`` succeeded when run again, possibly after later batches
        were proposed. State derived from the records incrementally must take it in as if it had
        succeeded the first time (``_successes()`` already does)."""

    # -- batches ----------------------------------------------------------------------------------------
    def _batch_size(self) -> int:
        """Architectures the next proposal asks for (before the budget's cap): ``k``; a subclass may
        vary it with the number of queries spent."""
        return self.k

    def _new_batch(self) -> bool:
        first = self._num_batches == 0
        n = self.num_init if first else self._batch_size()
        if self.budget is not None:
            n = min(n, self.budget - len(self._records))
        start = time.perf_counter()
        archs = self._propose_initial(n) if first else self._propose(n)
        elapsed = time.perf_counter() - start
        self.timings["propose_s"] += elapsed
        if first:
            self.timings["initial_s"] += elapsed
        batch: list[tuple[str, str]] = []
        batch_keys: set[str] = set()
        for arch in archs[:n]:
            key = self.space.key(arch)
            if not self.allow_duplicates and (key in self._seen or key in batch_keys):
                logger.warning("%s: dropped a repeated proposal %s", type(self).__name__, key)
                continue
            batch_keys.add(key)
            text = self.space.to_str(arch)
            self._arch_cache[text] = arch
            batch.append((text, key))
        if not batch:
            logger.warning("%s: nothing left to propose after %d trials; finishing",
                           type(self).__name__, len(self._records))
            return False
        self._seen.update(batch_keys)
        self._pending = batch
        self._num_batches += 1
        self.timings["batches"] = self._num_batches
        return True

    def _propose_initial(self, n: int) -> list:
        """The initial batch: ``initial_archs`` or ``n`` distinct random architectures."""
        if self._initial is not None:
            return [self._arch(t) for t in self._initial[:n]]
        return self._random_unique(n)

    def _propose(self, n: int) -> list:
        """The next ``n`` architectures (objects of the space). Subclasses implement this."""
        raise NotImplementedError

    # -- helpers for subclasses -------------------------------------------------------------------------
    def _arch(self, text: str) -> Any:
        arch = self._arch_cache.get(text)
        if arch is None:
            arch = self._arch_cache[text] = self.space.from_str(text)
        return arch

    @property
    def metric_spec(self) -> MetricSpec:
        """The store's metric (:class:`~ssnenas.metric_spec.MetricSpec`); percent without a store.
        Read from the store each time, so it is no part of the saved state."""
        return metric_of_store(self.store)

    def _error(self, value: float) -> float:
        """What the predictors regress and the evolution ranks (lower is better): with ``mode="max"``
        the store metric's error on a 0..100 scale (``100 - value`` for percent, as the original code;
        :meth:`MetricSpec.to_error` for SSIM and losses), with ``"min"`` the reported value itself."""
        if self._mode != "max":
            return value
        meta = getattr(self.store, "metadata", None) or {}
        if meta.get("metric_unit", "percent") == "percent":
            return 100.0 - value
        return self.metric_spec.to_error(value)

    def _successes(self) -> list[tuple[int, Any, float]]:
        """``(record index, arch, error)`` of every successful trial, in proposal order."""
        return [(i, self._arch(r["arch"]), self._error(r["value"]))
                for i, r in enumerate(self._records) if r["status"] == "ok"]

    def _is_known(self):
        """Mutation filter: with a store, children must be stored architectures."""
        if self.store is None:
            return None
        store, key = self.store, self.space.key
        return lambda arch: key(arch) in store

    def _mutation_pool(self, successes: list, n: int) -> list:
        """The NPENAS candidate pool (arXiv 2003.12857): unseen mutants of the best evaluated archs,
        parent by parent; topped up with random unseen archs when the neighbourhoods run out of ``n``.

        For predictor-guided subclasses, which set ``max_parents``, ``num_candidates`` and
        ``children_per_parent``."""
        start = time.perf_counter()
        parents = best_parents(successes, self.max_parents)
        candidates = mutation_candidates(self.space, parents, self._seen, self._rng,
                                         num_candidates=self.num_candidates,
                                         children_per_parent=self.children_per_parent,
                                         is_known=self._is_known())
        if len(candidates) < n:
            candidates += self._random_unique(n - len(candidates), {self.space.key(c) for c in candidates})
        self.timings["candidates_s"] += time.perf_counter() - start
        return candidates

    def _random_unique(self, n: int, exclude: set[str] | None = None) -> list:
        """``n`` random architectures whose keys are neither in ``self._seen`` nor in ``exclude``;
        drawn uniformly from the store's rows when there is a store, else from ``space.sample``."""
        taken = set(self._seen) | (exclude or set())
        out: list = []
        if n <= 0:
            return out
        if self.store is not None:
            keys, texts = self.store.keys, self.store.column("arch")
            free = self.store.num_archs - sum(1 for k_ in taken if k_ in self.store)
            if (n + len(taken)) * 2 > self.store.num_archs:  # dense: permute the free rows
                rows = np.flatnonzero([k_ not in taken for k_ in keys.tolist()])
                picked = self._rng.permutation(rows)[:n]
                return [self._arch(texts[i]) for i in picked.tolist()]
            while len(out) < min(n, free):
                for i in self.store.sample_indices(n - len(out), self._rng).tolist():
                    if keys[i] not in taken:
                        taken.add(keys[i])
                        out.append(self._arch(texts[i]))
            return out
        for _ in range(1000 * n):
            if len(out) >= n:
                break
            arch = self.space.sample(self._rng)
            key = self.space.key(arch)
            if key not in taken:
                taken.add(key)
                out.append(arch)
        return out

    def _features(self, archs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Predictor inputs: one-hot ``[B, N, F]`` float32 and adjacency ``[B, N, N]`` float32
        (from the store's precomputed graphs when possible)."""
        if self.store is not None:
            idx = self.store.index_of([self.space.key(a) for a in archs])
            x, adj = self.store.features(idx)
            return x.astype(np.float32, copy=False), adj.astype(np.float32, copy=False)
        graphs = [self.space.to_graph(a) for a in archs]
        f = self.space.num_features
        x = np.stack([g.one_hot(f) for g in graphs]).astype(np.float32)
        adj = np.stack([g.adjacency for g in graphs]).astype(np.float32)
        return x, adj

    def _next_seed(self) -> int:
        """A fresh int seed for a sub-computation (e.g. one predictor fit), from the searcher's rng."""
        return int(self._rng.integers(0, 2 ** 31 - 1))

    # -- results ----------------------------------------------------------------------------------------
    @property
    def history(self) -> list[dict]:
        """Every handed-out trial in proposal order: ``trial_id``, ``arch``, ``key``, ``batch``,
        ``status`` ("live", "ok", "failed"), ``value`` (the metric), ``test`` (test_acc if reported).
        A failed trial that Tune runs again is "live" again, under the re-run's trial id."""
        return [dict(r) for r in self._records]

    @property
    def in_flight(self) -> dict[str, str]:
        """``{trial_id: arch string}`` of the trials suggested but not completed yet."""
        return {t: self._records[i]["arch"] for t, i in sorted(self._live.items(), key=lambda ti: ti[1])}

    @property
    def num_suggested(self) -> int:
        return len(self._records)

    @property
    def num_evaluated(self) -> int:
        return sum(1 for r in self._records if r["status"] != "live")

    def best(self) -> dict | None:
        """The successful trial with the best metric (first one on ties)."""
        ok = [r for r in self._records if r["status"] == "ok"]
        if not ok:
            return None
        return dict(min(ok, key=lambda r: self._error(r["value"])))

    # -- state ------------------------------------------------------------------------------------------
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for name in self._transient:
            state.pop(name, None)
        state.pop("_tune_checked", None)
        state["_torch_gen"] = self._torch_gen.get_state()
        # the registered space by name (a custom-configured space object pickles as itself)
        state["space"] = self.space.name if get_space(self.space.name) is self.space else self.space
        if self.store is not None:  # a reference, reopened on restore (the table is not copied)
            state["store"] = {"path": str(self.store.path), "fingerprint": self.store.fingerprint}
        return state

    def __setstate__(self, state: dict) -> None:
        self._apply_state(state, own_store=None)

    def _apply_state(self, state: dict, own_store: BenchmarkStore | None) -> None:
        state = dict(state)
        gen = torch.Generator()
        gen.set_state(state["_torch_gen"])
        state["_torch_gen"] = gen
        if isinstance(state["space"], str):
            state["space"] = get_space(state["space"])
        ref = state.get("store")
        if isinstance(ref, dict):
            if own_store is not None and own_store.fingerprint == ref["fingerprint"]:
                state["store"] = own_store
            else:
                from ssnenas.store import BenchmarkStore

                state["store"] = BenchmarkStore.open(ref["path"])
        state.setdefault("_reopened", set())  # states saved before re-runs were tracked
        self.__dict__.update(state)
        self._tune_checked = False
        for name in self._transient:
            setattr(self, name, {} if name.endswith("_cache") else None)

    def get_state(self) -> dict:
        """Everything (plain values, generator states, CPU tensors, a reference to the store)."""
        return self.__getstate__()

    def set_state(self, state: dict) -> None:
        """Restore ``get_state()``. The store this instance was built with is kept when it holds the
        same benchmark data (same fingerprint), so a checkpoint can resume where the store lives at
        another path (another node); otherwise the recorded path is opened."""
        self._apply_state(state, own_store=getattr(self, "store", None))

    def save(self, checkpoint_path: str) -> None:
        """Write the whole state to ``checkpoint_path`` atomically as data: one ``torch.save`` file of
        tensors and plain values (:mod:`ssnenas.torchdata`), which :meth:`restore` reads with
        ``torch.load(weights_only=True)``, so a state file someone sent cannot run code."""
        state = self.get_state()
        if not isinstance(state.get("space"), str):
            raise TypeError(f"{type(self).__name__}: a custom-configured {type(state['space']).__name__} "
                            "space cannot be saved as data; register it and pass its name")
        save_data(checkpoint_path, {"format": STATE_FORMAT, "version": STATE_VERSION,
                                    "class": type(self).__name__, "state": to_plain(state)})

    def restore(self, checkpoint_path: str, *, trust_pickle: bool | None = None) -> None:
        """Load a ``save`` file into this instance (trials in flight stay in flight).

        Reads data only (``torch.load(weights_only=True)``); a pickled state (written before states
        were data, or crafted) raises :class:`~ssnenas.errors.DataFormatError` unless
        ``trust_pickle`` (default: inside :func:`ssnenas.torchdata.trusting_pickles`)."""
        path = Path(checkpoint_path)
        if not path.is_file():
            raise RuntimeError(f"{type(self).__name__}: no searcher checkpoint at {os.fspath(path)}")
        trust = pickles_trusted() if trust_pickle is None else bool(trust_pickle)
        data = load_data(path, "searcher state", trust_pickle=trust,
                         hint=" (a state pickled by an older ssnenas; it is rewritten as data on the next save)")
        if not isinstance(data, dict) or "class" not in data or "state" not in data:
            raise DataFormatError(f"{path}: not a searcher state (no 'class' and 'state' entries)")
        if data.get("class") != type(self).__name__:
            raise RuntimeError(f"{path} holds a {data.get('class')} checkpoint; restore it into a "
                               f"{data.get('class')}, not a {type(self).__name__}")
        if data.get("format") == STATE_FORMAT:
            if data.get("version") != STATE_VERSION:
                raise DataFormatError(f"{path}: searcher state version {data.get('version')}; this ssnenas "
                                      f"reads version {STATE_VERSION}")
            self.set_state(from_plain(data["state"]))
        else:  # a legacy pickled state, read only because it is trusted
            self.set_state(data["state"])

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(space={self.space.name!r}, seed={self.seed}, k={self.k}, "
                f"budget={self.budget}, trials={len(self._records)})")
