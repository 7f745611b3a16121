"""S3 object operations: Put, Get, Head, Delete, DeleteObjects, Copy and object ACLs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from urllib.parse import unquote

from starlette.responses import Response, StreamingResponse

from api.blocking import blocking, iterate_blocking, query
from api.ingest import ingest, ingest_then
from api.numbers import whole_number
from api.operations import (
    KEPT_HEADERS,
    delete_marker,
    new_version,
    read_version,
    record_version,
    stream_after,
)
from api.ranges import RangeNotSatisfiable, parse_range
from api.s3.acl import acl_from_headers, acl_from_xml, acl_nodes
from api.s3.checksums import header_name
from api.s3.common import Call
from api.s3.dates import http_date, iso_z, parse_http_date
from api.s3.encryption import COPY_SOURCE as COPY_SOURCE_SSE
from api.s3.encryption import data_key_for, sealed_version, sealing_for
from api.s3.encryption import response_headers as encryption_headers
from api.s3.errors import (
    EntityTooLarge,
    InvalidRequest,
    MalformedXML,
    MissingContentLength,
    NotModified,
    classify,
)
from api.s3.integrity import read_small_body, verify_content
from api.s3.object_lock import lock_from_headers, lock_headers, may_bypass
from api.s3.payload import request_body
from api.s3.sigv4 import STREAMING_MODES
from api.s3.tagging import tagging_count, tags_from_header
from api.s3.xml import Node, child_text, parse, xml_response
from api.system import System
from domain.access import Action
from domain.application import BucketInfo, ObjectInfo
from domain.errors import (
    NoSuchKey,
    NoSuchVersion,
    ObjectLockNotEnabled,
    PreconditionFailed,
    StrataError,
)
from domain.lifecycle import current_expiry
from domain.names import validate_object_key
from domain.ports import ChunkSealer, Piece
from domain.records import Content, Version, check_representation, check_user_metadata

T = TypeVar("T")

MAX_PUT_BYTES = 5 * 1024**3
META_PREFIX = "x-amz-meta-"
RESPONSE_OVERRIDES = {
    "response-content-type": "content-type",
    "response-content-language": "content-language",
    "response-expires": "expires",
    "response-cache-control": "cache-control",
    "response-content-disposition": "content-disposition",
    "response-content-encoding": "content-encoding",
}


def user_metadata(call: Call) -> dict[str, str]:
    return {
        name[len(META_PREFIX) :]: value
        for name, value in call.target.signed.headers.items()
        if name.startswith(META_PREFIX)
    }


def kept_headers(call: Call) -> dict[str, str]:
    return {h: v for h in KEPT_HEADERS if (v := call.header(h)) is not None}


def _content_type(call: Call) -> str:
    return call.header("content-type") or "application/octet-stream"


def version_headers(version: Version, info: BucketInfo) -> dict[str, str]:
    headers = {}
    if info.versioning != "Unversioned" or version["version_id"] != "null":
        headers["x-amz-version-id"] = version["version_id"]
    return headers


def _body_length(call: Call) -> int | None:
    if call.caller.payload_hash in STREAMING_MODES:
        raw = call.header("x-amz-decoded-content-length")
        return whole_number(raw)
    length = whole_number(call.header("content-length"))
    if length is None:
        raise MissingContentLength("You must provide the Content-Length HTTP header.")
    return length


async def store_body(call: Call, then: Callable[[Content, dict[str, str]], T],
                     sealer: ChunkSealer | None = None) -> T:
    """Stream the body into chunks and check it, then `then(content, checksum)`: blocking,
    in the same thread hop as the last chunk (it records what was stored). With a
    `sealer`, the chunks are encrypted."""
    length = _body_length(call)
    if length is not None and length > MAX_PUT_BYTES:
        raise EntityTooLarge(
            "Your proposed upload exceeds the maximum allowed object size.",
            size=length,
        )
    body = request_body(call.request.stream(), call.headers, call.caller)
    system = call.system

    def checked(content: Content) -> T:
        return then(content, verify_content(call, body, content))

    return await ingest_then(
        body.stream, system.blobs, system.settings.chunk_size, body.decoded_length, checked,
        sealer,
    )


async def put_object(call: Call) -> Response:
    info = await call.bucket_info(Action.WRITE_OBJECTS)
    validate_object_key(call.key)
    owner = call.user or info.owner
    acl = acl_from_headers(call, owner)
    metadata = user_metadata(call)
    content_type, headers_kept = _content_type(call), kept_headers(call)
    check_user_metadata(metadata)  # before any byte is stored (the domain checks again)
    check_representation(content_type, headers_kept)
    governance = governance_fields(call, info)
    if_match, if_none_match = call.header("if-match"), call.header("if-none-match") == "*"
    sealing = await sealing_for(call, info)

    def record(content: Content, checksum: dict[str, str]) -> ObjectInfo:
        version = new_version(content, owner, acl, call.now, content_type, headers_kept, metadata)
        version.update(governance)  # type: ignore[typeddict-item]
        if checksum:
            version["checksum"] = checksum
        version = sealed_version(version, content, sealing)
        return record_version(
            call.system, call.bucket, call.key, version, call.meta, call.now, if_match,
            if_none_match,
        )

    result = await store_body(call, record, sealing.sealer if sealing else None)
    headers = {"etag": f'"{result.version["etag"]}"', **version_headers(result.version, info),
               **encryption_headers(result.version)}
    headers.update({header_name(a): v for a, v in result.version.get("checksum", {}).items()})
    return Response(status_code=200, headers=headers)


def governance_fields(call: Call, info: BucketInfo) -> dict[str, object]:
    """Tags and object lock settings a new object's headers ask for, checked before any
    byte is stored (a refused request stores nothing)."""
    fields: dict[str, object] = dict(lock_from_headers(call))
    if fields and info.object_lock is None:
        raise ObjectLockNotEnabled("Bucket is missing Object Lock Configuration",
                                   bucket=info.name)
    tags = tags_from_header(call)
    if tags:
        fields["tags"] = tags
    return fields


def copied_governance(call: Call, info: BucketInfo, source: Version) -> dict[str, object]:
    """A copy's tags: the source's (x-amz-tagging-directive COPY, the default) or the
    x-amz-tagging header's (REPLACE); its lock settings come from its own headers."""
    tag_directive = (call.header("x-amz-tagging-directive") or "COPY").upper()
    if tag_directive not in ("COPY", "REPLACE"):
        raise InvalidRequest("Unknown tagging directive.")
    fields = governance_fields(call, info)
    if tag_directive == "COPY":
        fields.pop("tags", None)
        if source.get("tags"):
            fields["tags"] = source["tags"]
    return fields


def _etag_matches(condition: str, etag: str) -> bool:
    return any(tag.strip().strip('"') in ("*", etag) for tag in condition.split(","))


def _seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def check_read_conditions(
    headers: Mapping[str, str], version: Version, prefix: str = "if-"
) -> None:
    """RFC 7232 as S3 applies it to GET and HEAD (and, with prefix
    x-amz-copy-source-if-, to a copy's source)."""
    etag = version["etag"]
    modified = _seconds(datetime.fromisoformat(version["created_at"]))
    if_match = headers.get(prefix + "match")
    if_none_match = headers.get(prefix + "none-match")
    since = parse_http_date(headers.get(prefix + "modified-since", ""))
    unmodified = parse_http_date(headers.get(prefix + "unmodified-since", ""))
    if if_match is not None:
        failed = not _etag_matches(if_match, etag)
    else:
        failed = unmodified is not None and modified > unmodified
    if if_none_match is not None:
        unchanged = _etag_matches(if_none_match, etag)
    else:
        unchanged = since is not None and modified <= since
    if failed or (unchanged and prefix != "if-"):
        raise PreconditionFailed("At least one of the pre-conditions you specified did not hold")
    if unchanged:
        raise NotModified(
            "Not Modified", etag=f'"{etag}"', **{"last-modified": http_date(version["created_at"])}
        )


def object_headers(
    version: Version, info: BucketInfo, call: Call, overrides: dict[str, str]
) -> dict[str, str]:
    headers = {
        "etag": f'"{version["etag"]}"',
        "last-modified": http_date(version["created_at"]),
        "accept-ranges": "bytes",
        "content-type": version["content_type"],
        **version["headers"],
        **{f"{META_PREFIX}{k}": v for k, v in version["user_metadata"].items()},
        **version_headers(version, info),
    }
    if "parts" in version:
        headers["x-amz-mp-parts-count"] = str(len(version["parts"]))
    headers.update(tagging_count(version))
    headers.update(lock_headers(version, info))
    headers.update(encryption_headers(version))
    if info.lifecycle and call.operation.version_id is None:
        headers.update(expiration_header(info, call.key, version,
                                         call.system.settings.lifecycle_day_seconds))
    whole = "range" not in call.target.signed.headers and call.operation.part_number is None
    # A checksum covers the whole object, so S3 leaves it off partial reads.
    if whole and (call.header("x-amz-checksum-mode") or "").upper() == "ENABLED":
        for algorithm, value in version.get("checksum", {}).items():
            headers[header_name(algorithm)] = value
        if version.get("checksum"):
            headers["x-amz-checksum-type"] = version.get("checksum_type", "FULL_OBJECT")
    headers.update(overrides)
    return headers


def expiration_header(info: BucketInfo, key: str, version: Version, day_seconds: int
                      ) -> dict[str, str]:
    """x-amz-expiration: when the bucket's lifecycle rules expire this current version."""
    assert info.lifecycle is not None
    rules = [r for r in info.lifecycle if r["enabled"]]
    due = current_expiry(rules, key, version["size"], version.get("tags", {}),
                         datetime.fromisoformat(version["created_at"]), day_seconds)
    if due is None:
        return {}
    return {"x-amz-expiration":
            f'expiry-date="{http_date(due.at.isoformat())}", rule-id="{due.rule_id}"'}


def replication_status(system: System, info: BucketInfo, key: str, version: Version
                       ) -> str | None:
    """REPLICA for a version another site sent; for one written here under replication
    rules, whether they have sent it (where this process runs the senders)."""
    if "replica_of" in version:
        return "REPLICA"
    if not info.replication or system.geo is None:
        return None
    return system.geo.version_status(info.name, key, version["version_id"], info.replication)


def _part_range(version: Version, number_text: str) -> tuple[int, int] | None:
    try:
        number = int(number_text)
    except ValueError:
        raise InvalidRequest("partNumber must be a whole number") from None
    parts = version.get("parts")
    if not parts:
        if number == 1:
            return None
        raise RangeNotSatisfiable("The requested partnumber is not satisfiable")
    if not 1 <= number <= len(parts):
        raise RangeNotSatisfiable("The requested partnumber is not satisfiable")
    start = sum(p["size"] for p in parts[: number - 1])
    return start, start + parts[number - 1]["size"]


SMALL_READ_BYTES = 256 * 1024


def _response_overrides(call: Call) -> dict[str, str]:
    """The response-* parameters: signed requests only (as AWS: an anonymous caller
    could otherwise serve a public text object as a web page), each a header value."""
    if not call.query:
        return {}  # most reads: nothing to override
    overrides = {h: call.query[p] for p, h in RESPONSE_OVERRIDES.items() if p in call.query}
    if not overrides:
        return overrides
    if call.caller.principal is None:
        raise InvalidRequest(
            "Request specific response headers cannot be used for anonymous GET requests."
        )
    check_representation(overrides.get("content-type", ""), overrides)
    return overrides


def _readable(call: Call) -> tuple[BucketInfo, Version]:
    """Blocking: the version a GET or HEAD names, if the caller may read it."""
    store = call.system.store
    info: BucketInfo = store.get_bucket(call.bucket)
    version_id = call.operation.version_id
    try:
        obj = store.get_object(call.bucket, call.key, version_id)
    except (NoSuchKey, NoSuchVersion) as missing:
        # Without READ on the bucket, S3 hides whether a key exists.
        call.authorize(info, Action.LIST_BUCKET, iam_action="s3:ListBucket", key="")
        raise missing
    call.authorize(info, Action.READ_OBJECT, obj.version["acl"], version=obj.version)
    return info, obj.version


@dataclass
class _Read:
    status: int
    headers: dict[str, str]
    first: Piece  # the whole body when `rest` is None
    rest: Iterator[Piece] | None


def _start_read(call: Call, head: bool) -> _Read:
    """Blocking, one thread hop for the whole preparation: find, authorize, check
    conditions, and read either the whole body (small reads) or its first piece, so a
    missing or corrupt chunk is an error status rather than a cut stream."""
    overrides = _response_overrides(call)  # refused before anything is read
    info, version = _readable(call)
    data_key = data_key_for(call, version)  # SSE-C: the right key, or nothing is said
    check_read_conditions(call.headers, version)
    headers = object_headers(version, info, call, overrides)
    replication = replication_status(call.system, info, call.key, version)
    if replication is not None:
        headers["x-amz-replication-status"] = replication
    size = version["size"]
    if call.operation.part_number is not None:
        byte_range = _part_range(version, call.operation.part_number)
    else:
        byte_range = parse_range(call.header("range"), size)
    start, end = byte_range or (0, size)
    status = 200
    headers["content-length"] = str(end - start)
    if byte_range is not None:
        status = 206
        headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
    if head:
        return _Read(status, headers, b"", None)
    pieces = read_version(call.system, version, byte_range, data_key)
    if end - start <= SMALL_READ_BYTES:
        return _Read(status, headers, b"".join(pieces), None)
    return _Read(status, headers, next(pieces, b""), pieces)


async def get_object(call: Call, head: bool = False) -> Response:
    read = await query(_start_read, call, head)
    if read.rest is None:
        return Response(read.first, read.status, read.headers)
    return StreamingResponse(stream_after(read.first, read.rest), read.status, read.headers)


async def head_object(call: Call) -> Response:
    return await get_object(call, head=True)


async def _delete_one(
    call: Call, info: BucketInfo, key: str, version_id: str | None
) -> tuple[str | None, bool]:
    owner = call.user or info.owner
    marker = delete_marker(owner, {"owner": owner, "grants": []}, call.now)
    try:
        result = await blocking(
            call.system.store.delete_object,
            call.bucket,
            key,
            version_id,
            marker,
            call.meta,
            call.now,
            may_bypass(call, info),
        )
    except (NoSuchKey, NoSuchVersion):
        return version_id, False  # deleting what is not there succeeds, as in S3
    return result.version_id, result.delete_marker


async def delete_object(call: Call) -> Response:
    info = await call.bucket_info(Action.WRITE_OBJECTS)
    validate_object_key(call.key)
    version_id, is_marker = await _delete_one(
        call, info, call.key, call.operation.version_id
    )
    headers = {}
    if is_marker:
        headers["x-amz-delete-marker"] = "true"
    if version_id is not None and (info.versioning != "Unversioned" or version_id != "null"):
        headers["x-amz-version-id"] = version_id
    return Response(status_code=204, headers=headers)


async def delete_objects(call: Call) -> Response:
    info = await call.bucket_info()
    if info.policy is None:  # else each key is asked of the policy, as S3 does
        call.authorize(info, Action.WRITE_OBJECTS)
    if call.header("content-md5") is None and not any(
        name.startswith("x-amz-checksum-") or name == "x-amz-sdk-checksum-algorithm"
        for name in call.target.signed.headers
    ):
        raise InvalidRequest("Missing required header for this request: Content-MD5")
    request = parse(await read_small_body(call), "Delete")
    quiet = (child_text(request, "Quiet", "false") or "").strip().lower() == "true"
    targets = request.findall("Object")
    if len(targets) > 1000:
        raise MalformedXML("A Delete request may name at most 1000 objects")
    results: list[Node] = []
    for target in targets:
        key = child_text(target, "Key")
        version_id = child_text(target, "VersionId") or None
        if not key:
            raise MalformedXML("Every Object in a Delete request needs a Key")
        try:
            validate_object_key(key)
            if info.policy is not None:
                call.authorize(info, Action.WRITE_OBJECTS, key=key, iam_action=(
                    "s3:DeleteObjectVersion" if version_id else "s3:DeleteObject"))
            removed, is_marker = await _delete_one(call, info, key, version_id)
        except StrataError as exc:
            code = (classify(exc) or ("InternalError", 500))[0]
            results.append(
                (
                    "Error",
                    [
                        ("Key", key),
                        *_version_node(version_id),
                        ("Code", code),
                        ("Message", exc.message),
                    ],
                )
            )
            continue
        if quiet:
            continue
        node: list[Node] = [("Key", key), *_version_node(version_id)]
        if is_marker:
            node += [("DeleteMarker", True), ("DeleteMarkerVersionId", removed or "")]
        results.append(("Deleted", node))
    return xml_response("DeleteResult", results)


def _version_node(version_id: str | None) -> list[tuple[str, str]]:
    return [("VersionId", version_id)] if version_id else []


def parse_copy_source(raw: str) -> tuple[str, str, str | None]:
    source, _, query = raw.partition("?")
    source = unquote(source).lstrip("/")
    bucket, _, key = source.partition("/")
    if not bucket or not key:
        raise InvalidRequest(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey"
        )
    version_id = None
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "versionId" and value:
            version_id = unquote(value)
    return bucket, key, version_id


async def read_copy_source(call: Call) -> tuple[str, str, Version]:
    bucket, key, version_id = parse_copy_source(call.header("x-amz-copy-source") or "")
    store = call.system.store
    source_info = await blocking(store.get_bucket, bucket)
    source = await blocking(store.get_object, bucket, key, version_id)
    call.authorize(source_info, Action.READ_OBJECT, source.version["acl"],
                   iam_action="s3:GetObjectVersion" if version_id else "s3:GetObject",
                   key=key, version=source.version)
    check_read_conditions(call.headers, source.version, prefix="x-amz-copy-source-if-")
    return bucket, key, source.version


async def copy_object(call: Call) -> Response:
    info = await call.bucket_info(Action.WRITE_OBJECTS)
    validate_object_key(call.key)
    source_bucket, source_key, source = await read_copy_source(call)
    directive = (call.header("x-amz-metadata-directive") or "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise InvalidRequest("Unknown metadata directive.")
    sealing = await sealing_for(call, info)
    re_encrypting = call.header("x-amz-server-side-encryption") is not None or \
        call.header("x-amz-server-side-encryption-customer-algorithm") is not None
    if (source_bucket, source_key) == (call.bucket, call.key) and directive == "COPY" \
            and not re_encrypting:
        raise InvalidRequest(
            "This copy request is illegal because it is trying to copy an object to itself "
            "without changing the object's metadata, storage class, website redirect "
            "location or encryption attributes."
        )
    owner = call.user or info.owner
    if directive == "REPLACE":
        content_type, headers, metadata = (
            _content_type(call),
            kept_headers(call),
            user_metadata(call),
        )
    else:
        content_type, headers, metadata = (
            source["content_type"],
            source["headers"],
            source["user_metadata"],
        )
    if "encryption" in source or sealing is not None:
        # Encrypted on either side: the bytes are read, opened and sealed again as the
        # destination requires (each version has its own data key).
        source_data_key = await blocking(data_key_for, call, source, COPY_SOURCE_SSE)
        content = await ingest(
            iterate_blocking(read_version(call.system, source, None, source_data_key)),
            call.system.blobs, call.system.settings.chunk_size, source["size"],
            sealing.sealer if sealing else None)
    else:
        # Same bytes, new version: the chunk list is shared, so nothing is copied.
        content = {"size": source["size"], "etag": source["etag"],
                   "sha256": source["sha256"], "chunks": source["chunks"]}
    version = new_version(
        content, owner, acl_from_headers(call, owner), call.now, content_type, headers, metadata
    )
    if "checksum" in source:
        version["checksum"] = source["checksum"]
    version.update(copied_governance(call, info, source))  # type: ignore[typeddict-item]
    version = sealed_version(version, content, sealing)
    result = await blocking(
        record_version, call.system, call.bucket, call.key, version, call.meta, call.now
    )
    response_headers = {**version_headers(result.version, info),
                        **encryption_headers(result.version)}
    if source["version_id"] != "null":
        response_headers["x-amz-copy-source-version-id"] = source["version_id"]
    return xml_response(
        "CopyObjectResult",
        [
            ("LastModified", iso_z(result.version["created_at"])),
            ("ETag", f'"{result.version["etag"]}"'),
        ],
        response_headers,
    )


async def get_object_acl(call: Call) -> Response:
    info = await call.bucket_info()
    version_id = call.operation.version_id
    obj = await blocking(call.system.store.get_object, call.bucket, call.key, version_id)
    call.authorize(info, Action.READ_OBJECT_ACL, obj.version["acl"], version=obj.version)
    return xml_response("AccessControlPolicy", acl_nodes(obj.version["acl"]))


async def put_object_acl(call: Call) -> Response:
    info = await call.bucket_info()
    version_id = call.operation.version_id
    obj = await blocking(call.system.store.get_object, call.bucket, call.key, version_id)
    call.authorize(info, Action.WRITE_OBJECT_ACL, obj.version["acl"], version=obj.version)
    owner = obj.version["acl"]["owner"]
    body = await read_small_body(call)
    acl = acl_from_xml(body, owner) if body.strip() else acl_from_headers(call, owner)
    await blocking(
        call.system.store.set_object_acl,
        call.bucket,
        call.key,
        version_id,
        acl,
        call.meta,
        call.now,
    )
    return Response(status_code=200)
