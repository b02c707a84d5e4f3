"""cluster.yaml (AWS) and experiments/cluster_local.yaml pass Ray's own preparation and schema
validation, and keep the settings the README promises (GPU workers, loopback dashboard, token auth)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ray.autoscaler._private.util import prepare_config, validate_config

REPO = Path(__file__).resolve().parents[1]
AWS = REPO / "cluster.yaml"
LOCAL = REPO / "experiments" / "cluster_local.yaml"


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _start_commands(cfg: dict) -> str:
    return "\n".join(cfg["head_start_ray_commands"] + cfg["worker_start_ray_commands"])


def test_aws_cluster_passes_ray_validation():
    cfg = _load(AWS)
    prepared = prepare_config(copy.deepcopy(cfg))
    validate_config(prepared)
    assert prepared["provider"]["type"] == "aws"
    types = prepared["available_node_types"]
    head = types[prepared["head_node_type"]]
    assert head["max_workers"] == 0 and head["node_config"]["InstanceType"].startswith("m6i")
    gpu = {name: t for name, t in types.items() if name.startswith("worker.gpu")}
    assert len(gpu) >= 1
    for t in gpu.values():
        assert t["node_config"]["InstanceType"].split(".")[0] in {"g4dn", "g5", "g6", "p3", "p4d", "p5"}
        assert 0 <= t["min_workers"] <= t["max_workers"] <= prepared["max_workers"]
    assert prepared["idle_timeout_minutes"] > 0
    # merge_setup_commands put the project install in front of the head and worker setup
    for key in ("head_setup_commands", "worker_setup_commands"):
        assert any("pip install" in c and "-e ~/ssnenas" in c for c in prepared[key])
        assert any("prepare_tables" in c for c in prepared[key])
    assert prepared["file_mounts"]["~/ssnenas"] == "."


def test_aws_cluster_keeps_token_auth_and_loopback_dashboard():
    cfg = _load(AWS)
    text = AWS.read_text()
    starts = _start_commands(cfg)
    assert starts.count("RAY_AUTH_MODE=token") == 2
    assert "RAY_AUTH_MODE=disabled" not in starts
    assert "--dashboard-host=127.0.0.1" in starts and "--dashboard-port=8265" in starts
    assert "--metrics-export-port=8080" in starts
    assert "~/.ray/auth_token" in cfg["file_mounts"]
    assert cfg["setup_commands"][0] == "chmod 600 ~/.ray/auth_token"  # the copied token stays private
    assert "storage_path=s3://" in text  # documented for Tune / Ray Train


def test_local_cluster_passes_ray_validation():
    cfg = _load(LOCAL)
    prepared = prepare_config(copy.deepcopy(cfg))
    validate_config(prepared)
    assert prepared["provider"]["head_ip"] == "127.0.0.1"
    assert prepared["provider"]["worker_ips"] == []
    (node_type,) = prepared["available_node_types"].values()
    assert node_type["min_workers"] == node_type["max_workers"] == 0  # = len(worker_ips)
    starts = _start_commands(cfg)
    assert "--dashboard-host=127.0.0.1" in starts and "--node-ip-address=127.0.0.1" in starts
    assert starts.count("RAY_AUTH_MODE=token") == 2
    # without single-host mode `ray start` swaps 127.0.0.1 for the routable address (all-interface binds)
    assert "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0" in cfg["head_start_ray_commands"][1]


def test_local_cluster_with_workers_sets_min_max_from_ips():
    cfg = _load(LOCAL)
    cfg["provider"]["worker_ips"] = ["10.0.0.2", "10.0.0.3"]
    prepared = prepare_config(cfg)
    validate_config(prepared)
    (node_type,) = prepared["available_node_types"].values()
    assert node_type["min_workers"] == node_type["max_workers"] == 2


def test_validation_rejects_a_broken_config():
    """The check above can fail: an unknown top-level field violates Ray's schema."""
    import jsonschema

    cfg = prepare_config(_load(AWS))
    cfg["gpu_workers"] = 4
    with pytest.raises(jsonschema.ValidationError):
        validate_config(cfg)
