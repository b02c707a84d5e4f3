"""Search spaces: one module per space, each holding all of that space's knowledge.

``get_space(name)`` returns the (stateless) space object for ``nasbench101``, ``nasbench201`` or
``darts``.
"""

from __future__ import annotations

import importlib

from ssnenas.errors import InputError
from ssnenas.spaces.base import Graph, SearchSpace

_MODULES = {"nasbench101": "nasbench101", "nasbench201": "nasbench201", "darts": "darts"}
_ALIASES = {"nb101": "nasbench101", "nb201": "nasbench201", "nb301": "darts"}


def space_names() -> list[str]:
    return list(_MODULES)


def get_space(name: str) -> SearchSpace:
    """The space object registered as ``name`` (aliases nb101, nb201, nb301 accepted)."""
    canonical = _ALIASES.get(name, name)
    if canonical not in _MODULES:
        raise InputError(f"unknown search space {name!r}; choose one of {', '.join(_MODULES)}")
    module = importlib.import_module(f"ssnenas.spaces.{_MODULES[canonical]}")
    return module.SPACE


__all__ = ["Graph", "SearchSpace", "get_space", "space_names"]
