"""`strata serve` over an event store of three PostgreSQL cells (architecture decision
25): buckets spread over the cells, a copy between buckets in different cells, GC
keeping a chunk a bucket in another cell still holds, and two servers racing to create
the same names."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from botocore.exceptions import ClientError

from infra.settings import Settings, SettingsError
from tests.conftest import Server, free_port, server_env, wait_until
from tests.s3.conftest import make_client

pytestmark = pytest.mark.postgres
BOUND = 30.0  # seconds any wait below may take


def _serving(root: Path, cells: list[str]) -> Server:
    """A server over the cells; servers sharing them share their keys too, as a
    cluster's API instances do."""
    root.mkdir()
    srv = Server(root / "data", free_port(), free_port(),
                 server_env(STRATA_EVENT_STORE=",".join(cells),
                            STRATA_KEYS_DIR=str(root.parent / "keys")))
    srv.start()
    return srv


@pytest.fixture
def server(tmp_path: Path, postgres_cells: list[str]) -> Iterator[Server]:
    srv = _serving(tmp_path / "one", postgres_cells)
    try:
        yield srv
    finally:
        srv.stop()


def _cell_of(cells: list[str], bucket: str) -> int:
    with psycopg.connect(cells[0]) as db:
        row = db.execute("SELECT cell FROM strata_bucket_cells WHERE name = %s",
                         (bucket,)).fetchone()
    assert row is not None
    return int(row[0])


def _events_in(url: str, bucket: str) -> int:
    """Stored events that name the bucket, in one cell's database."""
    with psycopg.connect(url) as db:
        row = db.execute("SELECT count(*) FROM strata_events "
                         "WHERE convert_from(state, 'UTF8') LIKE %s",
                         (f'%"{bucket}"%',)).fetchone()
    return int(row[0]) if row else 0


def _head(url: str) -> int:
    with psycopg.connect(url) as db:
        row = db.execute("SELECT max(notification_id) FROM strata_events").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _sweeps(server: Server) -> int:
    status = httpx.get(f"{server.api}/admin/status", headers=server.token(), timeout=10)
    return int(status.json()["gc"]["sweeps"])


def test_buckets_live_in_their_cells_and_copies_cross_them(server: Server,
                                                           postgres_cells: list[str]) -> None:
    s3: Any = make_client(server)
    for name in ("cell-a", "cell-b", "cell-c"):
        s3.create_bucket(Bucket=name)
    cells = {name: _cell_of(postgres_cells, name) for name in ("cell-a", "cell-b", "cell-c")}
    assert sorted(cells.values()) == [0, 1, 2]  # the emptiest cell takes each new name
    body = b"shared bytes " * 5000
    s3.put_object(Bucket="cell-a", Key="original", Body=body)
    s3.copy_object(Bucket="cell-c", Key="copy", CopySource={"Bucket": "cell-a",
                                                            "Key": "original"})
    # each bucket's events are in its own cell's log only
    for name, cell in cells.items():
        for number, url in enumerate(postgres_cells):
            found = _events_in(url, name)
            assert (found > 0) == (number == cell), (name, number, found)
    assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == [
        "cell-a", "cell-b", "cell-c"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="cell-c")["Contents"]] == ["copy"]

    # the original goes; GC sweeps past its grace, and the copy in the other cell,
    # which holds the same chunks, keeps them
    s3.delete_object(Bucket="cell-a", Key="original")
    before = _sweeps(server)
    wait_until(lambda: _sweeps(server) >= before + 5, BOUND,
               "five sweeps after the delete (2.5 s, past the grace)")
    assert s3.get_object(Bucket="cell-c", Key="copy")["Body"].read() == body
    assert s3.list_objects_v2(Bucket="cell-a").get("KeyCount") == 0


def test_what_several_cells_cannot_serve_yet_is_refused_and_stores_nothing(
        server: Server, postgres_cells: list[str]) -> None:
    """The event stream, the audit search and geo-replication read or send one cell's
    log: 501 with what is missing, nothing registered."""
    admin = server.token()
    for path in ("/events?follow=false", "/audit"):
        got = httpx.get(f"{server.api}{path}", headers=admin, timeout=10)
        assert got.status_code == 501 and "several cells" in got.text, (path, got.text)
    site = httpx.put(f"{server.api}/admin/sites/elsewhere", headers=admin, timeout=10, json={
        "endpoint": "http://127.0.0.1:9", "access_key": "AKSITE0000000000000",
        "secret_key": "site-secret-0000000000000000"})
    assert site.status_code == 501 and "Geo-replication" in site.text
    listed = httpx.get(f"{server.api}/admin/sites", headers=admin, timeout=10)
    assert listed.status_code == 200 and listed.json()["sites"] == []


def test_two_servers_racing_for_names_each_name_has_one_owner(
        tmp_path: Path, postgres_cells: list[str]) -> None:
    first = _serving(tmp_path / "first", postgres_cells)
    second: Server | None = None
    try:
        second = _serving(tmp_path / "second", postgres_cells)
        keys = {}
        for user in ("alice", "bob"):
            made = httpx.post(f"{first.api}/admin/users", headers=first.token(),
                              json={"name": user}, timeout=10)
            assert made.status_code == 201, made.text
            keys[user] = (made.json()["access_key"], made.json()["secret_key"])
        clients = {"alice": make_client(first, *keys["alice"]),
                   "bob": make_client(second, *keys["bob"])}
        names = [f"contested-{n}" for n in range(6)]
        outcomes: dict[tuple[str, str], str] = {}
        start = threading.Barrier(2)

        def race(user: str) -> None:
            start.wait()
            for name in names:
                try:
                    clients[user].create_bucket(Bucket=name)
                    outcomes[(user, name)] = "created"
                except ClientError as error:
                    outcomes[(user, name)] = error.response["Error"]["Code"]

        racers = [threading.Thread(target=race, args=(u,)) for u in clients]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(BOUND)
        for name in names:
            results = sorted(outcomes[(user, name)] for user in clients)
            assert results == ["BucketAlreadyExists", "created"], (name, results)
            winner = next(u for u in clients if outcomes[(u, name)] == "created")
            loser = next(u for u in clients if u != winner)
            # through either server, the bucket is the winner's alone
            assert _owner(clients[winner], name) == "own"
            assert _owner(clients[loser], name) == "other"
        # what one server acknowledges in a bucket outside the home cell, the other
        # reads at once, though it answers from its cache when it can (decision 26)
        name = next(n for n in names if _cell_of(postgres_cells, n) != 0)
        owner = next(u for u in clients if outcomes[(u, name)] == "created")
        writer, reader = (make_client(server, *keys[owner]) for server in (first, second))
        for n in range(15):
            writer.put_object(Bucket=name, Key="k", Body=b"x" * n, Metadata={"n": str(n)})
            for _ in range(2):
                head = reader.head_object(Bucket=name, Key="k")
                assert head["Metadata"] == {"n": str(n)}
    finally:
        first.stop()
        if second is not None:
            second.stop()


def _owner(client: Any, name: str) -> str | None:
    try:
        client.head_bucket(Bucket=name)
        return "own"
    except ClientError as error:
        code = error.response["Error"]["Code"]
        return "other" if code in ("403", "AccessDenied") else None


def test_cells_are_read_from_one_setting_and_checked() -> None:
    settings = Settings.from_env({"STRATA_EVENT_STORE": "postgresql://h/a, postgresql://h/b"})
    assert settings.event_store == "postgresql://h/a"
    assert settings.event_store_cells == ("postgresql://h/a", "postgresql://h/b")
    one = Settings.from_env({"STRATA_EVENT_STORE": "postgresql://h/a"})
    assert (one.event_store, one.event_store_cells) == ("postgresql://h/a", ())
    twice = Settings.from_env({"STRATA_EVENT_STORE": "postgresql://h/a,postgresql://h/a"})
    with pytest.raises(SettingsError, match="same database twice"):
        twice.check_cells()
    with_kafka = Settings.from_env({"STRATA_EVENT_STORE": "postgresql://h/a,postgresql://h/b",
                                    "STRATA_KAFKA": "127.0.0.1:9092"})
    with pytest.raises(SettingsError, match="a relay and a Kafka topic per cell"):
        with_kafka.check_cells()


def test_views_rebuilt_from_every_cell_match_the_ones_followed(
        tmp_path: Path, postgres_cells: list[str]) -> None:
    srv = _serving(tmp_path / "rebuilt", postgres_cells)
    try:
        s3: Any = make_client(srv)
        for n in range(3):
            s3.create_bucket(Bucket=f"rb-{n}")
            for k in range(n + 2):
                s3.put_object(Bucket=f"rb-{n}", Key=f"k{k}", Body=b"x" * k)

        def listings() -> dict[str, list[str]]:
            return {f"rb-{n}": [o["Key"] for o in s3.list_objects_v2(
                Bucket=f"rb-{n}").get("Contents", [])] for n in range(3)}

        followed = listings()
        srv.stop()
        rebuilt = subprocess.run(
            [sys.executable, "-m", "infra.run.cli", "projections", "rebuild",
             "--data-dir", str(srv.data_dir)], env=srv.env, capture_output=True, text=True,
            timeout=120)
        assert rebuilt.returncode == 0, rebuilt.stderr
        every_cell = sum(_head(url) for url in postgres_cells)
        assert f"done: {every_cell} events" in rebuilt.stdout  # all cells' logs replayed
        srv.start()
        assert listings() == followed
        assert followed["rb-2"] == ["k0", "k1", "k2", "k3"]
    finally:
        srv.stop()
