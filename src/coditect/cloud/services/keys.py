"""Licence keys: generation, normalisation, the check symbol and the stored hash.

A key reads ``CDT-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-C``: 25 random symbols of Crockford's
base32 alphabet (125 bits) in five groups, then one check symbol from the same alphabet.
The first group is also stored in clear as the key's *prefix* (shown in lists so that a
user can tell keys apart); the 100 bits after it stay secret. Only the SHA-256 of the
canonical form is stored, so the key itself is shown once, when it is created.

The check symbol is Damm's algorithm over the quasigroup ``x ∘ y = 2·x ⊕ y`` in GF(32)
(polynomial x⁵ + x² + 1). That quasigroup is totally anti-symmetric, so the check catches
every single-symbol substitution and every transposition of two adjacent symbols,
the check symbol included (tests/cloud/test_license_keys.py checks it exhaustively).

Input is forgiving: case does not matter, dashes and spaces may be missing or extra,
the ``CDT`` prefix may be left out, and the confusable letters O, I and L read as 0, 1, 1.
No library offers Damm over base32, hence the twenty lines below.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

__all__ = [
    "ALPHABET",
    "KEY_PREFIX",
    "LicenceKeyError",
    "NewKey",
    "check_symbol",
    "generate_key",
    "hash_key",
    "key_prefix",
    "normalise_key",
]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
KEY_PREFIX = "CDT"
GROUPS = 5
GROUP_SIZE = 5
BODY_SYMBOLS = GROUPS * GROUP_SIZE
_VALUE = {symbol: value for value, symbol in enumerate(ALPHABET)}
_CONFUSABLES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-_]+")
_POLY = 0b100101  # x^5 + x^2 + 1, primitive over GF(2)


class LicenceKeyError(ValueError):
    """A string that cannot be a licence key; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly generated key: ``key`` is shown once, the other two are stored."""

    key: str
    key_hash: str
    prefix: str


def _times_two(value: int) -> int:
    value <<= 1
    return value ^ _POLY if value & 0b100000 else value


def _interim(values: list[int]) -> int:
    interim = 0
    for value in values:
        interim = _times_two(interim) ^ value  # interim ∘ value
    return interim


def check_symbol(body: str) -> str:
    """The check symbol of a key body (symbols of ``ALPHABET``, no separators)."""
    return ALPHABET[_times_two(_interim([_VALUE[symbol] for symbol in body]))]


def _format(body: str, check: str) -> str:
    groups = [body[i : i + GROUP_SIZE] for i in range(0, BODY_SYMBOLS, GROUP_SIZE)]
    return "-".join([KEY_PREFIX, *groups, check])


def generate_key() -> NewKey:
    """A new random key (125 bits from ``secrets``) with its hash and prefix."""
    number = secrets.randbits(BODY_SYMBOLS * 5)
    body = "".join(ALPHABET[(number >> (5 * i)) & 31] for i in range(BODY_SYMBOLS))
    key = _format(body, check_symbol(body))
    return NewKey(key=key, key_hash=hash_key(key), prefix=key_prefix(key))


def normalise_key(text: str) -> str:
    """The canonical form of a key as typed or pasted; ``LicenceKeyError`` if it is none."""
    compact = _SEPARATORS.sub("", text).upper().translate(_CONFUSABLES)
    if compact.startswith(KEY_PREFIX) and len(compact) != BODY_SYMBOLS + 1:
        compact = compact[len(KEY_PREFIX) :]  # a 26-symbol body may itself start with CDT
    if len(compact) != BODY_SYMBOLS + 1:
        raise LicenceKeyError(
            f"a licence key has {BODY_SYMBOLS + 1} symbols after {KEY_PREFIX}-, "
            f"this one has {len(compact)}"
        )
    strange = sorted({symbol for symbol in compact if symbol not in _VALUE})
    if strange:
        raise LicenceKeyError(f"a licence key has no {', '.join(map(repr, strange))}")
    body, check = compact[:-1], compact[-1]
    if check_symbol(body) != check:
        raise LicenceKeyError("the key has a typo: its check symbol does not match")
    return _format(body, check)


def hash_key(key: str) -> str:
    """SHA-256 (hex) of the canonical key: what the database stores and looks up.

    Keys carry 125 random bits, so a fast unsalted hash is safe; a slow one (Argon2)
    would only slow validation down.
    """
    return hashlib.sha256(normalise_key(key).encode("ascii")).hexdigest()


def key_prefix(key: str) -> str:
    """The non-secret part shown in lists: ``CDT-`` and the first group."""
    return normalise_key(key)[: len(KEY_PREFIX) + 1 + GROUP_SIZE]
