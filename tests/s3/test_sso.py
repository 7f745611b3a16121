"""Single sign-on (issue 24): a small OpenID Connect issuer of the test's own on loopback
(discovery, JWKS, RS256 ID tokens); strata verifies its tokens on the native door and
trades them for temporary S3 credentials through STS AssumeRoleWithWebIdentity, used
with boto3. Expired tokens, other issuers and other audiences are refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import jwt
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import Server, free_port, running, server_env
from tests.oidc_issuer import CLIENT_ID, Issuer


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with Issuer() as found:
        yield found


@pytest.fixture(scope="module")
def other_issuer() -> Iterator[Issuer]:
    """An issuer strata does not trust."""
    with Issuer() as found:
        yield found


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory: pytest.TempPathFactory, issuer: Issuer) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("sso")
    srv = Server(root / "data", free_port(), free_port(), server_env(
        STRATA_OIDC_ISSUER=issuer.url, STRATA_OIDC_CLIENT_ID=CLIENT_ID,
        STRATA_OIDC_ADMIN_GROUP="storage-admins"))
    with running(srv):
        yield srv


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_an_id_token_signs_in_to_the_native_api(sso_server: Server, issuer: Issuer) -> None:
    api = sso_server.api
    created = httpx.put(f"{api}/buckets/carols", headers=_bearer(issuer.token("carol")))
    assert created.status_code == 201, created.text
    assert created.json()["owner"] == "carol"
    listed = httpx.get(f"{api}/buckets", headers=_bearer(issuer.token("carol")))
    assert [b["name"] for b in listed.json()["buckets"]] == ["carols"]
    other = httpx.get(f"{api}/buckets/carols", headers=_bearer(issuer.token("dave")))
    assert other.status_code == 403
    admin = httpx.get(f"{api}/audit", headers=_bearer(issuer.token(
        "erin", groups=("storage-admins",))))
    assert admin.status_code == 200, admin.text
    not_admin = httpx.get(f"{api}/audit", headers=_bearer(issuer.token("dave")))
    assert not_admin.status_code == 403


@pytest.mark.parametrize("bad", ["expired", "other issuer", "other audience", "tampered",
                                 "no user"])
def test_tokens_strata_must_refuse(sso_server: Server, issuer: Issuer,
                                   other_issuer: Issuer, bad: str) -> None:
    token = {
        "expired": lambda: issuer.token(lifetime=-60),
        "other issuer": lambda: other_issuer.token(),
        "other audience": lambda: issuer.token(audience="someone-else"),
        "tampered": lambda: issuer.token()[:-4] + "AAAA",
        "no user": lambda: issuer.token(preferred_username=None),
    }[bad]()
    answer = httpx.get(f"{sso_server.api}/buckets", headers=_bearer(token))
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "Unauthorized"


def test_a_rotated_key_is_fetched_when_a_token_names_it(sso_server: Server,
                                                        issuer: Issuer) -> None:
    assert httpx.get(f"{sso_server.api}/buckets",
                     headers=_bearer(issuer.token())).status_code == 200
    issuer.rotate()
    answer = httpx.get(f"{sso_server.api}/buckets", headers=_bearer(issuer.token()))
    assert answer.status_code == 200, answer.text


def _sts(server: Server) -> Any:
    return boto3.client("sts", endpoint_url=server.s3, region_name="us-east-1",
                        aws_access_key_id="unused", aws_secret_access_key="unused",
                        config=Config(retries={"max_attempts": 1}))


def test_sts_credentials_work_with_boto3(sso_server: Server, issuer: Issuer) -> None:
    answer = _sts(sso_server).assume_role_with_web_identity(
        RoleArn="arn:aws:iam::000000000000:role/strata", RoleSessionName="frank",
        WebIdentityToken=issuer.token("frank"), DurationSeconds=900)
    credentials = answer["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert answer["SubjectFromWebIdentityToken"] == "sub-frank"
    s3 = boto3.client("s3", endpoint_url=sso_server.s3, region_name="us-east-1",
                      aws_access_key_id=credentials["AccessKeyId"],
                      aws_secret_access_key=credentials["SecretAccessKey"],
                      aws_session_token=credentials["SessionToken"],
                      config=Config(s3={"addressing_style": "path"},
                                    retries={"max_attempts": 1}))
    s3.create_bucket(Bucket="franks")
    s3.put_object(Bucket="franks", Key="k", Body=b"by a session")
    assert s3.get_object(Bucket="franks", Key="k")["Body"].read() == b"by a session"
    assert s3.get_bucket_acl(Bucket="franks")["Owner"]["ID"] == "frank"
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "franks", "Key": "k"})
    fetched = httpx.get(url)
    assert fetched.content == b"by a session", fetched.text
    without_token = boto3.client(
        "s3", endpoint_url=sso_server.s3, region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as refused:
        without_token.list_objects_v2(Bucket="franks")
    assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_an_expired_session_and_bad_identity_tokens_are_refused(
        sso_server: Server, issuer: Issuer, other_issuer: Issuer) -> None:
    sts = _sts(sso_server)
    for token, code in ((issuer.token(lifetime=-60), "ExpiredTokenException"),
                        (other_issuer.token(), "InvalidIdentityToken")):
        with pytest.raises(ClientError) as refused:
            sts.assume_role_with_web_identity(RoleArn="arn:aws:iam::0:role/strata",
                                              RoleSessionName="xy", WebIdentityToken=token)
        assert refused.value.response["Error"]["Code"] == code
    # a session whose time is up: its token says so, signed as strata signs sessions
    answer = sts.assume_role_with_web_identity(
        RoleArn="arn:aws:iam::0:role/strata", RoleSessionName="grace",
        WebIdentityToken=issuer.token("grace"), DurationSeconds=900)["Credentials"]
    from infra.keys import token_signing_key

    key = token_signing_key(sso_server.data_dir / "keys")
    claims = jwt.decode(answer["SessionToken"], key, algorithms=["HS256"])
    claims.update(exp=int(time.time()) - 5, iat=int(time.time()) - 1000)
    expired = jwt.encode(claims, key, algorithm="HS256")
    s3 = boto3.client("s3", endpoint_url=sso_server.s3, region_name="us-east-1",
                      aws_access_key_id=answer["AccessKeyId"],
                      aws_secret_access_key=answer["SecretAccessKey"],
                      aws_session_token=expired,
                      config=Config(s3={"addressing_style": "path"},
                                    retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as late:
        s3.list_buckets()
    assert late.value.response["Error"]["Code"] == "ExpiredToken"
