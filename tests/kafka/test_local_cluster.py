"""`strata cluster up --kafka`: PostgreSQL, a broker, the relay, workers, blob nodes and
two API instances behind nginx, as real background processes; `down` stops them all."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

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
    finally:
        stopped = _strata("cluster", "down", "--root", str(root))
    assert stopped.returncode == 0, stopped.stderr
    assert_all_stopped(processes)
