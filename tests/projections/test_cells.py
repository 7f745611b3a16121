"""One view store fed by several event-store cells (architecture decision 25): each
cell's position kept apart, a bucket's views as with one log, chunk references summed
across cells whatever order the cells' batches arrive in."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from domain.application import ObjectStore
from infra.run.system import all_projections
from infra.views.rocksdb import RocksDBViewStore
from projections.buckets import list_buckets
from projections.chunk_refs import reference_count, released
from projections.object_listing import list_objects
from projections.runner import BarrierTimeout, ProjectionRunner, tracking_name
from tests.conftest import META, marker, now, version

SHARED = "cd" * 32


def cell_store(tmp_path: Path, number: int) -> ObjectStore:
    return ObjectStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                        "SQLITE_DBNAME": str(tmp_path / f"cell-{number}.db")})


@pytest.fixture
def cells(tmp_path: Path) -> list[ObjectStore]:
    stores = [cell_store(tmp_path, n) for n in range(3)]
    yield stores
    for store in stores:
        store.close()


def runner_over(cells: list[ObjectStore], views: RocksDBViewStore) -> ProjectionRunner:
    return ProjectionRunner(cells[0], views, all_projections(), cells=cells[1:])


def test_every_cells_buckets_reach_the_one_view_store(cells: list[ObjectStore],
                                                      tmp_path: Path) -> None:
    for n, store in enumerate(cells):
        store.create_bucket(f"bucket-{n}", "alice", META, now())
        for k in range(n + 1):
            store.put_object(f"bucket-{n}", f"key-{k}", version(f"v{k}"), META, now())
    views = RocksDBViewStore(tmp_path / "views")
    runner = runner_over(cells, views)
    runner.catch_up()
    assert sorted(b.name for b in list_buckets(views)) == ["bucket-0", "bucket-1", "bucket-2"]
    assert [e.key for e in list_objects(views, "bucket-2").entries] == [
        "key-0", "key-1", "key-2"]
    # each cell's own position: cell n wrote a bucket and n + 1 keys
    assert runner.positions == tuple(store.current_position() for store in cells)
    assert runner.positions != (runner.positions[0],) * 3
    for projection in all_projections():  # every view, every cell, in the views
        assert views.position(tracking_name(projection.name, 0)) == runner.positions[0]
        assert views.position(tracking_name(projection.name, 2)) == runner.positions[2]
    views.close()


def test_the_barrier_waits_on_the_cell_it_names(cells: list[ObjectStore],
                                                tmp_path: Path) -> None:
    views = RocksDBViewStore(tmp_path / "views")
    runner = runner_over(cells, views)
    runner.start()
    try:
        cells[2].create_bucket("late", "alice", META, now())
        written = cells[2].put_object("late", "k", version(), META, now()).position
        runner.wait_for(written, cell=2)
        assert [e.key for e in list_objects(views, "late").entries] == ["k"]
        # the home cell has nothing at that position: its barrier does not pass
        with pytest.raises(BarrierTimeout, match=f"not {written}, within"):
            runner.wait_for(written, timeout=0.3, cell=0)
    finally:
        runner.stop()
        views.close()


def test_a_restarted_runner_resumes_each_cell_where_it_stopped(cells: list[ObjectStore],
                                                               tmp_path: Path) -> None:
    for n, store in enumerate(cells):
        store.create_bucket(f"b-{n}", "alice", META, now())
        store.put_object(f"b-{n}", "k", version(digest=SHARED), META, now())
    views = RocksDBViewStore(tmp_path / "views")
    runner_over(cells, views).catch_up()
    assert reference_count(views, SHARED) == 3
    cells[1].put_object("b-1", "other", version("v2", digest=SHARED), META, now())
    again = runner_over(cells, views)  # as after a restart: positions from the views
    again.catch_up()
    assert reference_count(views, SHARED) == 4  # the new reference alone, none twice
    views.close()


def test_a_chunk_held_in_two_cells_is_released_by_the_later_release(
        cells: list[ObjectStore], tmp_path: Path) -> None:
    early, late = now(), now() + timedelta(minutes=5)
    for n in (0, 1):
        cells[n].create_bucket(f"b-{n}", "alice", META, early)
        cells[n].put_object(f"b-{n}", "k", version(digest=SHARED), META, early)
    views = RocksDBViewStore(tmp_path / "views")
    runner = runner_over(cells, views)
    runner.catch_up()
    assert reference_count(views, SHARED) == 2
    cells[0].delete_object("b-0", "k", None, marker(), META, late)
    assert reference_count(views, SHARED) == 2  # not applied yet
    cells[1].delete_object("b-1", "k", None, marker(), META, early + timedelta(minutes=1))
    # the home cell's release (the later one) is applied first, the other's after it
    for cell in (0, 1):
        notifications = cells[cell].select_notifications(runner.positions[cell], 100)
        runner.apply(notifications, notifications[-1].id, cell=cell)
        if cell == 0:
            assert reference_count(views, SHARED) == 1
    assert reference_count(views, SHARED) == 0
    release = released(views, SHARED)
    assert release is not None and release.at == late
    views.close()
