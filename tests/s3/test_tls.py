"""TLS on both doors (issue 25, in transit): an operator's certificate or a development
one; boto3, presigned URLs and the native API over HTTPS with verification on, and
aws:SecureTransport true for the bucket policy."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server, free_port, running, server_env
from tests.s3.conftest import make_client, tls_server_at


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = tls_server_at(tmp_path_factory.mktemp("tls"))
    with running(srv):
        yield srv


def test_boto3_presigned_urls_and_the_native_api_over_https(tls_server: Server) -> None:
    s3 = make_client(tls_server, verify=tls_server.verify)
    s3.create_bucket(Bucket="secure")
    s3.put_object(Bucket="secure", Key="k", Body=b"over tls")
    assert s3.get_object(Bucket="secure", Key="k")["Body"].read() == b"over tls"
    for signature in ("s3v4", "s3"):
        signer = make_client(tls_server, verify=tls_server.verify, signature_version=signature)
        url = signer.generate_presigned_url("get_object", Params={"Bucket": "secure",
                                                                  "Key": "k"})
        assert url.startswith("https://")
        assert httpx.get(url, verify=tls_server.http_verify).content == b"over tls"
    listed = httpx.get(f"{tls_server.api}/buckets", headers=tls_server.token(),
                       verify=tls_server.http_verify)
    assert [b["name"] for b in listed.json()["buckets"]] == ["secure"]


def test_verification_is_on_and_plain_http_is_not_served(tls_server: Server) -> None:
    with pytest.raises(httpx.ConnectError) as unverified:
        httpx.get(f"{tls_server.api}/healthz")  # the system's CAs do not know this one
    assert isinstance(unverified.value.__context__, ssl.SSLError) or \
        "CERTIFICATE_VERIFY_FAILED" in str(unverified.value)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{tls_server.s3_port}/", timeout=5)


def test_secure_transport_is_true_over_tls(tls_server: Server) -> None:
    s3 = make_client(tls_server, verify=tls_server.verify)
    s3.create_bucket(Bucket="tls-only")
    s3.put_bucket_policy(Bucket="tls-only", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": ["arn:aws:s3:::tls-only", "arn:aws:s3:::tls-only/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
    s3.put_object(Bucket="tls-only", Key="k", Body=b"allowed")
    assert s3.get_object(Bucket="tls-only", Key="k")["Body"].read() == b"allowed"


def test_a_development_certificate_is_made_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cert = data / "keys" / "tls-self-signed.crt"
    srv = Server(data, free_port(), free_port(), server_env(STRATA_TLS_SELF_SIGNED="1"),
                 scheme="https", verify=str(cert))
    srv.start()
    try:
        first = cert.read_bytes()
        s3: Any = make_client(srv, verify=str(cert))
        s3.create_bucket(Bucket="dev")
    finally:
        srv.stop()
    srv.start()
    try:
        assert cert.read_bytes() == first  # kept: clients that trust it go on working
        assert [b["Name"] for b in make_client(srv, verify=str(cert)).list_buckets()[
            "Buckets"]] == ["dev"]
    finally:
        srv.stop()


def test_half_a_tls_setting_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infra.run.cli", "serve", "--data-dir", str(tmp_path / "d"),
         "--api-port", str(free_port()), "--s3-port", str(free_port()),
         "--tls-cert", str(tmp_path / "missing.crt")],
        env=server_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "STRATA_TLS_KEY" in done.stderr and "Traceback" not in done.stderr


def test_a_stop_does_not_wait_for_idle_tls_clients(tmp_path: Path) -> None:
    """An idle pooled client never answers the TLS close handshake: asyncio would wait
    30 s for it on every stop. Idle connections are dropped instead."""
    import signal

    server = tls_server_at(tmp_path)
    server.start()
    try:
        s3 = make_client(server)
        s3.create_bucket(Bucket="idle")  # leaves a kept-alive connection in boto3's pool
        assert server.process is not None
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(10) == 0
    finally:
        server.stop()
