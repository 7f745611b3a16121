"""Single sign-on with an OpenID Connect issuer (issue 24): its ID tokens verified
against its published keys (JWKS), with issuer, audience and expiry checked; the keys
are cached, and fetched again when a token names a key not seen yet (rotation)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from domain.access import SSO_KEY_PREFIX, Principal
from domain.errors import IdentityTokenRefused, InvalidArgument, IssuerUnreachable, TokenExpired
from domain.users import validate_user_name

log = logging.getLogger("strata.oidc")
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
KEYS_MAX_AGE_SECONDS = 600.0  # the keys are read again this often
REFETCH_GAP_SECONDS = 30.0  # an unknown key id fetches the keys at most this often
MAX_TOKEN_CHARS = 16 * 1024


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    user_claim: str = "preferred_username"
    groups_claim: str = "groups"
    admin_group: str = ""


class OidcVerifier:
    def __init__(self, settings: OidcSettings,
                 get: Callable[[str], dict[str, Any]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._get = get or _get_json
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = -1e18
        self._forced_at = -1e18  # the last fetch an unknown key id asked for
        self._discovery: dict[str, str] = {}

    def _refresh(self, force: bool) -> None:
        with self._lock:
            now = self._clock()
            if not force and now - self._fetched_at < KEYS_MAX_AGE_SECONDS:
                return
            if force:
                if now - self._forced_at < REFETCH_GAP_SECONDS:
                    return  # tokens naming made-up keys cannot make strata hammer the issuer
                self._forced_at = now
            try:
                keys = self._get(self._discovered()["jwks_uri"]).get("keys", [])
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                raise IssuerUnreachable(f"The OpenID Connect issuer {self.settings.issuer} "
                                        f"did not answer ({type(exc).__name__}); try again "
                                        "later") from None
            parsed: dict[str, jwt.PyJWK] = {}
            for raw in keys[:100]:
                try:
                    parsed[str(raw.get("kid", ""))] = jwt.PyJWK(raw)
                except (jwt.PyJWKError, jwt.InvalidKeyError, KeyError, TypeError):
                    continue  # a key of a kind strata does not use
            self._keys = parsed
            self._fetched_at = self._clock()

    def _discovered(self) -> dict[str, str]:
        """The issuer's discovery document (read once): where its keys are, and where
        a browser signs in. Raises httpx errors, KeyError and ValueError as they come."""
        if not self._discovery:
            found = self._get(self.settings.issuer.rstrip("/")
                              + "/.well-known/openid-configuration")
            if found.get("issuer") != self.settings.issuer:
                raise IssuerUnreachable(
                    f"The issuer at {self.settings.issuer} calls itself "
                    f"{str(found.get('issuer'))[:256]!r}: check STRATA_OIDC_ISSUER")
            self._discovery = {
                "jwks_uri": str(found["jwks_uri"]),
                "authorization_endpoint": str(found.get("authorization_endpoint", ""))}
        return self._discovery

    def browser_sign_in(self) -> dict[str, str]:
        """What a browser needs to sign in here: the issuer, its authorization endpoint
        and the client id its ID tokens must be issued for."""
        with self._lock:
            try:
                endpoint = self._discovered()["authorization_endpoint"]
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                raise IssuerUnreachable(f"The OpenID Connect issuer {self.settings.issuer} "
                                        f"did not answer ({type(exc).__name__}); try again "
                                        "later") from None
        if not endpoint.startswith(("https://", "http://")):
            raise IssuerUnreachable(f"The issuer {self.settings.issuer} publishes no "
                                    "authorization endpoint: browsers cannot sign in there")
        return {"issuer": self.settings.issuer, "authorization_endpoint": endpoint,
                "client_id": self.settings.client_id}

    def _key(self, kid: str) -> jwt.PyJWK:
        self._refresh(force=False)
        if kid not in self._keys:
            self._refresh(force=True)  # rotated: the issuer has published a new key
        if kid not in self._keys:
            raise IdentityTokenRefused("The token was signed with a key the issuer does not "
                                       "publish")
        return self._keys[kid]

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid ID token of this issuer for this client."""
        if len(token) > MAX_TOKEN_CHARS:
            raise IdentityTokenRefused("The token is too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise IdentityTokenRefused("The token is not a JWT") from None
        if header.get("alg") not in ALGORITHMS:
            raise IdentityTokenRefused(f"Tokens signed with {str(header.get('alg'))[:16]} are "
                                       "not accepted")
        key = self._key(str(header.get("kid", "")))
        try:
            return dict(jwt.decode(
                token, key, algorithms=ALGORITHMS, audience=self.settings.client_id,
                issuer=self.settings.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]}))
        except jwt.ExpiredSignatureError:
            raise TokenExpired("The token has expired; sign in again") from None
        except jwt.InvalidIssuerError:
            raise IdentityTokenRefused("The token comes from another issuer") from None
        except jwt.InvalidAudienceError:
            raise IdentityTokenRefused("The token was issued for another client") from None
        except jwt.InvalidTokenError as exc:
            raise IdentityTokenRefused(f"The token is not valid: {str(exc)[:200]}") from None

    def principal(self, claims: dict[str, Any]) -> Principal:
        """The strata user the token names (its user claim), an administrator when its
        groups claim holds the admin group."""
        name = claims.get(self.settings.user_claim)
        if not isinstance(name, str):
            raise IdentityTokenRefused(f"The token has no {self.settings.user_claim!r} claim "
                                       "to name its user")
        try:
            validate_user_name(name)
        except InvalidArgument:
            raise IdentityTokenRefused("The token's user name is not one strata accepts "
                                       "(letters, digits and _.@+=-, at most 64)") from None
        groups = claims.get(self.settings.groups_claim) or []
        admin = bool(self.settings.admin_group) and isinstance(groups, list) \
            and self.settings.admin_group in groups
        return Principal(user=name, access_key=f"{SSO_KEY_PREFIX}{str(claims['sub'])[:128]}",
                         is_admin=admin)


def _get_json(url: str) -> dict[str, Any]:
    answer = httpx.get(url, timeout=5.0, follow_redirects=False)
    answer.raise_for_status()
    found = answer.json()
    if not isinstance(found, dict):
        raise ValueError("not a JSON object")
    return found
