"""Rebuild every view from position 0 (the store must not be running)."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager

from domain.application import ObjectStore
from infra.data_dir_lock import DataDirLock
from infra.run.system import all_projections
from infra.settings import Settings
from infra.views.rocksdb import RocksDBViewStore
from projections.runner import ProjectionRunner


def rebuild_views(settings: Settings) -> int:
    lock = DataDirLock(settings.data_dir, "rebuilding its views").acquire()
    try:
        return _rebuild(settings)
    finally:
        lock.release()


def _rebuild(settings: Settings) -> int:
    # every cell's log where there are several (architecture decision 25)
    stores = [ObjectStore(settings.event_store_env(url))
              for url in settings.event_store_cells or ("",)]
    total = sum(store.current_position() for store in stores)
    RocksDBViewStore.destroy(settings.views_dir)
    for other in settings.data_dir.glob("views-*"):  # other workers' (serve --workers N)
        RocksDBViewStore.destroy(other)  # they rebuild from the log when they start
    views = RocksDBViewStore(settings.views_dir, bulk=True)
    runner = ProjectionRunner(stores[0], views, all_projections(), batch_size=5000,
                              cells=stores[1:])
    started = time.monotonic()
    print(f"rebuilding views from {total} events ...", flush=True)
    with _collecting_between_batches():
        while runner.catch_up_step():
            gc.collect()
            print(f"  {sum(runner.positions)}/{total}", flush=True)
    print("compacting the views ...", flush=True)
    views.close()
    for store in stores:
        store.close()
    elapsed = time.monotonic() - started
    rate = total / elapsed if elapsed > 0 else 0.0
    print(f"done: {sum(runner.positions)} events in {elapsed:.1f}s ({rate:,.0f} events/s)",
          flush=True)
    return sum(runner.positions)


@contextmanager
def _collecting_between_batches() -> Iterator[None]:
    """A batch makes hundreds of thousands of short-lived objects (events, their
    dicts, view rows), which reference counting frees; the cyclic collector, run every
    700 of them, mostly scans objects that are still in use (7% of a rebuild). It runs
    after each batch instead, over what the rebuild made since it began: what the
    process held before is set aside (frozen) until the rebuild ends."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
