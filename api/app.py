"""App factories for the two doors. Both share one System built by the composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api import console
from api.auth import SignInThrottle
from api.context import RequestIdMiddleware
from api.feed import CommitSignal
from api.health import health_response
from api.native import (
    admin,
    buckets,
    direct,
    durability,
    events,
    geo_sink,
    governance,
    history,
    inventory,
    metrics,
    nodes,
    object_settings,
    objects,
    presign,
    replication,
    sites,
    status,
)
from api.native.errors import handle_error
from api.observability import NativeRequestMetrics
from api.s3.door import S3Door
from api.system import System
from domain.errors import StrataError


async def healthz(request: Request) -> Response:
    return await health_response(request.app.state.system)


def native_routes() -> list[Route]:
    # Fixed paths come before the {key:path} catch-alls. A key that collides with
    # one of them (list, upload, acl, versioning, meta/..., objects/...) is always
    # reachable as /buckets/{bucket}/objects/{key}.
    b = "/buckets/{bucket}"
    return [
        Route("/healthz", healthz),
        Route("/console", console.to_console, methods=["GET"]),
        Route("/console/", console.page, methods=["GET"]),
        Route("/console/{file}", console.page, methods=["GET"]),
        Route("/metrics", metrics.metrics, methods=["GET"]),
        Route("/auth/token", admin.token, methods=["POST"]),
        Route("/events", events.stream, methods=["GET"]),
        Route("/audit", events.audit, methods=["GET"]),
        Route("/audit/denied", events.denied, methods=["GET"]),
        Route("/admin/durability", durability.overall, methods=["GET"]),
        Route("/admin/nodes", nodes.list_all, methods=["GET"]),
        Route("/admin/nodes", nodes.add, methods=["POST"]),
        Route("/admin/nodes/{node}/drain", nodes.drain, methods=["POST"]),
        Route("/admin/nodes/{node}", nodes.remove, methods=["DELETE"]),
        Route("/admin/sites", sites.list_all, methods=["GET"]),
        Route("/admin/sites/{name}", sites.put, methods=["PUT"]),
        Route("/admin/sites/{name}", sites.get, methods=["GET"]),
        Route("/admin/sites/{name}", sites.remove, methods=["DELETE"]),
        Route("/replication/site", geo_sink.hello, methods=["GET"]),
        Route("/replication/apply", geo_sink.apply, methods=["POST"]),
        Route("/replication/chunks/missing", geo_sink.missing, methods=["POST"]),
        Route("/replication/chunks", geo_sink.put_chunks, methods=["POST"]),
        Route("/replication/chunks/{digest}", geo_sink.put_chunk, methods=["PUT"]),
        Route("/admin/users", admin.create_user, methods=["POST"]),
        Route("/admin/users", admin.list_users, methods=["GET"]),
        Route("/admin/status", status.status, methods=["GET"]),
        Route("/auth/whoami", status.whoami, methods=["GET"]),
        Route("/auth/sso", status.single_sign_on, methods=["GET"]),
        Route("/admin/users/{user}", admin.get_user, methods=["GET"]),
        Route("/admin/users/{user}", admin.delete_user, methods=["DELETE"]),
        Route("/admin/users/{user}/keys", admin.add_key, methods=["POST"]),
        Route("/admin/keys/{access_key}", admin.key_state, methods=["PUT"]),
        Route("/admin/keys/{access_key}", admin.delete_key, methods=["DELETE"]),
        Route("/admin/keys/{access_key}/rotate", admin.rotate_key, methods=["POST"]),
        Route("/buckets", buckets.list_buckets, methods=["GET"]),
        Route(b, buckets.create_bucket, methods=["PUT"]),
        Route(b, buckets.get_bucket, methods=["GET"]),
        Route(b, buckets.delete_bucket, methods=["DELETE"]),
        Route(b + "/versioning", buckets.versioning, methods=["GET", "PUT"]),
        Route(b + "/acl", buckets.bucket_acl, methods=["GET", "PUT"]),
        Route(b + "/retention", history.retention, methods=["GET", "PUT"]),
        Route(b + "/upload-expiry", buckets.upload_expiry, methods=["GET", "PUT"]),
        Route(b + "/replication", replication.replication, methods=["GET", "PUT", "DELETE"]),
        Route(b + "/replication/status", replication.status, methods=["GET"]),
        Route(b + "/restore", history.restore, methods=["POST"]),
        Route(b + "/restore-version", object_settings.restore_version, methods=["POST"]),
        Route(b + "/object-acl/{key:path}", object_settings.object_acl, methods=["GET", "PUT"]),
        Route(b + "/durability", durability.bucket, methods=["GET"]),
        Route(b + "/presign", presign.presign, methods=["POST"]),
        Route(b + "/direct-upload", direct.grant, methods=["POST"]),
        Route(b + "/direct-upload/commit", direct.commit, methods=["POST"]),
        Route(b + "/inventory", inventory.rows, methods=["GET"]),
        Route(b + "/inventory", inventory.export, methods=["POST"]),
        Route(b + "/inventory-schedule", inventory.schedule, methods=["GET", "PUT", "DELETE"]),
        Route(b + "/history/{key:path}", history.history, methods=["GET"]),
        Route(b + "/tags", governance.bucket_tags, methods=["GET", "PUT", "DELETE"]),
        Route(b + "/tags/{key:path}", governance.object_tags, methods=["GET", "PUT", "DELETE"]),
        Route(b + "/upload", objects.upload, methods=["POST"]),
        Route(b + "/list", objects.list_keys, methods=["GET"]),
        Route(b + "/meta/{key:path}", objects.metadata, methods=["GET"]),
        Route(b + "/objects/{key:path}", objects.download, methods=["GET"]),
        Route(b + "/objects/{key:path}", objects.delete, methods=["DELETE"]),
        Route(b + "/{key:path}", objects.download, methods=["GET"]),
        Route(b + "/{key:path}", objects.delete, methods=["DELETE"]),
    ]


def _lifespan(system: System):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.system = system
        app.state.commit_signal = CommitSignal(system.store.on_commit)
        app.state.sign_in_throttle = SignInThrottle()
        yield

    return lifespan


def create_native_app(system: System) -> Starlette:
    """The native REST door (JSON) over a System its owner opened, started and closes
    (infra.run: the composition root)."""
    return Starlette(
        routes=native_routes(),
        middleware=[Middleware(RequestIdMiddleware),
                    Middleware(NativeRequestMetrics, metrics=system.request_metrics)],
        exception_handlers={StrataError: handle_error, Exception: handle_error},
        lifespan=_lifespan(system),
    )


def create_s3_app(system: System) -> S3Door:
    """The S3 door over a System its owner opened and started."""
    return S3Door(system)
