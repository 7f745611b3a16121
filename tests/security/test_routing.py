"""Requests are served only as what they are (issue 19, items 14 and 15)."""

from __future__ import annotations

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import ROOT_AK, ROOT_SK, Server
from tests.s3.conftest import make_client
from tests.security.conftest import fresh_bucket


def _signed(method: str, url: str) -> httpx.Response:
    request = AWSRequest(method, url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    SigV4Auth(Credentials(ROOT_AK, ROOT_SK), "s3", "us-east-1").add_auth(request)
    return httpx.request(method, request.url, headers=dict(request.headers.items()))


def test_anonymous_callers_cannot_override_response_headers(live: Server) -> None:
    s3 = make_client(live, signature_version="s3v4")
    bucket = fresh_bucket()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="note.txt", Body=b"<script>1</script>",
                  ContentType="text/plain", ACL="public-read")
    url = f"{live.s3}/{bucket}/note.txt"
    assert httpx.get(url).headers["content-type"] == "text/plain"
    refused = httpx.get(url, params={"response-content-type": "text/html"})
    assert refused.status_code == 400 and b"<Code>InvalidRequest</Code>" in refused.content
    signed = s3.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": "note.txt", "ResponseContentType": "text/html"})
    assert httpx.get(signed).headers["content-type"] == "text/html"
    injected = s3.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": "note.txt", "ResponseContentDisposition": "a\r\nset-cookie: x"})
    got = httpx.get(injected)
    assert got.status_code == 400 and "set-cookie" not in got.headers


def test_unknown_bucket_sub_resources_are_not_implemented(live: Server) -> None:
    bucket = fresh_bucket()
    make_client(live).create_bucket(Bucket=bucket)
    listen = _signed("GET", f"{live.s3}/{bucket}?events=s3%3AObjectCreated%3A%2A&prefix=")
    assert listen.status_code == 501 and b"NotImplemented" in listen.content
    assert b"ListBucketResult" not in listen.content
    other = fresh_bucket()
    made = _signed("PUT", f"{live.s3}/{other}?notification-stream")
    assert made.status_code == 501
    assert _signed("HEAD", f"{live.s3}/{other}").status_code == 404
    assert _signed("DELETE", f"{live.s3}/{bucket}?metrics-config").status_code == 501
    assert _signed("HEAD", f"{live.s3}/{bucket}").status_code == 200
    listing = _signed("GET", f"{live.s3}/{bucket}?list-type=2&prefix=a&max-keys=5")
    assert listing.status_code == 200 and b"ListBucketResult" in listing.content
