"""Bucket policies through a real server, with boto3 and raw requests (issue 24)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.s3.conftest import create_user_keys, make_client


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _put_policy(s3: Any, bucket: str, *statements: dict[str, Any]) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": list(statements)}))


@pytest.fixture(scope="module")
def bob(s3_server: Any) -> Any:
    access_key, secret = create_user_keys(s3_server, "bob-policy")
    return make_client(s3_server, access_key, secret)


def test_a_public_read_policy_opens_reads_and_nothing_else(s3_server: Any, s3: Any,
                                                           bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="pub/a.txt", Body=b"hello")
    anonymous = httpx.get(f"{s3_server.s3}/{bucket}/pub/a.txt")
    assert anonymous.status_code == 403
    _put_policy(s3, bucket, {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
                             "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"})
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0][
        "Sid"] == "PublicRead"
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    got = httpx.get(f"{s3_server.s3}/{bucket}/pub/a.txt")
    assert got.status_code == 200 and got.content == b"hello"
    assert httpx.head(f"{s3_server.s3}/{bucket}/pub/a.txt").status_code == 200
    assert httpx.put(f"{s3_server.s3}/{bucket}/pub/b.txt", content=b"x").status_code == 403
    assert httpx.get(f"{s3_server.s3}/{bucket}?list-type=2").status_code == 403
    assert httpx.delete(f"{s3_server.s3}/{bucket}/pub/a.txt").status_code == 403
    s3.delete_bucket_policy(Bucket=bucket)
    assert httpx.get(f"{s3_server.s3}/{bucket}/pub/a.txt").status_code == 403
    with pytest.raises(ClientError) as gone:
        s3.get_bucket_policy(Bucket=bucket)
    assert _code(gone) == "NoSuchBucketPolicy"


def test_a_prefix_restricted_to_one_user(s3: Any, bob: Any, bucket: str) -> None:
    _put_policy(s3, bucket,
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam:::user/bob-policy"},
                 "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                 "Resource": f"arn:aws:s3:::{bucket}/home/bob-policy/*"},
                {"Effect": "Allow", "Principal": {"AWS": "bob-policy"},
                 "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
                 "Condition": {"StringLike": {"s3:prefix": "home/bob-policy/*"}}})
    bob.put_object(Bucket=bucket, Key="home/bob-policy/notes.txt", Body=b"mine")
    assert bob.get_object(Bucket=bucket, Key="home/bob-policy/notes.txt")["Body"].read() \
        == b"mine"
    listed = bob.list_objects_v2(Bucket=bucket, Prefix="home/bob-policy/")
    assert [o["Key"] for o in listed["Contents"]] == ["home/bob-policy/notes.txt"]
    for attempt in (
        lambda: bob.put_object(Bucket=bucket, Key="home/alice/x", Body=b"no"),
        lambda: bob.list_objects_v2(Bucket=bucket, Prefix="home/"),
        lambda: bob.list_objects_v2(Bucket=bucket),
        lambda: bob.get_bucket_policy(Bucket=bucket),
        lambda: bob.put_bucket_policy(Bucket=bucket, Policy="{}"),
    ):
        with pytest.raises(ClientError) as denied:
            attempt()
        assert _code(denied) == "AccessDenied"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="home/alice/")


def test_deny_without_tls_binds_even_the_owner_who_keeps_the_policy(s3: Any,
                                                                   bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    _put_policy(s3, bucket, {"Sid": "TLSOnly", "Effect": "Deny", "Principal": "*",
                             "Action": "s3:*", "Resource": [f"arn:aws:s3:::{bucket}",
                                                            f"arn:aws:s3:::{bucket}/*"],
                             "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    with pytest.raises(ClientError) as denied:
        s3.get_object(Bucket=bucket, Key="k")
    assert _code(denied) == "AccessDenied"
    with pytest.raises(ClientError):
        s3.put_object(Bucket=bucket, Key="k2", Body=b"x")
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    s3.delete_bucket_policy(Bucket=bucket)  # the owner keeps the right to change it
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_an_ip_condition(s3_server: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    _put_policy(s3, bucket, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                             "Resource": f"arn:aws:s3:::{bucket}/*",
                             "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}})
    assert httpx.get(f"{s3_server.s3}/{bucket}/k").status_code == 403  # from 127.0.0.1
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    _put_policy(s3, bucket, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                             "Resource": f"arn:aws:s3:::{bucket}/*",
                             "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}})
    assert httpx.get(f"{s3_server.s3}/{bucket}/k").status_code == 200
    _put_policy(s3, bucket, {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                             "Resource": f"arn:aws:s3:::{bucket}/*",
                             "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}})
    with pytest.raises(ClientError) as denied:
        s3.get_object(Bucket=bucket, Key="k")
    assert _code(denied) == "AccessDenied"


def test_not_principal_denies_everyone_else(s3: Any, bob: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_bucket_acl(Bucket=bucket, GrantRead="id=bob-policy")
    s3.put_object_acl(Bucket=bucket, Key="k", GrantRead="id=bob-policy")
    assert bob.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"  # by the ACLs
    _put_policy(s3, bucket, {"Effect": "Deny", "NotPrincipal": {"AWS": "root"},
                             "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"})
    with pytest.raises(ClientError) as denied:
        bob.get_object(Bucket=bucket, Key="k")
    assert _code(denied) == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_tag_conditions(s3: Any, bob: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="open", Body=b"o", Tagging="share=yes")
    s3.put_object(Bucket=bucket, Key="closed", Body=b"c", Tagging="share=no")
    _put_policy(s3, bucket,
                {"Effect": "Allow", "Principal": {"AWS": "bob-policy"},
                 "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
                 "Condition": {"StringEquals": {"s3:ExistingObjectTag/share": "yes"}}},
                {"Effect": "Allow", "Principal": {"AWS": "bob-policy"},
                 "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*",
                 "Condition": {"StringEquals": {"s3:RequestObjectTag/owner": "bob"}}})
    assert bob.get_object(Bucket=bucket, Key="open")["Body"].read() == b"o"
    with pytest.raises(ClientError) as closed:
        bob.get_object(Bucket=bucket, Key="closed")
    assert _code(closed) == "AccessDenied"
    bob.put_object(Bucket=bucket, Key="bobs", Body=b"b", Tagging="owner=bob")
    with pytest.raises(ClientError) as untagged:
        bob.put_object(Bucket=bucket, Key="other", Body=b"b")
    assert _code(untagged) == "AccessDenied"


@pytest.mark.parametrize(("document", "reason"), [
    ("{not json", "valid JSON"),
    (json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:Fly",
                                "Resource": "*"}]}), "invalid action"),
    (json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                "Resource": "arn:aws:s3:::someone-else/*"}]}),
     "invalid resource"),
])
def test_a_malformed_policy_is_refused_with_its_reason(s3: Any, bucket: str, document: str,
                                                       reason: str) -> None:
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_policy(Bucket=bucket, Policy=document)
    assert _code(refused) == "MalformedPolicy"
    assert reason.lower() in refused.value.response["Error"]["Message"].lower()
    with pytest.raises(ClientError) as none:
        s3.get_bucket_policy(Bucket=bucket)
    assert _code(none) == "NoSuchBucketPolicy"


def test_delete_objects_asks_the_policy_for_each_key(s3: Any, bob: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="mine/a", Body=b"x")
    s3.put_object(Bucket=bucket, Key="theirs/b", Body=b"x")
    _put_policy(s3, bucket, {"Effect": "Allow", "Principal": {"AWS": "bob-policy"},
                             "Action": "s3:DeleteObject",
                             "Resource": f"arn:aws:s3:::{bucket}/mine/*"})
    answer = bob.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "mine/a"},
                                                                   {"Key": "theirs/b"}]})
    assert [d["Key"] for d in answer.get("Deleted", [])] == ["mine/a"]
    assert [(e["Key"], e["Code"]) for e in answer.get("Errors", [])] == [
        ("theirs/b", "AccessDenied")]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["theirs/b"]


def test_the_native_door_obeys_the_same_policy(s3_server: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="pub/a", Body=b"public")
    s3.put_object(Bucket=bucket, Key="secret/b", Body=b"secret")
    api, root = s3_server.api, s3_server.token()
    assert httpx.get(f"{api}/buckets/{bucket}/objects/pub/a").status_code == 403
    _put_policy(s3, bucket,
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                 "Resource": f"arn:aws:s3:::{bucket}/pub/*"},
                {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
                 "Resource": f"arn:aws:s3:::{bucket}/*"})
    public = httpx.get(f"{api}/buckets/{bucket}/objects/pub/a")
    assert public.status_code == 200 and public.content == b"public"
    assert httpx.get(f"{api}/buckets/{bucket}/objects/secret/b").status_code == 403
    refused = httpx.delete(f"{api}/buckets/{bucket}/objects/pub/a", headers=root)
    assert refused.status_code == 403, refused.text  # the owner's delete, denied
    assert s3.get_object(Bucket=bucket, Key="pub/a")["Body"].read() == b"public"
