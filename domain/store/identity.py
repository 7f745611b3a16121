"""Users and access keys: creation, secrets, revocation, credentials."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from domain.errors import (
    AccessKeyAlreadyExists,
    InvalidAccessKeyId,
    NoSuchUser,
    UserAlreadyExists,
)
from domain.records import RequestMeta
from domain.store.core import StoreCore
from domain.store.results import (
    Credentials,
    UserInfo,
    user_info,
)
from domain.users import AccessKey, User, validate_access_key


class IdentityCommands(StoreCore):

    def create_user(
        self, name: str, display_name: str, is_admin: bool, meta: RequestMeta, now: datetime
    ) -> UserInfo:
        user = User.create(name, display_name, is_admin, meta, now)
        try:
            self._save(user)
        except IntegrityError:
            raise UserAlreadyExists(f"A user named {name!r} exists already", user=name) from None
        return user_info(user)

    def _user(self, name: str, *, query: bool = False) -> User:
        try:
            user: User = self._load(User.create_id(name), query)
        except AggregateNotFoundError:
            raise NoSuchUser(f"No user named {name!r}", user=name) from None
        return user

    def get_user(self, name: str) -> UserInfo:
        user = self._user(name, query=True)
        user.ensure_live()
        return user_info(user)

    def add_access_key(
        self,
        user_name: str,
        access_key: str,
        secret: str,
        encrypt: Callable[[str], str],
        meta: RequestMeta,
        now: datetime,
    ) -> None:
        """Bind a new access key to a user; the secret is stored as `encrypt(secret)`."""
        validate_access_key(access_key, secret)

        def attempt() -> None:
            user = self._user(user_name)
            if AccessKey.create_id(access_key) in self.repository:
                raise AccessKeyAlreadyExists("That access key id is taken", access_key=access_key)
            key = AccessKey.create(access_key, user_name, encrypt(secret), meta, now)
            user.add_access_key(access_key, meta, now)
            self._save(user, key)

        self._retrying(attempt, User.create_id(user_name))

    def rotate_secret(
        self,
        access_key: str,
        secret: str,
        encrypt: Callable[[str], str],
        meta: RequestMeta,
        now: datetime,
    ) -> None:
        """Replace an access key's secret; the old secret stops working at once."""
        validate_access_key(access_key, secret)
        self._changing_key(access_key, lambda key: key.rotate_secret(encrypt(secret), meta, now))

    def _changing_key(self, access_key: str, change: Callable[[AccessKey], None]) -> None:
        """get -> change -> save of one access key, again when a concurrent write won."""
        def attempt() -> None:
            key = self._access_key(access_key)
            change(key)
            self._save(key)

        self._retrying(attempt, AccessKey.create_id(access_key))

    def _access_key(self, access_key: str, *, query: bool = False) -> AccessKey:
        try:
            key: AccessKey = self._load(AccessKey.create_id(access_key), query)
        except AggregateNotFoundError:
            raise InvalidAccessKeyId(
                "The access key id you provided does not exist in our records.",
                access_key=access_key,
            ) from None
        return key

    def credentials(self, access_key: str) -> Credentials:
        """A usable key's credentials: InvalidAccessKeyId when the key is unknown,
        inactive or deleted, or its user was deleted."""
        key = self._access_key(access_key, query=True)
        key.ensure_usable()
        try:
            user = self.get_user(key.user)
        except NoSuchUser:
            raise InvalidAccessKeyId(
                "The access key id you provided does not exist in our records.",
                access_key=access_key,
            ) from None
        return Credentials(
            access_key, key.user, key.secret_ciphertext, user.is_admin, key.valid_since
        )

    def set_access_key_active(
        self, access_key: str, active: bool, meta: RequestMeta, now: datetime
    ) -> None:
        self._changing_key(access_key, lambda key: key.set_active(active, meta, now))

    def delete_access_key(self, access_key: str, meta: RequestMeta, now: datetime) -> None:
        """The key and every token issued for it stop working at once; its id stays taken."""
        self._changing_key(access_key, lambda key: key.delete(meta, now))

    def delete_user(self, name: str, meta: RequestMeta, now: datetime) -> None:
        """The user and all its keys, in one save. Its buckets stay, for an administrator
        to hand on or empty; the name cannot be taken again."""
        def attempt() -> None:
            user = self._user(name)
            user.delete(meta, now)
            keys = [self._access_key(k) for k in user.access_keys]
            for key in keys:
                key.delete(meta, now)
            self._save(user, *keys)

        self._retrying(attempt, User.create_id(name))
