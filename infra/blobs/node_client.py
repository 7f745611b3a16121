"""The client side of one blob node: signed calls over a pooled HTTP connection."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from domain.placement import NodeRef
from domain.ports import StoredChunk
from domain.records import Chunk
from infra.blobs.node_auth import signed_headers


class NodeError(Exception):
    """The node could not be reached or did not do what was asked."""


class ChunkMissing(NodeError):
    pass


class ChunkCorrupt(NodeError):
    pass


class NodeClient:
    def __init__(self, ref: NodeRef, url: str, secret: str, timeout: float = 30.0,
                 verify: ssl.SSLContext | bool = True) -> None:
        """`verify`: how an https:// node's certificate is checked (the system's CAs, or
        a context trusting the cluster's CA); never off unless a caller says so."""
        self.ref = ref
        self.url = url.rstrip("/")
        self._secret = secret
        self._http = httpx.Client(base_url=self.url, timeout=httpx.Timeout(timeout, connect=2.0),
                                  limits=httpx.Limits(max_connections=64), verify=verify)

    @property
    def node_id(self) -> str:
        return self.ref.node_id

    def _call(
        self, method: str, path: str, headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None, **kwargs: Any,
    ) -> httpx.Response:
        signed = signed_headers(self._secret, method, path, params)
        signed.update(headers or {})
        try:
            return self._http.request(method, path, headers=signed, params=params, **kwargs)
        except httpx.HTTPError as exc:
            raise NodeError(f"{self.node_id} at {self.url}: {exc!r}") from None

    @staticmethod
    def _fail(r: httpx.Response, what: str) -> NodeError:
        return NodeError(f"{what} answered {r.status_code}: {r.text[:200]}")

    def put(self, digest: str, data: bytes) -> None:
        r = self._call("PUT", f"/chunks/{digest}", content=data)
        if r.status_code != 201:
            raise self._fail(r, f"PUT of {digest[:12]} on {self.node_id}")

    def get(self, chunk: Chunk, start: int = 0, end: int | None = None) -> bytes:
        end = chunk["size"] if end is None else end
        whole = (start, end) == (0, chunk["size"])
        headers = {} if whole else {"range": f"bytes={start}-{end - 1}"}
        r = self._call("GET", f"/chunks/{chunk['digest']}", params={"size": str(chunk["size"])},
                       headers=headers)
        if r.status_code == 404:
            raise ChunkMissing(f"{chunk['digest'][:12]} is not on {self.node_id}")
        if r.status_code == 409:
            raise ChunkCorrupt(f"{chunk['digest'][:12]} is corrupt on {self.node_id}")
        if r.status_code not in (200, 206):
            raise self._fail(r, f"GET of {chunk['digest'][:12]} on {self.node_id}")
        return r.content

    def holds(self, digest: str) -> bool:
        r = self._call("HEAD", f"/chunks/{digest}")
        if r.status_code not in (200, 404):
            raise self._fail(r, f"HEAD of {digest[:12]} on {self.node_id}")
        return r.status_code == 200

    def size_of(self, digest: str) -> int | None:
        """The chunk's size on this node; None when it does not hold it."""
        r = self._call("HEAD", f"/chunks/{digest}")
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise self._fail(r, f"HEAD of {digest[:12]} on {self.node_id}")
        return int(r.headers["x-chunk-size"])

    def granted_size(self, digest: str, grant: str) -> int | None:
        """The chunk's size on this node when it was uploaded here under `grant` (a
        direct upload's proof that the uploader had the bytes); None otherwise."""
        r = self._call("HEAD", f"/chunks/{digest}", params={"grant": grant})
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise self._fail(r, f"HEAD of {digest[:12]} on {self.node_id}")
        return int(r.headers["x-chunk-size"]) if r.headers.get("x-granted") == "yes" else None

    def touch(self, digest: str) -> bool:
        """Reset the chunk's idle clock; False when the node does not hold it."""
        r = self._call("POST", f"/chunks/{digest}/touch")
        if r.status_code not in (204, 404):
            raise self._fail(r, f"touch of {digest[:12]} on {self.node_id}")
        return r.status_code == 204

    def delete_if_idle(self, digest: str, idle_seconds: float) -> int | None:
        r = self._call("DELETE", f"/chunks/{digest}", params={"idle": repr(float(idle_seconds))})
        if r.status_code != 200:
            raise self._fail(r, f"DELETE of {digest[:12]} on {self.node_id}")
        freed = r.json()["freed"]
        return int(freed) if freed is not None else None

    def inventory_page(self, after: str, limit: int = 1000) -> tuple[list[StoredChunk], str | None]:
        r = self._call("GET", "/chunks", params={"after": after, "limit": str(limit)})
        if r.status_code != 200:
            raise self._fail(r, f"inventory of {self.node_id}")
        body = r.json()
        chunks = [StoredChunk(c["digest"], c["size"], c["idle_seconds"]) for c in body["chunks"]]
        return chunks, body["next"]

    def health(self) -> dict[str, object]:
        r = self._call("GET", "/health")
        if r.status_code != 200:
            raise self._fail(r, f"health of {self.node_id}")
        body: dict[str, object] = r.json()
        return body

    def close(self) -> None:
        self._http.close()
