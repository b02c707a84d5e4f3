"""A local Ray that a command starts is private to the account that started it.

The Ray is started the product's way (``ssnenas.ray_connect.connect_ray``, in a fresh interpreter whose
environment has no ``RAY_AUTH_MODE``: the tests' own ``disabled`` is removed), with the dashboard on,
so both job APIs are up: the dashboard agent's ``/api/job_agent/jobs/`` (always running, even without
``--dashboard``) and the dashboard's ``/api/jobs/``. Another account (uid 65534, ``nobody``) then
POSTs a job whose entrypoint would create a marker file: both are refused (401) and the marker never
appears; the owner, with the token, is let in (the refusal is the token's doing, not a wrong URL).
Switching to another uid needs root; elsewhere the test says so and skips.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534

# Starts the Ray, reports where its HTTP servers listen, and keeps it up until stdin closes. The agent
# and dashboard ports are set to free ones (Ray's defaults, 52365 and 8265, may be held by another
# Ray on a shared machine); everything else is connect_ray's own start.
SERVER = """
import json, os, sys
import ray._private.parameter as parameter
agent_port, dash_port = int(sys.argv[1]), int(sys.argv[2])
_init = parameter.RayParams.__init__
def _init_with_ports(self, *a, **k):
    _init(self, *a, **k)
    self.dashboard_agent_listen_port = agent_port
    self.dashboard_port = dash_port
parameter.RayParams.__init__ = _init_with_ports
import ray
from ssnenas.ray_connect import connect_ray, token_path
assert connect_ray(None, num_cpus=1, dashboard=True)
from ray._raylet import AuthenticationMode, get_authentication_mode
node = ray._private.worker.global_worker.node
print(json.dumps({"agent_port": ray.nodes()[0]["DashboardAgentListenPort"], "dashboard": node.webui_url,
                  "token_mode": get_authentication_mode() == AuthenticationMode.TOKEN,
                  "token_file": str(token_path()), "temp_dir": node.get_temp_dir_path()}), flush=True)
sys.stdin.read()
ray.shutdown()
"""

# Run as uid 65534 with the system Python and the standard library only: read the token, POST the job.
INTRUDER = """
import json, sys, urllib.request, urllib.error
url, marker, token_file = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
try:
    open(token_file).read()
    out["token_read"] = True
except OSError as exc:
    out["token_read"] = type(exc).__name__
body = json.dumps({"entrypoint": "touch " + marker, "submission_id": "intruder"}).encode()
for name, headers in (("no_token", {}), ("wrong_token", {"Authorization": "Bearer " + "0" * 64})):
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            out[name] = resp.status
    except urllib.error.HTTPError as exc:
        out[name] = exc.code
print(json.dumps(out))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _others_may_run(path: Path) -> bool:
    """Whether an account other than the owner may execute ``path`` (o+x on it and every folder above)."""
    try:
        path = path.resolve(strict=True)
    except OSError:
        return False
    return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents))


def _python_for_others() -> str:
    """A Python that uid 65534 may run: ours if others may, else the system's."""
    for cand in (Path(sys.executable), Path("/usr/bin/python3"), Path("/usr/local/bin/python3")):
        if _others_may_run(cand):
            return str(cand)
    pytest.skip("no Python that uid 65534 may execute (the test's lives in a private folder)")


@pytest.fixture(scope="module")
def private_ray(tmp_path_factory):
    if not hasattr(os, "getuid") or os.getuid() != 0:
        pytest.skip("acting as another account (uid 65534) needs root; run the security tests as root in CI")
    root = tmp_path_factory.mktemp("ray-private")
    # a home that other accounts may enter, with a ~/.ray they may list: only the token's own mode
    # keeps them from it
    home = root / "home"
    (home / ".ray").mkdir(parents=True)
    for p in (root, home, home / ".ray"):
        p.chmod(0o755)
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS", "RAY_TMPDIR")}
    env.update(HOME=str(home), RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(_free_port()), str(_free_port())], cwd=REPO,
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline()
        if not line:
            pytest.fail(f"the local Ray did not start: {proc.stderr.read()[-3000:]}")
        info = json.loads(line)
        info["token"] = Path(info["token_file"]).read_text().strip()
        info["root"] = root
        yield info
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _intrude(url: str, marker: Path, token_file: str) -> dict:
    run = subprocess.run([_python_for_others(), "-I", "-S", "-c", INTRUDER, url, str(marker), token_file],
                         user=NOBODY, group=NOBODY, extra_groups=[], cwd="/", env={"PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)


def _owner_get(url: str, token: str) -> int:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=20) as resp:
        return resp.status


def _assert_refused(found: dict, marker: Path) -> None:
    assert found["token_read"] == "PermissionError"
    assert found["no_token"] == 401 and found["wrong_token"] == 403, found
    time.sleep(2)  # a job that got in would have run by now
    assert not marker.exists(), "another account's job ran"


def test_the_local_ray_keeps_token_auth_with_a_private_token(private_ray):
    assert private_ray["token_mode"]
    info = os.stat(private_ray["token_file"])
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == os.getuid()
    assert len(private_ray["token"]) == 64
    # Ray makes its own folders 0777; they sit inside a parent only this account may enter
    parent = Path(private_ray["temp_dir"]).parent
    assert stat.S_IMODE(parent.stat().st_mode) == 0o700 and parent.stat().st_uid == os.getuid()


@pytest.mark.slow
def test_another_account_cannot_submit_a_job_to_the_dashboard_agent(private_ray):
    assert private_ray["agent_port"] > 0  # the agent's HTTP server is up (it is, even without --dashboard)
    marker = private_ray["root"] / "agent-marker"
    url = f"http://127.0.0.1:{private_ray['agent_port']}/api/job_agent/jobs/"
    _assert_refused(_intrude(url, marker, private_ray["token_file"]), marker)


@pytest.mark.slow
def test_another_account_cannot_submit_a_job_to_the_dashboard(private_ray):
    marker = private_ray["root"] / "dashboard-marker"
    url = f"{private_ray['dashboard'].rstrip('/')}/api/jobs/"
    if not url.startswith("http"):
        url = "http://" + url
    _assert_refused(_intrude(url, marker, private_ray["token_file"]), marker)
    assert _owner_get(url, private_ray["token"]) == 200  # the owner, with the token, gets in
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {private_ray['token']}"})
    with urllib.request.urlopen(req, timeout=20) as resp:
        assert "intruder" not in resp.read().decode()  # no job of the intruder was recorded


# -- the token and the temporary folder, without starting a Ray ----------------------------------------
@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_TMPDIR"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_token_is_made_private_on_first_use_and_kept(home):
    from ssnenas.ray_connect import ensure_private_token

    path = ensure_private_token()
    assert path == home / ".ray" / "auth_token"
    token = path.read_text()
    assert len(token) == 64 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert ensure_private_token() == path and path.read_text() == token  # never replaced


def test_a_token_others_may_read_is_made_private(home, caplog):
    from ssnenas.ray_connect import ensure_private_token

    path = home / ".ray" / "auth_token"
    path.parent.mkdir()
    path.write_text("a" * 64)
    path.chmod(0o644)
    with caplog.at_level("WARNING", logger="ssnenas.ray_connect"):
        assert ensure_private_token() == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == "a" * 64
    assert any("readable by other accounts" in r.getMessage() for r in caplog.records)
    path.write_text("")  # an empty file holds no token: one is written
    assert len(ensure_private_token().read_text()) == 64


def test_another_accounts_token_or_temp_folder_is_refused(home, tmp_path, monkeypatch):
    if os.getuid() != 0:
        pytest.skip("handing a file to another account needs root")
    from ssnenas.errors import InputError
    from ssnenas.ray_connect import ensure_private_token, private_temp_dir

    path = home / ".ray" / "auth_token"
    path.parent.mkdir()
    path.write_text("b" * 64)
    os.chown(path, NOBODY, NOBODY)
    with pytest.raises(InputError, match=r"auth_token: Ray's authentication token belongs to uid 65534"):
        ensure_private_token()
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    planted = tmp_path / f"ssnenas-{os.getuid()}"
    planted.mkdir()
    os.chown(planted, NOBODY, NOBODY)
    with pytest.raises(InputError, match="not a folder of yours"):
        private_temp_dir()
    planted.rmdir()
    planted.symlink_to(tmp_path)
    with pytest.raises(InputError, match="not a folder of yours"):
        private_temp_dir()


def test_an_explicit_choice_is_the_users(home, monkeypatch, tmp_path):
    from ssnenas.ray_connect import ensure_private_token, private_temp_dir

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # what the tests do for their own Rays
    assert ensure_private_token() is None and not (home / ".ray").exists()
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", "c" * 64)  # the token in the environment: no file needed
    assert ensure_private_token() is None and not (home / ".ray").exists()
    monkeypatch.delenv("RAY_AUTH_TOKEN")
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "elsewhere" / "tok"))
    assert ensure_private_token() == tmp_path / "elsewhere" / "tok"
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path / "raytmp"))
    assert private_temp_dir() is None


def test_the_product_never_turns_authentication_off():
    """Only tests (conftest) and a user's own environment say RAY_AUTH_MODE=disabled; no module of
    the package sets it (``os.environ.setdefault("RAY_AUTH_MODE", "disabled")`` did, for every local Ray)."""
    import re

    sets_disabled = re.compile(r"""RAY_AUTH_MODE["']\s*(?:,|\]\s*=)\s*["']disabled""")
    offenders = [str(p.relative_to(REPO)) for p in sorted((REPO / "ssnenas").rglob("*.py"))
                 if sets_disabled.search(p.read_text())]
    assert offenders == []
    assert sets_disabled.search('os.environ.setdefault("RAY_AUTH_MODE", "disabled")')
