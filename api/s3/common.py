"""What every S3 handler gets: the request, its target, the caller and the system."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request

from api.blocking import query
from api.context import request_meta
from api.s3.addressing import Target
from api.s3.auth import Caller
from api.s3.errors import InvalidRequest
from api.s3.router import S3Operation
from api.s3.xml import Node
from api.system import System
from domain.access import Action, authorize
from domain.application import BucketInfo
from domain.records import RequestMeta


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
            authorize(self.caller.principal, action, info.acl)
        return info


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
