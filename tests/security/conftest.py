"""One real `strata serve` per module, with users made through the native admin API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from typing import Any

import httpx
import pytest

from tests.conftest import Server, free_port, running, server_env
from tests.s3.conftest import make_client

_names = count()


@dataclass(frozen=True)
class User:
    name: str
    access_key: str
    secret_key: str
    headers: dict[str, str]  # a bearer token for the native door
    s3: Any  # a boto3 client


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("security")
    srv = Server(root / "data", free_port(), free_port(), server_env())
    with running(srv):
        yield srv


def new_user(server: Server, prefix: str = "user") -> User:
    name = f"{prefix}{next(_names)}"
    made = httpx.post(f"{server.api}/admin/users", json={"name": name},
                      headers=server.token())
    made.raise_for_status()
    ak, sk = made.json()["access_key"], made.json()["secret_key"]
    return User(name, ak, sk, server.token(ak, sk), make_client(server, ak, sk))


def fresh_bucket() -> str:
    return f"sec-bucket-{next(_names)}"
