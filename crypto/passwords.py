"""Password hashing for web UI accounts: Argon2id PHC strings (RFC 9106).

Uses `cryptography`'s `Argon2id.derive_phc_encoded` / `verify_phc_encoded`, so the
stored value is the standard `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>`.
Default cost is the OWASP minimum (t=2, m=19 MiB, p=1); tests may pass a cheaper
`PasswordCost`. Hashing takes tens of milliseconds, so event-loop code calls the
`*_async` variants (which run in a worker thread). Stored strings whose cost is absurd
(a corrupted or hostile row) are refused before any work is done.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from crypto.errors import PasswordMismatch

SALT_LEN = 16
HASH_LEN = 32
MAX_PASSWORD_LEN = 1024
_MAX_MEMORY_KIB = 1024 * 1024  # 1 GiB
_MAX_ITERATIONS = 64
_MAX_LANES = 64
_PHC = re.compile(
    r"\$argon2id\$v=19\$m=(?P<m>[0-9]{1,10}),t=(?P<t>[0-9]{1,10}),p=(?P<p>[0-9]{1,10})"
    r"\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}"
)


@dataclass(frozen=True)
class PasswordCost:
    """Argon2id cost: passes, memory in KiB, lanes."""

    iterations: int = 2
    memory_kib: int = 19 * 1024
    lanes: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.iterations <= _MAX_ITERATIONS:
            raise ValueError(f"Argon2id iterations must be 1..{_MAX_ITERATIONS}")
        if not 1 <= self.lanes <= _MAX_LANES:
            raise ValueError(f"Argon2id lanes must be 1..{_MAX_LANES}")
        if not 8 * self.lanes <= self.memory_kib <= _MAX_MEMORY_KIB:
            raise ValueError("Argon2id memory must be at least 8 KiB per lane and at most 1 GiB")


OWASP_MINIMUM = PasswordCost()
TEST_COST = PasswordCost(iterations=1, memory_kib=64, lanes=1)
"""Cheap cost for tests only; never for stored production hashes."""


def _encode(password: str) -> bytes:
    if not isinstance(password, str):
        raise TypeError("password must be a str")
    data = password.encode("utf-8")
    if len(data) > MAX_PASSWORD_LEN:
        raise PasswordMismatch(f"password is longer than {MAX_PASSWORD_LEN} bytes")
    return data


def hash_password(password: str, cost: PasswordCost = OWASP_MINIMUM) -> str:
    """A fresh Argon2id PHC string for `password` (random 16-byte salt)."""
    kdf = Argon2id(
        salt=os.urandom(SALT_LEN),
        length=HASH_LEN,
        iterations=cost.iterations,
        lanes=cost.lanes,
        memory_cost=cost.memory_kib,
    )
    return kdf.derive_phc_encoded(_encode(password))


def phc_cost(phc: str) -> PasswordCost:
    """The cost parameters of a stored PHC string; `PasswordMismatch` if malformed."""
    m = _PHC.fullmatch(phc) if isinstance(phc, str) else None
    if m is None:
        raise PasswordMismatch("stored password hash is not an Argon2id v19 PHC string")
    try:
        return PasswordCost(int(m["t"]), int(m["m"]), int(m["p"]))
    except ValueError as exc:
        raise PasswordMismatch(f"stored password hash has unacceptable cost ({exc})") from exc


def verify_password(password: str, phc: str) -> None:
    """Return None if `password` matches `phc`; raise `PasswordMismatch` otherwise."""
    phc_cost(phc)
    try:
        Argon2id.verify_phc_encoded(_encode(password), phc)
    except InvalidKey as exc:
        if "do not match" in str(exc):
            raise PasswordMismatch("password does not match") from exc
        raise PasswordMismatch(f"stored password hash is malformed ({exc})") from exc


def needs_rehash(phc: str, cost: PasswordCost = OWASP_MINIMUM) -> bool:
    """True if `phc` was made with a cost weaker than `cost` (rehash at next login)."""
    have = phc_cost(phc)
    return (
        have.iterations < cost.iterations
        or have.memory_kib < cost.memory_kib
        or have.lanes < cost.lanes
    )


async def hash_password_async(password: str, cost: PasswordCost = OWASP_MINIMUM) -> str:
    return await asyncio.to_thread(hash_password, password, cost)


async def verify_password_async(password: str, phc: str) -> None:
    await asyncio.to_thread(verify_password, password, phc)
