"""`strata cluster up --kafka`: PostgreSQL, a broker, the relay, workers, blob nodes and
two API instances behind nginx, as real background processes; `down` stops them all."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, free_port, server_env
from tests.nodes.test_local_cluster import _strata, assert_all_stopped
from tests.s3.conftest import make_client


def test_the_kafka_cluster_comes_up_serves_through_nginx_and_goes_down(
    tmp_path: Path, postgres_url: str,
) -> None:
    root = tmp_path / "cluster"
    s3_port, api_port = free_port(), free_port()
    processes: list[dict] = []
    env = {"STRATA_EVENT_STORE": postgres_url}
    started = _strata("cluster", "up", "--kafka", "--root", str(root), "--s3-port",
                      str(s3_port), "--api-port", str(api_port), **env)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        status = _strata("cluster", "status", "--root", str(root), "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        processes = json.loads(status.stdout)
        assert sorted(p["role"] for p in processes) == [
            "api", "api", "broker", "nginx", "node", "node", "node", "relay", "worker", "worker"]
        front = Server(root, api_port, s3_port, server_env())
        s3 = make_client(front)
        s3.create_bucket(Bucket="tryout")
        for n in range(10):  # nginx spreads these over both instances
            s3.put_object(Bucket="tryout", Key=f"k{n}", Body=f"on the cluster {n}".encode())
            listed = s3.list_objects_v2(Bucket="tryout")["Contents"]
            assert len(listed) == n + 1
            assert s3.get_object(Bucket="tryout", Key=f"k{n}")["Body"].read() == (
                f"on the cluster {n}".encode())
        metrics = httpx.get(f"{front.api}/metrics").text
        assert "strata_relay_lag_events" in metrics
        sourced = (root / "env").read_text()
        assert "export STRATA_KAFKA=" in sourced and "SECRET" not in sourced
        tailed = _strata("events", "tail", "--kafka", "--root", str(root), "--from", "0",
                         "--no-follow", "--bucket", "tryout")
        assert tailed.returncode == 0, tailed.stderr
        positions = [json.loads(line)["position"] for line in tailed.stdout.splitlines()]
        assert len(positions) >= 10 and positions == sorted(positions)
    finally:
        stopped = _strata("cluster", "down", "--root", str(root))
    assert stopped.returncode == 0, stopped.stderr
    assert_all_stopped(processes)


@pytest.mark.slow
def test_the_kafka_cluster_with_tls(tmp_path: Path, postgres_url: str) -> None:
    """`strata cluster up --kafka --tls`: nginx serves both doors over HTTPS with the
    cluster's certificate and tells the instances so; the nodes serve HTTPS too."""
    root = tmp_path / "cluster"
    s3_port, api_port = free_port(), free_port()
    started = _strata("cluster", "up", "--kafka", "--tls", "--root", str(root), "--s3-port",
                      str(s3_port), "--api-port", str(api_port),
                      STRATA_EVENT_STORE=postgres_url)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"https://127.0.0.1:{s3_port}" in started.stdout
        certificate = str(root / "tls" / "tls-self-signed.crt")
        front = Server(root, api_port, s3_port, server_env(), scheme="https", verify=certificate)
        s3 = make_client(front)
        s3.create_bucket(Bucket="secure")
        s3.put_bucket_policy(Bucket="secure", Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": ["arn:aws:s3:::secure", "arn:aws:s3:::secure/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
        s3.put_object(Bucket="secure", Key="k", Body=b"through nginx over tls")
        assert s3.get_object(Bucket="secure", Key="k")["Body"].read() == \
            b"through nginx over tls"
        nodes = httpx.get(f"{front.api}/admin/nodes", headers=front.token(),
                          verify=front.http_verify).json()
        assert all(n["url"].startswith("https://") for n in nodes["nodes"]), nodes
    finally:
        _strata("cluster", "down", "--root", str(root))
