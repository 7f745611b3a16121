"""Native object endpoints: upload, download, delete, metadata, list."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from api.auth import optional_principal
from api.blocking import blocking
from api.context import request_meta, system_of
from api.ingest import ingest
from api.native.access import allow, told_only_to_listers
from api.native.common import int_param, json_response, now
from api.native.errors import MalformedRequest
from api.native.history import authorize_past_read, instant_param, list_as_of, version_as_of
from api.numbers import whole_number
from api.operations import (
    KEPT_HEADERS,
    delete_marker,
    new_version,
    read_version,
    record_version,
    stream_after,
)
from api.ranges import parse_range
from api.sse import SSE_C, Sealing, new_sealing, sealed_version
from api.system import System
from domain.access import Action, Principal, canned_acl, may_bypass_governance
from domain.application import BucketInfo, ObjectInfo
from domain.errors import CustomerKeyRequired, NoSuchKey
from domain.names import validate_object_key, validate_prefix
from domain.objects import ObjectKey
from domain.records import Version, check_representation, check_user_metadata
from projections.object_listing import (
    ListPage,
    decode_cursor,
    encode_cursor,
    list_objects,
    list_versions,
)

META_PREFIX = "x-meta-"


def metadata_json(
    bucket: str, key: str, version: Version, is_deleted: bool = False
) -> dict[str, Any]:
    return {
        "object_id": str(ObjectKey.create_id(bucket, key)),
        "bucket": bucket,
        "key": key,
        "version_id": version["version_id"],
        "size_bytes": version["size"],
        "content_type": version["content_type"],
        "created_at": version["created_at"],
        "etag": version["etag"],
        "checksum": {"sha256": version["sha256"]} if version["sha256"] else {},
        "replicas": ["local"] if version["chunks"] else [],
        "is_deleted": is_deleted or version["is_delete_marker"],
        "metadata": version["user_metadata"],
        "headers": version["headers"],
        "tags": version.get("tags", {}),
        "retention": version.get("retention"),
        "legal_hold": bool(version.get("legal_hold")),
    }


def _user_metadata(pairs: Any) -> dict[str, str]:
    return {
        k[len(META_PREFIX) :].lower(): v
        for k, v in pairs
        if isinstance(v, str) and k.lower().startswith(META_PREFIX)
    }


async def _upload_stream(file: UploadFile) -> AsyncIterator[bytes]:
    while piece := await file.read(1024 * 1024):
        yield piece


async def upload(request: Request) -> Response:
    system = system_of(request)
    bucket = request.path_params["bucket"]
    principal = optional_principal(request)
    info = await blocking(system.store.get_bucket, bucket)
    # With a bucket policy, the question names the object: a form names it after this.
    query_key = request.query_params.get("key", "")
    if info.policy is None or query_key:
        allow(request, principal, Action.WRITE_OBJECTS, info, key=query_key)
    metadata = _user_metadata(request.headers.items())
    headers = {h: request.headers[h] for h in KEPT_HEADERS if h in request.headers}
    form = None
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=100)
        file = form.get("file")
        if not isinstance(file, UploadFile):
            await form.close()
            raise MalformedRequest("A multipart upload needs its data in the field 'file'")
        key_field = form.get("key")
        key = key_field if isinstance(key_field, str) and key_field else (file.filename or "")
        content_type = file.content_type or ""
        metadata.update(_user_metadata(form.multi_items()))
        body, expected = _upload_stream(file), None
    else:
        key = request.query_params.get("key", "")
        if not key:
            raise MalformedRequest("Name the object with ?key=<key>, or upload a form with 'file'")
        content_type = request.headers.get("content-type", "")
        length = request.headers.get("content-length")
        body, expected = request.stream(), whole_number(length)
    try:
        validate_object_key(key)
        if info.policy is not None and not query_key:
            allow(request, principal, Action.WRITE_OBJECTS, info, key=key)
        check_user_metadata(metadata)  # before any byte is stored (the domain checks again)
        check_representation(content_type, headers)
        sealing = await blocking(_sealing, system, info)
        content = await ingest(body, system.blobs, system.settings.chunk_size, expected,
                               sealing.sealer if sealing else None)
    finally:
        if form is not None:
            await form.close()
    owner = principal.user if principal else info.owner
    moment = now()
    version = sealed_version(new_version(
        content, owner, canned_acl("private", owner), moment, content_type, headers, metadata
    ), content, sealing)
    result = await blocking(
        record_version, system, bucket, key, version, request_meta(request, principal), moment
    )
    return json_response(metadata_json(bucket, key, result.version), 201)


def _http_date(iso: str) -> str:
    return format_datetime(datetime.fromisoformat(iso), usegmt=True)


def _data_key(system: System, version: Version) -> bytes | None:
    """Blocking: the key of a version sealed with strata's keys; SSE-C objects need
    their customer's key, which only the S3 door takes."""
    encryption = version.get("encryption")
    if encryption is None:
        return None
    if encryption["mode"] == SSE_C:
        raise CustomerKeyRequired("This object is encrypted with its owner's own key "
                                  "(SSE-C): read it through the S3 door, sending the key")
    return system.keys.unwrap(encryption["wrapped"])


def _sealing(system: System, info: BucketInfo) -> Sealing | None:
    """Blocking: the bucket's default encryption, else the store's, for a new object."""
    if info.encryption is not None:
        return new_sealing(system, info.encryption["mode"], info.encryption.get("kms_key"))
    if system.settings.encryption_default:
        return new_sealing(system, system.settings.encryption_default, None)
    return None


async def download(request: Request) -> Response:
    system = system_of(request)
    bucket, key = request.path_params["bucket"], request.path_params["key"]
    principal = optional_principal(request)
    info = await blocking(system.store.get_bucket, bucket)
    version = await _readable_version(request, system, principal, info, key)
    byte_range = parse_range(request.headers.get("range"), version["size"])
    data_key = await blocking(_data_key, system, version)
    pieces = read_version(system, version, byte_range, data_key)
    # Read (and verify) the first piece before answering, so a missing or corrupt
    # first chunk is an error status rather than a broken stream.
    first = await blocking(next, pieces, b"")
    headers = {
        "etag": f'"{version["etag"]}"',
        "last-modified": _http_date(version["created_at"]),
        "x-version-id": version["version_id"],
        "accept-ranges": "bytes",
        **version["headers"],
        **{f"{META_PREFIX}{k}": v for k, v in version["user_metadata"].items()},
    }
    start, end = byte_range or (0, version["size"])
    headers["content-length"] = str(end - start)
    status = 200
    if byte_range is not None:
        status = 206
        headers["content-range"] = f"bytes {start}-{end - 1}/{version['size']}"
    return StreamingResponse(
        stream_after(first, pieces), status, headers, media_type=version["content_type"]
    )


async def _readable_version(
    request: Request, system: System, principal: Principal | None, info: BucketInfo, key: str
) -> Version:
    """The version a read names (the current one, `?version_id=`, or `?as_of=` an
    instant), once the caller is allowed to read it. Whether a key exists is told only
    to callers who may list the bucket: the others get AccessDenied either way."""
    version_id = request.query_params.get("version_id")
    moment = instant_param(request)
    if moment is not None and version_id is not None:
        raise MalformedRequest("Name a version with version_id or an instant with as_of, not both")
    with told_only_to_listers(request, principal, info):
        if moment is None:
            found: ObjectInfo = await blocking(system.store.get_object, info.name, key, version_id)
            version = found.version
        else:
            version = await blocking(version_as_of, system, info.name, key, moment)
    if moment is None:
        allow(request, principal, Action.READ_OBJECT, info, version["acl"], key=key,
              version=version,
              iam_action="s3:GetObjectVersion" if version_id else "s3:GetObject")
    else:
        await blocking(authorize_past_read, system, principal, info, key, version)
    return version


async def delete(request: Request) -> Response:
    system = system_of(request)
    bucket, key = request.path_params["bucket"], request.path_params["key"]
    principal = optional_principal(request)
    info = await blocking(system.store.get_bucket, bucket)
    version_id = request.query_params.get("version_id")
    allow(request, principal, Action.WRITE_OBJECTS, info, key=key,
          iam_action="s3:DeleteObjectVersion" if version_id else "s3:DeleteObject")
    owner = principal.user if principal else info.owner
    moment = now()
    # object lock: GOVERNANCE retention yields to the bucket's owner who asks
    bypass = request.query_params.get("bypass_governance") == "true" and \
        may_bypass_governance(principal, info.acl)
    result = await blocking(
        system.store.delete_object,
        bucket,
        key,
        request.query_params.get("version_id"),
        delete_marker(owner, canned_acl("private", owner), moment),
        request_meta(request, principal),
        moment,
        bypass,
    )
    return json_response(
        {
            "bucket": bucket,
            "key": key,
            "version_id": result.version_id,
            "delete_marker": result.delete_marker,
        }
    )


async def metadata(request: Request) -> Response:
    system = system_of(request)
    bucket, key = request.path_params["bucket"], request.path_params["key"]
    principal = optional_principal(request)
    info = await blocking(system.store.get_bucket, bucket)
    try:
        version = await _readable_version(request, system, principal, info, key)
    except NoSuchKey as missing:
        if not missing.delete_marker or "as_of" in request.query_params:
            raise
        # _readable_version let only a caller who may list the bucket see this.
        marker = await blocking(
            system.store.get_object_version_record, bucket, key, str(missing.fields["version_id"])
        )
        return json_response(metadata_json(bucket, key, marker, is_deleted=True))
    return json_response(metadata_json(bucket, key, version))


async def list_keys(request: Request) -> Response:
    system = system_of(request)
    bucket = request.path_params["bucket"]
    info = await blocking(system.store.get_bucket, bucket)
    allow(request, optional_principal(request), Action.LIST_BUCKET, info)
    prefix = request.query_params.get("prefix", "")
    delimiter = request.query_params.get("delimiter", "")
    validate_prefix(prefix)
    limit = int_param(request, "limit", 1000, 1, 1000)
    after, after_version = "", None
    if cursor := request.query_params.get("cursor"):
        try:
            after, after_version = decode_cursor(cursor)
        except ValueError as exc:
            raise MalformedRequest(str(exc)) from None
    with_versions = request.query_params.get("versions", "").lower() in ("true", "1", "yes")
    moment = instant_param(request)
    if moment is not None:
        if with_versions:
            raise MalformedRequest("as_of lists the versions current at that instant; "
                                   "drop versions=true")
        page = await blocking(list_as_of, system, bucket, moment, prefix, delimiter, after, limit)
        return _page_json(bucket, prefix, delimiter, page)
    await blocking(system.runner.wait_for, system.store.current_position())
    if with_versions:
        page = list_versions(system.views, bucket, prefix, delimiter, after, after_version, limit)
    else:
        page = list_objects(system.views, bucket, prefix, delimiter, after, limit)
    return _page_json(bucket, prefix, delimiter, page)


def _page_json(bucket: str, prefix: str, delimiter: str, page: ListPage) -> Response:
    return json_response(
        {
            "bucket": bucket,
            "prefix": prefix,
            "delimiter": delimiter,
            "objects": [asdict(e) for e in page.entries],
            "common_prefixes": page.common_prefixes,
            "is_truncated": page.is_truncated,
            "next_cursor": encode_cursor(page.next_key, page.next_version_id)
            if page.next_key is not None
            else None,
        }
    )
