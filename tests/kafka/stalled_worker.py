"""`strata worker` whose faust consumer never fetches from partition 0 of the event
topic, for the stall test: it stands in for the faust stall seen after a takeover
(a partition assigned, records waiting on it, nothing delivered)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from infra.run.worker_app import run_worker, worker_handlers
from infra.settings import Settings

STALLED = 0


def stall_one_partition(topic: str) -> Any:
    def on_app(app: Any) -> None:
        @app.timer(interval=0.05)  # type: ignore[untyped-decorator]
        async def keep_it_paused() -> None:
            app.consumer.pause_partitions([tp for tp in app.consumer.assignment()
                                           if tp.topic == topic and tp.partition == STALLED])

    return on_app


if __name__ == "__main__":
    settings = Settings.from_env()
    data_dir, port = sys.argv[1], int(sys.argv[2])
    run_worker(replace(settings, data_dir=Path(data_dir)), port, worker_handlers,
               stall_one_partition(settings.kafka_topic))
