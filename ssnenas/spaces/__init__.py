"""Search spaces: one module per space, each holding all of that space's knowledge.

``get_space(name)`` returns the (stateless) space object for ``nasbench101``, ``nasbench201``,
``darts`` or ``transnas101-micro``; the original NPENAS/SSNENAS code's names (``nasbench_101``,
``nasbench_201``), NASLib's ``transbench101_micro`` and the short ones (``nb101``, ``nb201``, ``nb301``,
``tnb101-micro``) are aliases.
"""

from __future__ import annotations

import importlib

from ssnenas.errors import InputError
from ssnenas.spaces.base import Graph, SearchSpace

_MODULES = {"nasbench101": "nasbench101", "nasbench201": "nasbench201", "darts": "darts",
            "transnas101-micro": "transnas101"}
_ALIASES = {"nb101": "nasbench101", "nb201": "nasbench201", "nb301": "darts",
            "nasbench_101": "nasbench101", "nasbench_201": "nasbench201",
            "tnb101-micro": "transnas101-micro", "transnas101_micro": "transnas101-micro",
            "transbench101_micro": "transnas101-micro"}


def space_names() -> list[str]:
    return list(_MODULES)


def aliases(name: str) -> list[str]:
    """The other names of space ``name`` (e.g. nasbench_101 and nb101 for nasbench101)."""
    return [a for a, c in _ALIASES.items() if c == name]


def canonical_name(name: str) -> str:
    """``name`` or its alias as the space's own name; unknown names raise :class:`InputError`."""
    canonical = _ALIASES.get(name, name)
    if canonical not in _MODULES:
        raise InputError(f"unknown search space {name!r}; choose one of {', '.join(_MODULES)} "
                         f"(or {', '.join(_ALIASES)})")
    return canonical


def get_space(name: str) -> SearchSpace:
    """The space object registered as ``name`` (aliases nasbench_101, nasbench_201, nb101, nb201,
    nb301, tnb101-micro, transnas101_micro, transbench101_micro accepted)."""
    canonical = canonical_name(name)
    module = importlib.import_module(f"ssnenas.spaces.{_MODULES[canonical]}")
    return module.SPACE


__all__ = ["Graph", "SearchSpace", "aliases", "canonical_name", "get_space", "space_names"]
