"""Geo-replication's unit: one object change of one site, as it travels to another.

The sending site turns each object event of a bucket with replication rules into a
`ReplicatedChange`: what happened (a version put, a delete marker placed, a version
removed, an ACL changed), when and by whom on the site where it first happened, and that
site's name and log position. The receiving site checks every field here (a change is a
request's input: bounded and well-formed before anything is stored) and records it as
an event of its own with the original time and actor, so its history, as-of reads and
event stream answer for it as the origin does.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal, NotRequired, TypedDict

from domain.errors import InvalidArgument
from domain.names import validate_object_key
from domain.objects import ObjectKey
from domain.records import (
    Acl,
    RequestMeta,
    Version,
    check_representation,
    check_user_metadata,
)
from domain.sites import check_site_name
from domain.tags import MAX_OBJECT_TAGS, check_tags

ChangeKind = Literal["put", "marker", "remove", "acl", "tags"]
KINDS: tuple[str, ...] = ("put", "marker", "remove", "acl", "tags")
MAX_CHANGES = 100  # in one apply request
MAX_CHUNKS = 100_000  # of one version: 800 GB at 8 MiB, beyond S3's 5 TB / 10,000 parts
MAX_PARTS = 10_000
MAX_GRANTS = 100  # S3 allows 100 grants in an ACL
MAX_FIELD = 1024  # any other string of a change (ids, owner, actor, user agent, ...)

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_ETAG = re.compile(r"^(?:[0-9a-f]{32}(?:-[0-9]{1,5})?)?$")
_VERSION_ID = re.compile(r"^(?:null|[0-9A-Za-z._-]{1,64})$")
_PERMISSIONS = frozenset({"READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL"})
_META_FIELDS = ("actor", "request_id", "source", "user_agent", "user")


class ReplicatedChange(TypedDict):
    kind: ChangeKind
    key: str
    version: NotRequired[Version]  # "put" and "marker": the version or delete marker
    version_id: NotRequired[str]  # "remove", "acl", "tags": the version it is about
    acl: NotRequired[Acl]  # "acl"
    tags: NotRequired[dict[str, str]]  # "tags": the version's new tag set
    time: str  # when it happened on its origin site (ISO 8601 with an offset)
    meta: RequestMeta  # who made it there
    origin_site: str  # the site where it first happened
    origin_position: int  # its position in that site's log


def change_of(event: Any, position: int, here: str) -> ReplicatedChange | None:
    """The change an object event makes, for another site; None for events that do not
    travel. A change this site received from elsewhere keeps its origin."""
    meta: RequestMeta = dict(getattr(event, "meta", None) or {})  # type: ignore[assignment]
    origin_site = str(meta.pop("origin_site", here))
    origin_position = int(meta.pop("origin_position", position))
    base = {"key": event.key, "time": event.timestamp.isoformat(), "meta": meta,
            "origin_site": origin_site, "origin_position": origin_position}
    change: dict[str, Any]
    if isinstance(event, ObjectKey.VersionPut):
        change = {"kind": "put", "version": event.version, **base}
    elif isinstance(event, ObjectKey.DeleteMarkerPlaced):
        change = {"kind": "marker", "version": event.marker, **base}
    elif isinstance(event, ObjectKey.VersionDeleted):
        change = {"kind": "remove", "version_id": event.version_id, **base}
    elif isinstance(event, ObjectKey.AclChanged):
        change = {"kind": "acl", "version_id": event.version_id, "acl": event.acl, **base}
    elif isinstance(event, ObjectKey.TagsChanged):
        change = {"kind": "tags", "version_id": event.version_id, "tags": event.tags, **base}
    else:
        return None
    return change  # type: ignore[return-value]


def check_change(raw: Any) -> ReplicatedChange:
    """A change as another site sent it, every field checked and bounded; InvalidArgument
    names what is wrong."""
    if not isinstance(raw, dict):
        raise InvalidArgument("A replicated change is a JSON object")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise InvalidArgument(f"A replicated change's kind is one of {', '.join(KINDS)}")
    key = _text(raw, "key", 1024)
    validate_object_key(key)
    origin_site = _text(raw, "origin_site", 63)
    check_site_name(origin_site)
    origin_position = raw.get("origin_position")
    if not isinstance(origin_position, int) or isinstance(origin_position, bool) \
            or origin_position < 1:
        raise InvalidArgument("A replicated change's origin_position is a positive integer")
    change: dict[str, Any] = {
        "kind": kind, "key": key, "time": _time(raw), "meta": _meta(raw.get("meta")),
        "origin_site": origin_site, "origin_position": origin_position,
    }
    if kind in ("put", "marker"):
        change["version"] = check_version(raw.get("version"), kind == "marker")
    else:
        change["version_id"] = _version_id(raw.get("version_id"))
    if kind == "acl":
        change["acl"] = check_acl(raw.get("acl"))
    if kind == "tags":
        change["tags"] = check_tags(_strings(raw.get("tags"), "tags", MAX_OBJECT_TAGS),
                                    MAX_OBJECT_TAGS)
    return change  # type: ignore[return-value]


def change_time(change: ReplicatedChange) -> datetime:
    return datetime.fromisoformat(change["time"])


def check_version(raw: Any, marker: bool) -> Version:
    if not isinstance(raw, dict):
        raise InvalidArgument("A replicated change's version is a JSON object")
    if raw.get("is_delete_marker") is not marker:
        raise InvalidArgument("A put carries a version and a marker a delete marker")
    size = raw.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidArgument("A version's size is a non-negative integer")
    chunks = raw.get("chunks")
    if not isinstance(chunks, list) or len(chunks) > MAX_CHUNKS:
        raise InvalidArgument(f"A version's chunks are a list of at most {MAX_CHUNKS}")
    checked_chunks = [_chunk(c) for c in chunks]
    encryption = _encryption(raw.get("encryption"), len(checked_chunks))
    plain = encryption["plain_sizes"] if encryption else [c["size"] for c in checked_chunks]
    if sum(plain) != size:
        raise InvalidArgument("A version's chunks add up to its size")
    sha256 = _text(raw, "sha256", 64, empty=True)
    if sha256 and not _DIGEST.match(sha256):
        raise InvalidArgument("A version's sha256 is 64 lowercase hex digits")
    etag = _text(raw, "etag", 40, empty=True)
    if not _ETAG.match(etag):
        raise InvalidArgument("A version's ETag is an MD5 in hex, with -N for multipart")
    created = _text(raw, "created_at", 64)
    _parse_time(created)
    content_type = _text(raw, "content_type", 2048, empty=True)
    headers = _strings(raw.get("headers"), "headers", 20)
    user_metadata = _strings(raw.get("user_metadata"), "user_metadata", 200)
    check_user_metadata(user_metadata)
    if content_type or headers:
        check_representation(content_type or "application/octet-stream", headers)
    version: dict[str, Any] = {
        "version_id": _version_id(raw.get("version_id")),
        "is_delete_marker": marker,
        "created_at": created,
        "owner": _text(raw, "owner", MAX_FIELD, empty=True),
        "size": size,
        "etag": etag,
        "sha256": sha256,
        "chunks": checked_chunks,
        "content_type": content_type,
        "headers": headers,
        "user_metadata": user_metadata,
        "acl": check_acl(raw.get("acl")),
    }
    if "checksum" in raw:
        version["checksum"] = _strings(raw["checksum"], "checksum", 8)
    if encryption is not None:  # sealed chunks travel sealed: read here with its key only
        version["encryption"] = encryption
    if raw.get("tags"):
        version["tags"] = check_tags(_strings(raw["tags"], "tags", MAX_OBJECT_TAGS),
                                     MAX_OBJECT_TAGS)
    if "parts" in raw:
        parts = raw["parts"]
        if not isinstance(parts, list) or len(parts) > MAX_PARTS:
            raise InvalidArgument(f"A version's parts are a list of at most {MAX_PARTS}")
        version["parts"] = [_part(p) for p in parts]
    return version  # type: ignore[return-value]


def _encryption(raw: Any, chunks: int) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("wrapped"), dict):
        raise InvalidArgument("A version's encryption names its mode and wrapped key")
    sizes = raw.get("plain_sizes")
    frame = raw.get("frame")
    if not isinstance(sizes, list) or len(sizes) != chunks or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in sizes) \
            or not isinstance(frame, int) or not 1024 <= frame <= 16 * 1024 * 1024:
        raise InvalidArgument("A version's encryption gives each chunk's plaintext size "
                              "and its frame")
    wrapped = raw["wrapped"]
    found: dict[str, Any] = {
        "mode": _text(raw, "mode", 16),
        "wrapped": {"key": _text(wrapped, "key", 128, empty=True),
                    "version": int(wrapped.get("version", 0)),
                    "blob": _text(wrapped, "blob", 256)},
        "frame": frame, "plain_sizes": list(sizes)}
    for name in ("customer_key_md5", "customer_key_digest"):
        if name in raw:
            found[name] = _text(raw, name, 128)
    return found


def check_acl(raw: Any) -> Acl:
    if not isinstance(raw, dict) or not isinstance(raw.get("grants"), list) \
            or len(raw["grants"]) > MAX_GRANTS:
        raise InvalidArgument(f"An ACL is an owner and at most {MAX_GRANTS} grants")
    grants = []
    for grant in raw["grants"]:
        if not isinstance(grant, dict) or grant.get("permission") not in _PERMISSIONS:
            raise InvalidArgument("A grant names a grantee and one of S3's permissions")
        grants.append({"grantee": _text(grant, "grantee", MAX_FIELD),
                       "permission": grant["permission"]})
    return {"owner": _text(raw, "owner", MAX_FIELD, empty=True),
            "grants": grants}  # type: ignore[typeddict-item]


def _meta(raw: Any) -> RequestMeta:
    if not isinstance(raw, dict):
        raise InvalidArgument("A replicated change's meta is a JSON object")
    meta = {name: _text(raw, name, MAX_FIELD, empty=True) for name in _META_FIELDS
            if name in raw}
    for name in ("actor", "request_id", "source", "user_agent"):
        meta.setdefault(name, "")
    return meta  # type: ignore[return-value]


def _time(raw: dict[str, Any]) -> str:
    text = _text(raw, "time", 64)
    _parse_time(text)
    return text


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument("A time is ISO 8601 with its UTC offset") from None
    if moment.tzinfo is None:
        raise InvalidArgument("A time is ISO 8601 with its UTC offset")
    return moment


def _version_id(raw: Any) -> str:
    if not isinstance(raw, str) or not _VERSION_ID.match(raw):
        raise InvalidArgument("A version id is null or 1 to 64 letters, digits and ._-")
    return raw


def _chunk(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or not isinstance(raw.get("digest"), str) \
            or not _DIGEST.match(raw["digest"]):
        raise InvalidArgument("A chunk is named by its SHA-256 digest in lowercase hex")
    size = raw.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidArgument("A chunk's size is a non-negative integer")
    return {"digest": raw["digest"], "size": size}


def _part(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or not isinstance(raw.get("size"), int):
        raise InvalidArgument("A part has a size and an ETag")
    etag = _text(raw, "etag", 40)
    if not _ETAG.match(etag):
        raise InvalidArgument("A part's ETag is an MD5 in hex")
    return {"size": raw["size"], "etag": etag}


def _strings(raw: Any, what: str, most: int) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > most or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= MAX_FIELD
            and len(v) <= 2048 for k, v in raw.items()):
        raise InvalidArgument(f"A version's {what} map at most {most} names to strings")
    return dict(raw)


def _text(raw: dict[str, Any], name: str, most: int, empty: bool = False) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or len(value) > most or (not value and not empty):
        raise InvalidArgument(f"A replicated change's {name} is a string of "
                              f"{'0' if empty else '1'} to {most} characters")
    return value
