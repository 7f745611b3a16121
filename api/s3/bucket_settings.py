"""A bucket sub-resource's PUT and DELETE through the S3 door: its owner's call, the
body read and checked, one store command; the same for every kept setting."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response

from api.blocking import blocking
from api.s3.common import Call
from api.s3.integrity import read_small_body
from domain.access import Action


async def put_bucket_setting(call: Call, command: Callable[..., object],
                             read: Callable[[bytes], object], status: int = 200) -> Response:
    """PUT: the owner's body, made a setting by `read` (which refuses what S3 would)."""
    await call.bucket_info(Action.ADMINISTER_BUCKET)
    value = read(await read_small_body(call))
    await blocking(command, call.bucket, value, call.meta, call.now)
    return Response(status_code=status)


async def remove_bucket_setting(call: Call, command: Callable[..., object],
                                cleared: object = None) -> Response:
    """DELETE: its owner sets it back to `cleared` (204)."""
    await call.bucket_info(Action.ADMINISTER_BUCKET)
    await blocking(command, call.bucket, cleared, call.meta, call.now)
    return Response(status_code=204)
