"""Password and token hashing.

Passwords go through ``hashlib.scrypt`` (RFC 7914; OpenSSL's, in the standard
library, so no compiled dependency to keep up to date), with the cost parameters
OWASP's password storage sheet gives for scrypt (N=2^17, r=8, p=1: 128 MiB and about
a second per guess on a small VPS core), and a random 16-byte salt. The parameters
are stored with each hash, so raising them later keeps old hashes readable.

API tokens are 32 random bytes: there is nothing to guess, so a slow KDF would only
slow down every request; they are stored as SHA-256 digests (what GitHub and PyPI do
for their tokens) and compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCRYPT_N = 2**17
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
#: A little above 128 * r * N bytes, which OpenSSL needs for these parameters.
_MAXMEM = 256 * 1024 * 1024
TOKEN_PREFIX = "dbs_"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    """``scrypt$N$r$p$salt$key`` for ``password``."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=SCRYPT_R,
        p=SCRYPT_P,
        maxmem=_MAXMEM,
        dklen=KEY_BYTES,
    )
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``; a hash in an unknown form never matches."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = (int(value) for value in parts[1:4])
        salt, expected = _unb64(parts[4]), _unb64(parts[5])
        key = hashlib.scrypt(
            password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=len(expected)
        )
    except ValueError:
        return False
    return hmac.compare_digest(key, expected)


def new_token(token_id: str) -> str:
    """A new API token: the prefix, the token's id (to find it) and 32 random bytes."""
    return f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"


def token_id_of(token: str) -> str | None:
    """The id part of a token this module made, or None for anything else."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    token_id, sep, _ = token[len(TOKEN_PREFIX) :].partition("_")
    return token_id if sep and token_id.isalnum() else None


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, digest: str) -> bool:
    return hmac.compare_digest(token_digest(token), digest)
