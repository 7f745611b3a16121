"""Real blob-node processes on loopback, and a `strata serve` that stores on them."""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from domain.placement import NodeRef
from infra.blobs.node_client import NodeClient, NodeError
from tests.conftest import Server, free_port, server_env, start_together

SECRET = "cluster-secret-for-tests-0123456789"


@dataclass
class Node:
    data_dir: Path
    port: int
    zone: str
    process: subprocess.Popen[bytes] | None = None
    node_id: str = ""
    _client: NodeClient | None = None
    tls: tuple[Path, Path] | None = None  # its certificate and key: it serves HTTPS

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> None:
        self._forget_client()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir.parent / f"node-{self.port}.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "infra.run.cli", "node", "--data-dir", str(self.data_dir),
                 "--port", str(self.port), "--zone", self.zone,
                 *(["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
                   if self.tls else [])],
                env=server_env(STRATA_CLUSTER_SECRET=SECRET), stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"blob node exited with {self.process.returncode}")
            try:
                self.node_id = str(self.client().health()["node_id"])
                self._forget_client()  # its reference now carries the node's id
                return
            except NodeError:
                time.sleep(0.1)
        raise TimeoutError("the blob node did not answer in time")

    def client(self) -> NodeClient:
        """One pooled client, made anew after each start (a restart drops connections)."""
        if self._client is None:
            verify = ssl.create_default_context(cafile=str(self.tls[0])) if self.tls else True
            self._client = NodeClient(NodeRef(self.node_id or "?", self.zone), self.url,
                                      SECRET, 5.0, verify)
        return self._client

    def _forget_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def kill(self) -> None:
        self._forget_client()
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        self._forget_client()
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def chunk_path(self, digest: str) -> Path:
        return self.data_dir / "chunks" / digest[:2] / digest


@dataclass
class Cluster:
    root: Path
    nodes: list[Node] = field(default_factory=list)
    server: Server | None = None

    def add_node(self, zone: str) -> Node:
        node = Node(self.root / f"node-{len(self.nodes)}", free_port(), zone)
        node.start()
        self.nodes.append(node)
        return node

    def register(self, node: Node) -> None:
        assert self.server is not None
        r = httpx.post(f"{self.server.api}/admin/nodes", json={"url": node.url},
                       headers=self.server.token(), timeout=30)
        assert r.status_code == 201, r.text

    def holders(self, digest: str) -> list[Node]:
        return [n for n in self.nodes if n.chunk_path(digest).exists()]

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        for node in self.nodes:
            node.stop()


def rot_in_place(path: Path, offset: int) -> None:
    """Flip one byte where it lies, as bit rot does: the file keeps its length and inode,
    so a node reading it at that moment (through a mapping) sees wrong bytes, not a
    shorter file (write_bytes truncates first, which no disk fault does)."""
    with path.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x55]))


def start_cluster(root: Path, zones: list[str], tls: tuple[Path, Path] | None = None,
                  **settings: str) -> Cluster:
    """Nodes in `zones` and a store on them; with `tls` (a certificate the store trusts as
    its CA, and its key) every node serves HTTPS."""
    cluster = Cluster(root)
    cluster.nodes = [Node(root / f"node-{i}", free_port(), zone, tls=tls)
                     for i, zone in enumerate(zones)]
    if tls is not None:
        settings = {"STRATA_NODE_CA": str(tls[0]), **settings}
    env = server_env(STRATA_BLOBS="nodes", STRATA_CLUSTER_SECRET=SECRET,
                     STRATA_NODE_PROBE_SECONDS="0.3", STRATA_NODE_DOWN_AFTER_SECONDS="1.5",
                     STRATA_REPLICATION_INTERVAL_SECONDS="1", STRATA_SCRUB_PER_SECOND="2000",
                     **settings)
    cluster.server = Server(root / "strata", free_port(), free_port(), env)
    try:
        start_together([*cluster.nodes, cluster.server])
    except BaseException:
        cluster.stop()
        raise
    for node in cluster.nodes:
        cluster.register(node)
    return cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = start_cluster(tmp_path, ["zone-a", "zone-b", "zone-c"])
    try:
        yield running
    finally:
        running.stop()
