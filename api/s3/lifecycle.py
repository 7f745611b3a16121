"""Put/Get/DeleteBucketLifecycleConfiguration: S3's rule XML to and from the domain's
LifecycleRule records (domain/lifecycle.py validates them)."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree.ElementTree import Element

from starlette.responses import Response

from api.s3.bucket_settings import put_bucket_setting, remove_bucket_setting
from api.s3.common import Call
from api.s3.dates import iso_z
from api.s3.errors import InvalidRequest, MalformedXML, NoSuchConfiguration
from api.s3.xml import Node, child_text, parse, xml_response
from domain.access import Action
from domain.lifecycle import MAX_RULES, LifecycleRule
from domain.tags import MAX_OBJECT_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE, tag_set

_MAX_TEXT = 2048


def _number(parent: Element, name: str, rule: LifecycleRule, field: str) -> None:
    text = child_text(parent, name)
    if text is None:
        return
    text = text.strip()
    if not text.lstrip("-").isdigit() or len(text) > 20:
        raise MalformedXML(f"'{name}' is a whole number")
    rule[field] = int(text)  # type: ignore[literal-required]


def _tag(node: Element) -> tuple[str, str]:
    key, value = child_text(node, "Key"), child_text(node, "Value", "")
    if key is None:
        raise MalformedXML("A Tag has a Key")
    return key[: MAX_TAG_KEY + 1], (value or "")[: MAX_TAG_VALUE + 1]


def _filter(node: Element, rule: LifecycleRule) -> None:
    criteria = [child for child in node if isinstance(child.tag, str)]
    if len(criteria) > 1:
        raise MalformedXML("A Filter holds one of Prefix, Tag, ObjectSizeGreaterThan, "
                           "ObjectSizeLessThan and And")
    if not criteria:
        return
    only = criteria[0]
    if only.tag == "And":
        rule["prefix"] = (child_text(only, "Prefix", "") or "")[:_MAX_TEXT]
        rule["tags"] = tag_set([_tag(t) for t in only.findall("Tag")[:MAX_OBJECT_TAGS + 1]],
                               MAX_OBJECT_TAGS)
        _number(only, "ObjectSizeGreaterThan", rule, "size_greater")
        _number(only, "ObjectSizeLessThan", rule, "size_less")
    elif only.tag == "Prefix":
        rule["prefix"] = (only.text or "")[:_MAX_TEXT]
    elif only.tag == "Tag":
        rule["tags"] = tag_set([_tag(only)], MAX_OBJECT_TAGS)
    elif only.tag == "ObjectSizeGreaterThan":
        _number(node, "ObjectSizeGreaterThan", rule, "size_greater")
    elif only.tag == "ObjectSizeLessThan":
        _number(node, "ObjectSizeLessThan", rule, "size_less")
    else:
        raise MalformedXML(f"A Filter cannot hold {only.tag[:64]}")


def _date(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text.strip()[:64])
    except ValueError:
        raise InvalidRequest("'Date' must be in ISO 8601 format") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _rule(node: Element, n: int) -> LifecycleRule:
    rule = LifecycleRule(id=(child_text(node, "ID") or f"rule-{n}")[:_MAX_TEXT],
                         enabled=False, prefix="", tags={})
    status = child_text(node, "Status")
    if status not in ("Enabled", "Disabled"):
        raise MalformedXML("A rule's Status is Enabled or Disabled")
    rule["enabled"] = status == "Enabled"
    found = node.find("Filter")
    legacy = child_text(node, "Prefix")
    if found is not None and legacy is not None:
        raise MalformedXML("A rule has a Filter or a Prefix, not both")
    if found is not None:
        _filter(found, rule)
    elif legacy is not None:
        rule["prefix"] = legacy[:_MAX_TEXT]
    if node.find("Transition") is not None or node.find("NoncurrentVersionTransition") \
            is not None:
        raise InvalidRequest("strata keeps one storage class: Transition actions are not "
                             "supported")
    expiration = node.find("Expiration")
    if expiration is not None:
        _number(expiration, "Days", rule, "expiration_days")
        date = child_text(expiration, "Date")
        if date is not None:
            rule["expiration_date"] = _date(date)
        marker = child_text(expiration, "ExpiredObjectDeleteMarker")
        if marker is not None:
            if marker.strip() not in ("true", "false"):
                raise MalformedXML("ExpiredObjectDeleteMarker is true or false")
            if marker.strip() == "true":
                rule["expired_marker"] = True
        if not any(k in rule for k in ("expiration_days", "expiration_date",
                                        "expired_marker")) and marker is None:
            raise MalformedXML("An Expiration names Days, Date or ExpiredObjectDeleteMarker")
    noncurrent = node.find("NoncurrentVersionExpiration")
    if noncurrent is not None:
        _number(noncurrent, "NoncurrentDays", rule, "noncurrent_days")
        _number(noncurrent, "NewerNoncurrentVersions", rule, "newer_noncurrent")
    abort = node.find("AbortIncompleteMultipartUpload")
    if abort is not None:
        _number(abort, "DaysAfterInitiation", rule, "abort_days")
    return rule


def rules_from_xml(body: bytes) -> list[LifecycleRule]:
    config = parse(body, "LifecycleConfiguration")
    nodes = config.findall("Rule")
    if len(nodes) > MAX_RULES:
        raise MalformedXML(f"A lifecycle configuration has at most {MAX_RULES} rules")
    return [_rule(node, n) for n, node in enumerate(nodes, start=1)]


def _filter_nodes(rule: LifecycleRule) -> Node:
    tags = [("Tag", [("Key", k), ("Value", v)]) for k, v in rule["tags"].items()]
    sizes: list[Node] = []
    if "size_greater" in rule:
        sizes.append(("ObjectSizeGreaterThan", rule["size_greater"]))
    if "size_less" in rule:
        sizes.append(("ObjectSizeLessThan", rule["size_less"]))
    if len(tags) + len(sizes) + (1 if rule["prefix"] else 0) > 1:
        return ("Filter", [("And", [("Prefix", rule["prefix"]), *tags, *sizes])])
    return ("Filter", tags or sizes or [("Prefix", rule["prefix"])])


def _rule_nodes(rule: LifecycleRule) -> Node:
    children: list[Node] = [("ID", rule["id"]), _filter_nodes(rule),
                            ("Status", "Enabled" if rule["enabled"] else "Disabled")]
    if "expiration_days" in rule:
        children.append(("Expiration", [("Days", rule["expiration_days"])]))
    elif "expiration_date" in rule:
        children.append(("Expiration", [("Date", iso_z(rule["expiration_date"]))]))
    elif rule.get("expired_marker"):
        children.append(("Expiration", [("ExpiredObjectDeleteMarker", True)]))
    if "noncurrent_days" in rule:
        noncurrent: list[Node] = [("NoncurrentDays", rule["noncurrent_days"])]
        if "newer_noncurrent" in rule:
            noncurrent.append(("NewerNoncurrentVersions", rule["newer_noncurrent"]))
        children.append(("NoncurrentVersionExpiration", noncurrent))
    if "abort_days" in rule:
        children.append(("AbortIncompleteMultipartUpload",
                         [("DaysAfterInitiation", rule["abort_days"])]))
    return ("Rule", children)


async def get_lifecycle(call: Call) -> Response:
    info = await call.bucket_info(Action.ADMINISTER_BUCKET)
    if not info.lifecycle:
        raise NoSuchConfiguration("The lifecycle configuration does not exist",
                                  "NoSuchLifecycleConfiguration", bucket=call.bucket)
    return xml_response("LifecycleConfiguration", [_rule_nodes(r) for r in info.lifecycle])


async def put_lifecycle(call: Call) -> Response:
    return await put_bucket_setting(call, call.system.store.configure_lifecycle,
                                    rules_from_xml)


async def delete_lifecycle(call: Call) -> Response:
    return await remove_bucket_setting(call, call.system.store.configure_lifecycle)