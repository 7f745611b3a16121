"""A small OpenID Connect issuer of the tests' own on loopback: discovery, its keys
(JWKS), RS256 ID tokens, and an authorization endpoint that signs in whoever the test
says (`signed_in`) at once and sends the browser back with an ID token (the implicit
flow the console uses)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import free_port

CLIENT_ID = "strata-console"


class Issuer:
    """An OpenID Connect issuer: it publishes its keys and signs ID tokens."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.current = ""
        self.signed_in: tuple[str, tuple[str, ...]] = ("carol", ())  # who /authorize signs in
        self.asked: list[dict[str, str]] = []  # every authorization request's parameters
        self.rotate()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/authorize?"):
                    return self._authorize()
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks",
                            "authorization_endpoint": issuer.url + "/authorize"}
                elif self.path == "/jwks":
                    body = {"keys": [dict(json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(
                        key.public_key())), kid=kid, use="sig", alg="RS256")
                        for kid, key in issuer.keys.items()]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(data)

            def _authorize(self) -> None:
                asked = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                issuer.asked.append(asked)
                user, groups = issuer.signed_in
                back = urlencode({"id_token": issuer.token(user, groups,
                                                           nonce=asked.get("nonce", "")),
                                  "state": asked.get("state", "")})
                self.send_response(302)
                self.send_header("location", f"{asked['redirect_uri']}#{back}")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def rotate(self) -> None:
        self.current = f"key-{len(self.keys) + 1}"
        self.keys[self.current] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def token(self, user: str = "carol", groups: tuple[str, ...] = (),
              lifetime: int = 300, audience: str = CLIENT_ID, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.url, "sub": f"sub-{user}", "aud": audience, "iat": now,
                "exp": now + lifetime, "preferred_username": user, "groups": list(groups),
                **claims}
        return jwt.encode(body, self.keys[self.current], algorithm="RS256",
                          headers={"kid": self.current})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Issuer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


