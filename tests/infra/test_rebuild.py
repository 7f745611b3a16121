"""A rebuild writes the views without RocksDB's write-ahead log: killed part way, it
must leave views that reopen consistent and catch up to what a full rebuild gives."""

from __future__ import annotations

import gc
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from domain.access import canned_acl
from domain.application import ObjectStore
from domain.objects import ObjectKey
from infra.run.rebuild import rebuild_views
from infra.run.system import open_system
from infra.settings import Settings
from infra.views.rocksdb import RocksDBViewStore
from projections.object_listing import bucket_stats
from tests.conftest import META, server_env, version

KEYS = 12_000


def _write_log(settings: Settings) -> int:
    settings.data_dir.mkdir(parents=True)
    store = ObjectStore(settings.event_store_env())
    store.create_bucket("many", "alice", META, datetime.now(UTC))
    acl = canned_acl("private", "alice")
    for first in range(0, KEYS, 1000):
        batch = []
        for n in range(first, first + 1000):
            at = datetime.now(UTC)
            obj = ObjectKey.create("many", f"dir{n % 10}/key-{n:06d}", at)
            obj.put_version({**version("null", digest=f"{n:064x}", size=n), "acl": acl},
                            "Unversioned", META, at)
            batch.append(obj)
        store.save(*batch)
    position = store.current_position()
    store.close()
    return position


def _items(settings: Settings) -> dict[bytes, bytes]:
    """Every view entry and position, but the workers' own positions (a running store
    has workers; a rebuild does not touch them)."""
    views = RocksDBViewStore(settings.views_dir)
    try:
        return {k: v for k, v in views.scan(b"", b"\xff" * 8)
                if not k.startswith(b"\x00tracking/worker:")}
    finally:
        views.close()


def test_a_rebuild_killed_part_way_leaves_views_that_catch_up(sqlite_settings: Settings
                                                              ) -> None:
    written = _write_log(sqlite_settings)
    command = [sys.executable, "-m", "infra.run.cli", "projections", "rebuild",
               "--data-dir", str(sqlite_settings.data_dir)]
    with subprocess.Popen(command, env=server_env(), stdout=subprocess.PIPE, text=True) as run:
        assert run.stdout is not None
        for line in run.stdout:
            if line.strip().startswith("10000/"):  # two batches of 5000 applied
                run.send_signal(signal.SIGKILL)
                break
        run.wait(30)
    assert run.returncode == -signal.SIGKILL, "the rebuild ended before it could be killed"

    system = open_system(sqlite_settings)
    system.start()
    try:
        total = system.store.current_position()  # the log, and what the start added
        assert total >= written
        system.runner.wait_for(total)
        stats = bucket_stats(system.views, "many")
    finally:
        system.close()
    assert (stats.objects, stats.bytes) == (KEYS, sum(range(KEYS)))
    recovered = _items(sqlite_settings)

    assert rebuild_views(sqlite_settings) == total
    assert recovered == _items(sqlite_settings)


def test_a_rebuild_leaves_the_collector_as_it_found_it(sqlite_settings: Settings) -> None:
    """The cyclic collector runs between batches during a rebuild (bench.metadata and the
    tests rebuild in a process that goes on after), and is back as it was after."""
    _write_log(sqlite_settings)
    assert gc.isenabled()
    cycles_before = gc.get_stats()[2]["collections"]
    rebuild_views(sqlite_settings)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert gc.get_stats()[2]["collections"] >= cycles_before + 3  # one a batch, at least
    gc.disable()
    try:
        rebuild_views(sqlite_settings)
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_an_offline_rebuild_refuses_while_a_server_holds_the_data_dir(tmp_path: Path) -> None:
    """Issue 26: `strata projections rebuild` under a running server would delete the
    views under it; it refuses, says who holds the directory, and changes nothing."""
    import subprocess
    import sys

    from tests.conftest import Server, free_port, server_env

    server = Server(tmp_path / "data", free_port(), free_port(), server_env())
    server.start()
    try:
        views = sorted(p.name for p in (tmp_path / "data" / "views").iterdir())
        done = subprocess.run(
            [sys.executable, "-m", "infra.run.cli", "projections", "rebuild", "--data-dir",
             str(tmp_path / "data")], env=server_env(), capture_output=True, text=True,
            timeout=60)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "in use by strata pid" in done.stderr and "Traceback" not in done.stderr
        assert sorted(p.name for p in (tmp_path / "data" / "views").iterdir()) == views
        second = subprocess.run(
            [sys.executable, "-m", "infra.run.cli", "serve", "--data-dir", str(tmp_path / "data"),
             "--api-port", str(free_port()), "--s3-port", str(free_port())],
            env=server_env(), capture_output=True, text=True, timeout=60)
        assert second.returncode == 2 and "in use by strata pid" in second.stderr
    finally:
        server.stop()
