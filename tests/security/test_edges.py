"""The smaller edges of issue 19, item 19: sign-in throttling, a token for /metrics,
and presigned signatures kept out of the access log."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ROOT_AK, ROOT_SK, Server, free_port, running, server_env
from tests.s3.conftest import make_client

METRICS_TOKEN = "metrics-token-for-tests-000000000"


@pytest.fixture(scope="module")
def edged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("edges")
    env = {**server_env(STRATA_METRICS_TOKEN=METRICS_TOKEN), "STRATA_LOG_LEVEL": "info"}
    srv = Server(root / "data", free_port(), free_port(), env)
    with running(srv):
        yield srv


def test_failed_sign_ins_are_throttled_per_key(edged: Server) -> None:
    made = httpx.post(f"{edged.api}/admin/users", json={"name": "target"},
                      headers=edged.token()).json()
    url = f"{edged.api}/auth/token"
    wrong = {"access_key": made["access_key"], "secret_key": "guess-guess-guess-guess"}
    answers = [httpx.post(url, json=wrong).status_code for _ in range(12)]
    assert answers[:10] == [401] * 10 and answers[10:] == [429, 429]
    right = httpx.post(url, json={"access_key": made["access_key"],
                                  "secret_key": made["secret_key"]})
    assert right.status_code == 429 and right.json()["error"] == "SlowDown"
    assert int(right.headers["retry-after"]) >= 1
    assert httpx.post(url, json={"access_key": ROOT_AK, "secret_key": ROOT_SK}).status_code \
        == 200  # another key from the same source still signs in


def test_metrics_wants_its_token_when_one_is_set(edged: Server) -> None:
    assert httpx.get(f"{edged.api}/metrics").status_code == 401
    assert httpx.get(f"{edged.api}/metrics",
                     headers={"authorization": "Bearer wrong"}).status_code == 401
    got = httpx.get(f"{edged.api}/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert got.status_code == 200 and "strata_" in got.text


def test_the_access_log_keeps_no_presigned_signature(edged: Server) -> None:
    s3 = make_client(edged, signature_version="s3v4")
    s3.create_bucket(Bucket="logged")
    s3.put_object(Bucket="logged", Key="k", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "logged", "Key": "k"})
    v2 = make_client(edged).generate_presigned_url("get_object",
                                                   Params={"Bucket": "logged", "Key": "k"})
    assert httpx.get(url).status_code == 200 and httpx.get(v2).status_code == 200
    signature = url.split("X-Amz-Signature=")[1].split("&")[0]
    v2_signature = v2.split("Signature=")[1].split("&")[0]
    log = (edged.data_dir.parent / f"serve-{edged.api_port}.log").read_text()
    assert "X-Amz-Signature=REDACTED" in log
    assert signature not in log and v2_signature not in log
