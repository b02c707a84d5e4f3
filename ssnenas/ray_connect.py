"""Joining or starting the Ray that a command runs on (benchmark, DARTS search, retraining, pre-training)."""

from __future__ import annotations

import os
from typing import Any

from ssnenas.errors import InputError

# Ray's switch for its single-host mode (named after Windows/macOS, where it is the default): with it
# off, a node's address stays 127.0.0.1 and every Ray server binds loopback.
SINGLE_HOST_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def connect_ray(address: str | None, *, num_cpus: int | None = None, num_gpus: int | None = None,
                dashboard: bool = False, system_config: dict[str, Any] | None = None) -> bool:
    """Use the Ray already initialised in this process, join ``address`` (``auto`` or HOST:PORT), or
    start a local Ray on loopback (``num_cpus``, ``num_gpus``, ``dashboard``, Ray ``system_config``);
    True when this call started or joined it (the caller then shuts it down). An unreachable address
    is an :class:`InputError`."""
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            _start_local_on_loopback(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=dashboard,
                                     _system_config=system_config)
    except (ConnectionError, RuntimeError, TimeoutError) as exc:
        raise InputError(f"--address {address or 'local'}: cannot connect to Ray "
                         f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); start a cluster "
                         "with `ray start --head` or omit --address") from exc
    return True


def _start_local_on_loopback(**init_kwargs: Any) -> None:
    """A private Ray for this command, reachable from this machine only.

    Why: ``ray.init`` replaces 127.0.0.1 by the machine's routable address and then binds the GCS,
    raylet, object manager and metrics to all interfaces; with authentication off (local runs) that
    would let anyone on the network run code here. Single-host mode keeps 127.0.0.1: the flag is set
    in the environment (inherited by Ray's processes) and in the already-imported constants module
    for the duration of the start."""
    import ray
    from ray._private import ray_constants

    before_env, before_flag = os.environ.get(SINGLE_HOST_ENV), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[SINGLE_HOST_ENV] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        ray.init(address="local", _node_ip_address="127.0.0.1", log_to_driver=False, **init_kwargs)
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before_flag
        if before_env is None:
            os.environ.pop(SINGLE_HOST_ENV, None)
        else:
            os.environ[SINGLE_HOST_ENV] = before_env
