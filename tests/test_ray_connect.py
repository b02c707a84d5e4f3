"""The Ray that a command starts for itself listens on loopback only (its authentication is off)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Runs in a fresh interpreter: this test session's own Ray is already initialised in-process.
PROBE = """
import json, psutil, ray
from ssnenas.ray_connect import connect_ray, SINGLE_HOST_ENV
import os
assert connect_ray(None, num_cpus=1, dashboard=True)
task_ip = ray.get(ray.remote(lambda: ray.util.get_node_ip_address()).remote())
me = psutil.Process()
pids = {me.pid} | {p.pid for p in me.children(recursive=True)}
listening = sorted({(c.laddr.ip, c.laddr.port) for c in psutil.net_connections("tcp")
                    if c.status == psutil.CONN_LISTEN and c.pid in pids})
env_after = os.environ.get(SINGLE_HOST_ENV)
ray.shutdown()
print(json.dumps({"task_ip": task_ip, "listening": listening, "env_after": env_after}))
"""


@pytest.mark.timeout(120)
def test_local_ray_binds_loopback_only():
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=110)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["task_ip"] == "127.0.0.1"
    ips = {ip for ip, _ in found["listening"]}
    # GCS, raylet, object manager, core workers, agents, dashboard, metrics: at least a handful of servers
    assert len(found["listening"]) >= 5 and ips <= {"127.0.0.1", "::ffff:127.0.0.1", "::1"}, found["listening"]
    assert found["env_after"] is None  # the switch does not leak into the rest of the command
