"""Native bucket endpoints: create, list, inspect, delete, versioning, ACL."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.auth import optional_principal, required_principal
from api.blocking import blocking
from api.context import request_meta, system_of
from api.native.access import allow
from api.native.common import json_body, json_response, now, text_field
from api.native.errors import MalformedRequest
from domain.access import Action, canned_acl, make_acl
from domain.application import BucketInfo
from domain.records import Acl, Grant
from projections import buckets as bucket_view
from projections.object_listing import bucket_stats


def bucket_json(info: BucketInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "owner": info.owner,
        "created_at": info.created_at.isoformat(),
        "region": info.region,
        "versioning": info.versioning,
        "object_lock": info.object_lock is not None,
        "tags": info.tags,
    }


def acl_from_body(body: dict[str, Any], owner: str) -> Acl:
    if "grants" in body:
        grants = body["grants"]
        if not isinstance(grants, list) or not all(
            isinstance(g, dict)
            and isinstance(g.get("grantee"), str)
            and isinstance(g.get("permission"), str)
            for g in grants
        ):
            raise MalformedRequest("grants must be a list of {grantee, permission} objects")
        return make_acl(
            owner, [Grant(grantee=g["grantee"], permission=g["permission"]) for g in grants]
        )
    return canned_acl(text_field(body, "acl", "private"), owner)


async def create_bucket(request: Request) -> Response:
    principal = required_principal(request)
    body = await json_body(request, required=False)
    system = system_of(request)
    name = request.path_params["bucket"]
    info = await blocking(
        system.store.create_bucket,
        name,
        principal.user,
        request_meta(request, principal),
        now(),
        acl_from_body(body, principal.user),
        text_field(body, "region", system.settings.region),
        body.get("object_lock") is True,
    )
    return json_response(bucket_json(info), 201)


async def list_buckets(request: Request) -> Response:
    principal = required_principal(request)
    system = system_of(request)
    await blocking(system.runner.wait_for, system.store.current_position())
    records = bucket_view.list_buckets(system.views)
    visible = [r for r in records if principal.is_admin or r.owner == principal.user]
    return json_response({"buckets": [
        {**{k: v for k, v in asdict(r).items() if k != "acl"},
         "stats": asdict(bucket_stats(system.views, r.name))} for r in visible]})


async def get_bucket(request: Request) -> Response:
    system = system_of(request)
    info = await blocking(system.store.get_bucket, request.path_params["bucket"])
    allow(request, optional_principal(request), Action.LIST_BUCKET, info)
    await blocking(system.runner.wait_for, system.store.current_position())
    stats = bucket_stats(system.views, info.name)
    return json_response({**bucket_json(info), "stats": asdict(stats)})


async def delete_bucket(request: Request) -> Response:
    principal = required_principal(request)
    system = system_of(request)
    name = request.path_params["bucket"]
    info = await blocking(system.store.get_bucket, name)
    allow(request, principal, Action.ADMINISTER_BUCKET, info, iam_action="s3:DeleteBucket")
    await blocking(
        system.store.delete_bucket, name, system.contents, request_meta(request, principal), now()
    )
    return Response(status_code=204)


async def versioning(request: Request) -> Response:
    principal = required_principal(request)
    system = system_of(request)
    name = request.path_params["bucket"]
    info = await blocking(system.store.get_bucket, name)
    if request.method == "GET":
        allow(request, principal, Action.LIST_BUCKET, info,
              iam_action="s3:GetBucketVersioning")
        return json_response({"status": info.versioning})
    allow(request, principal, Action.ADMINISTER_BUCKET, info)
    body = await json_body(request)
    info = await blocking(
        system.store.set_bucket_versioning,
        name,
        text_field(body, "status"),
        request_meta(request, principal),
        now(),
    )
    return json_response({"status": info.versioning})


async def bucket_acl(request: Request) -> Response:
    principal = optional_principal(request)
    system = system_of(request)
    name = request.path_params["bucket"]
    info = await blocking(system.store.get_bucket, name)
    if request.method == "GET":
        allow(request, principal, Action.READ_BUCKET_ACL, info)
        return json_response(info.acl)
    allow(request, principal, Action.WRITE_BUCKET_ACL, info)
    acl = acl_from_body(await json_body(request), info.owner)
    info = await blocking(
        system.store.set_bucket_acl, name, acl, request_meta(request, principal), now()
    )
    return json_response(info.acl)


async def upload_expiry(request: Request) -> Response:
    """GET/PUT /buckets/{b}/upload-expiry {"seconds": N | null}: how long a multipart
    upload may stay incomplete before it is aborted (0: never; null: the store's
    default, STRATA_UPLOAD_EXPIRY_SECONDS)."""
    principal = required_principal(request)
    system = system_of(request)
    name = request.path_params["bucket"]
    info = await blocking(system.store.get_bucket, name)
    if request.method == "PUT":
        allow(request, principal, Action.ADMINISTER_BUCKET, info)
        seconds = (await json_body(request)).get("seconds")
        if seconds is not None and (not isinstance(seconds, int) or isinstance(seconds, bool)):
            raise MalformedRequest("seconds must be a whole number of seconds, or null")
        info = await blocking(system.store.set_bucket_upload_expiry, name, seconds,
                              request_meta(request, principal), now())
    else:
        allow(request, principal, Action.LIST_BUCKET, info)
    effective = info.upload_expiry_seconds
    default = system.settings.upload_expiry_seconds
    return json_response({"seconds": effective,
                          "effective_seconds": default if effective is None else effective})
