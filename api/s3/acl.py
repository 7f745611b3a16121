"""ACLs in S3's shapes: canned x-amz-acl, x-amz-grant-* headers and AccessControlPolicy XML."""

from __future__ import annotations

from api.s3.common import Call, owner_node
from api.s3.errors import InvalidRequest, MalformedACLError, MalformedXML
from api.s3.xml import XSI_NS, Node, child_text, parse
from domain.access import ALL_USERS, AUTHENTICATED_USERS, canned_acl, make_acl, user_grantee
from domain.errors import InvalidArgument
from domain.records import Acl, Grant

GROUP_URIS = {
    "http://acs.amazonaws.com/groups/global/AllUsers": ALL_USERS,
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": AUTHENTICATED_USERS,
}
_URI_OF = {group: uri for uri, group in GROUP_URIS.items()}
_GRANT_HEADERS = {
    "x-amz-grant-read": "READ",
    "x-amz-grant-write": "WRITE",
    "x-amz-grant-read-acp": "READ_ACP",
    "x-amz-grant-write-acp": "WRITE_ACP",
    "x-amz-grant-full-control": "FULL_CONTROL",
}


def _grantee_from_header(item: str) -> str:
    kind, _, value = item.strip().partition("=")
    value = value.strip().strip('"')
    if kind == "id" and value:
        return user_grantee(value)
    if kind == "uri" and value in GROUP_URIS:
        return GROUP_URIS[value]
    raise InvalidRequest(f'Unsupported grantee {item.strip()!r}; use id="..." or a group uri')


def acl_from_headers(call: Call, owner: str) -> Acl:
    """The ACL the x-amz-acl or x-amz-grant-* headers ask for; private if none do."""
    canned = call.header("x-amz-acl")
    grants: list[Grant] = []
    for header, permission in _GRANT_HEADERS.items():
        value = call.header(header)
        if value:
            grants.extend(
                {"grantee": _grantee_from_header(item), "permission": permission}
                for item in value.split(",")
            )
    if canned and grants:
        raise InvalidRequest("Specify either x-amz-acl or x-amz-grant-* headers, not both")
    if grants:
        return make_acl(
            owner, [{"grantee": user_grantee(owner), "permission": "FULL_CONTROL"}, *grants]
        )
    if canned:
        if canned == "bucket-owner-full-control" or canned == "bucket-owner-read":
            canned = "private"
        return canned_acl(canned, owner)
    return canned_acl("private", owner)


def acl_from_xml(body: bytes, owner: str) -> Acl:
    policy = parse(body, "AccessControlPolicy")
    grants: list[Grant] = []
    for grant in policy.iter("Grant"):
        grantee = grant.find("Grantee")
        permission = child_text(grant, "Permission")
        if grantee is None or not permission:
            raise MalformedXML("Each Grant needs a Grantee and a Permission")
        uri = child_text(grantee, "URI")
        user = child_text(grantee, "ID")
        if uri:
            if uri not in GROUP_URIS:
                raise InvalidRequest(f"Unsupported group {uri!r}")
            grants.append({"grantee": GROUP_URIS[uri], "permission": permission})
        elif user:
            grants.append({"grantee": user_grantee(user), "permission": permission})
        else:
            raise MalformedXML("A Grantee needs an ID or a URI")
    try:
        return make_acl(owner, grants)
    except InvalidArgument as exc:
        raise MalformedACLError(
            "The XML you provided was not well-formed or did not validate against our "
            f"published schema: {exc.message}"
        ) from None


def _grantee_node(grantee: str) -> Node:
    if grantee in _URI_OF:
        return (f'Grantee xmlns:xsi="{XSI_NS}" xsi:type="Group"', [("URI", _URI_OF[grantee])])
    user = grantee.removeprefix("user:")
    return (
        f'Grantee xmlns:xsi="{XSI_NS}" xsi:type="CanonicalUser"',
        [("ID", user), ("DisplayName", user)],
    )


def acl_nodes(acl: Acl) -> list[Node]:
    return [
        owner_node(acl["owner"]),
        (
            "AccessControlList",
            [
                ("Grant", [_grantee_node(g["grantee"]), ("Permission", g["permission"])])
                for g in acl["grants"]
            ],
        ),
    ]
