"""The Site aggregate: another strata deployment this one replicates to (geo-replication).

A site is named by an administrator and reached through its native API with an access
key of a user the remote allows to apply replicated changes. The secret is kept only
encrypted (as access-key secrets are) and never published in an event envelope.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from urllib.parse import urlsplit
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidArgument
from domain.records import RequestMeta

_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
MAX_ENDPOINT = 2048
# another strata's native API, or (s3+) another vendor's S3 endpoint
SCHEMES = ("http", "https", "s3+http", "s3+https")
MAX_ACCESS_KEY = 128
MAX_SECRET = 128


def check_site_name(name: str) -> None:
    """A DNS label: it appears in ARNs and metric labels."""
    if not _NAME.match(name):
        raise InvalidArgument(
            "A site name is 1 to 63 lowercase letters, digits and hyphens, starting and "
            "ending with a letter or digit", site=name[:64])


def check_site(name: str, endpoint: str, access_key: str) -> None:
    """A site's endpoint is an http(s) URL with a host and nothing after the path."""
    check_site_name(name)
    if len(endpoint) > MAX_ENDPOINT:
        raise InvalidArgument(f"A site's endpoint is at most {MAX_ENDPOINT} characters",
                              site=name)
    parts = urlsplit(endpoint)
    if parts.scheme not in SCHEMES or not parts.hostname or parts.query \
            or parts.fragment or parts.username or parts.password:
        raise InvalidArgument(
            "A site's endpoint is the http(s) URL of its native API, such as "
            "http://eu.example:9001, or s3+http(s):// and the S3 endpoint of another "
            "vendor's store, without credentials, query or fragment", site=name)
    if not 1 <= len(access_key) <= MAX_ACCESS_KEY or not access_key.isprintable():
        raise InvalidArgument(f"A site's access key is 1 to {MAX_ACCESS_KEY} printable "
                              "characters", site=name)


def check_site_secret(secret: str) -> None:
    """Checked before the secret is encrypted (the aggregate sees only the ciphertext)."""
    if not 1 <= len(secret) <= MAX_SECRET or not secret.isprintable():
        raise InvalidArgument(f"A site's secret key is 1 to {MAX_SECRET} printable characters")


class Site(Aggregate):
    """One remote site: where it answers and the key strata signs in with there."""

    class Registered(Aggregate.Created):
        name: str
        endpoint: str
        access_key: str
        secret_ciphertext: str
        meta: RequestMeta

    class Changed(Aggregate.Event):
        name: str
        endpoint: str
        access_key: str
        secret_ciphertext: str
        meta: RequestMeta

    class Removed(Aggregate.Event):
        name: str
        meta: RequestMeta

    @staticmethod
    @functools.lru_cache(maxsize=256)
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/sites/{name}")

    @classmethod
    def register(cls, name: str, endpoint: str, access_key: str, secret_ciphertext: str,
                 meta: RequestMeta, timestamp: datetime) -> Site:
        check_site(name, endpoint, access_key)
        return cls(name=name, endpoint=endpoint, access_key=access_key,
                   secret_ciphertext=secret_ciphertext, meta=meta, timestamp=timestamp)

    @event(Registered)
    def __init__(self, name: str, endpoint: str, access_key: str, secret_ciphertext: str,
                 meta: RequestMeta, timestamp: datetime) -> None:
        self.name = name
        self.endpoint = endpoint
        self.access_key = access_key
        self.secret_ciphertext = secret_ciphertext
        self.is_live = True

    def change(self, endpoint: str, access_key: str, secret_ciphertext: str,
               meta: RequestMeta, timestamp: datetime) -> None:
        """Register again: a new address or key, or a removed site back."""
        check_site(self.name, endpoint, access_key)
        self._changed(name=self.name, endpoint=endpoint, access_key=access_key,
                      secret_ciphertext=secret_ciphertext, meta=meta, timestamp=timestamp)

    @event(Changed)
    def _changed(self, name: str, endpoint: str, access_key: str, secret_ciphertext: str,
                 meta: RequestMeta, timestamp: datetime) -> None:
        self.endpoint, self.access_key = endpoint, access_key
        self.secret_ciphertext = secret_ciphertext
        self.is_live = True

    def remove(self, meta: RequestMeta, timestamp: datetime) -> None:
        if self.is_live:
            self._removed(name=self.name, meta=meta, timestamp=timestamp)

    @event(Removed)
    def _removed(self, name: str, meta: RequestMeta, timestamp: datetime) -> None:
        self.is_live = False
