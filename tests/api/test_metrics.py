"""GET /metrics of an embedded strata: how far its views and workers are behind the log."""

from __future__ import annotations

from datetime import UTC, datetime

from api.native.metrics import render
from infra.run.system import ROOT_USER, SYSTEM_META, open_system
from infra.settings import Settings
from tests.conftest import metric_value


def test_each_worker_says_its_position_and_how_many_events_it_has_yet_to_handle(
    sqlite_settings: Settings,
) -> None:
    system = open_system(sqlite_settings)  # not started: nothing follows the log yet
    try:
        for name in ("one", "two", "three"):
            system.store.create_bucket(name, ROOT_USER, SYSTEM_META, datetime.now(UTC))
        head = system.store.current_position()
        before = render(system)
        assert metric_value(before, 'strata_worker_position{worker="gc"}') == 0
        assert metric_value(before, 'strata_worker_lag_events{worker="gc"}') == head

        system.gc_follower.catch_up()
        after = render(system)
        assert metric_value(after, 'strata_worker_position{worker="gc"}') == head
        assert metric_value(after, 'strata_worker_lag_events{worker="gc"}') == 0
        assert metric_value(after, "strata_views_lag_events") == head  # the views did not move
    finally:
        system.close()
