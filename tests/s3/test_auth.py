"""Who may do what through the S3 door: signatures, presigned URLs, ACLs."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROOT_AK, Server
from tests.s3.conftest import make_client


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_wrong_secret_and_unknown_key_are_refused_and_nothing_stored(
    s3_server: Server, s3: Any, bucket: str
) -> None:
    wrong = make_client(s3_server, ROOT_AK, "not-the-secret-at-all")
    with pytest.raises(ClientError) as exc:
        wrong.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert _code(exc) == "SignatureDoesNotMatch"
    unknown = make_client(s3_server, "AKIANOSUCHKEY0000000", "whatever-secret")
    with pytest.raises(ClientError) as exc:
        unknown.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert _code(exc) == "InvalidAccessKeyId"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


@pytest.mark.parametrize("signature_version", ["s3", "s3v4"])
def test_presigned_urls_work_until_they_expire(
    s3_server: Server, bucket: str, signature_version: str
) -> None:
    s3 = make_client(s3_server, signature_version=signature_version)
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "p"},
                                        ExpiresIn=60)
    assert httpx.put(put_url, content=b"presigned body").status_code == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"},
                                        ExpiresIn=60)
    got = httpx.get(get_url)
    assert got.status_code == 200 and got.content == b"presigned body"
    tampered = get_url.replace("Key=p", "Key=q").replace(f"/{bucket}/p", f"/{bucket}/q")
    assert httpx.get(tampered).status_code == 403
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"},
                                        ExpiresIn=1)
    time.sleep(2.1)
    refused = httpx.get(expired)
    assert refused.status_code == 403
    assert b"<Code>AccessDenied</Code>" in refused.content
    assert b"Request has expired" in refused.content


def test_anonymous_access_follows_the_acl(s3_server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="doc", Body=b"public?")
    url = f"{s3_server.s3}/{bucket}/doc"
    denied = httpx.get(url)
    assert denied.status_code == 403 and b"<Code>AccessDenied</Code>" in denied.content
    assert "x-amz-request-id" in denied.headers
    assert httpx.put(f"{s3_server.s3}/{bucket}/anon", content=b"x").status_code == 403
    s3.put_object_acl(Bucket=bucket, Key="doc", ACL="public-read")
    assert httpx.get(url).content == b"public?"
    grants = s3.get_object_acl(Bucket=bucket, Key="doc")["Grants"]
    assert {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"} in [
        g["Grantee"] for g in grants]
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    listing = httpx.get(f"{s3_server.s3}/{bucket}?list-type=2")
    assert listing.status_code == 200 and b"<Key>doc</Key>" in listing.content
    assert httpx.get(f"{s3_server.s3}/").status_code == 403


def test_other_users_need_grants(s3_server: Server, s3: Any, bucket: str) -> None:
    created = httpx.post(f"{s3_server.api}/admin/users", headers=s3_server.token(), json={
        "name": "bob", "display_name": "Bob", "access_key": "BOBACCESSKEY00000001",
        "secret_key": "bob-secret-key-0000000001"})
    assert created.status_code == 201, created.text
    bob = make_client(s3_server, "BOBACCESSKEY00000001", "bob-secret-key-0000000001")
    s3.put_object(Bucket=bucket, Key="private", Body=b"mine")
    with pytest.raises(ClientError) as exc:
        bob.get_object(Bucket=bucket, Key="private")
    assert _code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        bob.delete_bucket(Bucket=bucket)
    assert _code(exc) == "AccessDenied"
    s3.put_object_acl(Bucket=bucket, Key="private", GrantRead='id="bob"')
    assert bob.get_object(Bucket=bucket, Key="private")["Body"].read() == b"mine"
    assert bucket not in [b["Name"] for b in bob.list_buckets()["Buckets"]]


def test_virtual_host_addressing(s3_server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="vhost/key", Body=b"by host")
    got = httpx.get(f"{s3_server.s3}/vhost/key", headers={"host": f"{bucket}.localhost"})
    assert got.status_code == 403  # anonymous, private: addressed, then refused
    s3.put_object_acl(Bucket=bucket, Key="vhost/key", ACL="public-read")
    got = httpx.get(f"{s3_server.s3}/vhost/key", headers={"host": f"{bucket}.localhost"})
    assert got.content == b"by host"


def test_acl_xml_round_trips_and_bad_grants_are_refused(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="shared", Body=b"x")
    owner = {"ID": "root", "DisplayName": "root"}
    policy = {"Owner": owner, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", "ID": "root"}, "Permission": "FULL_CONTROL"},
        {"Grantee": {"Type": "CanonicalUser", "ID": "carol"}, "Permission": "READ"},
        {"Grantee": {"Type": "Group",
                     "URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"},
         "Permission": "READ_ACP"},
    ]}
    s3.put_object_acl(Bucket=bucket, Key="shared", AccessControlPolicy=policy)
    got = s3.get_object_acl(Bucket=bucket, Key="shared")
    assert got["Owner"]["ID"] == "root"
    assert {(g["Grantee"].get("ID") or g["Grantee"].get("URI"), g["Permission"])
            for g in got["Grants"]} == {
        ("root", "FULL_CONTROL"), ("carol", "READ"),
        ("http://acs.amazonaws.com/groups/global/AuthenticatedUsers", "READ_ACP")}
    bad = {"Owner": owner, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", "ID": "carol"}, "Permission": "EVERYTHING"}]}
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy=bad)
    assert _code(exc) == "MalformedACLError"
    assert s3.get_bucket_acl(Bucket=bucket)["Grants"] == [
        {"Grantee": {"Type": "CanonicalUser", "ID": "root", "DisplayName": "root"},
         "Permission": "FULL_CONTROL"}]
