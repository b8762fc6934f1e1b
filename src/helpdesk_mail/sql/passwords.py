"""Password hashes for the users `SqlDomain` creates: scrypt, in Django's format.

`CreateUser` carries a generated password for the host to hash. A helpdesk that keeps its
users in the SQL storage gets `scrypt$<work factor>$<salt>$8$1$<base64 hash>`, which
Django's `ScryptPasswordHasher` (and `verify_password` here) checks:

- `hash_password`: a password a person chose (`add_user`), with work factor 2**14, so
  that guessing it from a stolen hash is slow;
- `hash_generated_password`: a password the library generated for a user made from an
  email (96 random bits): nobody guesses that, slow or fast, so the key derivation need
  not be slow, and a work factor of 2**8 keeps a new customer's first email from costing
  a sixth of a second of CPU. Django upgrades it to its own work factor at the user's
  first login (`must_update`).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["hash_generated_password", "hash_password", "verify_password"]

_N, _R, _P = 2**14, 8, 1
_N_GENERATED = 2**8
_MAXMEM = 64 * 1024 * 1024


def _scrypt(password: str, salt: str, n: int, r: int, p: int) -> str:
    raw = hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=salt.encode("ascii"),
        n=n,
        r=r,
        p=p,
        maxmem=_MAXMEM,
        dklen=64,
    )
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    """The stored form of `password` (a new random salt each time); "" for no password."""
    if not password:
        return ""
    salt = secrets.token_hex(11)
    return f"scrypt${_N}${salt}${_R}${_P}${_scrypt(password, salt, _N, _R, _P)}"


def hash_generated_password(password: str) -> str:
    """The stored form of a generated password (a new random salt each time; work factor
    2**8, see the module); "" for no password."""
    if not password:
        return ""
    salt = secrets.token_hex(11)
    hashed = _scrypt(password, salt, _N_GENERATED, _R, _P)
    return f"scrypt${_N_GENERATED}${salt}${_R}${_P}${hashed}"


def verify_password(encoded: str, password: str) -> bool:
    """Whether `password` matches the stored form `encoded` (False for anything unreadable)."""
    try:
        algorithm, n, salt, r, p, expected = encoded.split("$")
        if algorithm != "scrypt" or int(n) > 2**20 or int(r) > 32 or int(p) > 16:
            return False
        actual = _scrypt(password, salt, int(n), int(r), int(p))
    except (ValueError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(actual, expected)
