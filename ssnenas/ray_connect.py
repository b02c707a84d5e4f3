"""Joining or starting the Ray that a command runs on (benchmark, DARTS search, retraining, pre-training).

A Ray that a command starts for itself is private twice over: every server binds loopback (the network
stays out), and Ray's token authentication stays on (the other accounts of the same machine stay out:
loopback does not keep them from the dashboard, the agents' job API or the GCS). The token is
``~/.ray/auth_token`` (or ``$RAY_AUTH_TOKEN_PATH``, or ``$RAY_AUTH_TOKEN``), made on first use by
:func:`ensure_private_token` readable by this account only (mode 0600): Ray's own first-use token
follows the umask (0644 on most systems), which would hand it to every account that can read the home
folder. Its files live under a folder only this account can enter (:func:`private_temp_dir`): Ray makes
its session, socket, log and runtime-env folders world-writable (mode 0777) under ``/tmp/ray``, where
another account could replace a socket or plant a file in a runtime environment. A user who sets
``RAY_AUTH_MODE=disabled`` gets what they asked for (the tests do, for their own
Rays); this module never turns authentication off itself.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import tempfile
from pathlib import Path
from typing import Any

from ssnenas.errors import InputError

log = logging.getLogger(__name__)

AUTH_MODE_ENV = "RAY_AUTH_MODE"
TOKEN_ENV = "RAY_AUTH_TOKEN"
TOKEN_PATH_ENV = "RAY_AUTH_TOKEN_PATH"

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
    if not address:
        ensure_private_token()
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
    raylet, object manager and metrics to all interfaces, open to the network's attempts (the token
    guards job submission, but the metrics endpoint and every server's parser would face the network). Single-host mode keeps 127.0.0.1: the flag is set
    in the environment (inherited by Ray's processes) and in the already-imported constants module
    for the duration of the start."""
    import ray
    from ray._private import ray_constants

    before_env, before_flag = os.environ.get(SINGLE_HOST_ENV), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[SINGLE_HOST_ENV] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    temp_dir = private_temp_dir()
    if temp_dir is not None:
        init_kwargs.setdefault("_temp_dir", temp_dir)
    try:
        ray.init(address="local", _node_ip_address="127.0.0.1", log_to_driver=False, **init_kwargs)
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before_flag
        if before_env is None:
            os.environ.pop(SINGLE_HOST_ENV, None)
        else:
            os.environ[SINGLE_HOST_ENV] = before_env


def token_path() -> Path:
    """Where Ray reads its token (when ``RAY_AUTH_TOKEN`` is not set): ``$RAY_AUTH_TOKEN_PATH`` or
    ``~/.ray/auth_token``, the order of Ray's own token loader."""
    return Path(os.environ.get(TOKEN_PATH_ENV) or Path.home() / ".ray" / "auth_token").expanduser()


def ensure_private_token() -> Path | None:
    """Make sure the local Ray about to start has a token that only this account can read; return
    the token file (None where no file is involved: authentication explicitly off, or the token in
    ``RAY_AUTH_TOKEN``).

    A missing or empty token file is made with mode 0600 (256 random bits, written to a private
    temporary and linked into place, so two commands starting at once agree on one token); an
    existing one that group or others may read is made 0600 with a warning; one owned by another
    account is refused (that account knows the token). Authentication itself is left to Ray, which
    turns it on for a new local Ray unless ``RAY_AUTH_MODE`` says otherwise; an explicit
    ``RAY_AUTH_MODE=disabled`` is the user's choice and kept."""
    mode = os.environ.get(AUTH_MODE_ENV)
    if mode is not None and mode.strip().lower() != "token":
        log.info("%s=%s: the local Ray starts without authentication; any account of this machine can "
                 "submit jobs to it", AUTH_MODE_ENV, mode)
        return None
    if os.environ.get(TOKEN_ENV, "").strip():
        return None
    path = token_path()
    try:
        info = path.stat()
    except FileNotFoundError:
        info = None
    if info is not None and info.st_size > 0:
        _check_private(path, info)
        return path
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
            f.flush()
            os.fsync(f.fileno())
        if info is not None:  # an empty file: replace it (nothing can have used it)
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # never clobbers a token another command made meanwhile
            except FileExistsError:
                _check_private(path, path.stat())
    except OSError as exc:
        raise InputError(f"{path}: cannot write Ray's authentication token ({exc}); make {path.parent} "
                         f"writable, or set {TOKEN_PATH_ENV} to a file of your own") from exc
    finally:
        tmp.unlink(missing_ok=True)
    log.info("made Ray's authentication token %s (mode 0600)", path)
    return path


def _check_private(path: Path, info: os.stat_result) -> None:
    """Refuse a token file of another account; make one that others may read private again."""
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise InputError(f"{path}: Ray's authentication token belongs to uid {info.st_uid}, not to you; that "
                         f"account can reach your Ray. Remove it (or set {TOKEN_PATH_ENV} to a file of "
                         "your own) and run again")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o600)
        log.warning("%s: Ray's authentication token was readable by other accounts (mode %o); made it 0600. "
                    "If others may have read it, remove it while no Ray of yours runs; the next command makes a new one",
                    path, stat.S_IMODE(info.st_mode))


def private_temp_dir() -> str | None:
    """Ray's temporary root for a local Ray: ``<tmp>/ssnenas-<uid>/ray``, inside a folder of mode 0700
    owned by this account; None where the user chose one (``RAY_TMPDIR``) or the system has no uids.

    Why the extra level: Ray chmods its temporary root and everything it makes below to 0777, so
    only a private parent keeps other accounts out of the sockets, logs and runtime environments.
    A parent that is a link, not a folder, or another account's is refused (someone prepared it)."""
    if os.environ.get("RAY_TMPDIR") or not hasattr(os, "getuid"):
        return None
    parent = Path(tempfile.gettempdir()) / f"ssnenas-{os.getuid()}"
    try:
        parent.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = os.lstat(parent)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise InputError(f"{parent}: not a folder of yours (uid {info.st_uid}, mode {stat.filemode(info.st_mode)}); "
                         "another account may have prepared it for your Ray. Remove it, or set RAY_TMPDIR to "
                         "a private folder")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(parent, 0o700)
    return str(parent / "ray")
