"""Issue 22: geo-replication between two blob-node clusters. Site A keeps its chunks on
three blob nodes and so does site B; a scripted history on A reaches B whole, and B's
chunks lie on B's own nodes, replicated as B places them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.geo.sites import (
    admin,
    register,
    replicate,
    scripted_history,
    version_details,
    versioned_bucket,
    versions,
    wait_until_equal,
)
from tests.nodes.conftest import Cluster, start_cluster
from tests.s3.conftest import make_client

ZONES = ["zone-a", "zone-b", "zone-c"]


@pytest.fixture
def two_clusters(tmp_path: Path) -> Iterator[tuple[Cluster, Cluster]]:
    site_settings = {"STRATA_GEO_POLL_SECONDS": "0.2", "STRATA_GEO_RETRY_MAX_SECONDS": "1",
                     # chunks a site receives wait for the change naming them within the
                     # GC grace; the nodes' tests' 1 s is shorter than sending k4 takes
                     "STRATA_GC_GRACE_SECONDS": "60"}
    a = start_cluster(tmp_path / "a", ZONES, STRATA_SITE_NAME="site-a", **site_settings)
    try:
        b = start_cluster(tmp_path / "b", ZONES, STRATA_SITE_NAME="site-b", **site_settings)
    except BaseException:
        a.stop()
        raise
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.mark.slow  # eight processes: 35 s; the same history between two sites is in make test
def test_a_scripted_history_reaches_another_blob_node_cluster(
        two_clusters: tuple[Cluster, Cluster]) -> None:
    a, b = two_clusters
    assert a.server is not None and b.server is not None
    register(a.server, "site-b", b.server)
    versioned_bucket(a.server, "src")
    versioned_bucket(b.server, "dst")
    replicate(a.server, "src", "site-b", "dst")
    source, replica = make_client(a.server), make_client(b.server)
    scripted_history(source)

    wait_until_equal(lambda: versions(replica, "dst"), lambda: versions(source, "src"),
                     "ListObjectVersions on cluster B")
    assert version_details(replica, "dst") == version_details(source, "src")
    # every chunk of every version on B is on at least two of B's nodes (its quorum)
    listed = versions(replica, "dst")
    digests = set()
    with admin(b.server) as api:
        for key, version_id, *_ in listed:
            for event in api.get(f"/buckets/dst/history/{key}").json()["history"]:
                version = event["data"].get("version")
                if version and version["version_id"] == version_id:
                    digests |= {c["digest"] for c in version["chunks"]}
    assert len(digests) >= 5  # k4's 5 MiB part alone spans several 256 KiB chunks
    for digest in digests:
        assert len(b.holders(digest)) >= 2, digest
