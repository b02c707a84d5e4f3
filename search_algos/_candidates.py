"""Candidate generation of NPENAS and BANANAS: mutants of the best architectures (arXiv 2003.12857).

"One parent, multiple children": parents are the ``max_parents`` best evaluated architectures, best
first. Each parent in turn gets ``children_per_parent`` mutation attempts (all of them, even when
fewer candidates are still needed, as the original code does: deliberate NPENAS behaviour), every
child whose canonical key is unseen is kept, and the walk stops before the next parent once
``num_candidates`` exist; the list is truncated to ``num_candidates``. Keys are the space's canonical
ones (NB101 module hash, NB201 cell string), not the PAPE of the original, which merges distinct NB101
graphs (README, Decisions).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ssnenas.spaces import SearchSpace


def best_parents(successes: Sequence[tuple[int, Any, float]], max_parents: int) -> list[Any]:
    """The ``max_parents`` lowest-error architectures, best first (ties: earlier evaluation first)."""
    ranked = sorted(successes, key=lambda s: (s[2], s[0]))
    return [arch for _, arch, _ in ranked[:max_parents]]


def mutation_candidates(space: SearchSpace, parents: Sequence[Any], seen: set[str],
                        rng: np.random.Generator, *, num_candidates: int = 100,
                        children_per_parent: int = 100,
                        is_known: Callable[[Any], bool] | None = None) -> list[Any]:
    """Up to ``num_candidates`` distinct unseen mutants of ``parents`` (``seen`` is not modified)."""
    taken = set(seen)
    out: list[Any] = []
    for parent in parents:
        if len(out) >= num_candidates:
            break
        for _ in range(children_per_parent):
            child = space.mutate(parent, rng, is_known)
            key = space.key(child)
            if key not in taken:
                taken.add(key)
                out.append(child)
    return out[:num_candidates]
