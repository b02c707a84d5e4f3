"""Searchers by name, with the settings per algorithm of the SSNENAS code (arXiv 2011.00186).

The benchmark runner builds every algorithm of a trial with :func:`make_searcher`, passing the same
``initial_archs`` to all of them (paired comparison) and a per-(trial, algorithm) seed.

A fixed-budget name may carry its ``training_nums`` after a colon: ``npenas-ssrl-fixed:20`` is
NPENAS-SSRL-FIXED whose predictor stops being retrained once it was trained on 20 or more
architectures (the SSNENAS ``nasbench_101_fixed`` / ``nasbench_201_fixed`` budget study); the bare
``npenas-ssrl-fixed`` keeps the original code's value (:data:`FIXED_TRAINING_NUMS`). Every name
:func:`parse_algorithm` accepts works wherever an algorithm name does (``ssnenas benchmark --algos``,
cohorts, reports).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from search_algos._base import NASSearcher
from search_algos.bananas import BANANAS, MAPE_LOWER_BOUND
from search_algos.local_search import LocalSearch
from search_algos.npenas import NPENAS
from search_algos.random_search import RandomSearch
from search_algos.rea import REA
from search_algos.ssnenas_plus import SSNENASPlus
from ssnenas.errors import InputError
from ssnenas.spaces import get_space

if TYPE_CHECKING:
    from ssnenas.store import BenchmarkStore

#: every name make_searcher accepts, in the algorithm (plot label) order of the original SSNENAS code,
#: with local search (arXiv 2005.02960, not in that code) beside the other baseline without a model, and
#: bananas-mape (BANANAS as NPENASv1 ran it on NB201: the MAPE loss, lower bound 4.5) beside bananas
ALGORITHMS: list[str] = ["random", "rea", "local-search", "bananas", "bananas-mape", "npenas-np", "npenas-np-fixed",
                         "npenas-bo", "npenas-ssrl", "npenas-ssrl-fixed", "npenas-ssccl", "npenas-ssccl-fixed",
                         "npenas-ssccl-k3-iso", "ssnenas-plus"]

#: the settings of ``npenas-ssccl-k3-iso`` (``search_algos.ssnenas_plus``, docs/ssnenas-plus.md): batches of 3
#: while fewer than 50 queries are spent, isomorphic candidates passed over, 100 fine-tuning epochs (the
#: ablation of docs/ssnenas-plus.md found 100 as good as NPENAS-SSCCL's 150 at two thirds of the cost)
PLUS_SETTINGS: dict[str, Any] = {"predictor": "ss-ccl", "early_k": 3, "early_until": 50, "skip_isomorphic": True,
                                 "epochs": 100}
#: ``ssnenas-plus``: the stable alias of the best configuration found so far (scripts keep working as it improves)
PLUS_ALIAS = {"ssnenas-plus": "npenas-ssccl-k3-iso"}

_NPENAS_PREDICTOR = {"npenas-np": "gin", "npenas-bo": "gin-bo", "npenas-ssrl": "ss-rl",
                     "npenas-ssccl": "ss-ccl"}
#: ``training_nums`` of the fixed variants (the original code's algo_params nasbench_101 / nasbench_201;
#: TransNAS-Bench-101 micro, which that code never searched, takes NB201's: the same cell topology, a
#: space of 4,096 cells against NB201's 15,625, and the same budget of 100 queries)
FIXED_TRAINING_NUMS = {
    "nasbench101": {"npenas-np-fixed": 50, "npenas-ssrl-fixed": 90, "npenas-ssccl-fixed": 90},
    "nasbench201": {"npenas-np-fixed": 50, "npenas-ssrl-fixed": 50, "npenas-ssccl-fixed": 50},
    "darts": {"npenas-np-fixed": 50, "npenas-ssrl-fixed": 50, "npenas-ssccl-fixed": 50},
    "transnas101-micro": {"npenas-np-fixed": 50, "npenas-ssrl-fixed": 50, "npenas-ssccl-fixed": 50},
}


def parse_algorithm(name: str) -> tuple[str, int | None]:
    """``(base name, training_nums)`` of an algorithm name: ``"npenas-ssrl-fixed:20"`` ->
    ``("npenas-ssrl-fixed", 20)``, ``"npenas-ssrl"`` -> ``("npenas-ssrl", None)`` (case-insensitive).

    Raises :class:`InputError` naming ``name`` for an unknown base name, a ``:N`` on an algorithm
    that is not a ``-fixed`` one, or an ``N`` that is not a whole number >= 1 written without
    leading zeros (the name is also the run's file name, so one setting has one spelling).
    """
    from search_algos._templates import UNKNOWN_ALGORITHM

    if not isinstance(name, str):
        raise InputError(f"algorithm name {name!r} is not a string; choose one of {', '.join(ALGORITHMS)}")
    base, sep, nums = name.lower().partition(":")
    if base not in ALGORITHMS:
        raise InputError(UNKNOWN_ALGORITHM.format(name=name, valid=", ".join(ALGORITHMS))
                         + " (a -fixed one may add :N, its training_nums, e.g. npenas-ssrl-fixed:20)")
    if not sep:
        return base, None
    if not base.endswith("-fixed"):
        hint = f"; did you mean {base}-fixed:{nums}?" if f"{base}-fixed" in ALGORITHMS else ""
        raise InputError(f"algorithm {name!r}: only the fixed-budget variants "
                         f"({', '.join(a for a in ALGORITHMS if a.endswith('-fixed'))}) take :N "
                         f"(training_nums){hint}")
    if not nums.isdigit() or not nums.isascii() or int(nums) < 1 or (len(nums) > 1 and nums[0] == "0"):
        raise InputError(f"algorithm {name!r}: training_nums {nums!r} after ':' must be a whole number >= 1 "
                         f"without leading zeros, e.g. {base}:20")
    return base, int(nums)


def canonical_algorithm(name: str) -> str:
    """The one spelling of ``name`` (lower case): what result files and reports are keyed by."""
    base, nums = parse_algorithm(name)
    return base if nums is None else f"{base}:{nums}"


def algorithm_settings(name: str, space: str) -> tuple[type[NASSearcher], dict[str, Any]]:
    """The class and the constructor settings that ``name`` stands for in ``space``."""
    key, training_nums = parse_algorithm(name)
    space = get_space(space).name
    if key == "random":
        return RandomSearch, {}
    if key == "rea":
        return REA, {"population_size": 30, "tournament_size": 10, "aging": False}
    if key == "local-search":  # first improvement, one query at a time, as the authors' code
        return LocalSearch, {"full_neighbourhood": False}
    if key == "bananas":
        return BANANAS, {"encoding": "path"}
    if key == "bananas-mape":  # NPENASv1's meta_neuralnet_params('nasbench_201'): the rest as bananas
        return BANANAS, {"encoding": "path", "loss": "mape", "mape_lower_bound": MAPE_LOWER_BOUND}
    if PLUS_ALIAS.get(key, key) == "npenas-ssccl-k3-iso":
        return SSNENASPlus, dict(PLUS_SETTINGS)
    fixed = key.endswith("-fixed")
    base = key[:-len("-fixed")] if fixed else key
    settings: dict[str, Any] = {"predictor": _NPENAS_PREDICTOR[base]}
    if fixed:
        settings["training_nums"] = training_nums if training_nums is not None else FIXED_TRAINING_NUMS[space][key]
    return NPENAS, settings


def _accepted(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is NASSearcher or (isinstance(klass, type) and issubclass(klass, NASSearcher)):
            params = inspect.signature(klass.__init__).parameters
            names.update(n for n, p in params.items() if p.kind == p.KEYWORD_ONLY)
    return names


def make_searcher(name: str, *, space: str, store: BenchmarkStore | None, seed: int, budget: int,
                  initial_archs: list[str] | None = None, predictor_checkpoint: str | None = None,
                  device: str = "cpu", **overrides: Any) -> NASSearcher:
    """Build the searcher ``name`` (one of :data:`ALGORITHMS`, a fixed one optionally with ``:N``, see
    :func:`parse_algorithm`) with the paper's settings.

    ``predictor_checkpoint`` (an ``ssnenas pretrain`` file) is used by the SS-RL / SS-CCL variants
    and ignored by the others; ``device`` by the predictor-based ones. ``overrides`` replace any
    constructor setting (e.g. ``epochs=20``, ``k=5``, ``aging=True``); an unknown one raises
    :class:`InputError` listing the valid ones.
    """
    cls, settings = algorithm_settings(name, space)
    if "training_nums" in overrides and parse_algorithm(name)[1] is not None:
        raise InputError(f"make_searcher({name!r}): training_nums is set twice, by the name's :N and by "
                         f"training_nums={overrides['training_nums']!r}; give it once")
    kwargs: dict[str, Any] = {"space": space, "store": store, "seed": seed, "budget": budget,
                              "initial_archs": initial_archs, **settings}
    accepted = _accepted(cls)
    if "predictor_checkpoint" in accepted and settings.get("predictor") in ("ss-rl", "ss-ccl"):
        kwargs["predictor_checkpoint"] = predictor_checkpoint
    if "device" in accepted:
        kwargs["device"] = device
    unknown = sorted(set(overrides) - accepted)
    if unknown:
        raise InputError(f"make_searcher({name!r}): unknown setting(s) {', '.join(unknown)} for "
                         f"{cls.__name__}; valid: {', '.join(sorted(accepted))}")
    kwargs.update(overrides)
    return cls(**kwargs)


def check_settings(name: str, *, space: str, store: BenchmarkStore | None, budget: int,
                   predictor_checkpoint: str | None = None, **overrides: Any) -> None:
    """Raise :class:`InputError` for anything :func:`make_searcher` would reject with these settings.

    Builds the searcher once on the CPU (no fitting happens at construction) and drops it, so that
    a runner can refuse bad settings before submitting any work.
    """
    make_searcher(name, space=space, store=store, seed=0, budget=budget,
                  predictor_checkpoint=predictor_checkpoint, device="cpu", **overrides)
