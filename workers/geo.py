"""Geo-replication's sending side: every object change of a bucket with replication
rules reaches the rules' sites, in log order, from a tracked position.

One sender a registered site follows the log on its own (a site that is down holds up
only itself). For each batch of events it builds the changes the rules ask for, asks
the site which of their chunks it lacks and sends only those (content addressing across
sites), then has the site apply the changes in order; only when the site answered for
all of them does the position move on. So delivery is at least once, and the site's
apply is idempotent by origin position: nothing is applied twice.

- A site that does not answer (or answers 5xx) is tried again with a doubling wait, up
  to `retry_max_seconds`: the lag grows and the status says why, nothing is dropped.
- A change the site refuses (its bucket is missing, versioning is off there) is a dead
  letter: recorded with the site's reason, counted in the rule's status and in metrics,
  and the sender moves on.
- A rule that appears (a bucket's replication configuration names a rule new to this
  sender) first replicates what its bucket already holds: the rule's own cursor reads
  the log from the bucket's incarnation up to where the sender is, then the rule joins
  the sender's stream. Until then the stream leaves the rule out, so every key's changes
  still reach the site in log order (the site applies a change only if it is newer than
  what it has from this origin).
- A change that came from a site is never sent back to it (loop safety for two sites
  replicating to each other); the sender checks that each site calls itself by the name
  it was registered under, since that name is what the check compares.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

import orjson

from domain.application import ObjectStore
from domain.buckets import Bucket
from domain.errors import NoSuchBucket, SiteMisnamed, SiteUnreachable
from domain.geo import MAX_CHANGES, ReplicatedChange, change_of
from domain.objects import ObjectKey
from domain.ports import Applied, BlobStore, SiteLink
from domain.records import Chunk, ReplicationRule
from projections.base import ViewReader, prefix_end
from projections.incarnations import incarnation_start
from projections.object_listing import KEPT_BENEATH, put_by
from projections.runner import home_position
from projections.sites import SiteRecord, list_sites
from projections.time_index import positions_of
from workers.runner import DEAD_LETTER_PREFIX

log = logging.getLogger("strata.geo")
T = TypeVar("T")
STATUS_PREFIX = b"X/geo/"
BATCH = 200  # events read from the log at a time
MISSING_ASKED = 1000  # digests asked about at a time
RECENT_FAILURES = 10  # dead letters a rule's status shows, newest last
GROUP_BYTES = 64 * 1024 * 1024  # chunk bytes sent before the changes naming them
BUNDLED_CHUNK = 1024 * 1024  # chunks up to this size travel in bundles
BUNDLE_BYTES = 8 * 1024 * 1024  # at most this much a bundle (the site takes 16 MiB)
CHUNKS_AT_ONCE = 4  # chunks in flight to a site


def _packed(items: list[T], weight: Callable[[T], int], most_bytes: int,
            most_items: int) -> Iterator[list[T]]:
    """Consecutive items, at most `most_items` and `most_bytes` a pack (an item heavier
    than that is a pack of its own)."""
    pack: list[T] = []
    size = 0
    for item in items:
        heavy = weight(item)
        if pack and (len(pack) == most_items or size + heavy > most_bytes):
            yield pack
            pack, size = [], 0
        pack.append(item)
        size += heavy
    if pack:
        yield pack


def _chunk_bytes(item: Outgoing) -> int:
    change = item.change
    return sum(c["size"] for c in change["version"]["chunks"]) if change["kind"] == "put" \
        else 0


def _bundle_weight(chunk: tuple[str, int]) -> int:
    # a chunk above BUNDLED_CHUNK weighs a whole bundle: it travels alone (streamed)
    return BUNDLE_BYTES if chunk[1] > BUNDLED_CHUNK else chunk[1]


def follower_name(site: str) -> str:
    return f"geo:{site}"


@dataclass
class RuleCounts:
    """What one rule's sender did, since the rule's first change."""

    applied: int = 0  # changes the site recorded
    unchanged: int = 0  # changes it already had (a redelivery)
    failed: int = 0  # changes it refused: dead letters
    bytes_sent: int = 0
    chunks_sent: int = 0
    chunks_skipped: int = 0  # the site had them already
    last_change_at: str = ""  # when the last change sent happened at its origin


@dataclass
class Backfill:
    """A rule's replication of what its bucket held before the rule: its cursor chases
    the sender's position, and the rule joins the sender's stream once it is there."""

    bucket: str
    rule_id: str
    start: int  # the log position the cursor started from
    at: int  # the last position it read
    target: int = 0  # the sender's position when the cursor was last moved
    changes: int = 0  # changes it sent
    done: bool = False


@dataclass
class SenderStatus:
    """A site's sender: where it is in the log and why it waits, if it does."""

    site: str
    position: int = 0
    retrying_since: float = 0.0  # 0: the site answers
    last_error: str = ""
    rules: dict[str, RuleCounts] = field(default_factory=dict)  # "<bucket>/<rule id>"
    backfills: dict[str, Backfill] = field(default_factory=dict)  # "<bucket>/<rule id>"

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes) -> SenderStatus:
        data = orjson.loads(raw)
        data["rules"] = {k: RuleCounts(**v) for k, v in data["rules"].items()}
        data["backfills"] = {k: Backfill(**v) for k, v in data.get("backfills", {}).items()}
        return cls(**data)

    def joined(self, bucket: str, rule_id: str) -> bool:
        backfill = self.backfills.get(f"{bucket}/{rule_id}")
        return backfill is not None and backfill.done

    def sent_up_to(self, rule: str) -> int:
        """The log position up to which `rule` ("<bucket>/<rule id>") has been sent:
        its backfill's while that runs, the sender's once it has joined."""
        backfill = self.backfills.get(rule)
        if backfill is None:
            return 0
        return self.position if backfill.done else backfill.at


class GeoState(Protocol):
    """Where senders keep their positions, status and dead letters: the views' state
    in the embedded store; a table every process of a Kafka cluster reads, there."""

    def get(self, key: bytes) -> bytes | None: ...

    def scan(self, start: bytes, stop: bytes) -> Iterator[tuple[bytes, bytes]]: ...

    def position(self, name: str) -> int: ...

    def commit(self, writes: Mapping[bytes, bytes | None], positions: Mapping[str, int]
               ) -> None: ...


def sender_status(state: GeoState, site: str) -> SenderStatus:
    raw = state.get(STATUS_PREFIX + site.encode())
    status = SenderStatus.from_json(raw) if raw else SenderStatus(site)
    status.position = max(status.position, state.position(follower_name(site)))
    return status


@dataclass(frozen=True)
class BucketRules:
    rules: list[ReplicationRule]
    since: int  # the log position the bucket's current incarnation began at


@dataclass(frozen=True)
class Outgoing:
    position: int
    rule: str  # "<bucket>/<rule id>"
    bucket: str  # the destination's
    change: ReplicatedChange


def matching_rules(rules: list[ReplicationRule], site: str, key: str) -> list[ReplicationRule]:
    """The enabled rules that send `key` to `site`, one a destination bucket (the one
    with the highest priority decides)."""
    chosen: dict[str, ReplicationRule] = {}
    for rule in sorted(rules, key=lambda r: -r["priority"]):
        if rule["enabled"] and rule["site"] == site and key.startswith(rule["prefix"]):
            chosen.setdefault(rule["bucket"], rule)
    return list(chosen.values())


class SiteSender:
    """Follows the log for one site; see the module's docstring."""

    def __init__(self, site: str, here: str, store: ObjectStore, views: ViewReader,
                 state: GeoState, blobs: BlobStore, link: Callable[[], SiteLink],
                 wait_for_views: Callable[[int], None], retry_max_seconds: float,
                 poll_seconds: float, bytes_per_second: int = 0) -> None:
        self.site, self.here = site, here
        self._bytes_per_second = bytes_per_second
        self._throttle_lock = threading.Lock()
        self._next_free = 0.0  # monotonic time the link is free again at the set rate
        self._store, self._views, self._state, self._blobs = store, views, state, blobs
        self._connect = link
        self._link: SiteLink | None = None
        self._wait_for_views = wait_for_views
        self._retry_max, self._poll = retry_max_seconds, poll_seconds
        self.status = sender_status(state, site)
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._senders = ThreadPoolExecutor(CHUNKS_AT_ONCE, thread_name_prefix=f"geo:{site}")

    # -- the loop -------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"geo:{self.site}",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._senders.shutdown(wait=True)
        if self._link is not None:
            self._link.close()

    def wake(self, _position: int = 0) -> None:
        self._wake.set()

    def _run(self) -> None:
        wait = 0.0
        while not self._stop.is_set():
            self._wake.clear()
            try:
                moved = self.send_once()
                wait = 0.0
                if self.status.retrying_since:
                    log.info("site %s answers again", self.site)
                    self.status.retrying_since, self.status.last_error = 0.0, ""
                    self._save_status()
                if moved:
                    continue
            except (SiteUnreachable, SiteMisnamed) as exc:
                wait = min(max(wait * 2, 0.1), self._retry_max)
                self._retrying(exc)
                self._stop.wait(wait)
                continue
            except Exception:
                log.exception("geo-replication to %s failed; trying again", self.site)
                wait = min(max(wait * 2, 0.5), self._retry_max)
                self._stop.wait(wait)
                continue
            self._wake.wait(self._poll)

    def _retrying(self, exc: Exception) -> None:
        message = getattr(exc, "message", str(exc))
        if not self.status.retrying_since:
            log.warning("site %s: %s; replication to it waits and tries again",
                        self.site, message)
            self.status.retrying_since = time.time()
        self.status.last_error = message[:512]
        if self._link is not None:  # a fresh connection (and name check) next time
            self._link.close()
            self._link = None
        self._save_status()

    # -- one batch --------------------------------------------------------------------

    def send_once(self) -> bool:
        """Send the changes of the next batch of events, or move a rule's backfill on;
        False when there was nothing to do."""
        notifications = self._store.select_notifications(self.status.position, BATCH)
        if not notifications:
            return self._backfill_once()
        last = notifications[-1].id
        self._wait_for_views(last)  # incarnations, as of the events read
        rules: dict[str, BucketRules] = {}
        outgoing: list[Outgoing] = []
        for notification in notifications:
            event = self._store.decode(notification)
            if isinstance(event, ObjectKey.Event):
                outgoing += self._changes_of(event, notification.id, rules,
                                             self.status.joined)
            elif isinstance(event, Bucket.ReplicationConfigured):
                self._rules_configured(event.name, event.rules or [], notification.id)
            elif isinstance(event, (Bucket.Deleted, Bucket.Recreated)):
                self._forget_rules(event.name)
        if outgoing:
            self._deliver(self._linked(), outgoing)
        self.status.position = last
        self._backfill_once()
        self._save_status()
        return True

    def _rules_configured(self, bucket: str, rules: list[ReplicationRule],
                          position: int) -> None:
        """A rule new to this sender starts a backfill; a rule gone is forgotten (so
        that configuring it again replicates the bucket's objects again)."""
        ids = {rule["id"] for rule in rules if rule["site"] == self.site}
        self._forget_rules(bucket, keep=ids)
        start = incarnation_start(self._views, bucket)
        if start > position:
            return  # the bucket has been created again since: these rules are gone
        for rule_id in ids:
            name = f"{bucket}/{rule_id}"
            if name not in self.status.backfills:
                log.info("geo-replication to %s: rule %s starts with the objects its "
                         "bucket holds", self.site, name)
                self.status.backfills[name] = Backfill(bucket, rule_id, start, start,
                                                      position)

    def _forget_rules(self, bucket: str, keep: set[str] | frozenset[str] = frozenset()
                      ) -> None:
        for name, backfill in list(self.status.backfills.items()):
            if backfill.bucket == bucket and backfill.rule_id not in keep:
                del self.status.backfills[name]

    def _backfill_once(self) -> bool:
        """Move the first unfinished backfill on by one batch, up to the sender's
        position; True if one moved."""
        for backfill in self.status.backfills.values():
            if not backfill.done:
                break
        else:
            return False
        until = self.status.position
        backfill.target = until
        notifications = [n for n in self._store.select_notifications(backfill.at, BATCH)
                         if n.id <= until]
        if not notifications:
            backfill.done = True
            log.info("geo-replication to %s: rule %s/%s has sent what its bucket held "
                     "(%d changes)", self.site, backfill.bucket, backfill.rule_id,
                     backfill.changes)
            self._save_status()
            return True
        last = notifications[-1].id
        self._wait_for_views(last)
        rules: dict[str, BucketRules] = {}

        def this_rule(bucket: str, rule_id: str) -> bool:
            return bucket == backfill.bucket and rule_id == backfill.rule_id

        outgoing: list[Outgoing] = []
        for notification in notifications:
            event = self._store.decode(notification)
            if isinstance(event, ObjectKey.Event) \
                    and getattr(event, "bucket", None) == backfill.bucket:
                outgoing += self._changes_of(event, notification.id, rules, this_rule)
        if outgoing:
            self._deliver(self._linked(), outgoing)
        backfill.at, backfill.changes = last, backfill.changes + len(outgoing)
        self._save_status()
        return True

    def _changes_of(self, event: Any, position: int, rules: dict[str, BucketRules],
                    sending: Callable[[str, str], bool]) -> list[Outgoing]:
        """`rules`: the batch's cache of each bucket's rules and incarnation."""
        bucket = event.bucket
        if bucket not in rules:
            try:
                found = self._store.get_bucket(bucket).replication or []
            except NoSuchBucket:
                found = []
            rules[bucket] = BucketRules(found, incarnation_start(self._views, bucket))
        if not rules[bucket].rules or position < rules[bucket].since:
            return []  # no rules, or a change from the bucket's earlier life
        change = change_of(event, position, self.here)
        if change is None or change["origin_site"] == self.site:
            return []  # not an object change, or one that came from that site
        return [Outgoing(position, f"{bucket}/{rule['id']}", rule["bucket"], change)
                for rule in matching_rules(rules[bucket].rules, self.site, event.key)
                if sending(bucket, rule["id"])
                and (change["kind"] != "marker" or rule["delete_markers"])]

    def _linked(self) -> SiteLink:
        if self._link is None:
            link = self._connect()
            try:
                name = link.site_name()
                if name != self.site:
                    raise SiteMisnamed(
                        f"the site registered as {self.site!r} calls itself {name!r} "
                        "(its STRATA_SITE_NAME): register it under that name, so that "
                        "changes that came from it are never sent back", site=self.site)
            except BaseException:
                link.close()
                raise
            self._link = link
        return self._link

    def _deliver(self, link: SiteLink, outgoing: list[Outgoing]) -> None:
        """Each group's chunks, then at once its changes: a chunk waits at the site for
        the change naming it only while one group travels (the site's GC grace must be
        longer than that, or it collects the chunk as unreferenced)."""
        for group in _packed(outgoing, _chunk_bytes, GROUP_BYTES, MAX_CHANGES):
            self._send_chunks(link, group)
            self._apply(link, group)

    def _apply(self, link: SiteLink, group: list[Outgoing]) -> None:
        done = 0
        resent = False
        while done < len(group):
            rest = group[done:]
            results = link.apply([{"bucket": o.bucket, **o.change} for o in rest])
            for item, result in zip(rest, results, strict=True):
                if result.status == "missing":
                    break
                self._count(item, result)
                done += 1
            else:
                continue
            if resent:  # the site lost chunks it said it had, twice: try again later
                raise SiteUnreachable(f"site {self.site} keeps losing chunks it confirmed")
            self._send_chunks(link, group[done:], again=True)
            resent = True

    def _send_chunks(self, link: SiteLink, outgoing: list[Outgoing], again: bool = False
                     ) -> None:
        """Send the chunks of `outgoing` the site lacks (`again`: a second time, for a
        site that lost some: those it has were counted as skipped the first time)."""
        owners: dict[str, tuple[Outgoing, Chunk]] = {}
        for item in outgoing:
            if item.change["kind"] == "put":
                for chunk in item.change["version"]["chunks"]:
                    owners.setdefault(chunk["digest"], (item, chunk))
        digests = list(owners)
        lacking: set[str] = set()
        for start in range(0, len(digests), MISSING_ASKED):
            lacking.update(link.missing_chunks(digests[start:start + MISSING_ASKED]))
        for digest in digests:
            if digest not in lacking and not again:
                self._counts(owners[digest][0].rule).chunks_skipped += 1

        def read(digest: str) -> bytes:
            return b"".join(bytes(p) for p in self._blobs.read_chunk(owners[digest][1]))

        def send(bundle: list[str]) -> None:
            self._throttle(sum(owners[digest][1]["size"] for digest in bundle))
            if len(bundle) == 1:
                link.send_chunk(bundle[0], read(bundle[0]))
            else:
                link.send_chunks([(digest, read(digest)) for digest in bundle])

        # small chunks travel in bundles (a small chunk's cost is its round trip), a
        # few requests at a time
        bundles = [[digest for digest, _ in pack] for pack in _packed(
            [(d, owners[d][1]["size"]) for d in digests if d in lacking], _bundle_weight,
            BUNDLE_BYTES, len(digests))]
        for bundle, _ in zip(bundles, self._senders.map(send, bundles), strict=True):
            for digest in bundle:
                item, chunk = owners[digest]
                counts = self._counts(item.rule)
                counts.chunks_sent += 1
                counts.bytes_sent += chunk["size"]

    def _throttle(self, size: int) -> None:
        """Wait so that chunk bytes leave at no more than the set rate (a WAN link
        shared with other traffic)."""
        if not self._bytes_per_second:
            return
        with self._throttle_lock:
            now = time.monotonic()
            start = max(now, self._next_free)
            self._next_free = start + size / self._bytes_per_second
        self._stop.wait(start - now)

    def _count(self, item: Outgoing, result: Applied) -> None:
        counts = self._counts(item.rule)
        counts.last_change_at = item.change["time"]
        if result.status == "applied":
            counts.applied += 1
        elif result.status == "unchanged":
            counts.unchanged += 1
        else:
            counts.failed += 1
            self._dead_letter(item, result)

    def _counts(self, rule: str) -> RuleCounts:
        return self.status.rules.setdefault(rule, RuleCounts())

    def _dead_letter(self, item: Outgoing, result: Applied) -> None:
        log.error("site %s refused the change at position %d (%s %s/%s): %s %s",
                  self.site, item.position, item.change["kind"], item.bucket,
                  item.change["key"][:256], result.error, result.message)
        record = {
            "worker": follower_name(self.site), "position": item.position,
            "rule": item.rule, "bucket": item.bucket, "key": item.change["key"],
            "type": item.change["kind"], "error": f"{result.error}: {result.message}",
            "time": time.time(),
        }
        key = dead_letter_key(self.site, item.position, item.rule)
        self._state.commit({key: orjson.dumps(record)}, {})

    def _save_status(self) -> None:
        self._state.commit({STATUS_PREFIX + self.site.encode(): self.status.to_json()},
                           {follower_name(self.site): self.status.position})


class GeoReplication:
    """Starts a sender for each registered site and stops those of removed ones."""

    def __init__(self, here: str, store: ObjectStore, views: ViewReader, state: GeoState,
                 blobs: BlobStore, connect: Callable[[SiteRecord], SiteLink],
                 wait_for_views: Callable[[int], None], retry_max_seconds: float,
                 poll_seconds: float, bytes_per_second: int = 0) -> None:
        self.here = here
        self._bytes_per_second = bytes_per_second
        self._store, self._views, self._state, self._blobs = store, views, state, blobs
        self._connect = connect
        self._wait_for_views = wait_for_views
        self._retry_max, self._poll = retry_max_seconds, poll_seconds
        self.senders: dict[str, SiteSender] = {}
        self._endpoints: dict[str, SiteRecord] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()  # a cluster's worker starts again when it leads again
        self._thread = threading.Thread(target=self._run, name="geo", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        warned = False
        while not self._stop.is_set():
            try:
                if self.here:
                    self.refresh()
                elif list_sites(self._views) and not warned:
                    log.error("sites are registered but STRATA_SITE_NAME is not set: "
                              "geo-replication starts once this site has a name")
                    warned = True
            except Exception:
                log.exception("geo-replication: reading the registered sites failed")
            self._stop.wait(self._poll)

    def refresh(self) -> None:
        """Senders for exactly the registered sites (a changed site gets a new one)."""
        with self._lock:
            sites = {record.name: record for record in list_sites(self._views)}
            for name in list(self.senders):
                if sites.get(name) != self._endpoints.get(name):
                    self.senders.pop(name).stop()
                    self._endpoints.pop(name, None)
            for name, record in sites.items():
                if name not in self.senders and not self._stop.is_set():
                    sender = SiteSender(
                        name, self.here, self._store, self._views, self._state, self._blobs,
                        lambda record=record: self._connect(record),  # type: ignore[misc]
                        self._wait_for_views, self._retry_max, self._poll,
                        self._bytes_per_second)
                    self.senders[name], self._endpoints[name] = sender, record
                    sender.start()

    def wake(self, _position: int = 0) -> None:
        for sender in list(self.senders.values()):
            sender.wake()

    def rule_status(self, bucket: str, rule: ReplicationRule, now: datetime) -> dict[str, Any]:
        """Where one rule of `bucket` stands: its site's lag and state, its own counts."""
        status = self._status_of(rule["site"])
        events, seconds = lag(self._store, status, now)
        name = f"{bucket}/{rule['id']}"
        counts = status.rules.get(name, RuleCounts())
        return {
            "id": rule["id"], "site": rule["site"], "bucket": rule["bucket"],
            "status": "Enabled" if rule["enabled"] else "Disabled",
            "sending": rule["site"] in self.senders,
            "lag_events": events, "lag_seconds": round(seconds, 3),
            "position": status.position,
            "site_answers": not status.retrying_since,
            "retrying_since": status.retrying_since or None,
            "last_error": status.last_error or None,
            **asdict(counts),
            "existing_objects": _backfill_progress(status.backfills.get(name)),
            "recent_failures": [d for d in geo_dead_letters(self._state, rule["site"])
                                if d["rule"] == name][-RECENT_FAILURES:],
        }

    def version_status(self, bucket: str, key: str, version_id: str,
                       rules: list[ReplicationRule]) -> str | None:
        """S3's x-amz-replication-status of a version written here: PENDING until every
        rule that sends it has sent it, FAILED if a site refused it, else COMPLETED;
        None when no rule sends it."""
        rules = [r for r in rules if r["enabled"] and key.startswith(r["prefix"])]
        if not rules:
            return None
        aggregate_version = put_by(self._views, bucket, key, version_id)
        if aggregate_version == KEPT_BENEATH:
            return None  # no rule sends a version kept beneath a newer one on its own
        # Not placed yet (the views trail the store a moment, the time index too): its
        # log position is unknown until they do, and so whether it was sent.
        position = None if aggregate_version is None else \
            positions_of(self._views, bucket, key).get(aggregate_version)
        if position is None:
            return "PENDING"
        states = set()
        for rule in rules:
            name = f"{bucket}/{rule['id']}"
            if self._status_of(rule["site"]).sent_up_to(name) < position:
                states.add("PENDING")
            elif self._state.get(dead_letter_key(rule["site"], position, name)) is not None:
                states.add("FAILED")
            else:
                states.add("COMPLETED")
        return next(s for s in ("FAILED", "PENDING", "COMPLETED") if s in states)

    def _status_of(self, site: str) -> SenderStatus:
        """The running sender's status, or the one it saved (another process sends)."""
        sender = self.senders.get(site)
        return sender.status if sender is not None else sender_status(self._state, site)

    def site_metrics(self, now: datetime) -> dict[str, dict[str, float]]:
        """Per site: lag, whether it answers, and what its rules did, summed."""
        metrics: dict[str, dict[str, float]] = {}
        for name, sender in list(self.senders.items()):
            status = sender.status
            events, seconds = lag(self._store, status, now)
            rules = list(status.rules.values())
            metrics[name] = {
                "lag_events": events, "lag_seconds": seconds,
                "up": 0.0 if status.retrying_since else 1.0,
                "applied": sum(r.applied for r in rules),
                "failed": sum(r.failed for r in rules),
                "bytes_sent": sum(r.bytes_sent for r in rules),
                "chunks_skipped": sum(r.chunks_skipped for r in rules),
            }
        return metrics

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            for sender in self.senders.values():
                sender.stop()
            self.senders.clear()


def _backfill_progress(backfill: Backfill | None) -> dict[str, Any] | None:
    """How far a rule is in sending what its bucket held when it was configured."""
    if backfill is None:
        return None
    scanned = backfill.at - backfill.start
    return {"state": "done" if backfill.done else "replicating",
            "events_scanned": scanned,
            "events_to_scan": max(backfill.target - backfill.start, scanned),
            "changes_sent": backfill.changes}


def lag(store: ObjectStore, status: SenderStatus, now: datetime) -> tuple[int, float]:
    """(events, seconds) the site is behind: the log past its position, and the age of
    the oldest event it has not been sent."""
    head = home_position(store.current_position())
    behind = max(0, head - status.position)
    if not behind:
        return 0, 0.0
    oldest = store.select_notifications(status.position, 1)
    if not oldest:
        return 0, 0.0
    moment = store.decode(oldest[0]).timestamp
    return behind, max(0.0, (now - moment).total_seconds())


def _dead_letters_of(site: str) -> bytes:
    return DEAD_LETTER_PREFIX + follower_name(site).encode() + b"/"


def dead_letter_key(site: str, position: int, rule: str) -> bytes:
    return _dead_letters_of(site) + b"%020d" % position + b"/" + rule.encode()


def geo_dead_letters(state: GeoState, site: str) -> list[dict[str, Any]]:
    head = _dead_letters_of(site)
    return [orjson.loads(v) for _, v in state.scan(head, prefix_end(head))]
