"""strata's own key service (issue 25): named key-encryption keys (KEKs), versioned and
rotatable, kept in the keys directory; data keys are wrapped and unwrapped with
AES-256-GCM by `cryptography`. An external KMS (Vault's transit engine, AWS KMS) would
be another adapter of the same port (domain.ports.KeyService).

keys/kek/<name>.json   {"name", "current": N, "versions": {"1": base64 key, ...}}
Old versions are kept for ever: a data key wrapped by one can always be unwrapped.
"""

from __future__ import annotations

import base64
import os
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.errors import InvalidArgument, KeyUnavailable
from domain.records import WrappedKey

DEFAULT_KEY = "strata-s3"  # the key SSE-S3 wraps with
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class KeyInfo:
    name: str
    current: int  # the version new data keys are wrapped with
    versions: int
    created_at: str


def check_key_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidArgument("A key name is 1 to 128 letters, digits and _.- (starting with a "
                              "letter or digit)", key=name[:128])
    return name


class LocalKeyService:
    def __init__(self, keys_dir: Path) -> None:
        self._dir = keys_dir / "kek"
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, dict[str, object]]] = {}

    # -- the key store ------------------------------------------------------------------

    def _path(self, name: str) -> Path:
        return self._dir / f"{check_key_name(name)}.json"

    def _read(self, name: str) -> dict[str, object] | None:
        path = self._path(name)
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        cached = self._cache.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        record: dict[str, object] = orjson.loads(path.read_bytes())
        self._cache[name] = (stamp, record)
        return record

    def _write(self, name: str, record: dict[str, object]) -> None:
        """Atomically, durably: a crash leaves the old file or the new one, never half."""
        self._dir.mkdir(parents=True, exist_ok=True)
        path = self._path(name)
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps(record))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
        directory = os.open(self._dir, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def create(self, name: str) -> KeyInfo:
        with self._lock:
            if self._read(name) is not None:
                raise InvalidArgument(f"A key named {name!r} exists already", key=name)
            record = {"name": name, "current": 1, "created_at": datetime.now(UTC).isoformat(),
                      "versions": {"1": base64.b64encode(AESGCM.generate_key(256)).decode()}}
            self._write(name, record)
            return self._info(record)

    def ensure(self, name: str) -> KeyInfo:
        """The key, made first if it does not exist (the SSE-S3 key)."""
        with self._lock:
            record = self._read(name)
        if record is not None:
            return self._info(record)
        try:
            return self.create(name)
        except InvalidArgument:
            return self.info(name)

    def rotate(self, name: str) -> KeyInfo:
        """A new version wraps new data keys; the old versions stay for the old ones."""
        with self._lock:
            record = self._read(name)
            if record is None:
                raise KeyUnavailable(f"There is no key named {name!r}", key=name)
            versions = dict(record["versions"])  # type: ignore[call-overload]
            current = max(int(v) for v in versions) + 1
            versions[str(current)] = base64.b64encode(AESGCM.generate_key(256)).decode()
            updated = {**record, "versions": versions, "current": current}
            self._write(name, updated)
            return self._info(updated)

    def info(self, name: str) -> KeyInfo:
        record = self._read(name)
        if record is None:
            raise KeyUnavailable(f"There is no key named {name!r}: create it with "
                                 f"`strata keys create {name}`", key=name)
        return self._info(record)

    def current_version(self, name: str) -> int:
        return self.info(name).current

    def names(self) -> list[KeyInfo]:
        if not self._dir.exists():
            return []
        return [self.info(path.stem) for path in sorted(self._dir.glob("*.json"))]

    @staticmethod
    def _info(record: dict[str, object]) -> KeyInfo:
        versions = record["versions"]
        assert isinstance(versions, dict)
        return KeyInfo(str(record["name"]), int(str(record["current"])), len(versions),
                       str(record.get("created_at", "")))

    def _kek(self, name: str, version: int) -> bytes:
        record = self._read(name)
        versions = record.get("versions") if record else None
        if not isinstance(versions, dict) or str(version) not in versions:
            raise KeyUnavailable(f"The key {name!r} (version {version}) is not in this store's "
                                 "keys directory: restore it from the backup of the keys",
                                 key=name, version=version)
        return base64.b64decode(versions[str(version)])

    # -- the port -----------------------------------------------------------------------

    def wrap(self, name: str, data_key: bytes) -> WrappedKey:
        info = self.info(name)
        nonce = os.urandom(12)
        sealed = AESGCM(self._kek(name, info.current)).encrypt(
            nonce, data_key, f"{name}:{info.current}".encode())
        return WrappedKey(key=name, version=info.current,
                          blob=base64.b64encode(nonce + sealed).decode())

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        raw = base64.b64decode(wrapped["blob"])
        try:
            return AESGCM(self._kek(wrapped["key"], wrapped["version"])).decrypt(
                raw[:12], raw[12:], f"{wrapped['key']}:{wrapped['version']}".encode())
        except InvalidTag:
            raise KeyUnavailable(f"The key {wrapped['key']!r} (version {wrapped['version']}) "
                                 "does not open this object's data key: the keys directory "
                                 "is not the one it was written with", key=wrapped["key"]
                                 ) from None
