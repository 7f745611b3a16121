"""Bearer tokens for the native door: JWTs signed with the data dir's token key."""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable

import jwt
from starlette.requests import Request

from api.system import System
from domain.access import Principal
from domain.errors import AccessDenied, InvalidAccessKeyId, StrataError
from domain.rate_limit import RateLimiter


class Unauthorized(StrataError):
    """No usable credentials: say how to get some."""


class TooManyAttempts(StrataError):
    """Too many failed sign-ins from one source or for one key: wait and try again."""


class SignInThrottle:
    """Failed token requests cost from two buckets, the access key's and the source's;
    while either is empty every request for that key or from that source is refused,
    right or wrong, so a guesser learns nothing from the answers."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._keys = RateLimiter(burst=10, rate=1 / 6, clock=clock)  # 10 a minute
        self._sources = RateLimiter(burst=30, rate=1 / 2, clock=clock)

    def check(self, access_key: str, source: str) -> None:
        for limiter, name in ((self._keys, access_key), (self._sources, source)):
            if not limiter.available(name):
                raise TooManyAttempts(
                    "Too many failed sign-ins; wait before trying again",
                    retry_after=max(1, math.ceil(limiter.seconds_until_allowed(name))),
                )

    def failed(self, access_key: str, source: str) -> None:
        self._keys.allow(access_key)
        self._sources.allow(source)


def issue_token(system: System, access_key: str, secret_key: str) -> tuple[str, int]:
    try:
        creds = system.store.credentials(access_key)
    except InvalidAccessKeyId:
        raise Unauthorized("The access key or secret key is wrong") from None
    expected = system.secret_box.decrypt(creds.secret_ciphertext)
    if not hmac.compare_digest(expected.encode(), secret_key.encode()):
        raise Unauthorized("The access key or secret key is wrong")
    issued = time.time()
    expires = int(issued) + system.settings.token_ttl_seconds
    claims = {"sub": creds.user, "ak": access_key, "adm": creds.is_admin, "exp": expires,
              "iat": issued}
    return jwt.encode(claims, system.token_key, algorithm="HS256"), expires


def principal_from_token(system: System, token: str) -> Principal:
    """The caller a token names, as its key stands now: a token of a key deactivated,
    deleted or given a new secret since the token was issued is refused. With single
    sign-on configured, an ID token of its issuer names a user too."""
    if system.oidc is not None and _signed_by_an_issuer(token):
        return system.oidc.principal(system.oidc.verify(token))
    try:
        claims = jwt.decode(token, system.token_key, algorithms=["HS256"])
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The token has expired; get a new one from POST /auth/token") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("The token is not valid; get one from POST /auth/token") from None
    if "typ" in claims or not {"sub", "ak", "adm", "iat"} <= claims.keys():
        raise Unauthorized("That is not a bearer token; get one from POST /auth/token")
    try:
        creds = system.store.credentials(claims["ak"])
    except InvalidAccessKeyId:
        raise Unauthorized("The token's access key is inactive or deleted") from None
    if float(claims["iat"]) < creds.valid_since.timestamp():
        raise Unauthorized("The token was revoked (its key's secret changed or the key was "
                           "deactivated); get a new one from POST /auth/token")
    return Principal(user=creds.user, access_key=claims["ak"], is_admin=creds.is_admin)


def _signed_by_an_issuer(token: str) -> bool:
    """strata signs its own bearer tokens with HS256; an issuer's use a key pair."""
    try:
        return jwt.get_unverified_header(token).get("alg") != "HS256"
    except jwt.InvalidTokenError:
        return False


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Use 'Authorization: Bearer <token>'; get a token from POST /auth/token")
    return token.strip()


def optional_principal(request: Request) -> Principal | None:
    token = bearer_token(request)
    if token is None:
        return None
    principal = principal_from_token(request.app.state.system, token)
    request.scope.setdefault("state", {})["actor"] = principal.access_key  # the access log
    return principal


def required_principal(request: Request) -> Principal:
    principal = optional_principal(request)
    if principal is None:
        raise Unauthorized(
            "This call needs 'Authorization: Bearer <token>'; get a token from POST /auth/token"
        )
    return principal


def admin_principal(request: Request, doing: str) -> Principal:
    """The caller, who must be an administrator to be `doing` this."""
    principal = required_principal(request)
    if not principal.is_admin:
        raise AccessDenied(f"Only an administrator may {doing}",
                           actor=principal.access_key, user=principal.user)
    return principal
