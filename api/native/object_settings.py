"""An object's ACL, and a version brought back as the current one (the console's object
details).

GET/PUT /buckets/{b}/object-acl/{key}[?version_id=]   {"owner", "grants"} / {"acl"} or {"grants"}
POST    /buckets/{b}/restore-version {"key", "version_id"}: a new current version with
        that version's bytes and metadata (the version itself stays), as S3 does by
        copying a version onto its key.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from api.auth import optional_principal, required_principal
from api.blocking import blocking
from api.context import request_meta, system_of
from api.native.access import allow, told_only_to_listers
from api.native.buckets import acl_from_body
from api.native.common import json_body, json_response, now, text_field
from api.native.errors import MalformedRequest
from api.native.objects import metadata_json
from api.operations import new_version_id, record_version
from domain.access import Action
from domain.names import validate_object_key
from domain.records import Version

MAX_VERSION_ID_CHARS = 256


async def object_acl(request: Request) -> Response:
    principal = optional_principal(request)
    system = system_of(request)
    bucket, key = request.path_params["bucket"], request.path_params["key"]
    version_id = request.query_params.get("version_id")
    info = await blocking(system.store.get_bucket, bucket)
    with told_only_to_listers(request, principal, info):
        found = await blocking(system.store.get_object, bucket, key, version_id)
    acl = found.version["acl"]
    if request.method == "GET":
        allow(request, principal, Action.READ_OBJECT_ACL, info, acl, key=key,
              version=found.version)
        return json_response(acl)
    allow(request, principal, Action.WRITE_OBJECT_ACL, info, acl, key=key, version=found.version)
    changed = acl_from_body(await json_body(request, limit=64 * 1024), acl["owner"])
    await blocking(system.store.set_object_acl, bucket, key, found.version["version_id"],
                   changed, request_meta(request, principal), now())
    return json_response(changed)


async def restore_version(request: Request) -> Response:
    principal = required_principal(request)
    system = system_of(request)
    bucket = request.path_params["bucket"]
    body = await json_body(request, limit=8 * 1024)
    key, version_id = text_field(body, "key"), text_field(body, "version_id")
    validate_object_key(key)
    if not version_id or len(version_id) > MAX_VERSION_ID_CHARS:
        raise MalformedRequest("version_id must name a version of the object")
    info = await blocking(system.store.get_bucket, bucket)
    with told_only_to_listers(request, principal, info):
        old = await blocking(system.store.get_object_version_record, bucket, key, version_id)
    allow(request, principal, Action.READ_OBJECT, info, old["acl"], key=key, version=old,
          iam_action="s3:GetObjectVersion")
    allow(request, principal, Action.WRITE_OBJECTS, info, key=key, iam_action="s3:PutObject")
    if old["is_delete_marker"]:
        raise MalformedRequest("That version is a delete marker: there is nothing to bring back")
    stamp = datetime.now(UTC)
    copy: Version = {**old, "version_id": new_version_id(stamp), "created_at": stamp.isoformat()}
    await blocking(record_version, system, bucket, key, copy, request_meta(request, principal),
                   stamp)
    return json_response({**metadata_json(bucket, key, copy), "restored_from": version_id}, 201)
