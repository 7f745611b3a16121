"""History as a feature: point-in-time reads, per-object history, retention, restore."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.auth import optional_principal, required_principal
from api.blocking import blocking
from api.context import request_meta, system_of
from api.native.access import allow
from api.native.common import json_body, json_response, now
from api.native.errors import MalformedRequest
from api.operations import delete_marker, new_version_id, record_version
from api.system import System
from domain.access import Action, Principal, canned_acl, controls_bucket
from domain.application import BucketInfo, ObjectStore
from domain.envelope import envelope, listing_view
from domain.errors import (
    AccessDenied,
    ChunkUnavailable,
    DataGone,
    InvalidAccessKeyId,
    NoSuchKey,
    NoSuchUser,
    NoSuchVersion,
)
from domain.objects import ObjectKey
from domain.records import RequestMeta, Version
from projections.chunk_refs import reference_count
from projections.object_listing import ListedVersion, ListPage, list_objects
from projections.time_index import list_objects_as_of, positions_of, state_at

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RESTORE_REPORT_KEYS = 1000  # keys named per kind of change in a restore report


def instant_param(request: Request, name: str = "as_of") -> datetime | None:
    """An RFC 3339 instant from the query (no offset means UTC), in UTC; None when
    absent. Instants before 1970 mean the same as its start: nothing was stored then."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace(" ", "+"))
        moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise MalformedRequest(
            f"{name} must be an RFC 3339 time between the years 1970 and 9999, such as "
            f"2026-11-27T09:30:00Z, not {raw[:64]!r}"
        ) from None
    return max(moment, _EPOCH)


def version_as_of(system: System, bucket: str, key: str, moment: datetime) -> Version:
    """Blocking: the key's current version at `moment`, its bytes checked present."""
    system.runner.wait_for(system.store.current_position())
    state = state_at(system.views, bucket, key, moment)
    if state is None or state.summary is None:
        raise NoSuchKey(
            f"The key did not exist at {moment.isoformat()}", bucket=bucket, key=key
        )
    version: Version = system.store.get_object_at(bucket, key, state.aggregate_version).version
    ensure_bytes_kept(system, version)
    return version


def authorize_past_read(
    system: System, principal: Principal | None, info: BucketInfo, key: str, version: Version
) -> None:
    """Blocking: a read of a past version needs READ under the ACL it had then and under
    the ACL in force now (the version's own if it still exists, else the key's current
    version's): revoking access covers the past too. The stricter wins."""
    allow(None, principal, Action.READ_OBJECT, info, version["acl"], key=key, version=version)
    try:
        now_acl = system.store.get_object_version_record(
            info.name, key, version["version_id"]
        )["acl"]
    except (NoSuchKey, NoSuchVersion):
        try:
            now_acl = system.store.get_object(info.name, key).version["acl"]
        except NoSuchKey:
            return
    allow(None, principal, Action.READ_OBJECT, info, now_acl, key=key, version=version)


def may_read_details(
    system: System, principal: Principal | None, info: BucketInfo, key: str | None
) -> bool:
    """Blocking: whether the caller may see what history and events say beyond a
    listing (metadata, chunks, who and from where): an administrator, the bucket owner,
    or a caller with READ on the key's current version."""
    if controls_bucket(principal, info.acl):
        return True
    if key is None:
        return False
    try:
        acl = system.store.get_object(info.name, key).version["acl"]
        allow(None, principal, Action.READ_OBJECT, info, acl, key=key)
    except (NoSuchKey, AccessDenied):
        return False
    return True


def ensure_bytes_kept(system: System, version: Version) -> None:
    """DataGone when a chunk was collected (retention ran out): a clear 410, never
    wrong bytes. A chunk still referenced but missing is damage, not history."""
    for chunk in version["chunks"]:
        if system.blobs.holds(chunk["digest"]):
            continue
        if reference_count(system.views, chunk["digest"]) == 0:
            raise DataGone(
                "This version's data was collected after the bucket's retention period; "
                "raise the retention (PUT /buckets/{bucket}/retention) to keep older data",
                version_id=version["version_id"],
            )
        raise ChunkUnavailable("A chunk of this object is missing", **chunk)


def list_as_of(
    system: System, bucket: str, moment: datetime, prefix: str, delimiter: str, after: str,
    limit: int,
) -> ListPage:
    system.runner.wait_for(system.store.current_position())
    return list_objects_as_of(system.views, bucket, moment, prefix, delimiter, after, limit)


# -- per-object history ---------------------------------------------------------------------


class ActorNames:
    """Access key -> user, for events recorded before events named their user."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self._known: dict[str, str] = {}

    def user_of(self, record: dict[str, Any]) -> str:
        if record["user"] or not record["actor"]:
            return str(record["user"])
        actor = record["actor"]
        if actor not in self._known:
            try:
                self._known[actor] = self._store.credentials(actor).user
            except (InvalidAccessKeyId, NoSuchUser):  # "anonymous", a strata worker
                self._known[actor] = actor
        return self._known[actor]

    def fill(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Name the user of each record that does not yet; the same list."""
        for record in records:
            record["user"] = self.user_of(record)
        return records


def object_history(system: System, bucket: str, key: str) -> list[dict[str, Any]]:
    """Blocking: every change of the key in the bucket's current incarnation, oldest
    first, each with who made it."""
    events = system.store.object_events(bucket, key)
    system.runner.wait_for(system.store.current_position())
    positions = positions_of(system.views, bucket, key)  # this incarnation's only
    return ActorNames(system.store).fill([
        envelope(event, positions[event.originator_version])
        for event in events
        if event.originator_version in positions
        and not isinstance(event, ObjectKey.Created)  # its first version says it all
    ])


def visible_history(
    system: System, principal: Principal | None, info: BucketInfo, key: str
) -> list[dict[str, Any]]:
    records = object_history(system, info.name, key)
    if may_read_details(system, principal, info, key):
        return records
    return [listing_view(record) for record in records]


async def history(request: Request) -> Response:
    system = system_of(request)
    bucket, key = request.path_params["bucket"], request.path_params["key"]
    principal = optional_principal(request)
    info = await blocking(system.store.get_bucket, bucket)
    allow(request, principal, Action.LIST_BUCKET, info)
    records = await blocking(visible_history, system, principal, info, key)
    if not records:
        raise NoSuchKey("The specified key has no history.", bucket=bucket, key=key)
    return json_response({"bucket": bucket, "key": key, "history": records})


# -- retention ----------------------------------------------------------------------------


async def retention(request: Request) -> Response:
    principal = required_principal(request)
    system = system_of(request)
    name = request.path_params["bucket"]
    info = await blocking(system.store.get_bucket, name)
    if request.method == "GET":
        allow(request, principal, Action.LIST_BUCKET, info)
        return json_response({"retention_seconds": info.retention_seconds})
    allow(request, principal, Action.ADMINISTER_BUCKET, info)
    seconds = (await json_body(request)).get("retention_seconds")
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise MalformedRequest("retention_seconds must be a whole number of seconds")
    info = await blocking(
        system.store.set_bucket_retention, name, seconds, request_meta(request, principal), now()
    )
    return json_response({"retention_seconds": info.retention_seconds})


# -- restore ------------------------------------------------------------------------------


@dataclass
class RestoreReport:
    restored: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # data collected: left as it is now
    counts: dict[str, int] = field(
        default_factory=lambda: {"restored": 0, "deleted": 0, "gone": 0, "unchanged": 0}
    )

    def note(self, kind: str, key: str) -> None:
        self.counts[kind] += 1
        named: list[str] | None = getattr(self, kind, None)
        if named is not None and len(named) < RESTORE_REPORT_KEYS:
            named.append(key)


def _every(page_of: Callable[[str], ListPage]) -> Iterator[ListedVersion]:
    after = ""
    while True:
        page = page_of(after)
        yield from page.entries
        if not page.is_truncated or page.next_key is None:
            return
        after = page.next_key


def _same(a: ListedVersion, b: ListedVersion) -> bool:
    """The same version, or one with the same bytes and type (an earlier restore's copy)."""
    return (a.etag, a.size, a.content_type) == (b.etag, b.size, b.content_type)


def restore_prefix(
    system: System, bucket: str, prefix: str, moment: datetime, meta: RequestMeta, owner: str,
    dry_run: bool = False,
) -> RestoreReport:
    """Blocking: make the live listing under `prefix` equal the listing at `moment`, by
    recording new versions and deletions (nothing is rewritten). A merge of two key-ordered
    listings, so memory stays flat however large the bucket. With `dry_run`, the report
    says what it would change and nothing is recorded."""
    system.runner.wait_for(system.store.current_position())
    views = system.views
    past = _every(lambda after: list_objects_as_of(views, bucket, moment, prefix, "", after))
    live = _every(lambda after: list_objects(views, bucket, prefix, "", after))
    report = RestoreReport()
    then, current = next(past, None), next(live, None)
    while then is not None or current is not None:
        if current is None or (then is not None and then.key.encode() < current.key.encode()):
            assert then is not None
            _bring_back(system, bucket, then.key, moment, meta, report, dry_run)
            then = next(past, None)
        elif then is None or current.key.encode() < then.key.encode():
            if not dry_run:
                _delete(system, bucket, current.key, meta, owner)
            report.note("deleted", current.key)
            current = next(live, None)
        else:
            if _same(then, current):
                report.note("unchanged", then.key)
            else:
                _bring_back(system, bucket, then.key, moment, meta, report, dry_run)
            then, current = next(past, None), next(live, None)
    return report


def _bring_back(
    system: System, bucket: str, key: str, moment: datetime, meta: RequestMeta,
    report: RestoreReport, dry_run: bool = False,
) -> None:
    try:
        old = version_as_of(system, bucket, key, moment)
    except DataGone:
        report.note("gone", key)
        return
    if dry_run:
        report.note("restored", key)
        return
    stamp = datetime.now(UTC)
    copy: Version = {**old, "version_id": new_version_id(stamp), "created_at": stamp.isoformat()}
    record_version(system, bucket, key, copy, meta, stamp)
    report.note("restored", key)


def _delete(system: System, bucket: str, key: str, meta: RequestMeta, owner: str) -> None:
    stamp = datetime.now(UTC)
    marker = delete_marker(owner, canned_acl("private", owner), stamp)
    system.store.delete_object(bucket, key, None, marker, meta, stamp)


async def restore(request: Request) -> Response:
    principal = required_principal(request)
    system = system_of(request)
    bucket = request.path_params["bucket"]
    moment = instant_param(request)
    if moment is None:
        raise MalformedRequest("Say which instant to restore with ?as_of=<RFC 3339 time>")
    info = await blocking(system.store.get_bucket, bucket)
    allow(request, principal, Action.LIST_BUCKET, info)
    allow(request, principal, Action.WRITE_OBJECTS, info)
    prefix = request.query_params.get("prefix", "")
    dry_run = request.query_params.get("dry_run", "false").lower() in ("true", "1")
    report = await blocking(
        restore_prefix, system, bucket, prefix, moment, request_meta(request, principal),
        principal.user, dry_run,
    )
    return json_response(
        {"bucket": bucket, "prefix": prefix, "as_of": moment.isoformat(), "dry_run": dry_run,
         **asdict(report)}
    )

