"""Read-after-write and list-after-write across two API instances, under concurrent
writers, directly and through nginx balancing the two."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from infra.run.nginx import Instance, render, start_nginx
from tests.conftest import Server, free_port
from tests.s3.conftest import make_client


@pytest.fixture
def balancer(two_apis: list[Server], tmp_path: Path) -> Iterator[Server]:
    """nginx in front of both instances; a Server whose ports are nginx's."""
    s3_port, api_port = free_port(), free_port()
    run_dir = tmp_path / "nginx"
    conf = render("127.0.0.1", s3_port, api_port,
                  [Instance("127.0.0.1", s.s3_port, s.api_port) for s in two_apis], run_dir)
    with open(tmp_path / "nginx.log", "ab") as log:
        process = start_nginx(conf, run_dir, log)
    front = replace(two_apis[0], s3_port=s3_port, api_port=api_port, process=None)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{front.api}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (run_dir / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not answer"
            time.sleep(0.1)
        yield front
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def writer(writes_to: Server, reads_from: Server, name: str, rounds: int) -> int:
    """PUT through one server, then at once GET, HEAD and LIST through the other."""
    put, read = make_client(writes_to), make_client(reads_from)
    for n in range(rounds):
        key = f"{name}/{n:03d}"
        body = f"{name}-{n}".encode()
        put.put_object(Bucket="shared", Key=key, Body=body)
        assert read.get_object(Bucket="shared", Key=key)["Body"].read() == body
        assert read.head_object(Bucket="shared", Key=key)["ContentLength"] == len(body)
        listed = read.list_objects_v2(Bucket="shared", Prefix=f"{name}/")["Contents"]
        assert [o["Key"] for o in listed] == [f"{name}/{i:03d}" for i in range(n + 1)]
        if n % 5 == 4:  # and a delete is seen as at once
            put.delete_object(Bucket="shared", Key=key)
            listed = read.list_objects_v2(Bucket="shared", Prefix=f"{name}/").get("Contents", [])
            assert key not in [o["Key"] for o in listed]
            put.put_object(Bucket="shared", Key=key, Body=body)
    return rounds


def test_concurrent_writers_read_and_list_their_writes_through_the_other_instance(
    two_apis: list[Server],
) -> None:
    a, b = two_apis
    make_client(a).create_bucket(Bucket="shared")
    with ThreadPoolExecutor(4) as pool:
        jobs = [pool.submit(writer, *((a, b) if i % 2 else (b, a)), f"w{i}", 15)
                for i in range(4)]
        assert sum(job.result() for job in jobs) == 60


def test_writers_through_nginx_see_their_writes(balancer: Server) -> None:
    make_client(balancer).create_bucket(Bucket="shared")
    with ThreadPoolExecutor(4) as pool:
        jobs = [pool.submit(writer, balancer, balancer, f"n{i}", 15) for i in range(4)]
        assert sum(job.result() for job in jobs) == 60
