"""Put/Get/DeleteBucketReplication (issue 22). The destination is named by an ARN whose
region names the site: `arn:aws:s3:<site>::<bucket>` (S3's bucket ARNs leave region and
account empty; a strata site stands where a region would). `Role` is accepted and
ignored: strata signs in at the site with the site's registered key."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from starlette.responses import Response

from api.s3.bucket_settings import put_bucket_setting, remove_bucket_setting
from api.s3.common import Call
from api.s3.errors import InvalidRequest, MalformedXML
from api.s3.xml import Node, child_text, parse, xml_response
from domain.access import Action
from domain.errors import NoSuchReplicationConfiguration
from domain.records import ReplicationRule

ARN_PREFIX = "arn:aws:s3:"


def destination_arn(site: str, bucket: str) -> str:
    return f"{ARN_PREFIX}{site}::{bucket}"


def _destination(arn: str) -> tuple[str, str]:
    site, separator, bucket = arn.removeprefix(ARN_PREFIX).partition("::")
    if not arn.startswith(ARN_PREFIX) or not separator or not site or not bucket:
        raise InvalidRequest(
            "A destination bucket is named arn:aws:s3:<site>::<bucket>, where <site> is a "
            "site registered with PUT /admin/sites/<site>")
    return site, bucket


def _enabled(element: Element | None, what: str, default: bool) -> bool:
    if element is None:
        return default
    status = child_text(element, "Status")
    if status not in ("Enabled", "Disabled"):
        raise MalformedXML(f"{what} Status must be Enabled or Disabled")
    return status == "Enabled"


def _prefix(rule: Element) -> str:
    found = rule.find("Filter")
    if found is None:
        return child_text(rule, "Prefix", "") or ""
    if found.find("And") is not None or found.find("Tag") is not None:
        raise InvalidRequest("Replication rules filter by Prefix only; tag filters are not "
                             "supported yet")
    return child_text(found, "Prefix", "") or ""


def rules_from_xml(body: bytes) -> list[ReplicationRule]:
    config = parse(body, "ReplicationConfiguration")
    rules: list[ReplicationRule] = []
    for n, rule in enumerate(config.findall("Rule")[:1001], start=1):
        destination = rule.find("Destination")
        arn = child_text(destination, "Bucket") if destination is not None else None
        if not arn:
            raise MalformedXML("Each Rule needs a Destination with a Bucket")
        site, bucket = _destination(arn[:2048])
        priority_text = child_text(rule, "Priority", str(n)) or ""
        if not priority_text.isdigit() or len(priority_text) > 9:
            raise MalformedXML("A rule's Priority is a whole number")
        rules.append(ReplicationRule(
            id=(child_text(rule, "ID", f"rule-{n}") or f"rule-{n}")[:1024],
            prefix=_prefix(rule)[:2048], site=site[:256], bucket=bucket[:256],
            delete_markers=_enabled(rule.find("DeleteMarkerReplication"),
                                    "DeleteMarkerReplication", False),
            enabled=_enabled(rule, "Rule", True), priority=int(priority_text),
        ))
    if not rules:
        raise MalformedXML("A ReplicationConfiguration holds at least one Rule")
    return rules


def _rule_nodes(rule: ReplicationRule) -> Node:
    markers = "Enabled" if rule["delete_markers"] else "Disabled"
    return ("Rule", [
        ("ID", rule["id"]), ("Priority", rule["priority"]),
        ("Status", "Enabled" if rule["enabled"] else "Disabled"),
        ("Filter", [("Prefix", rule["prefix"])]),
        ("DeleteMarkerReplication", [("Status", markers)]),
        ("Destination", [("Bucket", destination_arn(rule["site"], rule["bucket"]))]),
    ])


async def get_replication(call: Call) -> Response:
    info = await call.bucket_info(Action.ADMINISTER_BUCKET)
    if not info.replication:
        raise NoSuchReplicationConfiguration(
            "The replication configuration was not found", bucket=call.bucket)
    return xml_response("ReplicationConfiguration",
                        [("Role", ""), *[_rule_nodes(r) for r in info.replication]])


async def put_replication(call: Call) -> Response:
    return await put_bucket_setting(call, call.system.store.configure_replication,
                                    rules_from_xml)


async def delete_replication(call: Call) -> Response:
    return await remove_bucket_setting(call, call.system.store.configure_replication)