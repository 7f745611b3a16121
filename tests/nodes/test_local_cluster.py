"""`strata cluster up|status|down` starts real processes in the background, and stops them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from tests.conftest import free_port, server_env, wait_until


def _strata(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infra.run.cli", *args],
                          env={**server_env(), **env}, capture_output=True, text=True,
                          timeout=120)


def assert_all_stopped(processes: list[dict]) -> None:
    for process in processes:
        try:
            os.kill(process["pid"], 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"{process['role']} pid {process['pid']} still runs")


def test_a_local_cluster_comes_up_serves_and_goes_down(tmp_path: Path) -> None:
    root = tmp_path / "cluster"
    s3_port, api_port = free_port(), free_port()
    processes: list[dict] = []
    started = _strata("cluster", "up", "--root", str(root), "--nodes", "3", "--zones", "3",
                      "--s3-port", str(s3_port), "--api-port", str(api_port))
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"http://127.0.0.1:{s3_port}" in started.stdout
        status = _strata("cluster", "status", "--root", str(root), "--json")
        assert status.returncode == 0, status.stderr
        processes = json.loads(status.stdout)
        assert sorted(p["role"] for p in processes) == ["node", "node", "node", "store"]
        assert all(p["healthy"] and p["pid"] > 0 for p in processes)
        assert {p["zone"] for p in processes if p["role"] == "node"} == {
            "zone-a", "zone-b", "zone-c"}
        env = server_env()
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3_port}",
                          aws_access_key_id=env["STRATA_ROOT_ACCESS_KEY"],
                          aws_secret_access_key=env["STRATA_ROOT_SECRET_KEY"],
                          region_name="us-east-1")
        s3.create_bucket(Bucket="tryout")
        s3.put_object(Bucket="tryout", Key="k", Body=b"on three nodes")
        assert s3.get_object(Bucket="tryout", Key="k")["Body"].read() == b"on three nodes"
        nodes = _strata("node", "list", "--url", f"http://127.0.0.1:{api_port}")
        assert nodes.returncode == 0 and nodes.stdout.count("\tup\t") == 3, nodes.stdout
        again = _strata("cluster", "up", "--root", str(root), "--s3-port", str(s3_port),
                        "--api-port", str(api_port))
        assert again.returncode == 2 and "already running" in again.stderr
        # a dead role: `cluster up` starts just that one again, as it was started
        victim = next(p for p in processes if p["name"] == "node-1")
        os.kill(victim["pid"], signal.SIGKILL)
        def states() -> dict[str, dict]:
            listed = _strata("cluster", "status", "--root", str(root), "--json").stdout
            return {p["name"]: p for p in json.loads(listed)}
        wait_until(lambda: not states()["node-1"]["running"], 30, "node-1 gone")
        revived = _strata("cluster", "up", "--root", str(root))
        assert revived.returncode == 0, revived.stdout + revived.stderr
        assert "started again: node-1" in revived.stdout

        wait_until(lambda: all(p["healthy"] for p in states().values()), 60,
                   "node-1 healthy again")
        processes = list(states().values())
    finally:
        stopped = _strata("cluster", "down", "--root", str(root))
    assert stopped.returncode == 0, stopped.stderr
    assert_all_stopped(processes)
    after = _strata("cluster", "status", "--root", str(root), "--json")
    assert after.returncode == 1
    assert not any(p["healthy"] or p["running"] for p in json.loads(after.stdout))
    told = _strata("cluster", "status", "--root", str(root))
    assert all(line.endswith("stopped") for line in told.stdout.splitlines()), told.stdout


def test_monitoring_without_prometheus_installed_is_refused_before_anything_starts(
        tmp_path: Path) -> None:
    root = tmp_path / "cluster"
    started = _strata("cluster", "up", "--root", str(root), "--monitoring",
                      "--s3-port", str(free_port()), "--api-port", str(free_port()),
                      PATH=str(tmp_path / "no-tools-here"))
    assert started.returncode == 2, started.stdout + started.stderr
    assert "prometheus is not installed" in started.stderr
    assert "Traceback" not in started.stderr
    assert not (root / "cluster.json").exists()


def test_a_cluster_refuses_ports_another_process_holds(tmp_path: Path) -> None:
    """Issue 26, item 9: it used to start its nodes, take the other server's /healthz
    for its own store's, die with a traceback and leave the nodes running."""
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    try:
        root = tmp_path / "cluster"
        refused = _strata("cluster", "up", "--root", str(root), "--nodes", "1", "--zones", "1",
                          "--s3-port", str(taken), "--api-port", str(free_port()))
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert f"port {taken} is in use" in refused.stderr and "Traceback" not in refused.stderr
        assert not (root / "cluster.json").exists()  # nothing was started
    finally:
        holder.close()


@pytest.mark.slow  # the TLS plumbing runs in the normal suite (tests/nodes/test_tls_nodes.py)
def test_a_local_cluster_with_tls_everywhere(tmp_path: Path) -> None:
    """`strata cluster up --tls`: the doors and every node serve HTTPS with the cluster's
    certificate, the store checks its nodes against it, clients trust it by its path."""
    root = tmp_path / "cluster"
    s3_port, api_port = free_port(), free_port()
    started = _strata("cluster", "up", "--root", str(root), "--nodes", "2", "--zones", "2",
                      "--tls", "--s3-port", str(s3_port), "--api-port", str(api_port))
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"https://127.0.0.1:{s3_port}" in started.stdout
        status = json.loads(_strata("cluster", "status", "--root", str(root), "--json").stdout)
        assert all(p["healthy"] for p in status)
        certificate = root / "tls" / "tls-self-signed.crt"
        env = server_env()
        s3 = boto3.client("s3", endpoint_url=f"https://127.0.0.1:{s3_port}",
                          aws_access_key_id=env["STRATA_ROOT_ACCESS_KEY"],
                          aws_secret_access_key=env["STRATA_ROOT_SECRET_KEY"],
                          region_name="us-east-1", verify=str(certificate))
        s3.create_bucket(Bucket="secure")
        s3.put_object(Bucket="secure", Key="k", Body=b"over tls to two nodes")
        assert s3.get_object(Bucket="secure", Key="k")["Body"].read() == b"over tls to two nodes"
    finally:
        _strata("cluster", "down", "--root", str(root))
