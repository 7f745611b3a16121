"""The native door's questions to the one policy function, with the bucket's policy
and the request's facts (issue 24): the same decisions as the S3 door's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from starlette.requests import Request

from domain.access import Action, Principal, authorize, policy_of
from domain.application import BucketInfo
from domain.errors import MethodNotAllowed, NoSuchKey, NoSuchVersion
from domain.policy import BUCKET_ARN, RequestFacts
from domain.records import Acl, Version

# What each kind of native call is, as IAM names it (a call may say more precisely).
DEFAULT_ACTIONS = {
    Action.LIST_BUCKET: "s3:ListBucket",
    Action.WRITE_OBJECTS: "s3:PutObject",
    Action.READ_BUCKET_ACL: "s3:GetBucketAcl",
    Action.WRITE_BUCKET_ACL: "s3:PutBucketAcl",
    Action.ADMINISTER_BUCKET: "s3:PutBucketVersioning",
    Action.READ_OBJECT: "s3:GetObject",
    Action.READ_OBJECT_ACL: "s3:GetObjectAcl",
    Action.WRITE_OBJECT_ACL: "s3:PutObjectAcl",
}
MAX_VALUE_CHARS = 2048
_LISTING = {"s3:prefix": "prefix", "s3:delimiter": "delimiter", "s3:max-keys": "limit"}


def _values(request: Request | None, principal: Principal | None,
            version: Version | None) -> dict[str, list[str]]:
    now = datetime.now(UTC)
    values: dict[str, list[str]] = {
        "aws:currenttime": [now.isoformat()], "aws:epochtime": [str(int(now.timestamp()))],
        "aws:principaltype": ["User" if principal else "Anonymous"],
    }
    if principal is not None:
        values["aws:username"] = values["aws:userid"] = [principal.user]
    if request is not None:
        values["aws:securetransport"] = ["true" if request.url.scheme == "https" else "false"]
        if request.client is not None:
            values["aws:sourceip"] = [request.client.host]
        for key, header in (("aws:referer", "referer"), ("aws:useragent", "user-agent")):
            if header in request.headers:
                values[key] = [request.headers[header][:MAX_VALUE_CHARS]]
        for key, name in _LISTING.items():
            if name in request.query_params:
                values[key] = [request.query_params[name][:MAX_VALUE_CHARS]]
        if "version_id" in request.query_params:
            values["s3:versionid"] = [request.query_params["version_id"][:MAX_VALUE_CHARS]]
    tags = version.get("tags", {}) if version is not None else {}
    for tag_key, tag_value in tags.items():
        values[f"s3:existingobjecttag/{tag_key}".lower()] = [tag_value]
    return values


def allow(request: Request | None, principal: Principal | None, action: Action,
          info: BucketInfo, object_acl: Acl | None = None, *, key: str = "",
          iam_action: str | None = None, version: Version | None = None) -> None:
    """AccessDenied unless the caller may: the bucket policy first (an explicit Deny
    wins), then the bucket's owner, a policy Allow, or the ACLs. `key`: the object the
    call acts on ("" for the bucket); `iam_action`: the S3 action it amounts to."""
    policy = policy_of(info.policy, info.name)
    facts = None
    if policy is not None:
        resource = f"{BUCKET_ARN}{info.name}/{key}" if key else f"{BUCKET_ARN}{info.name}"
        facts = RequestFacts(principal.user if principal else None,
                             iam_action or DEFAULT_ACTIONS[action], resource,
                             _values(request, principal, version))
    authorize(principal, action, info.acl, object_acl, policy, facts, info.blocked)


@contextmanager
def told_only_to_listers(request: Request | None, principal: Principal | None,
                         info: BucketInfo) -> Iterator[None]:
    """Around a lookup of an object or a version: that it does not exist (or is a delete
    marker) is told only to callers who may list the bucket; the others get AccessDenied
    either way."""
    try:
        yield
    except (NoSuchKey, NoSuchVersion, MethodNotAllowed):
        allow(request, principal, Action.LIST_BUCKET, info)
        raise

