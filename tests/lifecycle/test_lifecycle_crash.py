"""Object lock survives a lifecycle run killed part way and a view rebuild (issue 23):
nothing locked is removed, everything due that is not locked goes once the server is
back, and the rebuilt views say the same as the live ones."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import Server, free_port, server_env, wait_until
from tests.s3.conftest import make_client

KEYS = 300


def _state(s3: Any, bucket: str) -> tuple[set[tuple[str, str]], set[str]]:
    """(key, version id) of every version, and the keys with a delete marker."""
    versions: set[tuple[str, str]] = set()
    markers: set[str] = set()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        versions |= {(v["Key"], v["VersionId"]) for v in page.get("Versions", [])}
        markers |= {m["Key"] for m in page.get("DeleteMarkers", [])}
    return versions, markers


def test_locked_versions_survive_a_killed_lifecycle_run_and_a_rebuild(tmp_path: Path) -> None:
    env = server_env(STRATA_LIFECYCLE_DAY_SECONDS="1")
    server = Server(tmp_path / "data", free_port(), free_port(), env)
    server.start()
    try:
        s3 = make_client(server)
        s3.create_bucket(Bucket="vault", ObjectLockEnabledForBucket=True)
        until = datetime.now(UTC) + timedelta(days=1)
        locked: set[tuple[str, str]] = set()
        unlocked: set[tuple[str, str]] = set()
        for i in range(KEYS):
            key = f"k{i:04d}"
            lock: dict[str, Any] = (
                {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": until}
                if i % 3 == 0 else
                {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": until}
                if i % 3 == 1 else {"ObjectLockLegalHoldStatus": "ON"})
            locked.add((key, s3.put_object(Bucket="vault", Key=key, Body=b"old " + key.encode(),
                                           **lock)["VersionId"]))
            unlocked.add((key, s3.put_object(Bucket="vault", Key=key, Body=b"mid")["VersionId"]))
            unlocked.add((key, s3.put_object(Bucket="vault", Key=key, Body=b"new")["VersionId"]))
        s3.put_bucket_lifecycle_configuration(Bucket="vault", LifecycleConfiguration={
            "Rules": [{"ID": "all", "Status": "Enabled", "Filter": {},
                       "Expiration": {"Days": 1},
                       "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]})

        def acted() -> bool:
            versions, markers = _state(s3, "vault")
            return bool(markers) or len(versions) < 3 * KEYS

        wait_until(acted, 60, "the lifecycle never started")
        # part way through its pass: it has 600 things to do (a trial run found 59 done)
        server.kill()
        server.start()

        def settled() -> bool:
            versions, markers = _state(s3, "vault")
            return len(markers) == KEYS and versions == locked

        wait_until(settled, 120, lambda: "the lifecycle did not finish after the restart: "
                   f"{len(_state(s3, 'vault')[0])} versions left")
        live = _state(s3, "vault")
        server.stop()
        rebuilt = subprocess.run(
            [sys.executable, "-m", "infra.run.cli", "projections", "rebuild", "--data-dir",
             str(server.data_dir)], env=env, capture_output=True, text=True, timeout=300)
        assert rebuilt.returncode == 0, rebuilt.stderr
        server.start()
        assert _state(s3, "vault") == live
        for key, version_id in sorted(locked)[:: KEYS // 10]:
            body = s3.get_object(Bucket="vault", Key=key, VersionId=version_id)["Body"].read()
            assert body == b"old " + key.encode()
        assert not unlocked & live[0]
    finally:
        server.stop()
