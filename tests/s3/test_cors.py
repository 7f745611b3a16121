"""CORS through a real server (issue 24): the rules kept, preflight and actual requests
answered from them, and a real browser (Debian's chromium, headless) calling strata
with fetch from a page served on another loopback origin: a presigned PUT and GET, a
refused bucket, and a form POST upload."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server, free_port
from tests.s3.conftest import make_client


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _cors(s3: Any, bucket: str, *rules: dict[str, Any]) -> None:
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": list(rules)})


def test_rules_are_kept_checked_and_removed(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as none:
        s3.get_bucket_cors(Bucket=bucket)
    assert _code(none) == "NoSuchCORSConfiguration"
    rule = {"ID": "web", "AllowedOrigins": ["https://*.example.com"],
            "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}
    _cors(s3, bucket, rule)
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == [rule]
    for bad in ({"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]},
                {"AllowedOrigins": ["https://*.*.example.com"], "AllowedMethods": ["GET"]},
                {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": ["*-*"]}):
        with pytest.raises(ClientError) as refused:
            _cors(s3, bucket, bad)
        assert _code(refused) == "InvalidArgument"
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == [rule]
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_cors(Bucket=bucket)


def test_preflight_and_actual_requests(s3_server: Server, s3: Any, bucket: str) -> None:
    _cors(s3, bucket, {"AllowedOrigins": ["https://app.example.com"],
                       "AllowedMethods": ["GET", "PUT"],
                       "AllowedHeaders": ["content-type", "x-amz-*"],
                       "ExposeHeaders": ["ETag", "x-amz-version-id"], "MaxAgeSeconds": 300})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = f"{s3_server.s3}/{bucket}/k"
    allowed = httpx.options(url, headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "Content-Type, X-Amz-Meta-Team"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "PUT" in allowed.headers["access-control-allow-methods"]
    assert allowed.headers["access-control-allow-headers"] == "content-type, x-amz-meta-team"
    assert allowed.headers["access-control-max-age"] == "300"
    assert "Origin" in allowed.headers["vary"]
    for origin, method, headers in (("https://evil.example.net", "GET", ""),
                                    ("https://app.example.com", "DELETE", ""),
                                    ("https://app.example.com", "PUT", "Authorization2")):
        refused = httpx.options(url, headers={
            "Origin": origin, "Access-Control-Request-Method": method,
            **({"Access-Control-Request-Headers": headers} if headers else {})})
        assert refused.status_code == 403, (origin, method)
        assert "access-control-allow-origin" not in refused.headers
    actual = httpx.get(s3.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": "k"}), headers={"Origin": "https://app.example.com"})
    assert actual.status_code == 200
    assert actual.headers["access-control-allow-origin"] == "https://app.example.com"
    assert actual.headers["access-control-expose-headers"] == "ETag, x-amz-version-id"
    assert "Origin" in actual.headers["vary"]
    other = httpx.get(url, headers={"Origin": "https://evil.example.net"})
    assert "access-control-allow-origin" not in other.headers
    no_cors = httpx.options(f"{s3_server.s3}/no-such-bucket/k", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"})
    assert no_cors.status_code == 403


class _Page(BaseHTTPRequestHandler):
    """Serves the test page and takes its report."""

    page: ClassVar[bytes] = b""
    reports: ClassVar[list[dict[str, Any]]] = []  # each test makes a subclass of its own
    reported: ClassVar[threading.Event] = threading.Event()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.page)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        type(self).reports.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()
        type(self).reported.set()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def page_server() -> Iterator[tuple[str, type[_Page]]]:
    handler = type("Page", (_Page,), {"reports": [], "reported": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _browse(url: str, profile: Path, handler: type[_Page]) -> dict[str, Any]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed; `make client-tools` installs it (Debian: "
                    "apt-get install chromium)")
    browser = subprocess.Popen(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={profile}", "--disable-dev-shm-usage", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert handler.reported.wait(90), "the page never reported back"
    finally:
        browser.kill()
        browser.wait(10)
    return handler.reports[0]


PAGE = """<!doctype html><meta charset="utf-8"><script>
(async () => {
  const results = {};
  try {
    const put = await fetch(%(put)s, {method: "PUT", body: "written by a browser"});
    results.put = put.status;
    const get = await fetch(%(get)s);
    results.get = get.status;
    results.body = await get.text();
    results.etag = get.headers.get("ETag");
    const form = new FormData();
    for (const [name, value] of Object.entries(%(post_fields)s)) form.append(name, value);
    form.append("file", new Blob(["posted from a form"], {type: "text/plain"}), "note.txt");
    const posted = await fetch(%(post_url)s, {method: "POST", body: form});
    results.post = posted.status;
  } catch (error) { results.error = String(error); }
  try { await fetch(%(denied)s); results.denied = "answered"; }
  catch (error) { results.denied = "blocked by CORS"; }
  await fetch("/report", {method: "POST", body: JSON.stringify(results)});
})();
</script>"""


def test_a_browser_page_calls_strata_with_fetch(s3_server: Server, s3: Any, bucket: str,
                                               page_server: tuple[str, type[_Page]],
                                               tmp_path: Path) -> None:
    origin, handler = page_server
    _cors(s3, bucket, {"AllowedOrigins": [origin], "AllowedMethods": ["GET", "PUT", "POST"],
                       "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"]})
    other = bucket + "-no-cors"
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=other, Key="k", Body=b"x")
    # SigV4 query signatures sign the host only: the browser adds its own Content-Type
    signer = make_client(s3_server, signature_version="s3v4")
    put = signer.generate_presigned_url("put_object", Params={"Bucket": bucket,
                                                              "Key": "web.txt"})
    get = signer.generate_presigned_url("get_object", Params={"Bucket": bucket,
                                                              "Key": "web.txt"})
    denied = signer.generate_presigned_url("get_object", Params={"Bucket": other, "Key": "k"})
    post = signer.generate_presigned_post(bucket, "forms/${filename}",
                                          Conditions=[["starts-with", "$key", "forms/"]])
    handler.page = (PAGE % {"put": json.dumps(put), "get": json.dumps(get),
                            "denied": json.dumps(denied), "post_url": json.dumps(post["url"]),
                            "post_fields": json.dumps(post["fields"])}).encode()
    report = _browse(origin + "/", tmp_path / "profile", handler)
    assert report.get("error") is None, report
    assert report["put"] == 200 and report["get"] == 200
    assert report["body"] == "written by a browser"
    assert report["etag"] and report["etag"].startswith('"')  # exposed by the rule
    assert report["denied"] == "blocked by CORS"
    assert report["post"] == 204
    assert s3.get_object(Bucket=bucket, Key="forms/note.txt")["Body"].read() == \
        b"posted from a form"
    assert s3.get_object(Bucket=bucket, Key="web.txt")["Body"].read() == b"written by a browser"
