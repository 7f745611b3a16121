"""Native tags endpoints (issue 23): the same commands and checks as the S3 door.

GET/PUT/DELETE /buckets/{b}/tags              the bucket's tags, {"tags": {k: v}}
GET/PUT/DELETE /buckets/{b}/tags/{key}        a version's tags (?version_id=, else the
                                              current version), {"tags": {k: v}}
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.auth import optional_principal, required_principal
from api.blocking import blocking
from api.context import request_meta, system_of
from api.native.access import allow
from api.native.common import json_body, json_response, now
from api.native.errors import MalformedRequest
from domain.access import Action
from domain.tags import MAX_BUCKET_TAGS, MAX_OBJECT_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE

TAGS_BODY_BYTES = 64 * 1024


def _tags(body: dict[str, Any], most: int) -> dict[str, str]:
    tags = body.get("tags")
    if not isinstance(tags, dict) or len(tags) > 4 * most or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 4 * MAX_TAG_KEY
            and len(v) <= 4 * MAX_TAG_VALUE for k, v in tags.items()):
        raise MalformedRequest('The body is {"tags": {"key": "value", ...}}')
    return dict(tags)


async def bucket_tags(request: Request) -> Response:
    principal = required_principal(request)
    system = system_of(request)
    name = request.path_params["bucket"]
    info = await blocking(system.store.get_bucket, name)
    allow(request, principal, Action.ADMINISTER_BUCKET, info,
          iam_action="s3:GetBucketTagging" if request.method == "GET"
          else "s3:PutBucketTagging")
    if request.method != "GET":
        tags = {} if request.method == "DELETE" else _tags(
            await json_body(request, limit=TAGS_BODY_BYTES), MAX_BUCKET_TAGS)
        info = await blocking(system.store.set_bucket_tags, name, tags,
                              request_meta(request, principal), now())
    return json_response({"bucket": name, "tags": info.tags})


async def object_tags(request: Request) -> Response:
    principal = optional_principal(request)
    system = system_of(request)
    bucket, key = request.path_params["bucket"], request.path_params["key"]
    version_id = request.query_params.get("version_id")
    info = await blocking(system.store.get_bucket, bucket)
    if request.method == "GET":
        found = await blocking(system.store.get_object, bucket, key, version_id)
        allow(request, principal, Action.READ_OBJECT, info, found.version["acl"], key=key,
              version=found.version, iam_action="s3:GetObjectTagging")
        return json_response({"bucket": bucket, "key": key,
                              "version_id": found.version["version_id"],
                              "tags": found.version.get("tags", {})})
    allow(request, principal, Action.WRITE_OBJECTS, info, key=key,
          iam_action="s3:DeleteObjectTagging" if request.method == "DELETE"
          else "s3:PutObjectTagging")
    tags = {} if request.method == "DELETE" else _tags(
        await json_body(request, limit=TAGS_BODY_BYTES), MAX_OBJECT_TAGS)
    changed = await blocking(system.store.set_object_tags, bucket, key, version_id, tags,
                             request_meta(request, principal), now())
    return json_response({"bucket": bucket, "key": key, "version_id": changed, "tags": tags})
