"""S3 service and bucket operations."""

from __future__ import annotations

from starlette.responses import Response

from api.blocking import blocking
from api.s3.acl import acl_from_headers, acl_from_xml, acl_nodes
from api.s3.common import Call, owner_node
from api.s3.dates import iso_z
from api.s3.errors import InvalidLocationConstraint, InvalidRequest, MalformedXML
from api.s3.integrity import read_small_body
from api.s3.xml import child_text, parse, text_response, xml_response
from domain.access import Action
from domain.errors import AccessDenied
from projections import buckets as bucket_view


def _signed_in(call: Call) -> str:
    if call.user is None:
        raise AccessDenied("Anonymous users may not do this; sign the request")
    return call.user


async def list_buckets(call: Call) -> Response:
    user = _signed_in(call)
    system = call.system
    await blocking(system.runner.wait_for, system.store.current_position())
    principal = call.caller.principal
    records = [
        r
        for r in bucket_view.list_buckets(system.views)
        if r.owner == user or (principal is not None and principal.is_admin)
    ]
    return xml_response(
        "ListAllMyBucketsResult",
        [
            owner_node(user),
            (
                "Buckets",
                [
                    ("Bucket", [("Name", r.name), ("CreationDate", iso_z(r.created_at))])
                    for r in records
                ],
            ),
        ],
    )


async def create_bucket(call: Call) -> Response:
    user = _signed_in(call)
    region = call.system.settings.region
    body = await read_small_body(call)
    if body.strip():
        config = parse(body, "CreateBucketConfiguration")
        constraint = child_text(config, "LocationConstraint", "") or ""
        if constraint not in ("", region) and not (region == "us-east-1" and constraint == "US"):
            raise InvalidLocationConstraint(
                f"The {constraint!r} location constraint is incompatible with this region, "
                f"{region!r}",
                region=region,
            )
    acl = acl_from_headers(call, user)
    lock = (call.header("x-amz-bucket-object-lock-enabled") or "").lower()
    if lock not in ("", "true", "false"):
        raise InvalidRequest("x-amz-bucket-object-lock-enabled is true or false")
    await blocking(
        call.system.store.create_bucket, call.bucket, user, call.meta, call.now, acl, region,
        lock == "true",
    )
    return Response(status_code=200, headers={"location": f"/{call.bucket}"})


async def head_bucket(call: Call) -> Response:
    info = await call.bucket_info(Action.LIST_BUCKET)
    return Response(status_code=200, headers={"x-amz-bucket-region": info.region})


async def delete_bucket(call: Call) -> Response:
    await call.bucket_info(Action.ADMINISTER_BUCKET)
    system = call.system
    await blocking(
        system.store.delete_bucket, call.bucket, system.contents, call.meta, call.now
    )
    return Response(status_code=204)


async def get_location(call: Call) -> Response:
    info = await call.bucket_info(Action.LIST_BUCKET)
    # AWS answers an empty LocationConstraint for us-east-1; clients expect it.
    return text_response("LocationConstraint", "" if info.region == "us-east-1" else info.region)


async def get_versioning(call: Call) -> Response:
    info = await call.bucket_info(Action.LIST_BUCKET)
    status = [] if info.versioning == "Unversioned" else [("Status", info.versioning)]
    return xml_response("VersioningConfiguration", status)


async def put_versioning(call: Call) -> Response:
    await call.bucket_info(Action.ADMINISTER_BUCKET)
    config = parse(await read_small_body(call), "VersioningConfiguration")
    status = child_text(config, "Status")
    if status not in ("Enabled", "Suspended"):
        raise MalformedXML("Versioning Status must be Enabled or Suspended")
    await blocking(
        call.system.store.set_bucket_versioning, call.bucket, status, call.meta, call.now
    )
    return Response(status_code=200)


async def get_acl(call: Call) -> Response:
    info = await call.bucket_info(Action.READ_BUCKET_ACL)
    return xml_response("AccessControlPolicy", acl_nodes(info.acl))


async def put_acl(call: Call) -> Response:
    info = await call.bucket_info(Action.WRITE_BUCKET_ACL)
    body = await read_small_body(call)
    acl = acl_from_xml(body, info.owner) if body.strip() else acl_from_headers(call, info.owner)
    await blocking(call.system.store.set_bucket_acl, call.bucket, acl, call.meta, call.now)
    return Response(status_code=200)
