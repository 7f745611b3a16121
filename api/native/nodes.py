"""Blob node administration: register, drain, remove, and each node's state."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.auth import admin_principal
from api.blocking import blocking
from api.context import request_meta, system_of
from api.native.common import json_body, json_response, now, text_field
from api.system import Membership, NodeStore, System, nodes_of
from domain.errors import InvalidArgument
from projections.nodes import list_nodes


def _node_store(system: System) -> tuple[NodeStore, Membership]:
    nodes = nodes_of(system)
    if nodes is None or system.membership is None:
        raise InvalidArgument(
            "This strata keeps chunks in its data dir; start it with STRATA_BLOBS=nodes "
            "to use blob nodes"
        )
    return nodes, system.membership


async def add(request: Request) -> Response:
    """POST /admin/nodes {"url", "zone"?}: register the node answering at `url`."""
    principal = admin_principal(request, "manage blob nodes")
    system = system_of(request)
    nodes, membership = _node_store(system)
    body = await json_body(request)
    url = text_field(body, "url").rstrip("/")
    health = await blocking(nodes.identify, url)
    zone = text_field(body, "zone", str(health["zone"]))
    node_id = str(health["node_id"])
    await blocking(system.store.register_node, node_id, url, zone,
                   request_meta(request, principal), now())
    await blocking(membership.refresh)
    return json_response({"node_id": node_id, "url": url, "zone": zone}, 201)


async def _change(request: Request, command: str) -> str:
    """Run a membership command (drain_node, remove_node) on the node the path names."""
    principal = admin_principal(request, "manage blob nodes")
    system = system_of(request)
    _, membership = _node_store(system)
    node_id: str = request.path_params["node"]
    await blocking(getattr(system.store, command), node_id, request_meta(request, principal),
                   now())
    await blocking(membership.refresh)
    return node_id


async def drain(request: Request) -> Response:
    node_id = await _change(request, "drain_node")
    return json_response({"node_id": node_id, "state": "draining"})


async def remove(request: Request) -> Response:
    await _change(request, "remove_node")
    return Response(status_code=204)


async def list_all(request: Request) -> Response:
    """GET /admin/nodes: every registered node with its state and health."""
    admin_principal(request, "inspect blob nodes")
    system = system_of(request)
    store, _ = _node_store(system)
    await blocking(system.runner.wait_for, system.store.current_position())
    health = {m.client.node_id: m for m in store.members()}
    nodes = []
    for record in list_nodes(system.views):
        member = health.get(record.node_id)
        nodes.append({
            "node_id": record.node_id, "url": record.url, "zone": record.zone,
            "state": record.state,
            "up": member is not None and not member.down,
        })
    return json_response({"nodes": nodes, "replicas": store.replicas,
                          "write_quorum": store.write_quorum})
