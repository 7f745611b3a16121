"""Whoever holds a signature can do only what was signed (issue 19, items 2 and 12)."""

from __future__ import annotations

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import ROOT_AK, ROOT_SK, Server
from tests.s3.conftest import make_client
from tests.security.conftest import fresh_bucket, new_user


def test_a_presigned_put_refuses_headers_it_did_not_sign(live: Server) -> None:
    alice, bob = new_user(live, "alice"), new_user(live, "bob")
    private, mine = fresh_bucket(), fresh_bucket()
    root = make_client(live)
    root.create_bucket(Bucket=private)
    root.put_object(Bucket=private, Key="payroll", Body=b"salaries")
    alice.s3.create_bucket(Bucket=mine)
    # The signer is root, who can read everything; the URL names only alice's bucket.
    root.put_bucket_acl(Bucket=mine, GrantWrite=f"id={bob.name}",
                        GrantFullControl=f"id={alice.name}")
    signer = make_client(live, signature_version="s3v4")
    url = signer.generate_presigned_url("put_object", Params={"Bucket": mine, "Key": "drop"},
                                      ExpiresIn=300)
    smuggled = httpx.put(url, content=b"", headers={
        "x-amz-copy-source": f"/{private}/payroll", "x-amz-acl": "public-read"})
    assert smuggled.status_code == 403 and b"AccessDenied" in smuggled.content
    assert b"not signed" in smuggled.content
    assert httpx.get(f"{live.s3}/{mine}/drop").status_code in (403, 404)
    assert "Contents" not in alice.s3.list_objects_v2(Bucket=mine)
    assert httpx.put(url, content=b"as signed").status_code == 200


def test_header_signatures_must_cover_every_amz_header(live: Server) -> None:
    bucket = fresh_bucket()
    make_client(live).create_bucket(Bucket=bucket)
    request = AWSRequest("PUT", f"{live.s3}/{bucket}/k", data=b"body",
                         headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    SigV4Auth(Credentials(ROOT_AK, ROOT_SK), "s3", "us-east-1").add_auth(request)
    headers = dict(request.headers.items())
    assert httpx.put(request.url, content=b"body", headers=headers).status_code == 200
    headers["x-amz-acl"] = "public-read"
    refused = httpx.put(request.url, content=b"body", headers=headers)
    assert refused.status_code == 403 and b"x-amz-acl" in refused.content
    assert httpx.get(f"{live.s3}/{bucket}/k").status_code == 403  # still private


@pytest.mark.parametrize("expires", ["-5", "0", "9" * 5000, "99999999999", "abc"])
def test_sigv2_presigned_expiry_is_checked_without_a_server_error(
    live: Server, expires: str
) -> None:
    bucket = fresh_bucket()
    make_client(live).create_bucket(Bucket=bucket)
    got = httpx.get(f"{live.s3}/{bucket}/k", params={
        "AWSAccessKeyId": ROOT_AK, "Signature": "bm90LWEtc2lnbmF0dXJl", "Expires": expires})
    assert 400 <= got.status_code < 500 and b"<Code>" in got.content


def test_sigv2_presigned_urls_live_at_most_seven_days(live: Server) -> None:
    bucket = fresh_bucket()
    s3 = make_client(live)  # presigns with SigV2 in us-east-1
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    week = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"},
                                     ExpiresIn=7 * 24 * 3600 - 60)
    assert httpx.get(week).status_code == 200
    longer = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"},
                                       ExpiresIn=8 * 24 * 3600)
    assert "AWSAccessKeyId=" in longer
    refused = httpx.get(longer)
    assert refused.status_code in (400, 403) and b"604800" in refused.content
