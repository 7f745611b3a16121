"""`strata cluster up --kafka`: PostgreSQL, a broker, the relay, workers, blob nodes and
two API instances behind nginx, as real background processes; `down` stops them all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Server, free_port, server_env, wait_until
from tests.monitoring import (
    AFTER_A_GC_SWEEP,
    ONLY_EMBEDDED,
    alert_rules,
    monitored_names,
    only_with_geo,
    prometheus_targets,
    prometheus_url,
)
from tests.nodes.test_local_cluster import _strata, assert_all_stopped
from tests.s3.conftest import make_client


@pytest.mark.timeout(300)  # eleven processes up and down, and a Prometheus to fill
def test_the_kafka_cluster_comes_up_serves_through_nginx_and_goes_down(
    tmp_path: Path, postgres_url: str,
) -> None:
    root = tmp_path / "cluster"
    s3_port, api_port = free_port(), free_port()
    processes: list[dict] = []
    env = {"STRATA_EVENT_STORE": postgres_url}
    started = _strata("cluster", "up", "--kafka", "--monitoring", "--root", str(root),
                      "--s3-port", str(s3_port), "--api-port", str(api_port), **env)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        status = _strata("cluster", "status", "--root", str(root), "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        processes = json.loads(status.stdout)
        assert sorted(p["role"] for p in processes) == [
            "api", "api", "broker", "nginx", "node", "node", "node", "prometheus", "relay",
            "worker", "worker"]
        front = Server(root, api_port, s3_port, server_env())
        s3 = make_client(front)
        s3.create_bucket(Bucket="tryout")
        for n in range(10):  # nginx spreads these over both instances
            s3.put_object(Bucket="tryout", Key=f"k{n}", Body=f"on the cluster {n}".encode())
            listed = s3.list_objects_v2(Bucket="tryout")["Contents"]
            assert len(listed) == n + 1
            assert s3.get_object(Bucket="tryout", Key=f"k{n}")["Body"].read() == (
                f"on the cluster {n}".encode())
        assert httpx.get(f"{front.s3}/tryout/k0").status_code == 403  # anonymous: refused
        _every_role_says_what_happened(processes)
        _prometheus_scrapes_them_all(started.stdout, s3)
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


def _scrape(processes: list[dict]) -> dict[str, list[list[Any]]]:
    """Role -> the sample lists of each of its processes' /metrics."""
    pages: dict[str, list[list[Any]]] = {}
    for p in processes:
        if p["role"] in ("api", "worker", "relay", "node"):
            port = p["api_port"] if p["role"] == "api" else p["port"]
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            pages.setdefault(p["role"], []).append(
                [s for f in text_string_to_metric_families(text) for s in f.samples])
    return pages


def _total(pages: list[list[Any]], name: str, **labels: str) -> float:
    return sum(s.value for page in pages for s in page
               if s.name == name and labels.items() <= s.labels.items())


def _every_role_says_what_happened(processes: list[dict]) -> None:
    """Issue 26: every role's /metrics under a short load: requests, latency, bytes,
    storage, durability and lag, with sane values; every series the dashboard and the
    alert rules read of a cluster is exported by one of its processes."""
    wanted = monitored_names() - ONLY_EMBEDDED - AFTER_A_GC_SWEEP
    wanted -= only_with_geo(wanted)

    def missing() -> set[str]:
        exported = {s.name for pages in _scrape(processes).values() for page in pages
                    for s in page}
        return wanted - exported

    wait_until(lambda: not missing(), 60, lambda: f"series nobody exports: {missing()}")
    pages = _scrape(processes)
    api, nodes = pages["api"], pages["node"]
    assert _total(api, "strata_requests_total", door="s3", operation="PutObject",
                  status="2xx") == 10
    assert _total(api, "strata_request_duration_seconds_count", operation="PutObject") == 10
    assert _total(api, "strata_request_bytes_in_total", door="s3") >= sum(
        len(f"on the cluster {n}") for n in range(10))
    assert _total(api, "strata_requests_refused_total", door="s3") >= 1
    assert all(_total([page], "strata_node_up") == 3 for page in api)  # each sees 3 up
    # three copies of each of the ten chunks, spread over the nodes (which count their
    # chunks every 30 s at most: a scrape since the cluster came up may have counted)
    wait_until(lambda: _total(_scrape(processes)["node"], "strata_node_chunks") == 30, 60,
               "the nodes' chunk counts")
    assert all(_total([page], "strata_node_disk_free_bytes") > 0 for page in nodes)
    assert _total(nodes, "strata_requests_total", door="node", operation="put_chunk") >= 30
    assert _total(pages["worker"], "strata_worker_partitions") == 3
    assert _total(pages["worker"], "strata_worker_dead_letters_total") == 0

    def settled() -> bool:
        now = _scrape(processes)
        return (_total(now["relay"], "strata_relay_lag_events") == 0
                and all(_total([page], "strata_store_objects") == 10 for page in now["api"])
                and _total(now["worker"], "strata_worker_kafka_lag_records") == 0)

    wait_until(settled, 60, "the relay, views and workers caught up")


def _prometheus_scrapes_them_all(printed: str, s3: Any) -> None:
    """`cluster up --monitoring`: a Prometheus that scrapes every role, has the rules
    loaded and answers a query for the S3 request rate (of requests made as it waits:
    the ones above may be more than the rate's minute ago on a busy machine)."""
    prometheus = prometheus_url(printed)

    def targets() -> list[tuple[str, str]]:
        return prometheus_targets(prometheus)

    expected = sorted([("strata-api", "up")] * 2 + [("strata-nodes", "up")] * 3
                      + [("strata-relay", "up")] + [("strata-worker", "up")] * 2)
    wait_until(lambda: targets() == expected, 60, lambda: f"scrape targets: {targets()}")

    def request_rate() -> float:
        s3.list_objects_v2(Bucket="tryout")
        answer = httpx.get(f"{prometheus}/api/v1/query", timeout=10, params={
            "query": 'sum(rate(strata_requests_total{door="s3"}[1m]))'}).json()
        result = answer["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    wait_until(lambda: request_rate() > 0, 60, "a request rate from Prometheus")
    groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    assert {r["name"] for g in groups for r in g["rules"]} == {
        rule["alert"] for rule in alert_rules()}
