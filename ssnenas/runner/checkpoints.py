"""Task checkpoints: a search task (one trial, or a cohort of trials) saves each trial's searcher state
as it goes, so that a task lost with its worker or node, or a run whose driver was interrupted or
killed, continues each trial from its last checkpoint instead of from query 0, with the results of an
uninterrupted run.

How the state travels (one design for one machine and for a cluster without shared storage):

- A task runs on any node and never writes the run folder. Every ``every_s`` seconds of search
  (``--checkpoint-every``, default :data:`DEFAULT_EVERY_S`) it encodes each of its trials' state
  (:func:`encode`) and puts it into the run's **inbox**, a small Ray actor the driver starts
  (:class:`Inbox`: no CPU, placed on the driver's node, the latest checkpoint per trial in memory). The
  put is not waited for (:class:`Sender`: a task waiting in Ray lends its CPU to another task), so a
  worker that dies within moments of a put may lose that checkpoint; its trial resumes from the one before.
- The driver drains the inbox between results (at most :data:`DRAIN_EVERY_S` apart, and before it
  resubmits a lost task) and writes each checkpoint atomically to
  ``RUN/checkpoints/trial=TTTTT/algo=NAME.pt`` (:class:`Shelf`); it removes a trial's checkpoint once
  the trial's result file is written.
- A lost task is resubmitted by the driver (a single trial up to ``--max-retries`` times, a cohort as
  two halves) with each trial's latest checkpoint; a re-run of the same command (after Ctrl-C, a crash
  or SIGKILL) reads RUN/checkpoints/ for its unfinished trials. A trial without a usable checkpoint
  starts from query 0, as before.

What a checkpoint is: a ``torch.save`` file of plain data (:mod:`ssnenas.torchdata`), read with
``torch.load(weights_only=True)``: nothing is unpickled, so a run folder someone sent cannot carry a
payload. It holds the trial (trial, algorithm, seed, budget), the architectures looked up so far in
order, the search time spent, and the searcher's whole state (``NASSearcher.get_state``: history,
population, pending proposals, numpy and torch generator states, timings, predictor weights where a
searcher keeps them), taken when the searcher asks for its next lookup: that one architecture is
then in flight, and restoring evaluates it first (``search_algos``' direct loop does). Predictor fits
draw their seeds from the searcher's own generator, so a restored searcher makes the same queries as
the uninterrupted one: its result table equals the quiet run's except for the time and node columns.

Only searchers with ``get_state`` / ``set_state`` (``search_algos.NASSearcher``) are checkpointed; a
registry's other searchers run as before.
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

from ssnenas.analysis.runs import result_path
from ssnenas.atomic import atomic_path

CHECKPOINTS_DIR = "checkpoints"
FORMAT, VERSION = "ssnenas-task-checkpoint", 1
#: seconds of search between two checkpoints of a trial (the issue's "at least every 30 s")
DEFAULT_EVERY_S = 30.0
#: the driver writes what the inbox holds at least this often while tasks run
DRAIN_EVERY_S = 0.25


def checkpoint_path(run: str | os.PathLike, trial: int, algorithm: str) -> Path:
    """``RUN/checkpoints/trial=TTTTT/algo=NAME.pt`` (NAME escaped as in the result file's name)."""
    rp = result_path(run, trial, algorithm)
    return Path(run) / CHECKPOINTS_DIR / rp.parent.name / f"{rp.stem}.pt"


def can_checkpoint(searcher: Any) -> bool:
    """Whether ``searcher`` can be saved and restored as data (``get_state`` / ``set_state``)."""
    return callable(getattr(searcher, "get_state", None)) and callable(getattr(searcher, "set_state", None))


def encode(spec: dict[str, Any], searcher: Any, archs: list[str], search_time_s: float) -> bytes:
    """The checkpoint of ``spec``'s trial: its searcher's state and the ``archs`` looked up so far."""
    import torch

    from ssnenas.torchdata import check_plain, to_plain

    payload = {"format": FORMAT, "version": VERSION, "trial": int(spec["trial"]), "algorithm": spec["algorithm"],
               "seed": int(spec["seed"]), "budget": int(spec["budget"]), "query": len(archs), "archs": list(archs),
               "search_time_s": float(search_time_s),
               "searcher": {"class": type(searcher).__name__, "state": to_plain(searcher.get_state())}}
    check_plain(payload)
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


def decode(blob: bytes) -> dict[str, Any]:
    """A checkpoint's content, read as data (``weights_only=True``)."""
    import torch

    payload = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError("not a task checkpoint")
    if payload.get("version") != VERSION:
        raise ValueError(f"task checkpoint version {payload.get('version')}; this ssnenas reads {VERSION}")
    return payload


def mismatch(payload: dict[str, Any], spec: dict[str, Any]) -> str | None:
    """Why ``payload`` is not a checkpoint of ``spec``'s trial (None when it is)."""
    for name in ("trial", "algorithm", "seed", "budget"):
        if payload.get(name) != spec[name]:
            return f"its {name} is {payload.get(name)!r}, the trial's {spec[name]!r}"
    if not 0 <= int(payload.get("query", -1)) <= int(spec["budget"]):
        return f"its query {payload.get('query')!r} is outside 0..{spec['budget']}"
    return None


def restore(searcher: Any, payload: dict[str, Any]) -> None:
    """Put the checkpointed state into ``searcher`` (built as for a fresh start)."""
    from ssnenas.torchdata import from_plain

    saved = payload["searcher"]
    if saved.get("class") != type(searcher).__name__:
        raise ValueError(f"a {saved.get('class')} state, not a {type(searcher).__name__} one")
    searcher.set_state(from_plain(saved["state"]))


class Inbox:
    """The run's mailbox of checkpoints (a Ray actor of the driver): tasks :meth:`put`, the driver
    :meth:`take` s. Keeps the latest (highest query) checkpoint per trial until taken."""

    def __init__(self) -> None:
        self._latest: dict[tuple[int, str], tuple[int, bytes]] = {}

    def put(self, trial: int, algorithm: str, query: int, blob: bytes) -> None:
        held = self._latest.get((trial, algorithm))
        if held is None or query >= held[0]:
            self._latest[(trial, algorithm)] = (query, blob)

    def take(self) -> dict[tuple[int, str], tuple[int, bytes]]:
        out, self._latest = self._latest, {}
        return out


class Sender:
    """The task's side: puts checkpoints into the inbox without waiting for them, at most one in flight
    per trial; stops, with one line on stderr, if the inbox is gone (the search goes on without them).

    Never blocks in Ray: a task blocked in ``ray.get`` or ``ray.wait`` lends its CPU to the next queued
    task, which then runs beside it once it wakes (three searches on two CPUs, measured with Ray 2.60).
    So a put's answer is read from a future once it has arrived; until then the trial's next checkpoint
    waits (:meth:`ready` is False: no backlog of states on a slow inbox), and an answer missing for
    ``answer_timeout_s`` counts as a lost inbox."""

    def __init__(self, inbox: Any, every_s: float, answer_timeout_s: float = 60.0) -> None:
        self.inbox, self.every_s, self.answer_timeout_s = inbox, float(every_s), float(answer_timeout_s)
        self.broken = False
        self._in_flight: dict[tuple[int, str], tuple[Any, float]] = {}  # trial -> (future of its put, sent at)

    def ready(self, spec: dict[str, Any]) -> bool:
        """Whether the trial of ``spec`` may send now: the inbox answered its last put (an error or a
        missing answer past the timeout turns checkpoints off)."""
        if self.broken:
            return False
        sent = self._in_flight.get((int(spec["trial"]), spec["algorithm"]))
        if sent is None:
            return True
        future, at = sent
        try:
            if future.done():
                future.result()  # the inbox's error, e.g. its actor died
                return True
            if time.monotonic() - at > self.answer_timeout_s:
                raise TimeoutError(f"no answer from the inbox in {self.answer_timeout_s:.0f} s")
        except Exception as exc:  # noqa: BLE001 - a lost inbox costs checkpoints, not the search
            self._off(exc)
        return False

    def send(self, spec: dict[str, Any], blob: bytes, query: int) -> None:
        """Put the trial's state (call when :meth:`ready`)."""
        if self.broken:
            return
        key = (int(spec["trial"]), spec["algorithm"])
        try:
            if not hasattr(self.inbox.put, "remote"):  # an Inbox in this process (a task run outside Ray)
                self.inbox.put(*key, int(query), blob)
                return
            self._in_flight[key] = (self.inbox.put.remote(*key, int(query), blob).future(), time.monotonic())
        except Exception as exc:  # noqa: BLE001
            self._off(exc)

    def _off(self, exc: Exception) -> None:
        self.broken = True
        print(f"checkpoints off for this task: the run's inbox is unreachable ({type(exc).__name__})",
              file=sys.stderr, flush=True)


class TrialCheckpoints:
    """One trial's checkpointing inside a task: wraps its ``evaluate`` so that, at the first lookup
    after ``every_s`` seconds since the last checkpoint (or the start), the searcher's state is sent
    before the lookup. ``search_time_before`` is the search time of the runs it continues."""

    def __init__(self, spec: dict[str, Any], searcher: Any, archs: list[str], sender: Sender | None,
                 search_time_before: float = 0.0) -> None:
        self.spec, self.searcher, self.archs, self.sender = spec, searcher, archs, sender
        self.search_time_before = search_time_before
        self.t0 = self.last = time.monotonic()

    def wrap(self, evaluate: Callable[[str], dict]) -> Callable[[str], dict]:
        if self.sender is None or not can_checkpoint(self.searcher):
            return evaluate

        def checkpointed(arch: str) -> dict:
            now = time.monotonic()
            if now - self.last >= self.sender.every_s and self.sender.ready(self.spec):
                spent = self.search_time_before + (now - self.t0)
                self.sender.send(self.spec, encode(self.spec, self.searcher, self.archs, spent), len(self.archs))
                self.last = time.monotonic()
            return evaluate(arch)

        return checkpointed


class Shelf:
    """The driver's side: RUN/checkpoints/ and the latest checkpoint per trial, from the inbox or
    from files an earlier invocation left."""

    def __init__(self, run: str | os.PathLike, on_note: Callable[[str], None]) -> None:
        self.run = Path(run)
        self.note = on_note
        self.latest: dict[tuple[int, str], bytes] = {}
        self.resumed: list[dict[str, Any]] = []
        # search time the checkpoints read from files had spent in earlier invocations, per trial
        self.spent_before: dict[tuple[int, str], float] = {}

    def load(self, specs: list[dict[str, Any]]) -> None:
        """Read the checkpoints an earlier invocation left for the unfinished trials ``specs``."""
        for spec in specs:
            path = checkpoint_path(self.run, spec["trial"], spec["algorithm"])
            if not path.is_file():
                continue
            try:
                blob = path.read_bytes()
                payload = decode(blob)
                why = mismatch(payload, spec)
            except Exception as exc:  # noqa: BLE001 - an unusable checkpoint: start the trial afresh
                why = f"unreadable ({type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''})"
            if why:
                self.note(f"note: ignoring {path}: {why}; trial {spec['trial']} {spec['algorithm']} starts afresh")
                continue
            self.latest[(spec["trial"], spec["algorithm"])] = blob
            self.spent_before[(spec["trial"], spec["algorithm"])] = float(payload.get("search_time_s", 0.0))

    def store(self, got: dict[tuple[int, str], tuple[int, bytes]], finished: set[tuple[int, str]]) -> None:
        """Write what the inbox held (trials already finished are dropped: their result is written)."""
        for key, (_, blob) in sorted(got.items()):
            if key in finished:
                continue
            self.latest[key] = blob
            with atomic_path(checkpoint_path(self.run, *key)) as tmp:
                tmp.write_bytes(blob)

    def attach(self, task: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``task``'s specs, each with its trial's latest checkpoint (``spec["checkpoint"]``), if any."""
        out = []
        for spec in task:
            spec = {k: v for k, v in spec.items() if k != "checkpoint"}
            blob = self.latest.get((spec["trial"], spec["algorithm"]))
            if blob is not None:
                spec["checkpoint"] = blob
                self.resumed.append({"trial": spec["trial"], "algorithm": spec["algorithm"],
                                     "query": int(decode(blob)["query"])})
            out.append(spec)
        return out

    def discard(self, trial: int, algorithm: str) -> None:
        """Drop a finished trial's checkpoint (its file, then its folder when empty)."""
        self.latest.pop((trial, algorithm), None)
        path = checkpoint_path(self.run, trial, algorithm)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        for folder in (path.parent, path.parent.parent):
            try:
                folder.rmdir()
            except OSError:
                break


def clean_finished(run: str | os.PathLike, finished: set[tuple[int, str]] | dict) -> None:
    """Remove checkpoints of trials whose result exists (a driver stopped between the two writes)."""
    for trial, algorithm in finished:
        path = checkpoint_path(run, trial, algorithm)
        if path.is_file():
            Shelf(run, print).discard(trial, algorithm)
