"""How durable the data is: under-replicated chunks overall and per bucket, replicas
healed, corrupt replicas found and repaired, and each node's state."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.auth import admin_principal, optional_principal
from api.blocking import blocking
from api.context import system_of
from api.native.access import allow
from api.native.common import json_response
from api.system import System, nodes_of
from domain.access import Action
from domain.objects import ObjectKey
from projections.base import prefix_end
from projections.chunk_refs import digests_of_object, referenced_digests
from projections.nodes import list_nodes
from projections.placement import chunk_counts, under_replicated


def _readable(system: System) -> tuple[set[str], int]:
    nodes = nodes_of(system)
    if nodes is None:
        return set(), 1
    return nodes.readable(), nodes.replicas


def _disk(member: Any) -> dict[str, Any]:
    """A node's disk as it said at its last health probe (bytes_total, bytes_free);
    nothing while it is down."""
    if member is None or member.down:
        return {}
    return {k: member.said[k] for k in ("bytes_total", "bytes_free")
            if isinstance(member.said.get(k), int)}


def _overall(system: System) -> dict[str, Any]:
    system.runner.wait_for(system.store.current_position())
    readable, replicas = _readable(system)
    report: dict[str, Any] = {"replicas": replicas}
    nodes = nodes_of(system)
    if nodes is None:
        report["backend"] = "local"
        report["chunks"] = sum(1 for _ in referenced_digests(system.views))
        report["under_replicated"] = 0
        return report
    chunks, short = under_replicated(system.views, referenced_digests(system.views), readable,
                                     replicas)
    counts = chunk_counts(system.views)
    health = {m.client.node_id: m for m in nodes.members()}
    replication = asdict(system.replicator.stats) if system.replicator else {}
    if replication.get("last_full_pass"):  # seconds since the epoch -> RFC 3339
        replication["last_full_pass"] = datetime.fromtimestamp(
            replication["last_full_pass"], UTC).isoformat()
    else:
        replication["last_full_pass"] = None
    live = sum(1 for m in health.values() if not m.down)
    report.update(
        backend="nodes", chunks=chunks, under_replicated=short,
        replication=replication,
        reported_bad_replicas=len(nodes.repairs.found),
        nodes=[{"node_id": n.node_id, "zone": n.zone, "state": n.state, "url": n.url,
                "up": n.node_id in health and not health[n.node_id].down,
                "chunks": counts.get(n.node_id, 0),
                **_disk(health.get(n.node_id))} for n in list_nodes(system.views)],
    )
    if short and live < replicas:
        report["why_under_replicated"] = (
            f"{live} blob nodes are up and each chunk wants {replicas} replicas: add or bring "
            "back nodes (or lower STRATA_REPLICAS)")
    elif short:
        report["why_under_replicated"] = ("the repairer is copying chunks to their places; "
                                          "the count falls as it goes")
    return report


def _bucket(system: System, bucket: str) -> dict[str, Any]:
    system.runner.wait_for(system.store.current_position())
    readable, replicas = _readable(system)
    head = b"V/" + bucket.encode() + b"/"
    keys = {raw[len(head) : -9].decode() for raw, _ in system.views.scan(head, prefix_end(head))}
    digests: set[str] = set()
    for key in keys:
        digests |= digests_of_object(system.views, ObjectKey.create_id(bucket, key))
    if system.membership is None:
        return {"bucket": bucket, "chunks": len(digests), "under_replicated": 0,
                "replicas": replicas}
    chunks, short = under_replicated(system.views, sorted(digests), readable, replicas)
    return {"bucket": bucket, "chunks": chunks, "under_replicated": short, "replicas": replicas}


async def overall(request: Request) -> Response:
    """GET /admin/durability."""
    admin_principal(request, "inspect durability")
    return json_response(await blocking(_overall, system_of(request)))


async def bucket(request: Request) -> Response:
    """GET /buckets/{b}/durability."""
    system = system_of(request)
    name = request.path_params["bucket"]
    info = await blocking(system.store.get_bucket, name)
    allow(request, optional_principal(request), Action.LIST_BUCKET, info)
    return json_response(await blocking(_bucket, system, name))
