"""CORS on the S3 door (issue 24): Put/Get/DeleteBucketCors, the preflight OPTIONS
request answered from the bucket's rules, and Access-Control-* headers on the answers
to actual requests from a browser (presigned ones included).

strata's own web console is allowed too, whatever the bucket's rules: it is served by
the native door (another origin) and sends presigned requests here. That lets no page
act as a signed-in user: a presigned request carries its own authority, and this door
reads no cookie."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from starlette.requests import Request
from starlette.responses import Response

from api.blocking import query
from api.s3.bucket_settings import put_bucket_setting, remove_bucket_setting
from api.s3.common import Call
from api.s3.errors import MalformedXML, NoSuchConfiguration
from api.s3.xml import Node, child_text, parse, xml_response
from api.system import System
from domain.access import Action
from domain.cors import MAX_RULES, CorsRule, matching_rule, response_headers
from domain.errors import NoSuchBucket

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
_MAX_ITEMS = 100  # origins, methods or headers in one rule
_MAX_TEXT = 2048


def console_rule(request: Request, system: System) -> CorsRule:
    """What the console's origin may do: the console's S3 calls, reading the ETag of
    each uploaded part (a multipart upload's completion names them)."""
    settings = system.settings
    origins = settings.console_origins
    if not origins:  # the native door on the host this request reached the S3 door by
        host = request.url.hostname or settings.host
        host = f"[{host}]" if ":" in host else host
        origins = (f"{request.url.scheme}://{host}:{settings.api_port}",)
    return {"allowed_origins": list(origins),
            "allowed_methods": ["GET", "PUT", "POST", "DELETE", "HEAD"],
            "allowed_headers": ["*"], "expose_headers": ["ETag", "x-amz-version-id"],
            "max_age_seconds": 600}


def _texts(rule: Element, name: str) -> list[str]:
    return [(node.text or "").strip()[:_MAX_TEXT] for node in rule.findall(name)[:_MAX_ITEMS]]


def rules_from_xml(body: bytes) -> list[CorsRule]:
    config = parse(body, "CORSConfiguration")
    nodes = config.findall("CORSRule")
    if len(nodes) > MAX_RULES:
        raise MalformedXML(f"A CORS configuration has at most {MAX_RULES} rules")
    rules = []
    for node in nodes:
        rule = CorsRule(allowed_origins=_texts(node, "AllowedOrigin"),
                        allowed_methods=_texts(node, "AllowedMethod"),
                        allowed_headers=_texts(node, "AllowedHeader"),
                        expose_headers=_texts(node, "ExposeHeader"))
        rule_id = child_text(node, "ID")
        if rule_id:
            rule["id"] = rule_id[:_MAX_TEXT]
        max_age = child_text(node, "MaxAgeSeconds")
        if max_age is not None:
            if not max_age.strip().isdigit() or len(max_age.strip()) > 10:
                raise MalformedXML("MaxAgeSeconds is a whole number")
            rule["max_age_seconds"] = int(max_age)
        rules.append(rule)
    return rules


def _rule_nodes(rule: CorsRule) -> Node:
    children: list[Node] = [("ID", rule["id"])] if "id" in rule else []
    children += [("AllowedOrigin", o) for o in rule["allowed_origins"]]
    children += [("AllowedMethod", m) for m in rule["allowed_methods"]]
    children += [("AllowedHeader", h) for h in rule["allowed_headers"]]
    children += [("ExposeHeader", h) for h in rule["expose_headers"]]
    if "max_age_seconds" in rule:
        children.append(("MaxAgeSeconds", rule["max_age_seconds"]))
    return ("CORSRule", children)


async def get_cors(call: Call) -> Response:
    info = await call.bucket_info(Action.ADMINISTER_BUCKET)
    if not info.cors:
        raise NoSuchConfiguration("The CORS configuration does not exist",
                                  "NoSuchCORSConfiguration", bucket=call.bucket)
    return xml_response("CORSConfiguration", [_rule_nodes(r) for r in info.cors])


async def put_cors(call: Call) -> Response:
    return await put_bucket_setting(call, call.system.store.configure_cors, rules_from_xml)


async def delete_cors(call: Call) -> Response:
    return await remove_bucket_setting(call, call.system.store.configure_cors)


def _requested_headers(request: Request) -> list[str]:
    raw = request.headers.get("access-control-request-headers", "")[:_MAX_TEXT]
    return [h.strip().lower() for h in raw.split(",") if h.strip()][:_MAX_ITEMS]


def _refused(message: str) -> Response:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessForbidden</Code>'
            f"<Message>{message}</Message></Error>")
    return Response(body, 403, media_type="application/xml")


async def preflight(request: Request, system: System, bucket: str) -> Response:
    """OPTIONS: allowed when a rule of the bucket allows the origin, the method and the
    headers the browser asks about; 403 otherwise. No signature: browsers send none."""
    origin = request.headers.get("origin", "")[:_MAX_TEXT]
    method = request.headers.get("access-control-request-method", "")[:16]
    if not origin or not method:
        return Response(b"", 400, headers={"content-type": "application/xml"})
    try:
        info = await query(system.store.get_bucket, bucket) if bucket else None
    except NoSuchBucket:
        info = None
    wanted = _requested_headers(request)
    rules = [*((info.cors or []) if info else []), console_rule(request, system)]
    rule = matching_rule(rules, origin, method, wanted)
    if rule is None:
        return _refused("CORSResponse: This CORS request is not allowed. This is usually "
                        "because the evaluation of Origin, request method / "
                        "Access-Control-Request-Method or Access-Control-Request-Headers are "
                        "not whitelisted by the resource's CORS spec.")
    headers = {**response_headers(rule, origin, True, wanted), "vary": VARY}
    return Response(b"", 200, headers=headers)


async def actual_headers(request: Request, system: System, bucket: str) -> list[tuple[bytes,
                                                                                      bytes]]:
    """The Access-Control-* headers for the answer to a browser's actual request."""
    origin = request.headers.get("origin")
    if not origin or not bucket:
        return []
    try:
        info = await query(system.store.get_bucket, bucket)
    except NoSuchBucket:
        return []
    found = [(b"vary", VARY.encode())]
    rule = matching_rule([*(info.cors or ()), console_rule(request, system)],
                         origin[:_MAX_TEXT], request.method, [])
    if rule is not None:
        found += [(name.encode(), value.encode("latin-1", "replace"))
                  for name, value in response_headers(rule, origin, False, []).items()]
    return found
