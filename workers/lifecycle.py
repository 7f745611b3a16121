"""The lifecycle worker: applies each bucket's lifecycle rules from the views.

It reads the listing view (never the blobs), decides with domain.lifecycle what is due,
and acts through the ordinary commands, so every expiry is an event whose actor is
`strata:lifecycle` and whose reason names the rule. Removed versions release their
chunks to garbage collection like any delete, and the bucket's stats fall. Object lock
is enforced by the commands: a locked version is skipped and counted, never removed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.application import BucketInfo, ObjectStore
from domain.errors import NoSuchBucket, NoSuchKey, NoSuchUpload, NoSuchVersion, ObjectLocked
from domain.lifecycle import (
    LifecycleRule,
    current_expiry,
    marker_expiry,
    noncurrent_expiry,
    upload_expiry,
)
from domain.records import RequestMeta, Version
from projections.base import ViewReader
from projections.buckets import list_buckets
from projections.object_listing import versions_by_key
from projections.uploads import every_upload

log = logging.getLogger("strata.lifecycle")
ACTOR = "strata:lifecycle"
MARKER_ACL = {"owner": ACTOR, "grants": []}


def lifecycle_meta(rule_id: str, what: str) -> RequestMeta:
    return {"actor": ACTOR, "user": ACTOR, "request_id": "", "source": "", "user_agent": "",
            "reason": f"lifecycle rule {rule_id}: {what}"}


@dataclass
class LifecycleReport:
    keys: int = 0
    expired: int = 0  # current versions expired (a delete marker placed, or removed)
    noncurrent_removed: int = 0
    markers_removed: int = 0
    uploads_aborted: int = 0
    held: int = 0  # due, but object lock keeps them
    seconds: float = 0.0


class LifecycleWorker:
    def __init__(self, store: ObjectStore, views: ViewReader,
                 wait_for_views: Callable[[int], None], clock: Callable[[], datetime],
                 day_seconds: int, new_marker: Callable[[datetime], Version]) -> None:
        self._store = store
        self._views = views
        self._wait_for_views = wait_for_views
        self._clock = clock
        self._day = day_seconds
        self._new_marker = new_marker
        self.totals = LifecycleReport()
        self.passes = 0

    def run_once(self) -> LifecycleReport:
        """One pass over every bucket that has lifecycle rules."""
        started = time.monotonic()
        self._wait_for_views(self._store.current_position())
        now = self._clock()
        report = LifecycleReport()
        for record in list_buckets(self._views):
            try:
                info = self._store.get_bucket(record.name)
            except NoSuchBucket:
                continue
            rules = [r for r in info.lifecycle or () if r["enabled"]]
            if rules:
                self._objects(info, rules, now, report)
                self._uploads(info, rules, now, report)
        report.seconds = time.monotonic() - started
        self.passes += 1
        for name in ("keys", "expired", "noncurrent_removed", "markers_removed",
                     "uploads_aborted", "held"):
            setattr(self.totals, name, getattr(self.totals, name) + getattr(report, name))
        if report.expired or report.noncurrent_removed or report.markers_removed \
                or report.uploads_aborted:
            log.info("lifecycle pass: %d keys, %d expired, %d noncurrent versions and %d "
                     "delete markers removed, %d uploads aborted, %d held by object lock "
                     "(%.1f s)", report.keys, report.expired, report.noncurrent_removed,
                     report.markers_removed, report.uploads_aborted, report.held,
                     report.seconds)
        return report

    def _prefixes(self, rules: list[LifecycleRule]) -> list[str]:
        """The fewest prefixes that cover every rule (a rule with no prefix: all keys)."""
        chosen: list[str] = []
        for prefix in sorted({r["prefix"] for r in rules}):
            if not any(prefix.startswith(c) for c in chosen):
                chosen.append(prefix)
        return chosen

    def _objects(self, info: BucketInfo, rules: list[LifecycleRule], now: datetime,
                 report: LifecycleReport) -> None:
        for prefix in self._prefixes(rules):
            for key, rows in versions_by_key(self._views, info.name, prefix):
                report.keys += 1
                self._key(info, rules, key, rows, now, report)

    def _key(self, info: BucketInfo, rules: list[LifecycleRule], key: str,
             rows: list[dict[str, Any]], now: datetime, report: LifecycleReport) -> None:
        newest = rows[0]
        if newest["is_delete_marker"]:
            if len(rows) == 1:
                rule_id = marker_expiry(rules, key)
                if rule_id is not None:
                    self._remove(info, key, newest["version_id"], rule_id,
                                 "removed an expired object delete marker", report,
                                 "markers_removed")
        else:
            due = current_expiry(rules, key, newest["size"], newest.get("tags", {}),
                                 _time(newest), self._day)
            if due is not None and due.at <= now:
                self._expire(info, key, newest["version_id"], due.rule_id, report)
        for index in range(1, len(rows)):
            row = rows[index]
            since = _time(rows[index - 1])
            due = noncurrent_expiry(rules, key, row["size"], row.get("tags", {}), since,
                                    index - 1, self._day)
            if due is not None and due.at <= now:
                self._remove(info, key, row["version_id"], due.rule_id,
                             "removed a noncurrent version", report, "noncurrent_removed")

    def _expire(self, info: BucketInfo, key: str, version_id: str, rule_id: str,
                report: LifecycleReport) -> None:
        now = self._clock()
        meta = lifecycle_meta(rule_id, "expired the current version")
        try:
            result = self._store.delete_object(info.name, key, None, self._new_marker(now),
                                               meta, now, expected_current=version_id)
        except (NoSuchBucket, NoSuchKey):
            return
        except ObjectLocked:
            report.held += 1
            return
        if result.position:
            report.expired += 1

    def _remove(self, info: BucketInfo, key: str, version_id: str, rule_id: str, what: str,
                report: LifecycleReport, counter: str) -> None:
        now = self._clock()
        try:
            result = self._store.delete_object(info.name, key, version_id,
                                               self._new_marker(now),
                                               lifecycle_meta(rule_id, what), now)
        except (NoSuchBucket, NoSuchKey, NoSuchVersion):
            return
        except ObjectLocked:
            report.held += 1
            return
        if result.position:
            setattr(report, counter, getattr(report, counter) + 1)

    def _uploads(self, info: BucketInfo, rules: list[LifecycleRule], now: datetime,
                 report: LifecycleReport) -> None:
        if not any("abort_days" in r for r in rules):
            return
        for upload in list(every_upload(self._views, info.name)):
            due = upload_expiry(rules, upload.key, datetime.fromisoformat(upload.initiated),
                                self._day)
            if due is None or due.at > now:
                continue
            try:
                self._store.abort_multipart_upload(
                    info.name, upload.key, upload.upload_id,
                    lifecycle_meta(due.rule_id, "aborted an incomplete multipart upload"),
                    self._clock())
            except (NoSuchUpload, NoSuchBucket):
                continue
            report.uploads_aborted += 1


def _time(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(row["last_modified"])
