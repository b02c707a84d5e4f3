"""Cohorts: several independent searches of one algorithm whose predictor fits run as one batched model.

Why: a predictor-guided search spends almost all its time fitting one small predictor at a time
(NPENAS-BO: 45,000 optimiser steps of a tiny GIN per NB201 trial), so the hardware idles between
tiny kernels. Searches of a benchmark study are independent, so C of them can advance in lockstep
and, at each iteration, have their C predictors trained as one batched model (``fit_many``; the
BANANAS ensembles as one ``[5·C, in, out]`` MLP stack), which costs far less than C separate fits.

How, with one code path for the maths: a predictor-guided searcher writes its proposal as a
generator (``_propose_steps``) that *yields a fit request* (features, targets, seed, settings) and
receives the fitted model. :func:`drive_alone` answers the requests of one searcher (the one-trial
path, also behind ``_propose`` inside a Tuner); :func:`run_cohort` advances C searchers (each through
:func:`direct_steps`, the loop ``search_algos._direct.run_direct`` runs alone), collects
their pending requests, groups those that can share a model (:meth:`FitRequest.group_key`) and
answers each group with one batched fit. Everything else (candidates, scoring, Thompson samples)
stays per searcher, on its own RNGs, so a searcher proposes the same architectures in a cohort as
alone; the batched fits are bit-identical to the single ones (``tests/test_cohort.py``, and the
README's "Searchers and benchmark runs" section says what this rests on).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Generator, Sequence

from ray.tune.search import Searcher

from search_algos._base import NASSearcher, check_int

#: what a ``_propose_steps`` generator is: yields requests, receives answers, returns architectures
ProposeSteps = Generator["FitRequest", Any, list]


class FitRequest:
    """A model fit a searcher needs before it can propose (subclasses: one per predictor kind).

    ``elapsed`` is set when answered: this request's share of the batched fit's wall time.
    """

    elapsed: float = 0.0

    def group_key(self) -> tuple:
        """Requests with equal keys can be answered by one :meth:`fit_batch` call."""
        raise NotImplementedError

    @classmethod
    def fit_batch(cls, requests: Sequence["FitRequest"]) -> list:
        """Answer ``requests`` (same ``group_key``) at once; one answer per request, in order."""
        raise NotImplementedError


def fulfil(requests: Sequence[FitRequest], max_group: int | None = None) -> list:
    """Answer every request, grouping compatible ones (order kept; groups of at most ``max_group``)."""
    groups: dict[tuple, list[int]] = {}
    for i, req in enumerate(requests):
        groups.setdefault((type(req).__qualname__, req.group_key()), []).append(i)
    answers: list[Any] = [None] * len(requests)
    for members in groups.values():
        step = max_group or len(members)
        for s in range(0, len(members), step):
            chunk = members[s:s + step]
            t0 = time.perf_counter()
            out = type(requests[chunk[0]]).fit_batch([requests[i] for i in chunk])
            share = (time.perf_counter() - t0) / len(chunk)
            for i, answer in zip(chunk, out):
                requests[i].elapsed = share
                answers[i] = answer
    return answers


def drive_alone(steps: Generator[FitRequest, Any, Any]) -> Any:
    """Run a request generator to its end, answering each request by itself; return its value."""
    try:
        request = next(steps)
        while True:
            request = steps.send(fulfil([request])[0])
    except StopIteration as stop:
        return stop.value


class CohortSearcher(NASSearcher):
    """Base of the searchers whose proposal needs a model fit (NPENAS, BANANAS).

    Subclasses implement ``_propose_steps(n)`` instead of ``_propose(n)``. A driver that batches
    calls :meth:`prepare_steps` when :meth:`needs_batch` says the next ``suggest`` starts a
    proposal; the prepared architectures are then what ``_propose`` returns.
    """

    _prepared: tuple[int, list] | None = None

    def _propose_steps(self, n: int) -> ProposeSteps:
        raise NotImplementedError

    def _propose(self, n: int) -> list:
        prepared, self._prepared = self._prepared, None
        if prepared is not None:
            if prepared[0] != n:  # a driver bug: the prepared batch is for another size
                raise RuntimeError(f"{type(self).__name__}: prepared {prepared[0]} architectures, "
                                   f"asked for {n}")
            return prepared[1]
        return drive_alone(self._propose_steps(n))

    def needs_batch(self) -> bool:
        """True when the next ``suggest`` would call ``_propose`` (not the initial batch)."""
        return (self._num_batches > 0 and not self._pending and not self._live
                and (self.budget is None or len(self._records) < self.budget))

    def prepare_steps(self) -> Generator[FitRequest, Any, None]:
        """Compute the next batch as ``_new_batch`` would ask for it, yielding its fit requests.

        ``timings["propose_s"]`` gets this searcher's own time plus its share of the batched fits
        (not the time spent waiting for the rest of the cohort)."""
        n = self._batch_size()
        if self.budget is not None:
            n = min(n, self.budget - len(self._records))
        inner = self._propose_steps(n)
        spent, answer, first = 0.0, None, True
        while True:
            t0 = time.perf_counter()
            try:
                request = next(inner) if first else inner.send(answer)
            except StopIteration as stop:
                spent += time.perf_counter() - t0
                self._prepared = (n, stop.value)
                break
            spent += time.perf_counter() - t0
            first = False
            answer = yield request
            spent += request.elapsed
        self.timings["propose_s"] += spent


def direct_steps(searcher: NASSearcher, evaluate: Callable[[str], dict],
                 budget: int) -> Generator[FitRequest, Any, list[dict]]:
    """The direct loop of :func:`search_algos.run_direct` as a generator that yields the searcher's
    predictor-fit requests (and expects their answers) before each proposal; its return value is
    ``run_direct``'s. ``run_direct`` answers them one at a time, :func:`run_cohort` in batches."""
    check_int("budget", budget, minimum=1)
    out: list[dict] = []

    def complete(trial_id: str, arch: str) -> None:
        try:
            result = evaluate(arch)
        except Exception:
            searcher.on_trial_complete(trial_id, None, error=True)
            raise
        searcher.on_trial_complete(trial_id, result)
        out.append({"trial_id": trial_id, "arch": arch, **(result or {})})

    for trial_id, arch in searcher.in_flight.items():
        complete(trial_id, arch)
    batches = isinstance(searcher, CohortSearcher)
    while searcher.num_suggested < budget:
        if batches and searcher.needs_batch():
            yield from searcher.prepare_steps()
        trial_id = f"direct_{searcher.num_suggested:06d}"
        config = searcher.suggest(trial_id)
        if config == Searcher.FINISHED:
            break
        if config is None:  # impossible when every trial completes at once: a searcher bug
            raise RuntimeError(f"{type(searcher).__name__}.suggest returned None with no trial in "
                               f"flight after {searcher.num_suggested} trials")
        complete(trial_id, config["arch"])
    return out


def run_cohort(searchers: Sequence[NASSearcher], evaluators: Sequence[Callable[[str], dict]],
               budget: int, *, max_group: int | None = None) -> list[list[dict] | BaseException]:
    """Run ``searchers[i]`` against ``evaluators[i]`` as :func:`search_algos.run_direct` would, all
    in lockstep, answering their fit requests in batches (at most ``max_group`` per model).

    Returns, per searcher, its ``run_direct`` result, or the exception that stopped that search
    (the others continue: a failing trial loses only its own work).
    """
    if len(searchers) != len(evaluators):
        raise ValueError(f"run_cohort: {len(searchers)} searchers but {len(evaluators)} evaluators")
    gens = [direct_steps(s, e, budget) for s, e in zip(searchers, evaluators)]
    results: list[Any] = [None] * len(gens)
    waiting: dict[int, FitRequest] = {}

    def advance(i: int, answer: Any, first: bool = False) -> None:
        try:
            waiting[i] = next(gens[i]) if first else gens[i].send(answer)
        except StopIteration as stop:
            results[i] = stop.value
        except Exception as exc:  # noqa: BLE001 - reported per search, the cohort goes on
            results[i] = exc

    for i in range(len(gens)):
        advance(i, None, first=True)
    while waiting:
        order = sorted(waiting)
        requests = [waiting.pop(i) for i in order]
        try:
            answers = fulfil(requests, max_group)
        except Exception as exc:  # noqa: BLE001 - a failed batched fit fails its searches only
            for i in order:
                gens[i].close()
                results[i] = exc
            continue
        for i, answer in zip(order, answers):
            advance(i, answer)
    return results


#: ``ssnenas benchmark --cohort-size auto``: trials per task by algorithm, where a cohort is faster
#: on a CPU core (README, "Searchers and benchmark runs"): the GIN searchers gain 3-7x.
#: Sizes keep a cohort to about 1-2 minutes of a quiet core at budget 100 on NAS-Bench-201 (what
#: a killed task can lose). 1 where a cohort gains nothing: random search and REA fit no model, and
#: BANANAS' 10 x 200 MLPs are compute-bound on a CPU already (measured 0.94x at C = 4); pass
#: ``--cohort-size`` to batch BANANAS where a GPU makes that pay.
COHORT_SIZES: dict[str, int] = {
    "npenas-np": 24, "npenas-np-fixed": 24, "npenas-bo": 8, "npenas-ssrl": 16, "npenas-ssrl-fixed": 16,
    "npenas-ssccl": 16, "npenas-ssccl-fixed": 16, "npenas-ssccl-k3-iso": 16, "ssnenas-plus": 16,
}
