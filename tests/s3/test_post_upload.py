"""Browser form uploads through a real server (issue 24): POST policies signed with
SigV4 and V2 by boto3's generate_presigned_post, their conditions, and S3's errors."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.s3.conftest import make_client


def _post(url: str, fields: dict[str, str], body: bytes, filename: str = "photo.jpg",
          **extra: str) -> httpx.Response:
    return httpx.post(url, data={**fields, **extra},
                      files={"file": (filename, body, "image/jpeg")}, timeout=60)


def _error(answer: httpx.Response) -> str:
    text = answer.text
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else text


@pytest.mark.parametrize("signature", ["s3v4", "s3"])
def test_a_signed_form_uploads_an_object(s3_server: Any, s3: Any, bucket: str,
                                         signature: str) -> None:
    signer = make_client(s3_server, signature_version=signature)
    post = signer.generate_presigned_post(
        bucket, "uploads/${filename}",
        Fields={"x-amz-meta-team": "web", "Content-Type": "image/jpeg"},
        Conditions=[["starts-with", "$key", "uploads/"], {"x-amz-meta-team": "web"},
                    ["content-length-range", 1, 10 * 1024 * 1024],
                    {"Content-Type": "image/jpeg"}])
    answer = _post(post["url"], post["fields"], b"jpeg bytes")
    assert answer.status_code == 204, answer.text
    head = s3.head_object(Bucket=bucket, Key="uploads/photo.jpg")
    assert head["Metadata"] == {"team": "web"} and head["ContentType"] == "image/jpeg"
    assert s3.get_object(Bucket=bucket, Key="uploads/photo.jpg")["Body"].read() == \
        b"jpeg bytes"


def test_status_and_redirect_answers(s3_server: Any, bucket: str) -> None:
    signer = make_client(s3_server, signature_version="s3v4")
    created = signer.generate_presigned_post(bucket, "a.txt",
                                             Fields={"success_action_status": "201"},
                                             Conditions=[{"success_action_status": "201"}])
    answer = _post(created["url"], created["fields"], b"x")
    assert answer.status_code == 201 and "<Key>a.txt</Key>" in answer.text
    redirect = "https://app.example.com/done"
    sent = signer.generate_presigned_post(bucket, "b.txt",
                                          Fields={"success_action_redirect": redirect},
                                          Conditions=[{"success_action_redirect": redirect}])
    answer = _post(sent["url"], sent["fields"], b"x")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(redirect + "?bucket=") and \
        "key=b.txt" in answer.headers["location"]


def test_a_large_file_streams_through(s3_server: Any, s3: Any, bucket: str) -> None:
    signer = make_client(s3_server, signature_version="s3v4")
    post = signer.generate_presigned_post(bucket, "big.bin")
    body = os.urandom(20 * 1024 * 1024 + 7)
    answer = _post(post["url"], post["fields"], body)
    assert answer.status_code == 204, answer.text
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ContentLength"] == len(body)


def _sign_v4_policy(s3_server: Any, bucket: str, document: dict[str, Any]) -> dict[str, str]:
    """A hand-made policy signed as boto3 signs them (for documents boto3 will not make)."""
    signer = make_client(s3_server, signature_version="s3v4")
    fields = signer.generate_presigned_post(bucket, "k")["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    credential = next(c["x-amz-credential"] for c in policy["conditions"]
                      if isinstance(c, dict) and "x-amz-credential" in c)
    amz_date = next(c["x-amz-date"] for c in policy["conditions"]
                    if isinstance(c, dict) and "x-amz-date" in c)
    document["conditions"] += [{"x-amz-algorithm": "AWS4-HMAC-SHA256"},
                               {"x-amz-credential": credential}, {"x-amz-date": amz_date}]
    from api.s3 import sigv4
    from tests.conftest import ROOT_SK

    encoded = base64.b64encode(json.dumps(document).encode()).decode()
    scope = sigv4.parse_credential(credential)
    return {"policy": encoded, "x-amz-algorithm": "AWS4-HMAC-SHA256",
            "x-amz-credential": credential, "x-amz-date": amz_date,
            "x-amz-signature": sigv4.sign(sigv4.signing_key(ROOT_SK, scope), encoded)}


def test_conditions_are_enforced_and_nothing_is_stored(s3_server: Any, s3: Any,
                                                       bucket: str) -> None:
    signer = make_client(s3_server, signature_version="s3v4")
    url = f"{s3_server.s3}/{bucket}"
    limited = signer.generate_presigned_post(
        bucket, "in/${filename}", Conditions=[["starts-with", "$key", "in/"],
                                              ["content-length-range", 2, 10]])
    cases = [
        (_post(url, {**limited["fields"], "key": "out/x"}, b"12345"), 403, "AccessDenied"),
        (_post(url, limited["fields"], b"x" * 11), 400, "EntityTooLarge"),
        (_post(url, limited["fields"], b"x"), 400, "EntityTooSmall"),
        (_post(url, limited["fields"], b"12345", **{"x-amz-meta-extra": "1"}), 403,
         "AccessDenied"),
        (_post(url, {**limited["fields"], "x-amz-signature": "0" * 64}, b"12345"), 403,
         "SignatureDoesNotMatch"),
        (_post(url, {k: v for k, v in limited["fields"].items() if k != "key"}, b"12345"),
         400, "InvalidArgument"),
    ]
    expired = _sign_v4_policy(s3_server, bucket, {
        "expiration": (datetime.now(UTC) - timedelta(minutes=1)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"), "conditions": [{"bucket": bucket}, {"key": "late"}]})
    cases.append((_post(url, {**expired, "key": "late"}, b"x"), 403, "AccessDenied"))
    for answer, status, code in cases:
        assert (answer.status_code, _error(answer)) == (status, code), answer.text
    assert s3.list_objects_v2(Bucket=bucket).get("Contents", []) == []
    answer = _post(url, limited["fields"], b"12345", filename="ok.txt")
    assert answer.status_code == 204, answer.text
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["in/ok.txt"]


def test_an_anonymous_form_needs_a_bucket_anyone_may_write(s3_server: Any, s3: Any,
                                                         bucket: str) -> None:
    url = f"{s3_server.s3}/{bucket}"
    denied = _post(url, {"key": "anon.txt"}, b"x")
    assert denied.status_code == 403 and _error(denied) == "AccessDenied"
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    allowed = _post(url, {"key": "anon.txt"}, b"x")
    assert allowed.status_code == 204, allowed.text
