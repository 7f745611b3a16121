"""The daily inventory: once a day, each bucket that asks for one gets a Parquet
inventory in its destination bucket, as <prefix><bucket>/<YYYY-MM-DD>.parquet.

Idempotent and restart-safe: a day's file that exists already is not made again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from domain.access import Action, Principal, authorize
from domain.application import ObjectStore
from domain.errors import AccessDenied, NoSuchBucket, NoSuchKey, NoSuchUser
from domain.records import InventoryConfig, RequestMeta
from domain.runtime.periodic import Periodic
from projections.base import ViewReader
from projections.buckets import list_buckets

log = logging.getLogger("strata.inventory")
INVENTORY_META: RequestMeta = {
    "actor": "strata:inventory", "request_id": "", "source": "", "user_agent": "",
    "user": "strata:inventory",
}

Export = Callable[[str, str, str, RequestMeta], Any]  # bucket, destination, key, meta


def daily_key(prefix: str, bucket: str, moment: datetime) -> str:
    return f"{prefix}{bucket}/{moment.date().isoformat()}.parquet"


class InventoryScheduler:
    def __init__(
        self,
        store: ObjectStore,
        views: ViewReader,
        wait_for_views: Callable[[int], None],
        export: Export,
        clock: Callable[[], datetime],
        interval_seconds: float,
    ) -> None:
        self._store = store
        self._views = views
        self._wait_for_views = wait_for_views
        self._export = export
        self._clock = clock
        self._periodic = Periodic("inventory", interval_seconds, self.run_once, log)

    def run_once(self) -> list[tuple[str, str]]:
        """Make every inventory due today that is missing; (destination, key) of each."""
        self._wait_for_views(self._store.current_position())
        made = []
        for record in list_buckets(self._views):
            config = record.inventory
            if config is None:
                continue
            key = daily_key(config["prefix"], record.name, self._clock())
            try:
                self._may_export(record.name, record.owner, config)
                self._store.get_object(config["destination"], key)
                continue
            except NoSuchKey:
                pass
            except NoSuchBucket:
                log.warning("inventory of %s: destination bucket %s does not exist",
                            record.name, config["destination"])
                continue
            except (AccessDenied, NoSuchUser) as refused:
                log.warning("inventory of %s into %s refused: %s", record.name,
                            config["destination"], refused)
                continue
            self._export(record.name, config["destination"], key, INVENTORY_META)
            made.append((config["destination"], key))
            log.info("inventory of %s written to %s/%s", record.name, config["destination"], key)
        return made

    def _may_export(self, bucket: str, owner: str, config: InventoryConfig) -> None:
        """Each export writes as the user who scheduled it, with that user's rights now:
        LIST on the bucket and WRITE on the destination."""
        user = self._store.get_user(config.get("scheduled_by", owner))
        principal = Principal(user.name, "strata:inventory", user.is_admin)
        authorize(principal, Action.LIST_BUCKET, self._store.get_bucket(bucket).acl)
        authorize(principal, Action.WRITE_OBJECTS,
                  self._store.get_bucket(config["destination"]).acl)

    def start(self) -> None:
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()
