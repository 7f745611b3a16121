"""Rebuild every view from position 0 (the store must not be running)."""

from __future__ import annotations

import time

from domain.application import ObjectStore
from infra.rocksdb_views import RocksDBViewStore
from infra.settings import Settings
from infra.system import all_projections
from projections.runner import ProjectionRunner


def rebuild_views(settings: Settings) -> int:
    store = ObjectStore(settings.event_store_env())
    total = store.current_position()
    RocksDBViewStore.destroy(settings.views_dir)
    views = RocksDBViewStore(settings.views_dir, bulk=True)
    runner = ProjectionRunner(store, views, all_projections(), batch_size=5000)
    started = time.monotonic()
    print(f"rebuilding views from {total} events ...", flush=True)
    while runner.catch_up_step():
        print(f"  {runner.position}/{total}", flush=True)
    print("compacting the views ...", flush=True)
    views.close()
    store.close()
    elapsed = time.monotonic() - started
    rate = total / elapsed if elapsed > 0 else 0.0
    print(f"done: {runner.position} events in {elapsed:.1f}s ({rate:,.0f} events/s)", flush=True)
    return runner.position
