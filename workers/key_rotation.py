"""Key rotation in the background (issue 25): after `strata keys rotate NAME`, every
data key wrapped by an older version of NAME is wrapped again by the current one and
recorded as an event; the chunks are never rewritten. Old key versions stay in the key
service, so an object reads the same before, during and after (a kill part way leaves
some keys wrapped the old way, and the next pass goes on)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from domain.application import ObjectStore
from domain.errors import KeyUnavailable, NoSuchBucket, NoSuchKey, NoSuchVersion
from domain.ports import KeyService
from domain.records import RequestMeta
from projections.base import ViewReader
from projections.buckets import list_buckets
from projections.object_listing import versions_by_key

log = logging.getLogger("strata.keys")
REWRAP_META: RequestMeta = {"actor": "strata:key-rotation", "user": "strata:key-rotation",
                            "request_id": "", "source": "", "user_agent": "",
                            "reason": "key rotation: the data key wrapped by the current "
                                      "version of its key"}


@dataclass
class RewrapReport:
    rewrapped: int = 0
    unavailable: int = 0  # wrapped by a key this store no longer has: left as they are


class KeyRewrapper:
    def __init__(self, store: ObjectStore, views: ViewReader,
                 wait_for_views: Callable[[int], None], keys: KeyService,
                 clock: Callable[[], datetime]) -> None:
        self._store = store
        self._views = views
        self._wait_for_views = wait_for_views
        self._keys = keys
        self._clock = clock
        self.rewrapped = 0

    def run_once(self) -> RewrapReport:
        """A pass over every encrypted version whose key has a newer version than the one
        that wraps it; passes find nothing to do until a key is rotated again."""
        self._wait_for_views(self._store.current_position())
        report = RewrapReport()
        current: dict[str, int] = {}
        for bucket in list_buckets(self._views):
            for key, rows in versions_by_key(self._views, bucket.name):
                for row in rows:
                    name, _, version = str(row.get("kek", "")).rpartition(":")
                    if not name:
                        continue
                    if name not in current:
                        try:
                            current[name] = self._keys.current_version(name)
                        except KeyUnavailable:
                            current[name] = 0
                    if int(version) < current[name]:
                        self._rewrap(bucket.name, key, row["version_id"], report)
        self.rewrapped += report.rewrapped
        if report.rewrapped:
            log.info("re-wrapped %d data keys with the current versions of their keys",
                     report.rewrapped)
        return report

    def _rewrap(self, bucket: str, key: str, version_id: str, report: RewrapReport) -> None:
        try:
            record = self._store.get_object_version_record(bucket, key, version_id)
        except (NoSuchBucket, NoSuchKey, NoSuchVersion):
            return
        encryption = record.get("encryption")
        if encryption is None:
            return
        wrapped = encryption["wrapped"]
        try:
            fresh = self._keys.wrap(wrapped["key"], self._keys.unwrap(wrapped))
        except KeyUnavailable:
            report.unavailable += 1
            return
        if self._store.rewrap_data_key(bucket, key, version_id, fresh, REWRAP_META,
                                       self._clock()):
            report.rewrapped += 1
