"""crypto.passwords: Argon2id PHC strings."""

from __future__ import annotations

import pytest

from crypto import passwords
from crypto.errors import PasswordMismatch

CHEAP = passwords.TEST_COST


def test_round_trip_and_mismatch() -> None:
    phc = passwords.hash_password("correct horse ñ", CHEAP)
    assert phc.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    passwords.verify_password("correct horse ñ", phc)
    with pytest.raises(PasswordMismatch, match="does not match"):
        passwords.verify_password("correct horse n", phc)
    assert passwords.hash_password("x", CHEAP) != passwords.hash_password("x", CHEAP)  # salted


def test_default_cost_is_owasp_minimum() -> None:
    phc = passwords.hash_password("pw")
    assert "$m=19456,t=2,p=1$" in phc
    passwords.verify_password("pw", phc)
    assert not passwords.needs_rehash(phc)
    assert passwords.needs_rehash(passwords.hash_password("pw", CHEAP))


@pytest.mark.parametrize(
    "phc",
    [
        "",
        "plaintext",
        "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g",
        "$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g",
        "$argon2id$v=19$m=64,t=1,p=1$!!!$aGFzaGhhc2hoYXNoaGFzaGhhc2g",
    ],
)
def test_malformed_phc(phc: str) -> None:
    with pytest.raises(PasswordMismatch, match="not an Argon2id"):
        passwords.verify_password("pw", phc)


def test_absurd_cost_is_refused_before_work() -> None:
    phc = passwords.hash_password("pw", CHEAP).replace("m=64", "m=99999999")
    with pytest.raises(PasswordMismatch, match="unacceptable cost"):
        passwords.verify_password("pw", phc)


def test_truncated_hash_is_malformed() -> None:
    phc = passwords.hash_password("pw", CHEAP)
    # depending on the trailing bits this is malformed or a (shorter) non-matching hash
    with pytest.raises(PasswordMismatch):
        passwords.verify_password("pw", phc[:-5])


def test_overlong_password() -> None:
    phc = passwords.hash_password("pw", CHEAP)
    with pytest.raises(PasswordMismatch, match="longer than"):
        passwords.verify_password("x" * 2000, phc)


def test_cost_validation() -> None:
    with pytest.raises(ValueError, match="iterations"):
        passwords.PasswordCost(iterations=0)
    with pytest.raises(ValueError, match="memory"):
        passwords.PasswordCost(memory_kib=4)
    assert passwords.phc_cost(passwords.hash_password("pw", CHEAP)) == CHEAP


async def test_async_variants() -> None:
    phc = await passwords.hash_password_async("pw", CHEAP)
    await passwords.verify_password_async("pw", phc)
    with pytest.raises(PasswordMismatch):
        await passwords.verify_password_async("nope", phc)
