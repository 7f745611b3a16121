"""S3 object lock: the bucket's configuration, a version's retention and legal hold,
the x-amz-object-lock-* headers of a new object and of a read."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import Response

from api.blocking import blocking
from api.s3.common import Call
from api.s3.dates import iso_z
from api.s3.errors import InvalidRequest, MalformedXML, NoSuchConfiguration
from api.s3.integrity import read_small_body
from api.s3.xml import Node, child_text, parse, xml_response
from domain.access import Action
from domain.application import BucketInfo
from domain.errors import AccessDenied
from domain.lock import MODES, LockConfig
from domain.records import Retention, Version


def _instant(text: str | None, what: str) -> str:
    try:
        moment = datetime.fromisoformat((text or "").strip()[:64])
    except ValueError:
        raise InvalidRequest(f"{what} is an ISO 8601 time such as 2030-01-01T00:00:00Z"
                             ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _mode(text: str | None) -> str:
    if text not in MODES:
        raise MalformedXML(f"The object lock mode is one of {', '.join(MODES)}")
    return text


def may_bypass(call: Call, info: BucketInfo) -> bool:
    """x-amz-bypass-governance-retention from a caller allowed to bypass: S3's
    s3:BypassGovernanceRetention, which the bucket's owner (or an administrator) has
    and the bucket policy may grant or deny."""
    asked = (call.header("x-amz-bypass-governance-retention") or "").lower() == "true"
    if not asked:
        return False
    try:
        call.authorize(info, Action.ADMINISTER_BUCKET,
                       iam_action="s3:BypassGovernanceRetention")
    except AccessDenied:
        return False
    return True


def lock_from_headers(call: Call) -> dict[str, object]:
    """The retention and legal hold a new object asks for with x-amz-object-lock-*."""
    found: dict[str, object] = {}
    mode = call.header("x-amz-object-lock-mode")
    until = call.header("x-amz-object-lock-retain-until-date")
    if (mode is None) != (until is None):
        raise InvalidRequest("x-amz-object-lock-retain-until-date and x-amz-object-lock-mode "
                             "must both be supplied")
    if mode is not None:
        if mode not in MODES:
            raise InvalidRequest("Unknown wormMode directive.")
        found["retention"] = Retention(mode=mode, until=_instant(until, "The retain date"))
    hold = call.header("x-amz-object-lock-legal-hold")
    if hold is not None:
        if hold not in ("ON", "OFF"):
            raise InvalidRequest("Legal Hold must be either of 'ON' or 'OFF'")
        if hold == "ON":
            found["legal_hold"] = True
    return found


def lock_headers(version: Version, info: BucketInfo) -> dict[str, str]:
    """What GET and HEAD say of a version's lock."""
    if info.object_lock is None:
        return {}
    headers = {"x-amz-object-lock-legal-hold": "ON" if version.get("legal_hold") else "OFF"}
    retention = version.get("retention")
    if retention is not None:
        headers["x-amz-object-lock-mode"] = retention["mode"]
        headers["x-amz-object-lock-retain-until-date"] = iso_z(retention["until"])
    return headers


async def get_lock_configuration(call: Call) -> Response:
    info = await call.bucket_info(Action.ADMINISTER_BUCKET)
    lock = info.object_lock
    if lock is None:
        raise NoSuchConfiguration("Object Lock configuration does not exist for this bucket",
                                  "ObjectLockConfigurationNotFoundError", bucket=call.bucket)
    children: list[Node] = [("ObjectLockEnabled", "Enabled")]
    if lock["mode"] is not None:
        period: Node = ("Days", lock["days"]) if lock["days"] is not None \
            else ("Years", lock["years"] or 0)
        children.append(("Rule", [("DefaultRetention", [("Mode", lock["mode"]), period])]))
    return xml_response("ObjectLockConfiguration", children)


def _whole(text: str | None, what: str) -> int | None:
    if text is None:
        return None
    if not text.strip().isdigit() or len(text.strip()) > 9:
        raise MalformedXML(f"{what} is a whole number")
    return int(text)


async def put_lock_configuration(call: Call) -> Response:
    await call.bucket_info(Action.ADMINISTER_BUCKET)
    config = parse(await read_small_body(call), "ObjectLockConfiguration")
    if child_text(config, "ObjectLockEnabled") != "Enabled":
        raise MalformedXML("ObjectLockEnabled must be Enabled")
    lock = LockConfig(mode=None, days=None, years=None)
    rule = config.find("Rule")
    if rule is not None:
        default = rule.find("DefaultRetention")
        if default is None:
            raise MalformedXML("A Rule holds a DefaultRetention")
        lock = LockConfig(mode=_mode(child_text(default, "Mode")),
                          days=_whole(child_text(default, "Days"), "Days"),
                          years=_whole(child_text(default, "Years"), "Years"))
    await blocking(call.system.store.configure_object_lock, call.bucket, lock, call.meta,
                   call.now)
    return Response(status_code=200)


async def _readable_version(call: Call) -> tuple[BucketInfo, Version]:
    info = await call.bucket_info()
    obj = await blocking(call.system.store.get_object, call.bucket, call.key,
                         call.operation.version_id)
    call.authorize(info, Action.READ_OBJECT, obj.version["acl"], version=obj.version)
    if info.object_lock is None:
        raise InvalidRequest("Bucket is missing Object Lock Configuration")
    return info, obj.version


async def get_retention(call: Call) -> Response:
    _, version = await _readable_version(call)
    retention = version.get("retention")
    if retention is None:
        raise NoSuchConfiguration("The specified object does not have a ObjectLock "
                                  "configuration", "NoSuchObjectLockConfiguration")
    return xml_response("Retention", [("Mode", retention["mode"]),
                                      ("RetainUntilDate", iso_z(retention["until"]))])


async def put_retention(call: Call) -> Response:
    info = await call.bucket_info(Action.WRITE_OBJECTS)
    body = parse(await read_small_body(call), "Retention")
    mode, until = child_text(body, "Mode"), child_text(body, "RetainUntilDate")
    retention: Retention | None = None
    if mode is not None or until is not None:
        if mode is None or until is None:
            raise MalformedXML("A Retention has both Mode and RetainUntilDate, or neither")
        retention = Retention(mode=_mode(mode), until=_instant(until, "RetainUntilDate"))
    changed = await blocking(call.system.store.set_object_retention, call.bucket, call.key,
                             call.operation.version_id, retention, may_bypass(call, info),
                             call.meta, call.now)
    return Response(status_code=200, headers={"x-amz-version-id": changed}
                    if changed != "null" else {})


async def get_legal_hold(call: Call) -> Response:
    _, version = await _readable_version(call)
    return xml_response("LegalHold", [("Status", "ON" if version.get("legal_hold")
                                       else "OFF")])


async def put_legal_hold(call: Call) -> Response:
    await call.bucket_info(Action.WRITE_OBJECTS)
    status = child_text(parse(await read_small_body(call), "LegalHold"), "Status")
    if status not in ("ON", "OFF"):
        raise MalformedXML("A LegalHold's Status is ON or OFF")
    changed = await blocking(call.system.store.set_object_legal_hold, call.bucket, call.key,
                             call.operation.version_id, status == "ON", call.meta, call.now)
    return Response(status_code=200, headers={"x-amz-version-id": changed}
                    if changed != "null" else {})
