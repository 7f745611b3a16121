"""SigV4 against the signature examples AWS publishes in the S3 API reference."""

from __future__ import annotations

import hashlib

import pytest

from api.s3.sigv4 import (
    EMPTY_SHA256,
    STREAMING_SIGNED,
    HttpRequest,
    MalformedAuthorization,
    Scope,
    canonical_request,
    chunk_string_to_sign,
    parse_authorization,
    sign,
    signing_key,
    string_to_sign,
)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SCOPE = Scope("AKIAIOSFODNN7EXAMPLE", "20130524", "us-east-1", "s3")
DATE = "20130524T000000Z"
HOST = "examplebucket.s3.amazonaws.com"


def _signature(request: HttpRequest, payload: str, skip: str | None = None) -> str:
    names = tuple(sorted(request.headers))
    canonical = canonical_request(request, names, payload, skip)
    return sign(signing_key(SECRET, SCOPE), string_to_sign(DATE, SCOPE, canonical))


EXAMPLES = [
    pytest.param(
        HttpRequest("GET", "/test.txt", (), {
            "host": HOST, "range": "bytes=0-9", "x-amz-content-sha256": EMPTY_SHA256,
            "x-amz-date": DATE}),
        EMPTY_SHA256,
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        id="GetObject",
    ),
    pytest.param(
        HttpRequest("PUT", "/test$file.text", (), {
            "date": "Fri, 24 May 2013 00:00:00 GMT", "host": HOST,
            "x-amz-content-sha256": hashlib.sha256(b"Welcome to Amazon S3.").hexdigest(),
            "x-amz-date": DATE, "x-amz-storage-class": "REDUCED_REDUNDANCY"}),
        hashlib.sha256(b"Welcome to Amazon S3.").hexdigest(),
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        id="PutObject",
    ),
    pytest.param(
        HttpRequest("GET", "/", (("lifecycle", ""),), {
            "host": HOST, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": DATE}),
        EMPTY_SHA256,
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        id="GetBucketLifecycle",
    ),
    pytest.param(
        HttpRequest("GET", "/", (("prefix", "J"), ("max-keys", "2")), {
            "host": HOST, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": DATE}),
        EMPTY_SHA256,
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        id="ListObjects",
    ),
]


@pytest.mark.parametrize(("request_", "payload", "expected"), EXAMPLES)
def test_header_signatures_match_the_published_examples(
    request_: HttpRequest, payload: str, expected: str
) -> None:
    assert _signature(request_, payload) == expected


def test_presigned_url_signature_matches_the_published_example() -> None:
    query = (
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"),
        ("X-Amz-Date", DATE),
        ("X-Amz-Expires", "86400"),
        ("X-Amz-SignedHeaders", "host"),
        ("X-Amz-Signature", "ignored by the canonical form"),
    )
    request = HttpRequest("GET", "/test.txt", query, {"host": HOST})
    assert _signature(request, "UNSIGNED-PAYLOAD", skip="X-Amz-Signature") == (
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )


def test_aws_chunked_signatures_chain_as_in_the_published_example() -> None:
    request = HttpRequest("PUT", "/examplebucket/chunkObject.txt", (), {
        "content-encoding": "aws-chunked", "content-length": "66824", "host": "s3.amazonaws.com",
        "x-amz-content-sha256": STREAMING_SIGNED, "x-amz-date": DATE,
        "x-amz-decoded-content-length": "66560", "x-amz-storage-class": "REDUCED_REDUNDANCY"})
    seed = _signature(request, STREAMING_SIGNED)
    assert seed == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    key = signing_key(SECRET, SCOPE)
    previous, chain = seed, []
    for data in (b"a" * 65536, b"a" * 1024, b""):
        previous = sign(key, chunk_string_to_sign(
            DATE, SCOPE, previous, hashlib.sha256(data).hexdigest()))
        chain.append(previous)
    assert chain == [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ]


def test_authorization_header_parses_into_scope_headers_and_signature() -> None:
    auth = parse_authorization(
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-date, Signature=abc")
    assert auth.scope == SCOPE
    assert auth.signed_headers == ("host", "range", "x-amz-date")
    assert auth.signature == "abc"


@pytest.mark.parametrize("header", [
    "AWS AKIAIOSFODNN7EXAMPLE:signature",
    "AWS4-HMAC-SHA256 Credential=AKIA/20130524/us-east-1/s3, SignedHeaders=host, Signature=a",
    "AWS4-HMAC-SHA256 Credential=AKIA/20130524/us-east-1/s3/aws4_request, Signature=a",
    "AWS4-HMAC-SHA256 Credential=AKIA/20130524/us-east-1/s3/aws4_request, "
    "SignedHeaders=x-amz-date, Signature=a",
])
def test_malformed_authorization_headers_are_refused(header: str) -> None:
    with pytest.raises(MalformedAuthorization):
        parse_authorization(header)
