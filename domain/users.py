"""Users and their access keys. Secrets arrive already encrypted by the caller."""

from __future__ import annotations

import functools
import re
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidArgument
from domain.records import RequestMeta

_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+=-]{0,63}$")
_ACCESS_KEY = re.compile(r"^[A-Za-z0-9]{16,128}$")
MIN_SECRET_LENGTH = 8


def validate_user_name(name: str) -> None:
    if not _USER_NAME.match(name):
        raise InvalidArgument(
            "A user name is 1 to 64 letters, digits or _.@+=- and starts with a letter or digit",
            user=name,
        )


def validate_access_key(access_key: str, secret: str) -> None:
    if not _ACCESS_KEY.match(access_key):
        raise InvalidArgument(
            "An access key id is 16 to 128 letters and digits", access_key=access_key
        )
    if len(secret) < MIN_SECRET_LENGTH or len(secret) > 128:
        raise InvalidArgument(
            f"A secret key is {MIN_SECRET_LENGTH} to 128 characters long", access_key=access_key
        )


class User(Aggregate):
    """A person or application that owns buckets and holds access keys."""

    class Created(Aggregate.Created):
        name: str
        display_name: str
        is_admin: bool
        meta: RequestMeta

    class AccessKeyAdded(Aggregate.Event):
        access_key: str
        meta: RequestMeta

    @staticmethod
    @functools.lru_cache(maxsize=8192)  # ids are hashed on every request that names one
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/users/{name}")

    @classmethod
    def create(
        cls, name: str, display_name: str, is_admin: bool, meta: RequestMeta, timestamp: datetime
    ) -> User:
        validate_user_name(name)
        return cls(
            name=name, display_name=display_name, is_admin=is_admin, meta=meta, timestamp=timestamp
        )

    @event(Created)
    def __init__(
        self, name: str, display_name: str, is_admin: bool, meta: RequestMeta, timestamp: datetime
    ) -> None:
        self.name = name
        self.display_name = display_name
        self.is_admin = is_admin
        self.access_keys: list[str] = []

    def add_access_key(self, access_key: str, meta: RequestMeta, timestamp: datetime) -> None:
        if access_key not in self.access_keys:
            self._access_key_added(access_key=access_key, meta=meta, timestamp=timestamp)

    @event(AccessKeyAdded)
    def _access_key_added(self, access_key: str, meta: RequestMeta, timestamp: datetime) -> None:
        self.access_keys.append(access_key)


class AccessKey(Aggregate):
    """An access key id bound to one user; its id makes every access key unique."""

    class Created(Aggregate.Created):
        access_key: str
        user: str
        secret_ciphertext: str
        meta: RequestMeta

    class SecretRotated(Aggregate.Event):
        secret_ciphertext: str
        meta: RequestMeta

    @staticmethod
    @functools.lru_cache(maxsize=8192)  # ids are hashed on every request that names one
    def create_id(access_key: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/access-keys/{access_key}")

    @classmethod
    def create(
        cls,
        access_key: str,
        user: str,
        secret_ciphertext: str,
        meta: RequestMeta,
        timestamp: datetime,
    ) -> AccessKey:
        return cls(
            access_key=access_key,
            user=user,
            secret_ciphertext=secret_ciphertext,
            meta=meta,
            timestamp=timestamp,
        )

    @event(Created)
    def __init__(
        self,
        access_key: str,
        user: str,
        secret_ciphertext: str,
        meta: RequestMeta,
        timestamp: datetime,
    ) -> None:
        self.access_key = access_key
        self.user = user
        self.secret_ciphertext = secret_ciphertext
        self.is_active = True

    def rotate_secret(self, secret_ciphertext: str, meta: RequestMeta, timestamp: datetime) -> None:
        self._secret_rotated(secret_ciphertext=secret_ciphertext, meta=meta, timestamp=timestamp)

    @event(SecretRotated)
    def _secret_rotated(
        self, secret_ciphertext: str, meta: RequestMeta, timestamp: datetime
    ) -> None:
        self.secret_ciphertext = secret_ciphertext
