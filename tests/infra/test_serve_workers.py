"""`strata serve --workers N` (issue 28): several processes serve both doors from one
data dir. Writers through different workers to the same keys and buckets lose nothing,
reads and listings through any worker see every acknowledged write, a bucket name is
taken once however many workers race for it, and kill -9 of the worker that runs the
background workers moves them to another while the rest keep serving."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Server, free_port, running, server_env, wait_until
from tests.s3.conftest import make_client

WORKERS = 2


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server of two workers for the module (each test its own buckets; the ones
    that kill a worker leave it restarted)."""
    srv = Server(tmp_path_factory.mktemp("workers") / "data", free_port(), free_port(),
                 server_env(), args=("--workers", str(WORKERS)))
    with running(srv):
        yield srv


def _health(server: Server) -> dict[str, Any]:
    # a new connection each time: the kernel hands it to any worker
    with httpx.Client() as fresh:
        answer: dict[str, Any] = fresh.get(f"{server.api}/healthz").json()
        return answer


def _every_worker(server: Server) -> dict[int, dict[str, Any]]:
    """Each worker's health, asked until every one has answered."""
    seen: dict[int, dict[str, Any]] = {}

    def all_answered() -> bool:
        found = _health(server)
        seen[found["worker"]] = found
        return len(seen) == WORKERS
    wait_until(all_answered, 30, lambda: f"only workers {sorted(seen)} answered")
    return seen


def test_writers_through_different_workers_lose_nothing(workers: Server) -> None:
    assert len({h["pid"] for h in _every_worker(workers).values()}) == WORKERS
    setup = make_client(workers)
    setup.create_bucket(Bucket="shared")
    setup.put_bucket_versioning(Bucket="shared", VersioningConfiguration={"Status": "Enabled"})
    problems: list[str] = []
    written: list[str] = []

    def writer(n: int) -> None:
        s3 = make_client(workers)  # a client (and connections) of its own
        for round_ in range(10):
            body = f"writer {n} round {round_}".encode()
            key = f"same-{round_ % 3}"  # every writer writes the same three keys
            version = s3.put_object(Bucket="shared", Key=key, Body=body)["VersionId"]
            written.append(version)
            again = make_client(workers)  # likely another worker: read-after-write
            got = again.get_object(Bucket="shared", Key=key, VersionId=version)["Body"].read()
            if got != body:
                problems.append(f"{key} {version}: read {got!r}, wrote {body!r}")
            listed = again.list_objects_v2(Bucket="shared", Prefix=key)
            if [o["Key"] for o in listed.get("Contents", [])] != [key]:
                problems.append(f"{key} not listed right after its write: {listed}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert problems == []
    versions = make_client(workers).list_object_versions(Bucket="shared")["Versions"]
    assert sorted(v["VersionId"] for v in versions) == sorted(written)  # none lost
    assert len(written) == 40


def test_a_bucket_name_is_taken_once_across_workers(workers: Server) -> None:
    _every_worker(workers)
    answers: list[int] = []

    def create() -> None:
        with httpx.Client() as fresh:
            answers.append(fresh.put(f"{workers.api}/buckets/contested",
                                     headers=workers.token()).status_code)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [201] + [409] * 7


def test_killing_the_leader_moves_the_background_workers(workers: Server) -> None:
    seen = _every_worker(workers)
    leaders = [h for h in seen.values() if h["leads"]]
    assert len(leaders) == 1
    s3 = make_client(workers)
    s3.create_bucket(Bucket="kept")
    for n in range(20):
        s3.put_object(Bucket="kept", Key=f"k{n}", Body=b"acknowledged %d" % n)
    os.kill(leaders[0]["pid"], signal.SIGKILL)

    def another_leads() -> bool:
        found = _health(workers)
        return found["leads"] and found["pid"] != leaders[0]["pid"]
    wait_until(another_leads, 30, "no other worker took the lead")
    # the supervisor started the killed worker again; every worker answers, one leads
    after = _every_worker(workers)
    assert leaders[0]["pid"] not in {h["pid"] for h in after.values()}
    assert sum(h["leads"] for h in after.values()) == 1
    for n in range(20):
        assert s3.get_object(Bucket="kept", Key=f"k{n}")["Body"].read() == \
            b"acknowledged %d" % n
    assert workers.process is not None and workers.process.poll() is None


def test_a_worker_killed_during_writes_loses_no_acknowledged_write(workers: Server) -> None:
    """Writers keep going while one worker is killed with SIGKILL: every write that was
    answered 200 is there afterwards, through any worker; the others kept serving."""
    seen = _every_worker(workers)
    make_client(workers).create_bucket(Bucket="steady")
    acknowledged: dict[str, bytes] = {}
    failed: list[str] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        s3 = make_client(workers)
        round_ = 0
        while not stop.is_set():
            key, body = f"w{n}/{round_}", f"{n}-{round_}".encode()
            try:
                s3.put_object(Bucket="steady", Key=key, Body=body)
                acknowledged[key] = body
            except Exception as error:  # a connection the killed worker held
                failed.append(f"{key}: {type(error).__name__}")
            round_ += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(acknowledged) >= 30, 30, "the writers made no progress")
    victim = next(h for h in seen.values() if not h["leads"])
    os.kill(victim["pid"], signal.SIGKILL)
    before = len(acknowledged)
    wait_until(lambda: len(acknowledged) >= before + 30, 30,
               "writes stopped after one worker was killed")
    stop.set()
    for thread in threads:
        thread.join(30)
    reader = make_client(workers)
    for key, body in acknowledged.items():
        assert reader.get_object(Bucket="steady", Key=key)["Body"].read() == body, key
    listed = reader.list_objects_v2(Bucket="steady", MaxKeys=1000).get("KeyCount", 0)
    assert listed >= len(acknowledged)
    assert len(failed) <= 3, failed  # at most the writes in flight on the killed worker


def test_no_worker_outlives_a_killed_supervisor(tmp_path_factory: pytest.TempPathFactory
                                                ) -> None:
    srv = Server(tmp_path_factory.mktemp("orphans") / "data", free_port(), free_port(),
                 server_env(), args=("--workers", str(WORKERS)))
    srv.start()
    try:
        pids = [h["pid"] for h in _every_worker(srv).values()]
        srv.kill()  # SIGKILL: the supervisor stops nothing itself

        def all_gone() -> bool:
            gone = 0
            for pid in pids:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    gone += 1
            return gone == len(pids)
        wait_until(all_gone, 30, "workers outlived their supervisor")
        # the ports are free for a new server
        srv.start()
        assert _health(srv)["status"] == "ok"
    finally:
        srv.stop()
