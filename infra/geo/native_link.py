"""A SiteLink to another strata site through its native API (api/native/geo_sink.py).

It signs in with the site's access key for a token, and signs in again when the token
expires. A site that does not answer, answers 5xx, or refuses the key raises
SiteUnreachable: the sender waits and tries again, and its status shows the reason
(a rotated key is fixed by registering the site again, and nothing is lost meanwhile).
"""

from __future__ import annotations

from typing import Any

import httpx

from domain.errors import SiteUnreachable
from domain.ports import Applied

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class NativeSiteLink:
    def __init__(self, name: str, endpoint: str, access_key: str, secret_key: str) -> None:
        self._name = name
        self._credentials = {"access_key": access_key, "secret_key": secret_key}
        self._http = httpx.Client(base_url=endpoint.rstrip("/"), timeout=TIMEOUT)

    def site_name(self) -> str:
        return str(self._call("GET", "/replication/site").json()["site"])

    def missing_chunks(self, digests: list[str]) -> list[str]:
        r = self._call("POST", "/replication/chunks/missing", json={"digests": digests})
        return [str(d) for d in r.json()["missing"]]

    def send_chunk(self, digest: str, data: bytes) -> None:
        self._call("PUT", f"/replication/chunks/{digest}", content=data)

    def send_chunks(self, chunks: list[tuple[str, bytes]]) -> None:
        frames = b"".join(digest.encode() + len(data).to_bytes(8, "big") + data
                          for digest, data in chunks)
        self._call("POST", "/replication/chunks", content=frames)

    def apply(self, changes: list[dict[str, object]]) -> list[Applied]:
        r = self._call("POST", "/replication/apply", json={"changes": changes})
        results = r.json()["results"]
        return [Applied(str(x["status"]), str(x.get("error", "")), str(x.get("message", "")))
                for x in results]

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if "authorization" not in self._http.headers:
            self._sign_in()
        r = self._send(method, path, **kwargs)
        if r.status_code == 401:  # the token expired (or the site restarted with new keys)
            self._sign_in()
            r = self._send(method, path, **kwargs)
        if r.status_code >= 300:
            raise SiteUnreachable(
                f"site {self._name} answered {method} {path} with {r.status_code}: "
                f"{_reason(r)}", site=self._name)
        return r

    def _sign_in(self) -> None:
        self._http.headers.pop("authorization", None)
        r = self._send("POST", "/auth/token", json=self._credentials)
        if r.status_code != 200:
            raise SiteUnreachable(
                f"site {self._name} refused its access key ({r.status_code}: {_reason(r)}); "
                "register the site again with a key it accepts", site=self._name)
        self._http.headers["authorization"] = f"Bearer {r.json()['token']}"

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise SiteUnreachable(f"site {self._name} does not answer: {exc!r}",
                                  site=self._name) from None


def _reason(r: httpx.Response) -> str:
    try:
        body = r.json()
        return f"{body['error']}: {body['message']}"[:300]
    except (ValueError, KeyError, TypeError):
        return r.text[:300]
