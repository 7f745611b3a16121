"""Processes sharing one PostgreSQL event store answer reads from their caches only
once their views have applied all the log held when the request began (decision 26):
whatever one process acknowledges, the next request to any other sees."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server, free_port, running, server_env
from tests.s3.conftest import make_client

pytestmark = pytest.mark.postgres


@pytest.fixture
def pair(tmp_path: Path, postgres_url: str) -> Iterator[tuple[Server, Server]]:
    env = server_env(STRATA_EVENT_STORE=postgres_url, STRATA_KEYS_DIR=str(tmp_path / "keys"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with running(Server(tmp_path / "a" / "data", free_port(), free_port(), env)) as first, \
            running(Server(tmp_path / "b" / "data", free_port(), free_port(), env)) as second:
        yield first, second


def test_a_write_through_one_process_is_read_at_once_through_the_other(
        pair: tuple[Server, Server]) -> None:
    first, second = pair
    writer: Any = make_client(first)
    reader: Any = make_client(second)
    writer.create_bucket(Bucket="shared")
    for n in range(40):
        # (each process keeps its own chunks here: the metadata is what they share)
        writer.put_object(Bucket="shared", Key="k", Body=b"x" * n, Metadata={"n": str(n)})
        # read twice: the first may fill the reader's cache, the second is served by it
        for _ in range(2):
            head = reader.head_object(Bucket="shared", Key="k")
            assert (head["Metadata"], head["ContentLength"]) == ({"n": str(n)}, n)
    writer.put_bucket_versioning(Bucket="shared",
                                 VersioningConfiguration={"Status": "Enabled"})
    assert reader.get_bucket_versioning(Bucket="shared")["Status"] == "Enabled"
    writer.delete_object(Bucket="shared", Key="k")
    with pytest.raises(ClientError) as gone:
        reader.head_object(Bucket="shared", Key="k")
    assert gone.value.response["Error"]["Code"] == "404"


def test_a_key_switched_off_through_one_process_is_refused_at_once_by_the_other(
        pair: tuple[Server, Server]) -> None:
    first, second = pair
    made = httpx.post(f"{first.api}/admin/users", headers=first.token(),
                      json={"name": "carol"}, timeout=10).json()
    carol: Any = make_client(second, made["access_key"], made["secret_key"])
    carol.create_bucket(Bucket="carols")
    for _ in range(3):  # its key and user now in the second process's cache
        carol.head_bucket(Bucket="carols")
    off = httpx.put(f"{first.api}/admin/keys/{made['access_key']}",
                    headers=first.token(), json={"active": False}, timeout=10)
    assert off.status_code == 200, off.text
    with pytest.raises(ClientError) as refused:
        carol.head_bucket(Bucket="carols")
    assert refused.value.response["Error"]["Code"] in ("403", "InvalidAccessKeyId")
