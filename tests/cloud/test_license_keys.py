"""Licence keys: format, entropy, the check symbol (exhaustively), forgiving input, hashing."""

from __future__ import annotations

import hashlib
import re
from collections import Counter

import pytest

from coditect.cloud.services.keys import (
    ALPHABET,
    LicenceKeyError,
    check_symbol,
    generate_key,
    hash_key,
    key_prefix,
    normalise_key,
)

KEY_PATTERN = re.compile(r"^CDT(-[0-9A-HJKMNP-TV-Z]{5}){5}-[0-9A-HJKMNP-TV-Z]$")
SAMPLES = [generate_key().key for _ in range(40)]


def _symbols(key: str) -> list[str]:
    return list(key.removeprefix("CDT-").replace("-", ""))


def _rebuild(symbols: list[str]) -> str:
    body = "".join(symbols)
    return "CDT-" + "-".join(body[i : i + 5] for i in range(0, 25, 5)) + "-" + body[25:]


def test_a_new_key_has_the_documented_shape_and_normalises_to_itself() -> None:
    new = generate_key()
    assert KEY_PATTERN.match(new.key), new.key
    assert normalise_key(new.key) == new.key
    assert new.prefix == new.key[:9] == key_prefix(new.key)
    assert new.key_hash == hashlib.sha256(new.key.encode()).hexdigest()


def test_keys_carry_125_random_bits() -> None:
    keys = [generate_key().key for _ in range(2000)]
    assert len(set(keys)) == len(keys)
    bodies = "".join("".join(_symbols(key)[:25]) for key in keys)
    counts = Counter(bodies)
    assert set(counts) == set(ALPHABET)  # every symbol of the alphabet is used
    expected = len(bodies) / 32
    assert all(abs(count - expected) < expected * 0.2 for count in counts.values())
    assert len(ALPHABET) == 32 and 25 * 5 >= 125  # 100 secret bits beyond the prefix


def test_the_check_quasigroup_is_totally_anti_symmetric() -> None:
    """Damm's condition, over the whole alphabet: (c∘x)∘y = (c∘y)∘x only when x = y."""
    for c in ALPHABET:
        for x in ALPHABET:
            for y in ALPHABET:
                if x != y:
                    assert check_symbol(c + x + y) != check_symbol(c + y + x), (c, x, y)


@pytest.mark.parametrize("key", SAMPLES[:20])
def test_every_single_symbol_substitution_is_caught(key: str) -> None:
    symbols = _symbols(key)
    for position, original in enumerate(symbols):
        for replacement in ALPHABET:
            if replacement == original:
                continue
            typo = symbols.copy()
            typo[position] = replacement
            with pytest.raises(LicenceKeyError, match="typo"):
                normalise_key(_rebuild(typo))


@pytest.mark.parametrize("key", SAMPLES)
def test_every_adjacent_transposition_is_caught_check_symbol_included(key: str) -> None:
    symbols = _symbols(key)
    swapped_any = False
    for position in range(len(symbols) - 1):
        if symbols[position] == symbols[position + 1]:
            continue
        typo = symbols.copy()
        typo[position], typo[position + 1] = typo[position + 1], typo[position]
        with pytest.raises(LicenceKeyError, match="typo"):
            normalise_key(_rebuild(typo))
        swapped_any = True
    assert swapped_any


def test_case_dashes_spaces_prefix_and_confusables_do_not_matter() -> None:
    body = "0O1IL" + "ABCDE" + "FGHJK" + "MNPQR" + "STVWX"
    canonical_body = "00111ABCDEFGHJKMNPQRSTVWX"
    check = check_symbol(canonical_body)
    canonical = _rebuild([*canonical_body, check])
    typed = [
        f"cdt-{body[:5]}-{body[5:10]}-{body[10:15]}-{body[15:20]}-{body[20:]}-{check}".lower(),
        body + check,
        " ".join(body[i : i + 5] for i in range(0, 25, 5)) + " " + check,
        f"  CDT{body}{check}\n",
        f"CDT--{body[:12]}_{body[12:]}-{check}",
    ]
    for text in typed:
        assert normalise_key(text) == canonical, text
        assert hash_key(text) == hashlib.sha256(canonical.encode()).hexdigest()


def test_a_body_that_starts_like_the_prefix_is_not_mistaken_for_it() -> None:
    body = "CDT" + "0" * 22
    key = _rebuild([*body, check_symbol(body)])
    assert normalise_key(key.removeprefix("CDT-")) == key
    assert normalise_key(key) == key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "has 0"),
        ("CDT-ABCDE", "has 5"),
        (SAMPLES[0] + "7", "has 27"),
        ("CDT-UUUUU-" + SAMPLES[0][10:], "no 'U'"),
        ("CDT-AB*DE-" + SAMPLES[0][10:], r"no '\*'"),
    ],
)
def test_what_cannot_be_a_key_is_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(LicenceKeyError, match=message):
        normalise_key(text)
