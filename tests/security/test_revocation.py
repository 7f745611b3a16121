"""Keys and users can be revoked, and their tokens with them (issue 19, items 9 and 19)."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server
from tests.s3.conftest import make_client
from tests.security.conftest import new_user


def _can_list(server: Server, headers: dict[str, str]) -> int:
    return httpx.get(f"{server.api}/buckets", headers=headers).status_code


def test_rotating_a_secret_revokes_the_tokens_issued_with_the_old_one(live: Server) -> None:
    alice = new_user(live, "alice")
    assert _can_list(live, alice.headers) == 200
    time.sleep(0.01)  # the rotation is stamped after the token was issued
    rotated = httpx.post(f"{live.api}/admin/keys/{alice.access_key}/rotate",
                         headers=live.token())
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret_key"]
    assert len(new_secret) >= 20
    assert _can_list(live, alice.headers) == 401
    assert _can_list(live, live.token(alice.access_key, new_secret)) == 200
    with pytest.raises(ClientError):
        alice.s3.list_buckets()  # the old secret no longer signs
    make_client(live, alice.access_key, new_secret).list_buckets()


def test_a_deactivated_key_is_refused_until_activated(live: Server) -> None:
    alice = new_user(live, "alice")
    key_url = f"{live.api}/admin/keys/{alice.access_key}"
    assert httpx.put(key_url, json={"active": False}, headers=live.token()).status_code == 200
    assert _can_list(live, alice.headers) == 401
    with pytest.raises(ClientError) as refused:
        alice.s3.list_buckets()
    assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert httpx.post(f"{live.api}/auth/token", json={
        "access_key": alice.access_key, "secret_key": alice.secret_key}).status_code == 401
    assert httpx.put(key_url, json={"active": True}, headers=live.token()).status_code == 200
    alice.s3.list_buckets()
    assert _can_list(live, alice.headers) == 401  # a token from before stays refused
    assert _can_list(live, live.token(alice.access_key, alice.secret_key)) == 200


def test_deleting_a_key_or_a_user_refuses_them_at_once(live: Server) -> None:
    alice, bob = new_user(live, "alice"), new_user(live, "bob")
    extra = httpx.post(f"{live.api}/admin/users/{alice.name}/keys", headers=live.token()).json()
    assert httpx.delete(f"{live.api}/admin/keys/{alice.access_key}",
                        headers=live.token()).status_code == 200
    assert _can_list(live, alice.headers) == 401
    assert _can_list(live, live.token(extra["access_key"], extra["secret_key"])) == 200
    bob.s3.create_bucket(Bucket="bobs-after-deletion")
    assert httpx.delete(f"{live.api}/admin/users/{bob.name}",
                        headers=live.token()).status_code == 200
    assert _can_list(live, bob.headers) == 401
    with pytest.raises(ClientError):
        bob.s3.list_buckets()
    again = httpx.post(f"{live.api}/admin/users", json={"name": bob.name}, headers=live.token())
    assert again.status_code == 409  # the name stays taken: it owns buckets still
    assert make_client(live).head_bucket(Bucket="bobs-after-deletion")


def test_identity_rules_for_new_users_and_keys(live: Server) -> None:
    root = live.token()
    for name in ("anonymous", "Anonymous", "strata"):
        made = httpx.post(f"{live.api}/admin/users", json={"name": name}, headers=root)
        assert made.status_code == 400, name
    short = httpx.post(f"{live.api}/admin/users", headers=root, json={
        "name": "shortsecret", "access_key": "SHORTSECRETKEY0001", "secret_key": "8chars!!"})
    assert short.status_code == 400 and "20" in short.json()["message"]


def test_the_cli_manages_users_and_keys(live: Server) -> None:
    from tests.conftest import ROOT_AK, ROOT_SK, server_env

    def strata(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "infra.run.cli", *args, "--url", live.api,
             "--access-key", ROOT_AK, "--secret-key", ROOT_SK],
            env=server_env(), capture_output=True, text=True, timeout=60)

    made = strata("user", "create", "carol")
    assert made.returncode == 0, made.stderr
    fields = dict(line.split("\t", 1) for line in made.stdout.splitlines())
    carol = live.token(fields["access_key"], fields["secret_key"])
    assert _can_list(live, carol) == 200
    assert strata("key", "deactivate", fields["access_key"]).returncode == 0
    assert _can_list(live, carol) == 401
    assert strata("user", "delete", "carol").returncode == 0
    gone = strata("key", "activate", fields["access_key"])
    assert gone.returncode == 1 and "InvalidAccessKeyId" in gone.stderr
