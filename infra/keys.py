"""Key material kept in the data dir: the secret-encryption key and the token key."""

from __future__ import annotations

import functools
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


def _read_or_create(path: Path, make: bytes) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(make)
        f.flush()
        os.fsync(f.fileno())
    return make


class SecretBox:
    """Encrypts access-key secrets at rest with a Fernet key from the data dir."""

    def __init__(self, keys_dir: Path) -> None:
        self._fernet = Fernet(_read_or_create(keys_dir / "secrets.key", Fernet.generate_key()))
        # Every signed request needs its caller's secret; a ciphertext always decrypts to
        # the same secret, and a rotated secret has a new ciphertext.
        self._decrypt_cached = functools.lru_cache(maxsize=4096)(self._decrypt)

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        return self._decrypt_cached(ciphertext)

    def _decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise ValueError(
                "A stored secret cannot be decrypted: keys/secrets.key does not match "
                "the one it was encrypted with"
            ) from None


def token_signing_key(keys_dir: Path) -> bytes:
    return _read_or_create(keys_dir / "token.key", secrets.token_hex(32).encode())
