"""Presigned S3 requests for a bearer-token caller (the console's uploads, downloads and
shared links), against a real `strata serve`: the signer agrees with botocore's, every
operation's URL works at the S3 door (a multipart upload end to end), the console's
origin may make them from a browser, and nothing is signed for a caller the policy
function refuses or for a request out of bounds."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from api.s3 import sigv4
from tests.conftest import Server, free_port, running, server_env
from tests.s3.conftest import make_client


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module: each test its own buckets and users."""
    srv = Server(tmp_path_factory.mktemp("presign") / "data", free_port(), free_port(),
                 server_env())
    with running(srv):
        yield srv


def _user(server: Server, name: str) -> tuple[str, str]:
    """A new user's access key and secret."""
    access_key = f"AK{name.upper().replace('-', '')}".ljust(20, "0")[:20]
    secret = f"{name}-presign-secret-0000000000"
    r = httpx.post(f"{server.api}/admin/users", headers=server.token(), json={
        "name": name, "access_key": access_key, "secret_key": secret})
    assert r.status_code == 201, r.text
    return access_key, secret


def test_the_signer_agrees_with_botocore() -> None:
    url = "http://127.0.0.1:9000/photos/a%20b/%C3%A9t%C3%A9.jpg?partNumber=2&uploadId=u%2B1"
    request = AWSRequest(method="PUT", url=url, headers={})
    S3SigV4QueryAuth(Credentials("AKEXAMPLE", "secret/example"), "s3", "eu-west-1",
                     expires=900).add_auth(request)
    theirs = dict(parse_qsl(urlsplit(request.url).query))
    ours = dict(sigv4.presigned_query(
        sigv4.HttpRequest("PUT", "/photos/a b/été.jpg",
                          (("partNumber", "2"), ("uploadId", "u+1")),
                          {"host": "127.0.0.1:9000"}),
        sigv4.Credentials("AKEXAMPLE", "secret/example"), "eu-west-1",
        theirs["X-Amz-Date"], 900))
    assert ours == theirs


def _presign(server: Server, headers: dict[str, str], bucket: str, **body: object
             ) -> httpx.Response:
    return httpx.post(f"{server.api}/buckets/{bucket}/presign", headers=headers, json=body)


def _url(server: Server, headers: dict[str, str], bucket: str, **body: object) -> str:
    r = _presign(server, headers, bucket, **body)
    assert r.status_code == 200, r.text
    assert r.json()["url"].startswith(f"{server.s3}/{bucket}")
    return str(r.json()["url"])


def test_every_operation_works_at_the_s3_door(server: Server) -> None:
    root = server.token()
    s3 = make_client(server)
    s3.create_bucket(Bucket="signed")
    key = "folder/a file é.bin"
    put = _url(server, root, "signed", operation="put", key=key, expires_seconds=60)
    assert httpx.put(put, content=b"small body").status_code == 200
    get = _url(server, root, "signed", operation="get", key=key, download=True)
    fetched = httpx.get(get)
    assert fetched.content == b"small body"
    assert fetched.headers["content-disposition"] == \
        "attachment; filename*=UTF-8''a%20file%20%C3%A9.bin"

    created = httpx.post(_url(server, root, "signed", operation="create_upload", key="big"))
    upload_id = created.text.split("<UploadId>")[1].split("</UploadId>")[0]
    parts = [b"a" * (5 * 1024 * 1024), b"b" * 1000]
    etags = []
    for number, data in enumerate(parts, 1):
        answer = httpx.put(_url(server, root, "signed", operation="upload_part", key="big",
                                part_number=number, upload_id=upload_id), content=data)
        assert answer.status_code == 200, answer.text
        etags.append(answer.headers["etag"])
    listing = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"
                      for n, e in enumerate(etags, 1))
    done = httpx.post(_url(server, root, "signed", operation="complete_upload", key="big",
                           upload_id=upload_id),
                      content=f"<CompleteMultipartUpload>{listing}</CompleteMultipartUpload>")
    assert done.status_code == 200, done.text
    assert s3.get_object(Bucket="signed", Key="big")["Body"].read() == b"".join(parts)

    abandoned = s3.create_multipart_upload(Bucket="signed", Key="gone")["UploadId"]
    assert httpx.delete(_url(server, root, "signed", operation="abort_upload", key="gone",
                             upload_id=abandoned)).status_code == 204
    assert s3.list_multipart_uploads(Bucket="signed").get("Uploads", []) == []


def test_the_console_origin_may_call_the_s3_door_from_a_browser(server: Server) -> None:
    make_client(server).create_bucket(Bucket="browser")
    console = f"http://127.0.0.1:{server.api_port}"
    asked = {"access-control-request-method": "PUT",
             "access-control-request-headers": "content-type"}
    preflight = httpx.options(f"{server.s3}/browser/x", headers={"origin": console, **asked})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == console
    assert "PUT" in preflight.headers["access-control-allow-methods"]
    refused = httpx.options(f"{server.s3}/browser/x",
                            headers={"origin": "http://evil.example", **asked})
    assert refused.status_code == 403
    put = _url(server, server.token(), "browser", operation="put", key="x")
    answer = httpx.put(put, content=b"x", headers={"origin": console})
    assert answer.headers["access-control-allow-origin"] == console
    assert "ETag" in answer.headers["access-control-expose-headers"]
    other = httpx.put(put, content=b"y", headers={"origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_nothing_is_signed_for_a_refused_or_malformed_request(server: Server) -> None:
    root = server.token()
    bob = server.token(*_user(server, "refused"))
    s3 = make_client(server)
    s3.create_bucket(Bucket="roots")
    s3.put_object(Bucket="roots", Key="secret.txt", Body=b"mine")
    for operation in ("get", "put", "create_upload"):
        refused = _presign(server, bob, "roots", operation=operation, key="secret.txt")
        assert refused.status_code == 403 and refused.json()["error"] == "AccessDenied"
        assert "url" not in refused.json()
    # whether a key exists is told only to who may list the bucket
    assert _presign(server, bob, "roots", operation="get", key="nothing").status_code == 403
    assert _presign(server, root, "roots", operation="get", key="nothing").status_code == 404
    assert _presign(server, {}, "roots", operation="get", key="secret.txt").status_code == 401
    for body in ({"operation": "list", "key": "a"},
                 {"operation": "put", "key": ""},
                 {"operation": "put", "key": "a", "expires_seconds": 604801},
                 {"operation": "put", "key": "a", "expires_seconds": True},
                 {"operation": "upload_part", "key": "a", "part_number": 10001,
                  "upload_id": "u"},
                 {"operation": "upload_part", "key": "a", "part_number": 1},
                 {"operation": "complete_upload", "key": "a", "upload_id": "x" * 257},
                 {"operation": "get", "key": "a", "version_id": "v\n1"}):
        r = _presign(server, root, "roots", **body)
        assert r.status_code == 400, (body, r.text)


@pytest.mark.parametrize("change", ["deactivate", "delete"])
def test_a_url_dies_with_its_key(server: Server, change: str) -> None:
    root = server.token()
    access_key, secret = _user(server, f"dies-{change}")
    make_client(server, access_key, secret).create_bucket(Bucket=f"dies-{change}")
    url = _url(server, server.token(access_key, secret), f"dies-{change}", operation="put",
               key="k")
    if change == "deactivate":
        r = httpx.put(f"{server.api}/admin/keys/{access_key}", headers=root,
                      json={"active": False})
    else:
        r = httpx.delete(f"{server.api}/admin/keys/{access_key}", headers=root)
    assert r.status_code in (200, 204), r.text
    assert httpx.put(url, content=b"late").status_code == 403


def test_a_buckets_settings_as_s3_documents(server: Server) -> None:
    root = server.token()
    s3 = make_client(server)
    s3.create_bucket(Bucket="configured")
    cors = ("<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin>"
            "<AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>")
    put = _url(server, root, "configured", operation="put_setting", setting="cors")
    assert urlsplit(put).path == "/configured" and "cors=" in urlsplit(put).query
    assert httpx.put(put, content=cors).status_code == 200
    assert s3.get_bucket_cors(Bucket="configured")["CORSRules"][0]["AllowedOrigins"] == [
        "https://app.example"]
    got = httpx.get(_url(server, root, "configured", operation="get_setting", setting="cors"))
    assert "https://app.example" in got.text
    assert httpx.delete(_url(server, root, "configured", operation="delete_setting",
                             setting="cors")).status_code == 204
    assert httpx.get(_url(server, root, "configured", operation="get_setting",
                          setting="cors")).status_code == 404

    bob = server.token(*_user(server, "not-owner"))
    for operation in ("get_setting", "put_setting", "delete_setting"):
        refused = _presign(server, bob, "configured", operation=operation, setting="policy")
        assert refused.status_code == 403, operation
    for body in ({"operation": "put_setting", "setting": "website"},
                 {"operation": "put_setting"},
                 {"operation": "delete_setting", "setting": "object-lock"}):
        assert _presign(server, root, "configured", **body).status_code == 400, body
