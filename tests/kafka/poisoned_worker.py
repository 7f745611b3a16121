"""`strata worker` whose handlers fail on every event of the bucket "poison", for the
dead-letter test. Handlers are a port of ours: this fake stands in for a worker bug."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from domain.envelope import event_bucket
from infra.run.system import System
from infra.run.worker_app import run_worker, worker_handlers
from infra.settings import Settings


def poisoned(system: System) -> Sequence[Callable[[Any], None]]:
    def fail_on_poison(event: Any) -> None:
        if event_bucket(event) == "poison":
            raise RuntimeError("this handler cannot take the poison bucket")

    return [fail_on_poison, *worker_handlers(system)]


if __name__ == "__main__":
    settings = Settings.from_env()
    data_dir, port = sys.argv[1], int(sys.argv[2])
    from dataclasses import replace
    from pathlib import Path

    run_worker(replace(settings, data_dir=Path(data_dir)), port, poisoned)
