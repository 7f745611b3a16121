"""Replication rules of a bucket on the native door (issue 22): GET/PUT/DELETE
/buckets/{b}/replication. The bucket owner (or an administrator) manages them."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.auth import required_principal
from api.blocking import blocking
from api.context import request_meta, system_of
from api.native.access import allow
from api.native.common import json_body, json_response, now
from api.native.errors import MalformedRequest
from domain.access import Action
from domain.errors import NoSuchReplicationConfiguration
from domain.records import ReplicationRule


def _text(found: dict[str, Any], name: str, default: str | None = None) -> str:
    value = found.get(name, default)
    if not isinstance(value, str):
        raise MalformedRequest(f"A rule's {name!r} must be a string")
    return value


def parse_rules(body: Any) -> list[ReplicationRule]:
    """{"rules": [{"id"?, "prefix"?, "destination": {"site", "bucket"}, "delete_markers"?,
    "status"?: "Enabled"|"Disabled", "priority"?}]}; the domain checks the limits."""
    rules = body.get("rules") if isinstance(body, dict) else None
    if not isinstance(rules, list):
        raise MalformedRequest('The body is {"rules": [...]}')
    parsed: list[ReplicationRule] = []
    for n, rule in enumerate(rules[:1001], start=1):
        if not isinstance(rule, dict) or not isinstance(rule.get("destination"), dict):
            raise MalformedRequest('Each rule is an object with a "destination": '
                                   '{"site": ..., "bucket": ...}')
        delete_markers = rule.get("delete_markers", False)
        priority = rule.get("priority", n)
        status = _text(rule, "status", "Enabled")
        if not isinstance(delete_markers, bool):
            raise MalformedRequest("A rule's delete_markers is true or false")
        if not isinstance(priority, int) or isinstance(priority, bool) or priority < 0:
            raise MalformedRequest("A rule's priority is a whole number")
        if status not in ("Enabled", "Disabled"):
            raise MalformedRequest("A rule's status is Enabled or Disabled")
        parsed.append(ReplicationRule(
            id=_text(rule, "id", f"rule-{n}")[:1024], prefix=_text(rule, "prefix", "")[:2048],
            site=_text(rule["destination"], "site")[:256],
            bucket=_text(rule["destination"], "bucket")[:256],
            delete_markers=delete_markers, enabled=status == "Enabled", priority=priority,
        ))
    return parsed


def shown(rule: ReplicationRule) -> dict[str, Any]:
    return {"id": rule["id"], "prefix": rule["prefix"], "priority": rule["priority"],
            "status": "Enabled" if rule["enabled"] else "Disabled",
            "destination": {"site": rule["site"], "bucket": rule["bucket"]},
            "delete_markers": rule["delete_markers"]}


async def replication(request: Request) -> Response:
    principal = required_principal(request)
    system = system_of(request)
    name = request.path_params["bucket"]
    info = await blocking(system.store.get_bucket, name)
    allow(request, principal, Action.ADMINISTER_BUCKET, info)
    if request.method == "GET":
        if not info.replication:
            raise NoSuchReplicationConfiguration(
                "The bucket has no replication configuration", bucket=name)
        return json_response({"rules": [shown(r) for r in info.replication]})
    rules = parse_rules(await json_body(request)) if request.method == "PUT" else None
    info = await blocking(system.store.configure_replication, name, rules,
                          request_meta(request, principal), now())
    if rules is None:
        return Response(status_code=204)
    return json_response({"rules": [shown(r) for r in info.replication or ()]})


async def status(request: Request) -> Response:
    """GET /buckets/{b}/replication/status: per rule, how far its site is behind (events
    and seconds), what was sent and skipped, and the changes the site refused."""
    principal = required_principal(request)
    system = system_of(request)
    name = request.path_params["bucket"]
    info = await blocking(system.store.get_bucket, name)
    allow(request, principal, Action.ADMINISTER_BUCKET, info)
    if not info.replication:
        raise NoSuchReplicationConfiguration(
            "The bucket has no replication configuration", bucket=name)
    geo = system.geo
    if geo is None:
        raise NoSuchReplicationConfiguration("This process sends no changes to other sites",
                                             bucket=name)
    moment = now()
    rules = [await blocking(geo.rule_status, name, rule, moment) for rule in info.replication]
    return json_response({"bucket": name, "site": system.settings.site_name, "rules": rules})
