"""Temporary credentials (issue 24): what STS AssumeRoleWithWebIdentity hands out for a
valid identity token. Nothing is stored: the session token is a JWT signed with the
data dir's token key that carries the session's access key, its user and its secret
(encrypted with the store's secret box), and it is checked on every request that uses
the session (`x-amz-security-token`), its expiry included."""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass

import jwt

from api.system import System
from domain.access import Principal
from domain.errors import IdentityTokenRefused, TokenExpired

SESSION_KEY_PREFIX = "ASIA"  # as AWS names temporary access keys
MIN_SECONDS, DEFAULT_SECONDS, MAX_SECONDS = 900, 3600, 43200
_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Session:
    access_key: str
    secret_key: str
    token: str
    expires: int  # epoch seconds
    principal: Principal


def open_session(system: System, principal: Principal, seconds: int, now: float | None = None
                 ) -> Session:
    issued = time.time() if now is None else now
    access_key = SESSION_KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(16))
    secret = secrets.token_urlsafe(30)
    expires = int(issued) + seconds
    claims = {"typ": "session", "ak": access_key, "sub": principal.user,
              "src": principal.access_key, "adm": principal.is_admin, "iat": int(issued),
              "exp": expires, "sec": system.secret_box.encrypt(secret)}
    token = jwt.encode(claims, system.token_key, algorithm="HS256")
    return Session(access_key, secret, token, expires,
                   Principal(principal.user, access_key, principal.is_admin))


def session_principal(system: System, access_key: str, token: str) -> tuple[Principal, str]:
    """The caller a session token names and its secret; refused when the token is not
    one strata issued, names another access key, or has expired."""
    try:
        claims = jwt.decode(token[:8192], system.token_key, algorithms=["HS256"],
                            options={"require": ["exp", "iat"]})
    except jwt.ExpiredSignatureError:
        raise TokenExpired("The provided token has expired.") from None
    except jwt.InvalidTokenError:
        raise IdentityTokenRefused("The provided token is malformed or otherwise invalid."
                                   ) from None
    if claims.get("typ") != "session" or claims.get("ak") != access_key:
        raise IdentityTokenRefused("The security token included in the request is invalid.")
    secret = system.secret_box.decrypt(str(claims["sec"]))
    return Principal(str(claims["sub"]), access_key, bool(claims.get("adm"))), secret
