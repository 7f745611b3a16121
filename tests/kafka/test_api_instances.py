"""Two API instances over one PostgreSQL store, their views fed from Kafka."""

from __future__ import annotations

from tests.conftest import ROOT_AK, ROOT_SK, Server
from tests.s3.conftest import make_client


def s3(server: Server):  # type: ignore[no-untyped-def]
    return make_client(server, ROOT_AK, ROOT_SK)


def test_a_put_through_one_instance_is_listed_at_once_by_the_other(
    two_apis: list[Server],
) -> None:
    a, b = (s3(server) for server in two_apis)
    a.create_bucket(Bucket="shared")
    for i in range(20):
        a.put_object(Bucket="shared", Key=f"k{i:02d}", Body=f"v{i}".encode())
        listed = b.list_objects_v2(Bucket="shared")["Contents"]
        assert [o["Key"] for o in listed][-1] == f"k{i:02d}"
        assert b.get_object(Bucket="shared", Key=f"k{i:02d}")["Body"].read() == f"v{i}".encode()
