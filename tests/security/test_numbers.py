"""Numbers and times a request brings are bounded: a 4xx, never a 500 (issue 19, item 12)."""

from __future__ import annotations

import httpx
import pytest

from api.numbers import BEYOND, digits_value, whole_number
from tests.conftest import Server
from tests.s3.conftest import make_client
from tests.security.conftest import fresh_bucket

HUGE = "9" * 5000
FAR_PAST = "0001-01-01T00:00:00+14:00"
FAR_FUTURE = "9999-12-31T23:59:59-14:00"


@pytest.fixture(scope="module")
def bucket(live: Server) -> str:
    name = fresh_bucket()
    s3 = make_client(live)
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"0123456789")
    return name


@pytest.mark.parametrize("header", [f"bytes={HUGE}-", f"bytes=0-{HUGE}", f"bytes=-{HUGE}",
                                    "bytes=²-3", "bytes=1-²"])
def test_ranges_with_long_or_foreign_digits(live: Server, bucket: str, header: str) -> None:
    s3 = make_client(live)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    sent = header.encode("latin-1")  # as a client would send a byte the server reads so
    for got in (httpx.get(url, headers={"range": sent}),
                httpx.get(f"{live.api}/buckets/{bucket}/k",
                          headers={"range": sent, **live.token()})):
        assert got.status_code in (200, 206, 416), (header, got.status_code, got.text[:200])
        if got.status_code == 200:
            assert got.content == b"0123456789"
    whole_from = httpx.get(url, headers={"range": f"bytes=0-{HUGE}"})
    assert whole_from.status_code == 206 and whole_from.content == b"0123456789"
    assert httpx.get(url, headers={"range": f"bytes={HUGE}-"}).status_code == 416


def test_a_huge_part_number_in_complete_multipart_upload(live: Server, bucket: str) -> None:
    s3 = make_client(live)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1,
                          Body=b"part")["ETag"]
    body = (f"<CompleteMultipartUpload><Part><PartNumber>{HUGE}</PartNumber>"
            f"<ETag>{etag}</ETag></Part></CompleteMultipartUpload>")
    url = s3.generate_presigned_url("complete_multipart_upload", Params={
        "Bucket": bucket, "Key": "mp", "UploadId": upload})
    got = httpx.post(url, content=body)
    assert 400 <= got.status_code < 500, got.text[:300]
    part_url = s3.generate_presigned_url("upload_part", Params={
        "Bucket": bucket, "Key": "mp", "UploadId": upload, "PartNumber": 1})
    assert 400 <= httpx.put(part_url.replace("partNumber=1", f"partNumber={HUGE}"),
                            content=b"x").status_code < 500


@pytest.mark.parametrize("path, params", [
    ("/buckets/{b}/k", {"as_of": FAR_PAST}),
    ("/buckets/{b}/k", {"as_of": FAR_FUTURE}),
    ("/buckets/{b}/list", {"as_of": FAR_PAST}),
    ("/buckets/{b}/inventory", {"as_of": FAR_PAST}),
    ("/audit", {"since": FAR_PAST}),
    ("/audit", {"until": FAR_FUTURE}),
    ("/audit", {"after": HUGE}),
    ("/events", {"after": HUGE, "follow": "false"}),
    ("/events", {"after": "²", "follow": "false"}),
    ("/buckets/{b}/list", {"limit": HUGE}),
])
def test_times_and_positions_far_out_of_range(
    live: Server, bucket: str, path: str, params: dict[str, str]
) -> None:
    got = httpx.get(live.api + path.format(b=bucket), params=params, headers=live.token())
    assert got.status_code < 500, (path, params, got.status_code, got.text[:300])
    assert len(got.content) < 10_000 or got.status_code == 200


def test_whole_numbers_are_ascii_digits_of_bounded_length() -> None:
    assert whole_number("0") == 0 and whole_number("9" * 19) == int("9" * 19)
    for bad in (None, "", "9" * 20, HUGE, "²", "\u0661", "-1", "+1", " 1", "1 ", "0x1", "1e3"):
        assert whole_number(bad) is None, bad
    assert whole_number("12345", 4) is None
    assert digits_value(HUGE) == BEYOND and digits_value("42") == 42
