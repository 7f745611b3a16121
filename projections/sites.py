"""The sites view: every remote site geo-replication may send to.

G/<name>   {"name", "endpoint", "access_key", "secret_ciphertext"}   (absent once removed)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatchmethod
from typing import Any

import orjson

from domain.sites import Site
from projections.base import ViewReader, ViewTransaction, prefix_end


@dataclass(frozen=True)
class SiteRecord:
    name: str
    endpoint: str
    access_key: str
    secret_ciphertext: str


class SitesProjection:
    name = "sites"
    prefixes: tuple[bytes, ...] = (b"G/",)
    ranged: tuple[bytes, ...] = ()

    @singledispatchmethod
    def process(self, event: Any, position: int, tx: ViewTransaction) -> None:
        """Events this view does not need change nothing."""

    @process.register
    def _(self, event: Site.Registered, position: int, tx: ViewTransaction) -> None:
        self._put(tx, event.name, event.endpoint, event.access_key, event.secret_ciphertext)

    @process.register
    def _(self, event: Site.Changed, position: int, tx: ViewTransaction) -> None:
        self._put(tx, event.name, event.endpoint, event.access_key, event.secret_ciphertext)

    @process.register
    def _(self, event: Site.Removed, position: int, tx: ViewTransaction) -> None:
        tx.delete(b"G/" + event.name.encode())

    @staticmethod
    def _put(tx: ViewTransaction, name: str, endpoint: str, access_key: str,
             secret_ciphertext: str) -> None:
        record = {"name": name, "endpoint": endpoint, "access_key": access_key,
                  "secret_ciphertext": secret_ciphertext}
        tx.put(b"G/" + name.encode(), orjson.dumps(record))


def list_sites(views: ViewReader) -> list[SiteRecord]:
    return [SiteRecord(**orjson.loads(v)) for _, v in views.scan(b"G/", prefix_end(b"G/"))]


def site_named(views: ViewReader, name: str) -> SiteRecord | None:
    raw = views.get(b"G/" + name.encode())
    return SiteRecord(**orjson.loads(raw)) if raw is not None else None
