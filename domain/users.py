"""Users and their access keys. Secrets arrive already encrypted by the caller."""

from __future__ import annotations

import functools
import re
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidAccessKeyId, InvalidArgument, NoSuchUser
from domain.records import RequestMeta

_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+=-]{0,63}$")
_ACCESS_KEY = re.compile(r"^[A-Za-z0-9]{16,128}$")
MIN_SECRET_LENGTH = 20  # AWS generates 40; a short secret is a guessable one
# Names that mean something else where a user name is written: an ACL's anonymous
# caller, and strata's own actors.
RESERVED_USER_NAMES = frozenset({"anonymous", "strata"})


def validate_user_name(name: str) -> None:
    if not _USER_NAME.match(name[:65]):
        raise InvalidArgument(
            "A user name is 1 to 64 letters, digits or _.@+=- and starts with a letter or digit",
            user=name[:64],
        )
    if name.lower() in RESERVED_USER_NAMES:
        raise InvalidArgument(f"The user name {name!r} is reserved", user=name)


def validate_access_key(access_key: str, secret: str) -> None:
    if not _ACCESS_KEY.match(access_key[:129]):
        raise InvalidArgument(
            "An access key id is 16 to 128 letters and digits", access_key=access_key[:128]
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

    class Deleted(Aggregate.Event):
        name: str
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
        self.is_deleted = False

    def ensure_live(self) -> None:
        if self.is_deleted:
            raise NoSuchUser(f"No user named {self.name!r}", user=self.name)

    def add_access_key(self, access_key: str, meta: RequestMeta, timestamp: datetime) -> None:
        self.ensure_live()
        if access_key not in self.access_keys:
            self._access_key_added(access_key=access_key, meta=meta, timestamp=timestamp)

    @event(AccessKeyAdded)
    def _access_key_added(self, access_key: str, meta: RequestMeta, timestamp: datetime) -> None:
        self.access_keys.append(access_key)

    def delete(self, meta: RequestMeta, timestamp: datetime) -> None:
        """The name stays taken: a new user of the same name would own this one's buckets."""
        self.ensure_live()
        self._deleted(name=self.name, meta=meta, timestamp=timestamp)

    @event(Deleted)
    def _deleted(self, name: str, meta: RequestMeta, timestamp: datetime) -> None:
        self.is_deleted = True


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

    class Deactivated(Aggregate.Event):
        meta: RequestMeta

    class Activated(Aggregate.Event):
        meta: RequestMeta

    class Deleted(Aggregate.Event):
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
        self.is_deleted = False
        # Tokens issued before this instant are refused: rotating a secret revokes them.
        self.valid_since = timestamp

    def ensure_usable(self) -> None:
        self._ensure_not_deleted()
        if not self.is_active:
            raise InvalidAccessKeyId("The access key is inactive", access_key=self.access_key)

    def rotate_secret(self, secret_ciphertext: str, meta: RequestMeta, timestamp: datetime) -> None:
        self._ensure_not_deleted()
        self._secret_rotated(secret_ciphertext=secret_ciphertext, meta=meta, timestamp=timestamp)

    @event(SecretRotated)
    def _secret_rotated(
        self, secret_ciphertext: str, meta: RequestMeta, timestamp: datetime
    ) -> None:
        self.secret_ciphertext = secret_ciphertext
        self.valid_since = timestamp

    def set_active(self, active: bool, meta: RequestMeta, timestamp: datetime) -> None:
        """Deactivating refuses the key and every token issued for it until it is
        activated again; tokens issued before the deactivation stay refused."""
        self._ensure_not_deleted()
        if active and not self.is_active:
            self._activated(meta=meta, timestamp=timestamp)
        elif not active and self.is_active:
            self._deactivated(meta=meta, timestamp=timestamp)

    @event(Activated)
    def _activated(self, meta: RequestMeta, timestamp: datetime) -> None:
        self.is_active = True

    @event(Deactivated)
    def _deactivated(self, meta: RequestMeta, timestamp: datetime) -> None:
        self.is_active = False
        self.valid_since = timestamp

    def delete(self, meta: RequestMeta, timestamp: datetime) -> None:
        if not self.is_deleted:
            self._deleted(meta=meta, timestamp=timestamp)

    @event(Deleted)
    def _deleted(self, meta: RequestMeta, timestamp: datetime) -> None:
        self.is_deleted = True
        self.is_active = False

    def _ensure_not_deleted(self) -> None:
        if self.is_deleted:
            raise InvalidAccessKeyId(
                "The access key id you provided does not exist in our records.",
                access_key=self.access_key,
            )
