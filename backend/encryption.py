"""Secrets at rest: values the backend must read back (device HMAC keys, the SMS
provider's API key) are stored encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from the
`cryptography` package) under a key kept outside the database.

The key comes from VAFA_ENCRYPTION_KEY (comma-separated: the first encrypts, all decrypt,
so a key can be rotated), or else from `instance/secret.key`, created on first run with
mode 0600. A stolen database dump alone reveals no secret; back up the key file
separately (docs/RELIABILITY.md "Backups").

Use `EncryptedText` as a column type: the attribute holds the plaintext, the column the
token. Encryption needs an app context (every database access in the backend has one).
"""

import functools
import os
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

KEY_FILE_NAME = "secret.key"
EXTENSION = "vafa_encryption"


def load_or_create_key(instance_dir: Path) -> str:
    """The instance's key, created on first use. `make run` starts several processes at
    once: each writes a candidate to a file of its own and links it into place, which fails
    if the key exists, so exactly one key ever wins and everyone reads that one (a replace
    would let a second process overwrite a key already used to encrypt)."""
    path = Path(instance_dir) / KEY_FILE_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
        try:
            os.write(descriptor, Fernet.generate_key() + b"\n")
            os.fchmod(descriptor, 0o600)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process won; use its key
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


def keys_from(value: str) -> list[str]:
    return [key.strip() for key in value.split(",") if key.strip()]


def init_app(app: Flask) -> None:
    keys = app.config["ENCRYPTION_KEYS"]
    assert keys, "ENCRYPTION_KEYS must hold at least one Fernet key"
    try:
        app.extensions[EXTENSION] = MultiFernet([Fernet(key) for key in keys])
    except ValueError as error:
        raise RuntimeError("VAFA_ENCRYPTION_KEY / instance/secret.key is not a Fernet key "
                           "(32 url-safe base64-encoded bytes)") from error


def _fernet() -> MultiFernet:
    return current_app.extensions[EXTENSION]


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


# Decrypted tokens, by (keys, token): a token always decrypts to the same value under the
# same keys, and the worker decrypts its device's key on every request (docs/hot-path.md).
# Bounded; holds only what the process had decrypted anyway.
MAX_CACHED_SECRETS = 4096


@functools.lru_cache(maxsize=MAX_CACHED_SECRETS)
def _decrypt_cached(fernet: MultiFernet, token: str) -> str:
    return fernet.decrypt(token.encode("ascii")).decode("utf-8")


def decrypt(token: str) -> str:
    try:
        return _decrypt_cached(_fernet(), token)
    except InvalidToken:
        # Never the value itself in the message: it is a secret.
        raise RuntimeError("a stored secret cannot be decrypted with the configured key "
                           "(wrong VAFA_ENCRYPTION_KEY or instance/secret.key?)") from None


class EncryptedText(TypeDecorator):
    """A string column stored as a Fernet token. Not searchable or comparable in SQL."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value)
