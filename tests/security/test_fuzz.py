"""Generated requests against the S3 door and its parsers (issue 19): whatever arrives,
never a 500, never a hang, and nothing stored when the request is refused.

Examples are derandomized (the same ones every run) and bounded in number, so the
suite's time stays fixed; each HTTP request has its own timeout, so a hang fails.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.s3 import sigv4
from api.s3.payload import Body, _decode_chunks
from api.s3.xml import parse
from domain.errors import StrataError
from tests.conftest import ROOT_AK, ROOT_SK, Server, free_port, metric_value, server_env
from tests.s3.conftest import make_client

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
FUZZ_HTTP = settings(FUZZ, max_examples=100)  # each example is three requests
TIMEOUT = httpx.Timeout(10.0)  # a request that takes longer counts as a hang
BUCKET = "fuzzed"

printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
anything = st.text(max_size=40)
QUERY_NAMES = ["acl", "versioning", "uploads", "uploadId", "partNumber", "versionId", "delete",
               "list-type", "prefix", "delimiter", "max-keys", "continuation-token", "marker",
               "location", "tagging", "policy", "events", "response-content-type",
               "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
               "X-Amz-SignedHeaders", "X-Amz-Signature", "AWSAccessKeyId", "Signature",
               "Expires", "max-parts", "part-number-marker", "key-marker", "x-id"]
HEADER_NAMES = ["authorization", "x-amz-date", "x-amz-content-sha256", "range", "content-md5",
                "x-amz-copy-source", "x-amz-acl", "x-amz-meta-a", "content-type", "if-match",
                "if-none-match", "if-modified-since", "x-amz-decoded-content-length",
                "content-encoding", "x-amz-trailer", "x-amz-checksum-crc32",
                "x-amz-sdk-checksum-algorithm", "x-amz-grant-read", "x-amz-copy-source-range",
                "date", "x-amz-metadata-directive", "x-amz-checksum-mode"]
AUTHORIZATIONS = st.one_of(
    printable,
    st.builds(lambda cred, heads, sig: f"AWS4-HMAC-SHA256 Credential={cred}, "
              f"SignedHeaders={heads}, Signature={sig}",
              st.sampled_from([f"{ROOT_AK}/20261207/us-east-1/s3/aws4_request", ROOT_AK, "",
                               f"{ROOT_AK}/x/y/z/w/v"]) | printable,
              st.sampled_from(["host;x-amz-date", "host", "", ";;"]) | printable,
              printable),
    st.builds(lambda ak, sig: f"AWS {ak}:{sig}", st.sampled_from([ROOT_AK, ""]) | printable,
              printable),
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, list[tuple[str, str]], dict[str, str], bytes]:
    method = draw(st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD"]))
    bucket = draw(st.sampled_from([BUCKET, "", "nosuchbucket", "x"]) | anything)
    key = draw(st.sampled_from(["", "k", "a/b/c"]) | anything)
    path = "/" + quote(bucket, safe="") + ("/" + quote(key, safe="/") if key else "")
    query = draw(st.lists(st.tuples(st.sampled_from(QUERY_NAMES) | printable,
                                    st.sampled_from(["", "1", "9" * 30, "-1"]) | printable),
                          max_size=4))
    names = draw(st.lists(st.sampled_from(HEADER_NAMES), max_size=6, unique=True))
    # A client library sends no header value with white space at its ends.
    headers = {name: draw(AUTHORIZATIONS if name == "authorization" else printable).strip()
               for name in names}
    body = draw(st.binary(max_size=512) | st.sampled_from([
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>",
        b"<Delete><Object><Key>k</Key></Object></Delete>",
        b"<!DOCTYPE x [<!ENTITY a 'b'>]><Delete>&a;</Delete>",
        b"0;chunk-signature=00\r\n\r\n",
    ]))
    return method, path, query, headers, body


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own whose log moves only with requests: no GC sweep is due while
    the examples run (a sweep is an event of its own)."""
    root = tmp_path_factory.mktemp("fuzz")
    srv = Server(root / "data", free_port(), free_port(),
                 {**server_env(), "STRATA_GC_GRACE_SECONDS": "86400"})
    srv.start()
    make_client(srv).create_bucket(Bucket=BUCKET)
    try:
        yield srv
    finally:
        srv.stop()


def _position(server: Server) -> float:
    return metric_value(httpx.get(f"{server.api}/metrics").text, "strata_log_position")


def _send(server: Server, method: str, path: str, query: list[tuple[str, str]],
          headers: dict[str, str], body: bytes) -> httpx.Response:
    with httpx.Client(timeout=TIMEOUT) as client:
        request = client.build_request(method, server.s3 + path, params=query, content=body,
                                       headers=headers)
        return client.send(request)


@FUZZ_HTTP
@given(request=requests())
def test_the_s3_door_answers_any_request_without_a_server_error(
    fuzzed: Server, request: tuple[str, str, list[tuple[str, str]], dict[str, str], bytes]
) -> None:
    before = _position(fuzzed)
    got = _send(fuzzed, *request)
    assert got.status_code != 500, (request, got.text[:300])
    if got.status_code >= 400:
        assert _position(fuzzed) == before, (request, got.status_code)


@st.composite
def signed_requests(draw: st.DrawFn) -> AWSRequest:
    """Requests that pass authentication, so what follows it meets the generated parts."""
    kind = draw(st.sampled_from(["acl", "delete", "versioning", "complete", "chunked", "put"]))
    body = draw(st.binary(max_size=400) | st.text(max_size=200).map(str.encode))
    url, method, headers = f"https://example/{BUCKET}", "PUT", {}
    if kind == "acl":
        url += "?acl"
    elif kind == "delete":
        url, method = url + "?delete", "POST"
    elif kind == "versioning":
        url += "?versioning"
    elif kind == "complete":
        url, method = url + "/k?uploadId=" + quote(draw(printable), safe=""), "POST"
    elif kind == "chunked":
        url += "/chunked"
        headers = {"content-encoding": "aws-chunked", "x-amz-trailer": "x-amz-checksum-crc32",
                   "x-amz-decoded-content-length": draw(st.sampled_from(["0", "5", "999"])),
                   "x-amz-content-sha256": sigv4.STREAMING_UNSIGNED_TRAILER}
    else:
        url += "/" + quote(draw(st.text(min_size=1, max_size=30)), safe="")
        headers = {"x-amz-meta-" + draw(st.sampled_from(["a", "b-c"])): draw(printable).strip(),
                   "content-type": draw(printable).strip()}
    headers.setdefault("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
    return AWSRequest(method, url, data=body, headers=headers)


@FUZZ_HTTP
@given(request=signed_requests())
def test_signed_requests_with_generated_bodies_fail_cleanly_or_store(
    fuzzed: Server, request: AWSRequest
) -> None:
    request.url = request.url.replace("https://example", fuzzed.s3)
    SigV4Auth(Credentials(ROOT_AK, ROOT_SK), "s3", "us-east-1").add_auth(request)
    before = _position(fuzzed)
    with httpx.Client(timeout=TIMEOUT) as client:
        got = client.request(request.method, request.url, content=request.body,
                             headers=dict(request.headers.items()))
    assert got.status_code != 500, (request.url, request.body, got.text[:300])
    if got.status_code >= 400:
        assert _position(fuzzed) == before, (request.url, got.status_code, got.text[:300])


@FUZZ
@given(text=anything | printable)
def test_authorization_parsers_refuse_only_with_their_own_error(text: str) -> None:
    for parse_one in (sigv4.parse_authorization, sigv4.parse_credential):
        with contextlib.suppress(sigv4.MalformedAuthorization):
            parse_one(text)


@FUZZ
@given(body=st.binary(max_size=600) | st.text(max_size=300).map(str.encode))
def test_the_xml_reader_refuses_only_as_malformed_xml(body: bytes) -> None:
    for root in ("Delete", "CompleteMultipartUpload", "AccessControlPolicy"):
        with contextlib.suppress(StrataError):
            parse(body, root)


async def _pieces(data: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    start = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        yield data[start:cut]
        start = cut
    yield data[start:]


@FUZZ
@given(data=st.binary(max_size=300) | st.sampled_from([
           b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
           b"-5\r\n", b"0x5\r\nhello\r\n", b"ffffffffffffffffff\r\n"]),
       cuts=st.lists(st.integers(0, 400), max_size=5),
       mode=st.sampled_from([sigv4.STREAMING_UNSIGNED_TRAILER, sigv4.STREAMING_SIGNED]))
def test_the_chunked_decoder_refuses_only_with_protocol_errors(
    data: bytes, cuts: list[int], mode: str
) -> None:
    async def decode() -> None:
        body = Body(_pieces(data, cuts), None)
        async for _ in _decode_chunks(_pieces(data, cuts), None, mode, body):
            pass

    with contextlib.suppress(StrataError):
        asyncio.run(asyncio.wait_for(decode(), 5))
