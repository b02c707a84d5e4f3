"""Asynchronous proposals for the batch searchers: a free trial slot gets its candidate at once.

The paper's NPENAS (arXiv 2003.12857) is synchronous: after the initial random batch it proposes
``k`` architectures at a time, and the next ``k`` only when every one of them has been evaluated. On a
cluster this leaves slots idle: never more than ``k`` candidates run at once (32 packed GPU slots with
k = 10 stay mostly empty) and every generation waits for its slowest candidate.

Asynchronous mode (``ssnenas search --async``) changes one rule: whenever a trial slot is free and the
current batch is all handed out, the searcher proposes a new batch of as many architectures as there
are free slots (usually one), from a predictor refitted on *every* evaluation finished so far, while
the other candidates keep training. Everything else is the paper's algorithm: the same initial random
batch, the same predictor and training, the same mutation pool of the best evaluated architectures,
the same ranking; the budget counts the same. What it changes:

- proposals see fewer results: a candidate proposed while others train is chosen without them (in
  synchronous mode the ``k`` of a generation see the same data; here each sees all finished ones);
- while nothing has finished yet, slots beyond the initial batch get random architectures (the
  searcher's rule when it has no data to learn from);
- the predictor is refitted once per proposal batch: up to ``k`` times as many fits as the
  synchronous search (seconds each, small beside a candidate's training);
- the proposals depend on the order in which candidates finish, so a run on real hardware is not
  reproducible from its seed (a run under a simulated clock is). The synchronous mode stays the
  default and stays reproducible.

:func:`asynchronous` turns a searcher built by ``search_algos.make_searcher`` into its asynchronous
twin (same state, same settings); the twin pickles and restores like the original.
"""

from __future__ import annotations

from typing import Any


from search_algos._base import NASSearcher
from search_algos.npenas import NPENAS
from ssnenas.errors import InputError


class AsyncProposals:
    """Mixin over a :class:`NASSearcher`: propose for the free slots as soon as they are free."""

    asynchronous = True

    def suggest(self, trial_id: str) -> dict | str | None:
        s: Any = self
        live, limit = len(s._live), s._max_concurrent
        if (trial_id not in s._live and not s._pending and s._num_batches > 0 and live
                and (s.budget is None or len(s._records) < s.budget)
                and (limit is None or live < limit)):
            self._propose_for_free_slots(1 if limit is None else limit - live)
        out = super().suggest(trial_id)  # type: ignore[misc]
        return out

    def _propose_for_free_slots(self, n: int) -> None:
        """A new batch of ``n`` proposals (the base class sizes later batches by ``k``)."""
        s: Any = self
        k = s.k
        s.k = n
        try:
            s._new_batch()
        finally:
            s.k = k


class AsyncNPENAS(AsyncProposals, NPENAS):
    """NPENAS (any predictor, fixed variants included) with asynchronous proposals."""


#: the searcher classes that have an asynchronous twin
TWINS: dict[type[NASSearcher], type[NASSearcher]] = {NPENAS: AsyncNPENAS}


def asynchronous(searcher: NASSearcher) -> NASSearcher:
    """The asynchronous twin of ``searcher`` (same settings and state; see the module docstring)."""
    twin_cls = TWINS.get(type(searcher))
    if twin_cls is None:
        raise InputError(f"asynchronous proposals are available for NPENAS searchers, not "
                         f"{type(searcher).__name__}; drop --async or choose an npenas algorithm")
    twin = twin_cls.__new__(twin_cls)
    twin.__dict__.update(searcher.__dict__)
    return twin


__all__ = ["AsyncNPENAS", "AsyncProposals", "TWINS", "asynchronous"]
