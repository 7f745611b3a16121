"""What every S3 handler gets: the request, its target, the caller and the system."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request

from api.blocking import query
from api.context import request_meta
from api.s3.addressing import Target
from api.s3.auth import Caller
from api.s3.errors import InvalidRequest
from api.s3.request_facts import condition_values, request_facts
from api.s3.router import S3Operation
from api.s3.xml import Node
from api.system import System
from domain.access import Action, authorize, policy_of
from domain.application import BucketInfo
from domain.records import Acl, RequestMeta, Version


@dataclass
class Call:
    request: Request
    system: System
    target: Target
    caller: Caller
    now: datetime
    operation: S3Operation

    @property
    def bucket(self) -> str:
        return self.target.bucket

    @property
    def key(self) -> str:
        return self.target.key

    @property
    def query(self) -> dict[str, str]:
        return self.target.query

    @property
    def headers(self) -> Mapping[str, str]:
        """Lower-case names; repeated headers joined with ','."""
        return self.target.signed.headers

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.target.signed.headers.get(name, default)

    @property
    def meta(self) -> RequestMeta:
        return request_meta(self.request, self.caller.principal)

    @property
    def user(self) -> str | None:
        return self.caller.principal.user if self.caller.principal else None

    async def bucket_info(self, action: Action | None = None) -> BucketInfo:
        info: BucketInfo = await query(self.system.store.get_bucket, self.bucket)
        if action is not None:
            self.authorize(info, action)
        return info

    @functools.cached_property
    def condition_values(self) -> dict[str, list[str]]:
        return condition_values(self)

    def authorize(self, info: BucketInfo, action: Action, object_acl: Acl | None = None, *,
                  iam_action: str | None = None, key: str | None = None,
                  version: Version | None = None) -> None:
        """The one policy function, with the bucket's policy and this request's facts
        (`iam_action`, `key`: another action or resource than the call's own; key ""
        names the bucket)."""
        policy = policy_of(info.policy, info.name)
        facts = None if policy is None else request_facts(
            self, iam_action, info.name, key, version)
        authorize(self.caller.principal, action, info.acl, object_acl, policy, facts,
                  info.blocked)


def owner_node(user: str, tag: str = "Owner") -> Node:
    return (tag, [("ID", user), ("DisplayName", user)])


def int_query(call: Call, name: str, default: int, low: int = 0, high: int = 1000) -> int:
    raw = call.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"Provided {name} not an integer or within integer range") from None
    if value < low:
        raise InvalidRequest(f"{name} must be at least {low}")
    return min(value, high)
