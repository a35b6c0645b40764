"""Password hashing with scrypt from the standard library (no native dependency).

Format: ``scrypt$N$r$p$<salt hex>$<hash hex>``; the parameters travel with the
hash so they can be raised later without invalidating existing passwords.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

_N, _R, _P = 2**15, 8, 1
_DKLEN = 32
# scrypt needs 128 * N * r bytes; leave headroom over OpenSSL's 32 MiB default.
_MAXMEM = 64 * 1024 * 1024

MIN_LENGTH = 10


def hash_password(password: str) -> str:
    if not password:
        raise ValueError("empty password")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN, maxmem=_MAXMEM
    )
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt_hex, digest_hex = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(digest_hex)
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt_hex),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=_MAXMEM,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


def generate_password() -> str:
    """A random password for a new account, shown once to whoever creates it."""
    return secrets.token_urlsafe(12)


def password_problem(password: str) -> str:
    """An English reason why ``password`` is refused, or "" if acceptable."""
    if len(password) < MIN_LENGTH:
        return f"at least {MIN_LENGTH} characters"
    if len(password) > 200:
        return "at most 200 characters"
    return ""
