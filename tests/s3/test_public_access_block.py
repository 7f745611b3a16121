"""The public access block through a real server (issue 24): a bucket's switches and
the operator's store-wide default override public ACLs and public policies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server, free_port, running, server_env
from tests.s3.conftest import make_client

PUBLIC_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "RESOURCE"}]}


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _public_policy(bucket: str) -> str:
    return json.dumps(PUBLIC_POLICY).replace("RESOURCE", f"arn:aws:s3:::{bucket}/*")


def _block(**switches: bool) -> dict[str, bool]:
    names = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    return {name: switches.get(name, False) for name in names}


def test_switches_are_kept_and_read_back(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as none:
        s3.get_public_access_block(Bucket=bucket)
    assert _code(none) == "NoSuchPublicAccessBlockConfiguration"
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=_block(
        BlockPublicAcls=True, RestrictPublicBuckets=True))
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == \
        _block(BlockPublicAcls=True, RestrictPublicBuckets=True)
    s3.delete_public_access_block(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_public_access_block(Bucket=bucket)


def test_ignore_public_acls_and_restrict_public_buckets_close_public_reads(
        s3_server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="acl", Body=b"a", ACL="public-read")
    url = f"{s3_server.s3}/{bucket}/acl"
    assert httpx.get(url).status_code == 200
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=_block(
        IgnorePublicAcls=True))
    assert httpx.get(url).status_code == 403
    s3.put_bucket_policy(Bucket=bucket, Policy=_public_policy(bucket))
    assert httpx.get(url).status_code == 200  # the policy still opens it
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=_block(
        IgnorePublicAcls=True, RestrictPublicBuckets=True))
    assert httpx.get(url).status_code == 403
    assert s3.get_object(Bucket=bucket, Key="acl")["Body"].read() == b"a"  # the owner


def test_block_public_acls_and_policy_refuse_making_things_public(s3: Any,
                                                                   bucket: str) -> None:
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=_block(
        BlockPublicAcls=True, BlockPublicPolicy=True))
    for attempt in (
        lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read"),
        lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read"),
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="m", ACL="public-read-write"),
        lambda: s3.put_bucket_policy(Bucket=bucket, Policy=_public_policy(bucket)),
    ):
        with pytest.raises(ClientError) as refused:
            attempt()
        assert _code(refused) == "AccessDenied"
    assert s3.list_objects_v2(Bucket=bucket).get("Contents", []) == []
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")  # private: fine
    s3.put_object(Bucket=bucket, Key="k2", Body=b"x")
    with pytest.raises(ClientError) as acl:
        s3.put_object_acl(Bucket=bucket, Key="k2", ACL="authenticated-read")
    assert _code(acl) == "AccessDenied"


@pytest.fixture(scope="module")
def blocked_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("pab")
    srv = Server(root / "data", free_port(), free_port(),
                 server_env(STRATA_PUBLIC_ACCESS_BLOCK="all"))
    with running(srv):
        yield srv


def test_the_store_wide_default_applies_to_every_bucket(blocked_store: Server) -> None:
    s3 = make_client(blocked_store)
    with pytest.raises(ClientError) as public_bucket:
        s3.create_bucket(Bucket="open-house", ACL="public-read")
    assert _code(public_bucket) == "AccessDenied"
    s3.create_bucket(Bucket="house")
    with pytest.raises(ClientError) as public_policy:
        s3.put_bucket_policy(Bucket="house", Policy=_public_policy("house"))
    assert _code(public_policy) == "AccessDenied"
    with pytest.raises(ClientError) as public_object:
        s3.put_object(Bucket="house", Key="k", Body=b"x", ACL="public-read")
    assert _code(public_object) == "AccessDenied"
    # a bucket cannot switch the operator's default off
    s3.put_public_access_block(Bucket="house", PublicAccessBlockConfiguration=_block())
    with pytest.raises(ClientError):
        s3.put_object(Bucket="house", Key="k", Body=b"x", ACL="public-read")


def test_a_bad_store_wide_default_stops_the_server_with_a_clear_error(tmp_path: Any) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "infra.run.cli", "serve", "--data-dir", str(tmp_path / "d"),
         "--api-port", str(free_port()), "--s3-port", str(free_port())],
        env=server_env(STRATA_PUBLIC_ACCESS_BLOCK="BlockEverything"), capture_output=True,
        text=True, timeout=60)
    assert done.returncode != 0
    assert "STRATA_PUBLIC_ACCESS_BLOCK" in done.stderr and "Traceback" not in done.stderr
