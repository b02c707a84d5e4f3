"""Resuming a DARTS search from the run folder's own records, without Ray's pickles.

Ray Tune resumes an experiment with ``Tuner.restore``, which unpickles ``tune/tuner.pkl``, the trials'
states and the searcher state: a folder someone sent could run code on the machine that resumes it.
``ssnenas search`` keeps its own records instead, all of them data:

- ``RUN/config.json``: the run's settings;
- ``RUN/searcher.pt``: the searcher's whole state (a ``torch.load(weights_only=True)`` file), written
  by :class:`RecordingSearcher` after every suggestion and every completion, so no candidate folder
  exists that it does not know;
- ``RUN/tune/candidate_<n>_<trial id>/result.json`` (one JSON line per epoch) and the candidates'
  ``checkpoint_*/trainer.pt`` (data too: :func:`ssnenas.darts.train.read_checkpoint`).

A resumed search starts a new ``Tuner`` whose searcher is the one restored from ``searcher.pt``:
candidates that finished after its last save are handed to it from their ``result.json``
(:func:`plan_resume`), and each candidate still in flight (or failed by an error) is trained again
under a new trial id in a new folder of the same number ``n``, continuing from its last checkpoint;
the report merges the folders of one number. A sent folder can therefore hold nothing that runs.

A folder written before these records existed resumes only through Ray's pickles: that needs
``--trust-pickle`` (as Ray's own docs say of ``Tuner.restore``, only restore what you trust).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ray.tune.search import Searcher

from ssnenas.darts.report import TUNE_NAME, candidate_folders, read_rows
from ssnenas.darts.train import read_checkpoint

#: the searcher state of a search, in RUN
STATE_FILE = "searcher.pt"


class ResumableSearcher(Protocol):
    """What the driver needs of a searcher (``search_algos.NASSearcher`` has it)."""

    metric: str | None
    mode: str | None

    @property
    def history(self) -> list[dict]: ...

    @property
    def num_suggested(self) -> int: ...

    @property
    def num_evaluated(self) -> int: ...

    def save(self, checkpoint_path: str) -> None: ...

    def restore(self, checkpoint_path: str, *, trust_pickle: bool | None = None) -> None: ...


@dataclass(frozen=True)
class Rerun:
    """A candidate to train again: the searcher's trial id for it, its arch, its number and the
    checkpoint to continue from (None: from scratch)."""

    trial_id: str
    arch: str
    index: int
    checkpoint: str | None


def finished_row(rows: list[dict[str, Any]], metric: str) -> dict[str, Any] | None:
    """The last row when it ends the candidate (``done`` with a finite ``metric``), else None."""
    if not rows:
        return None
    last = rows[-1]
    value = last.get(metric)
    if last.get("done") and isinstance(value, (int, float)) and math.isfinite(value):
        return last
    return None


def latest_checkpoint(folders: list[Path]) -> Path | None:
    """The newest ``checkpoint_*/trainer.pt`` of the newest folder that has one."""
    for folder in reversed(folders):
        found = sorted(folder.glob("checkpoint_*/trainer.pt"))
        if found:
            return found[-1]
    return None


def plan_resume(run: Path, searcher: ResumableSearcher, *, metric: str,
                trust_pickle: bool = False) -> list[Rerun]:
    """Restore ``searcher`` from ``run/searcher.pt``, hand it the candidates that finished after its
    last save, save it again, and return the candidates to train again (in the searcher's order).

    Every checkpoint to continue from is read here, as data: a file that needs unpickling is refused
    before anything runs (:class:`DataFormatError`), unless ``trust_pickle``."""
    state = run / STATE_FILE
    searcher.restore(str(state), trust_pickle=trust_pickle)
    folders = candidate_folders(run / TUNE_NAME)
    reruns: list[Rerun] = []
    for index, record in enumerate(searcher.history, 1):
        if record["status"] == "ok":
            continue
        mine = [f for f in folders.get(index, [])]
        rows = [r for f in mine for r in read_rows(f)]
        done = finished_row(rows, metric)
        if record["status"] == "live" and done is not None:
            searcher.on_trial_complete(record["trial_id"], done)  # type: ignore[attr-defined]
            continue
        if record["status"] == "failed" and rows and rows[-1].get("done"):
            continue  # it ended without a usable metric: a result, not an error to retry
        ckpt = latest_checkpoint(mine)
        if ckpt is not None:
            read_checkpoint(ckpt, trust_pickle=trust_pickle)  # refuse a payload before anything runs
        reruns.append(Rerun(record["trial_id"], record["arch"], index, None if ckpt is None else str(ckpt)))
    searcher.save(str(state))
    return reruns


class RecordingSearcher(Searcher):
    """The search's searcher, recorded: its state is saved as data to ``state_path`` after every
    suggestion and completion; the candidates of ``reruns`` are handed out first (each under the new
    trial id Tune gives it, reported to the searcher under its own id). Every suggestion names its
    candidate number (``candidate``) and, for a re-run, the checkpoint to continue from (``resume_from``)."""

    def __init__(self, inner: ResumableSearcher, state_path: str | Path, reruns: list[Rerun] = ()) -> None:
        super().__init__(metric=inner.metric, mode=inner.mode)
        self.inner = inner
        self.state_path = str(state_path)
        self._reruns = deque(reruns)
        self._alias: dict[str, Rerun] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        ok = self.inner.set_search_properties(metric, mode, config, **spec)  # type: ignore[attr-defined]
        self._metric, self._mode = self.inner.metric, self.inner.mode
        return ok

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return self.inner.set_max_concurrency(max_concurrent)  # type: ignore[attr-defined]

    def suggest(self, trial_id: str) -> dict | str | None:
        if trial_id in self._alias:
            return self._config(self._alias[trial_id])
        if self._reruns:
            rerun = self._alias[trial_id] = self._reruns.popleft()
            return self._config(rerun)
        out = self.inner.suggest(trial_id)  # type: ignore[attr-defined]
        if isinstance(out, dict):
            self.inner.save(self.state_path)  # before Tune makes the candidate's folder
            out = {**out, "candidate": self.inner.num_suggested}
        return out

    @staticmethod
    def _config(rerun: Rerun) -> dict:
        return {"arch": rerun.arch, "candidate": rerun.index, "resume_from": rerun.checkpoint}

    def _own_id(self, trial_id: str) -> str:
        rerun = self._alias.get(trial_id)
        return trial_id if rerun is None else rerun.trial_id

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.inner.on_trial_result(self._own_id(trial_id), result)  # type: ignore[attr-defined]

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.inner.on_trial_complete(self._own_id(trial_id), result, error)  # type: ignore[attr-defined]
        self.inner.save(self.state_path)

    def save(self, checkpoint_path: str) -> None:
        """Tune's experiment snapshot (``tune/searcher-state-*.pkl``, named by Ray): data too."""
        self.inner.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.inner.restore(checkpoint_path)


def trial_dirname(trial: Any) -> str:
    """``candidate_<number>_<trial id>``: short (the default embeds the whole genotype) and numbered in
    suggestion order (the suggestion's ``candidate``; before that existed, Tune's experiment tag,
    which starts with the trial's running number)."""
    number = (getattr(trial, "config", None) or {}).get("candidate")
    if isinstance(number, int):
        return f"candidate_{number:04d}_{trial.trial_id}"
    head = str(getattr(trial, "experiment_tag", "")).split("_", 1)[0]
    return f"candidate_{int(head):04d}_{trial.trial_id}" if head.isdigit() else f"candidate_{trial.trial_id}"
