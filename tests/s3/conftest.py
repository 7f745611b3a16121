"""One real `strata serve` per test module, and S3 clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from infra.tls import self_signed
from tests.conftest import ROOT_AK, ROOT_SK, Server, free_port, running, server_env

_names = count()


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("s3")
    srv = Server(root / "data", free_port(), free_port(),
                 server_env(STRATA_DOMAIN="localhost"))
    with running(srv):
        yield srv


def tls_server_at(root: Path, **env: str) -> Server:
    """A server (not yet started) on HTTPS with a certificate made under root/tls, its
    data in root/data; clients trust the certificate by its path."""
    cert, key = self_signed(root / "tls", ["127.0.0.1"])
    return Server(root / "data", free_port(), free_port(),
                  server_env(STRATA_TLS_CERT=str(cert), STRATA_TLS_KEY=str(key), **env),
                  scheme="https", verify=str(cert))


def make_client(server: Server, access_key: str = ROOT_AK, secret_key: str = ROOT_SK,
                **config: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.s3,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
        verify=config.pop("verify", server.verify),
        config=Config(s3={"addressing_style": config.pop("addressing_style", "path")},
                      retries={"max_attempts": 1}, **config),
    )


@pytest.fixture(scope="module")
def s3(s3_server: Server) -> Any:
    return make_client(s3_server)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"test-bucket-{next(_names)}"
    s3.create_bucket(Bucket=name)
    return name


def create_user_keys(server: Server, name: str) -> tuple[str, str]:
    """A new plain user with one access key: (access key, secret)."""
    import httpx

    access_key = ("K" + name.upper().replace("-", ""))[:16].ljust(16, "0") + "0001"
    secret = f"{name}-secret-0000000000000000000000000000"
    created = httpx.post(f"{server.api}/admin/users", headers=server.token(),
                         verify=server.http_verify,
                         json={"name": name, "access_key": access_key, "secret_key": secret})
    assert created.status_code == 201, created.text
    return access_key, secret
