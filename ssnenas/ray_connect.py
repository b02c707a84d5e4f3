"""Joining or starting the Ray that a command runs on (benchmark, DARTS search, retraining)."""

from __future__ import annotations

import os
from typing import Any

from ssnenas.errors import InputError


def connect_ray(address: str | None, *, num_cpus: int | None = None, dashboard: bool = False,
                system_config: dict[str, Any] | None = None) -> bool:
    """Use the Ray already initialised in this process, join ``address`` (``auto`` or HOST:PORT), or
    start a local Ray (``num_cpus``, ``dashboard``, Ray ``system_config``); True when this call started
    or joined it (the caller then shuts it down). An unreachable address is an :class:`InputError`."""
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=dashboard, log_to_driver=False,
                     _system_config=system_config)
    except (ConnectionError, RuntimeError, TimeoutError) as exc:
        raise InputError(f"--address {address or 'local'}: cannot connect to Ray "
                         f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); start a cluster "
                         "with `ray start --head` or omit --address") from exc
    return True
