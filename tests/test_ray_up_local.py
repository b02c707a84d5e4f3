"""End to end on one machine: `ray up` with the `local` provider (experiments/cluster_local.yaml) on
127.0.0.1 through a private sshd, `ray job submit` of a small real benchmark run, `ray down`.

Isolation: the sshd runs as PID 1 of its own PID namespace (``unshare --pid --fork --mount-proc``),
so the `ray stop` that `ray up`/`ray down` run on the "remote" host sees only the cluster this test
started, never another Ray on this machine. Its port is a free one, reached through an ssh
ProxyCommand (Ray's auth config has no port setting). In the namespace only, root's ~/.bashrc is
bind-mounted over by a copy that puts this venv first on PATH and exports the auth token, as a real
host has `ray` on its login PATH. Token authentication stays on: a request without the token is
refused. Needs Debian `openssh-server` and `rsync` (and util-linux `unshare`, root).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import secrets
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SSHD = "/usr/sbin/sshd"
RELAY = """import os, socket, sys, threading
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
def up():
    while True:
        b = os.read(0, 65536)
        if not b:
            break
        s.sendall(b)
    s.shutdown(socket.SHUT_WR)
threading.Thread(target=up, daemon=True).start()
while True:
    b = s.recv(65536)
    if not b:
        break
    os.write(1, b)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _missing_tools() -> list[str]:
    need = {"sshd (openssh-server)": SSHD, "ssh": shutil.which("ssh"), "ssh-keygen": shutil.which("ssh-keygen"),
            "rsync": shutil.which("rsync"), "unshare (util-linux)": shutil.which("unshare")}
    return [name for name, path in need.items() if not path or not os.access(path, os.X_OK)]


def _run(cmd: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n" \
                                 f"{proc.stderr[-4000:]}"
    return proc


def _ours(marker: str) -> list:
    import psutil

    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if any(marker in part for part in (p.info["cmdline"] or [])):
                found.append(p)
        except psutil.Error:
            continue
    return [p for p in found if p.pid != os.getpid() and "sshd_config" not in " ".join(p.cmdline())]


def _listening(root_pid: int) -> set[tuple[str, int]]:
    """(address, port) of every listening TCP socket of root_pid's descendants (sshd excluded)."""
    import psutil

    pids = {p.pid for p in psutil.Process(root_pid).children(recursive=True) if p.name() != "sshd"}
    return {(c.laddr.ip, c.laddr.port) for c in psutil.net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.pid in pids}


def _wait_gone(marker: str, seconds: float) -> list:
    deadline = time.time() + seconds
    left = _ours(marker)
    while left and time.time() < deadline:
        time.sleep(0.5)
        left = _ours(marker)
    return left


def _cluster_config(work: Path, key: Path, relay: Path, ssh_port: int, gcs_port: int, dash_port: int,
                    metrics_port: int) -> dict:
    """experiments/cluster_local.yaml, pointed at this test's sshd, ports, venv and temp dir. Every
    port is a free one: another Ray on this machine may hold the defaults (e.g. the agent's 52365)."""
    cfg = yaml.safe_load((REPO / "experiments" / "cluster_local.yaml").read_text())
    cfg["cluster_name"] = f"ssnenas-test-{ssh_port}"
    cfg["auth"] = {"ssh_user": "root", "ssh_private_key": str(key),
                   "ssh_proxy_command": f"{sys.executable} {relay} 127.0.0.1 {ssh_port}"}
    cfg["file_mounts"] = {}      # the token comes from RAY_AUTH_TOKEN (set in the hosts' ~/.bashrc)
    cfg["setup_commands"] = []   # the project is installed in this venv already
    stop, head = cfg["head_start_ray_commands"]
    assert stop == "ray stop" and "--dashboard-host=127.0.0.1" in head and "--node-ip-address=127.0.0.1" in head
    assert head.startswith("export RAY_AUTH_MODE=token RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0;")
    head = (head.replace("--port=6379", f"--port={gcs_port}")
            .replace("--dashboard-port=8265", f"--dashboard-port={dash_port}")
            .replace("--metrics-export-port=8080", f"--metrics-export-port={metrics_port}")
            + f" --num-cpus=2 --temp-dir={work}/ray --dashboard-agent-listen-port={_free_port()}"
            f" --dashboard-agent-grpc-port={_free_port()} --runtime-env-agent-port={_free_port()}"
            f" --ray-client-server-port={_free_port()}")
    cfg["head_start_ray_commands"] = [stop, head]
    cfg["worker_start_ray_commands"] = []
    return cfg


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ray_up_job_submit_ray_down(synthetic_nb201_store):
    missing = _missing_tools()
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed; .ci/run installs them with "
                    "`apt-get install -y openssh-server rsync`")
    import pyarrow.parquet as pq

    work = Path(tempfile.mkdtemp(prefix="rayup"))  # short: Ray's unix socket paths must stay < 108 chars
    ssh_port, gcs_port, dash_port, metrics_port = (_free_port() for _ in range(4))
    key, host_key, relay = work / "id_ed25519", work / "host_ed25519", work / "relay.py"
    relay.write_text(RELAY)
    for k in (key, host_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(k)], check=True)
    (work / "authorized_keys").write_text(Path(f"{key}.pub").read_text())
    (work / "sshd_config").write_text(
        f"Port {ssh_port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {work}/sshd.pid\n"
        f"AuthorizedKeysFile {work}/authorized_keys\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        "AcceptEnv none\nPrintMotd no\n")
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privilege-separation directory
    # Inside the namespace only, ~/.bashrc (sourced by Ray's ssh commands, `ray down` included) puts
    # this venv first on PATH, as a real host has `ray` and the project on its login PATH.
    bashrc = Path(os.path.expanduser("~root")) / ".bashrc"
    if not bashrc.exists():
        bashrc.touch()
    token = secrets.token_hex(32)  # token authentication stays on, as in the shipped file
    # the dashboard's and the autoscaler's own metric servers have fixed ports (44227, 44217) by default
    (work / "bashrc").write_text(f"{bashrc.read_text()}\nexport PATH={Path(sys.executable).parent}:$PATH "
                                 f"RAY_AUTH_TOKEN={token} RAY_USAGE_STATS_ENABLED=0 "
                                 f"DASHBOARD_METRIC_PORT={_free_port()} AUTOSCALER_METRIC_PORT={_free_port()}\n")
    sshd = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "sh", "-c",
                             f'mount --bind {work}/bashrc {bashrc} && exec {SSHD} -D -e -f {work}/sshd_config'],
                            stdout=subprocess.DEVNULL, stderr=open(work / "sshd.log", "w"))
    config = work / "cluster.yaml"
    config.write_text(yaml.safe_dump(_cluster_config(work, key, relay, ssh_port, gcs_port, dash_port,
                                                     metrics_port)))
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_AUTH_TOKEN_PATH", None)
    ray_bin = str(Path(sys.executable).parent / "ray")
    out = work / "run"
    timings = {}
    # what `ray up` leaves on the "remote" host (its home) and in ssh's control-path folder
    home = Path(os.path.expanduser("~root"))
    side_files = [p for p in (home / "ray_bootstrap_config.yaml", home / "ray_bootstrap_key.pem") if not p.exists()]
    control_before = set(Path(tempfile.gettempdir()).glob("ray_ssh_*/*"))
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", ssh_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        t0 = time.time()
        _run([ray_bin, "up", "-y", "--no-config-cache", "--disable-usage-stats", str(config)], env, 150)
        timings["ray up"] = time.time() - t0
        # every port the cluster opened (GCS, raylet, object manager, agents, dashboard, metrics) is on
        # loopback; the namespace's processes are the sshd's descendants, so no other program counts
        listening = _listening(sshd.pid)
        assert {port for _, port in listening} >= {gcs_port, dash_port, metrics_port}, listening
        assert {ip for ip, _ in listening} <= {"127.0.0.1", "::ffff:127.0.0.1", "::1"}, listening
        with pytest.raises(urllib.error.HTTPError) as denied:  # token auth is on: no token, no jobs
            urllib.request.urlopen(f"http://127.0.0.1:{dash_port}/api/jobs/", timeout=10)
        assert denied.value.code in (401, 403)

        t0 = time.time()
        submit = [ray_bin, "job", "submit", "--address", f"http://127.0.0.1:{dash_port}", "--",
                  sys.executable, "-m", "experiments.benchmark", "--space", "nasbench201", "--data", str(synthetic_nb201_store),
                  "--algos", "random", "rea", "--trials", "2", "--budget", "20", "--seed", "0",
                  "--address", "auto", "--quiet", "--out", str(out)]
        while True:  # the head's job agent registers a few seconds after `ray up` returns
            job = subprocess.run(submit, env=env, cwd=REPO, capture_output=True, text=True, timeout=150)
            if "No available agent" not in job.stderr or time.time() - t0 > 60:
                break
            time.sleep(2)
        logs = sorted((work / "ray").glob("session_*/logs/dashboard_agent*.log"))
        assert job.returncode == 0, (f"ray job submit failed:\n{job.stdout[-5000:]}\n{job.stderr[-2000:]}\n"
                                     + "".join(p.read_text()[-1000:] for p in logs))
        timings["job"] = time.time() - t0
        assert "succeeded" in job.stdout + job.stderr, job.stdout[-3000:]
        assert "4/4 tasks done" in job.stdout
        files = sorted(out.glob("results/trial=*/algo=*.parquet"))
        assert [f"{f.parent.name}/{f.name}" for f in files] == [
            f"trial={t:05d}/algo={a}.parquet" for t in range(2) for a in ("random", "rea")]
        tables = {(f.parent.name, f.name): pq.read_table(f) for f in files}
        for t in tables.values():
            assert t.num_rows == 20 and t["query"].to_pylist() == list(range(1, 21))
            val = t["val_acc"].to_numpy()
            assert (t["best_val_acc_so_far"].to_numpy() == np.maximum.accumulate(val)).all()
        for trial in range(2):  # paired trials: both algorithms start from the same 10 architectures
            a, b = (tables[(f"trial={trial:05d}", f"algo={x}.parquet")] for x in ("random", "rea"))
            assert a["arch"].to_pylist()[:10] == b["arch"].to_pylist()[:10]
        summary = json.loads((out / "summary.json").read_text())
        assert summary["complete"] and summary["tasks_run"] == 4
        assert summary["cluster"]["nodes"] == 1 and summary["cluster"]["resources"]["CPU"] == 2

        t0 = time.time()
        _run([ray_bin, "down", "-y", str(config)], env, 90)
        timings["ray down"] = time.time() - t0
        # ray down's `ray stop` ended every Ray process of the cluster (they all name the temp dir)
        left = _wait_gone(str(work), 20)
        assert not left, f"processes left after ray down: {[p.cmdline()[:3] for p in left]}"
    finally:
        print(f"timings: {timings}")
        sshd.send_signal(signal.SIGTERM)  # PID 1 of the namespace: the kernel ends all of it
        try:
            sshd.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sshd.kill()
            sshd.wait(timeout=10)
        # ssh ControlMaster connections of ray up/down exit with the sshd (ControlPersist otherwise)
        left = _wait_gone(str(relay), 15) + _wait_gone(str(work), 5)
        sshd_exited = sshd.poll() is not None
        state = Path(tempfile.gettempdir()) / "ray" / f"cluster-ssnenas-test-{ssh_port}.state"
        for p in (state, state.with_suffix(".lock")):
            p.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
        for p in side_files:
            p.unlink(missing_ok=True)
        for p in set(Path(tempfile.gettempdir()).glob("ray_ssh_*/*")) - control_before:
            shutil.rmtree(p, ignore_errors=True)
    assert sshd_exited and not left, f"processes of the test left behind: {[p.pid for p in left]}"
