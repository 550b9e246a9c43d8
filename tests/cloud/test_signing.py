"""Signatures over canonical JSON: what verifies, what a forger or an editor cannot pass."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from coditect.errors import DeniedError, SignatureError, ValidationError
from coditect.signing import (
    LICENCE_FILE_FORMAT,
    LICENCE_FILE_VERSION,
    Signer,
    canonical_json,
    key_id,
    load_public_key,
    public_key_text,
    verify,
    verify_licence_file,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def trusted(signer: Signer) -> dict[str, Any]:
    return {signer.key_id: signer.public_key}


def _answer() -> dict[str, Any]:
    return {
        "valid": True,
        "code": "VALID",
        "detail": "the licence is valid",
        "nonce": "n-1",
        "entitlements": ["cloud_sync"],
        "expires_at": None,
        "server_time": NOW.isoformat(),
    }


def _over_the_wire(document: dict[str, Any]) -> dict[str, Any]:
    """What a client parses: the JSON bytes, keys in whatever order they were sent."""
    reordered = dict(reversed(list(document.items())))
    parsed: dict[str, Any] = orjson.loads(orjson.dumps(reordered))
    return parsed


def test_canonical_json_sorts_keys_at_every_level_without_spaces() -> None:
    assert canonical_json({"b": {"z": 1, "a": [{"y": 2, "x": None}]}, "a": "é"}) == (
        '{"a":"é","b":{"a":[{"x":null,"y":2}],"z":1}}'.encode()
    )


def test_a_signed_answer_verifies_after_a_trip_over_the_wire(
    signer: Signer, trusted: dict[str, Any]
) -> None:
    signed = signer.sign(_answer())
    assert signed["key_id"] == signer.key_id
    assert len(base64.urlsafe_b64decode(signed["signature"] + "==")) == 64
    assert verify(_over_the_wire(signed), trusted) == {**_answer(), "key_id": signer.key_id}


@pytest.mark.parametrize(
    ("field", "value"),
    [("valid", False), ("code", "REVOKED"), ("nonce", "n-2"), ("entitlements", ["sso"])],
)
def test_any_altered_field_is_refused(
    signer: Signer, trusted: dict[str, Any], field: str, value: Any
) -> None:
    tampered = {**signer.sign(_answer()), field: value}
    with pytest.raises(SignatureError, match="altered"):
        verify(tampered, trusted)


def test_an_added_or_removed_field_is_refused(signer: Signer, trusted: dict[str, Any]) -> None:
    signed = signer.sign(_answer())
    with pytest.raises(SignatureError):
        verify({**signed, "plan": "enterprise"}, trusted)
    without = {key: value for key, value in signed.items() if key != "detail"}
    with pytest.raises(SignatureError):
        verify(without, trusted)


def test_a_forgery_with_another_key_is_refused_even_under_our_key_id(
    trusted: dict[str, Any], signer: Signer
) -> None:
    forger = Signer(Ed25519PrivateKey.generate())
    forged = forger.sign({**_answer(), "code": "VALID"})
    with pytest.raises(SignatureError, match="unknown key"):
        verify(forged, trusted)
    forged["key_id"] = signer.key_id  # claim to be the service
    forged = {**forged, "signature": forger.sign({**forged})["signature"]}
    with pytest.raises(SignatureError, match="altered"):
        verify(forged, trusted)


@pytest.mark.parametrize("signature", [None, 42, "", "not base64!", "A" * 86])
def test_missing_or_garbled_signatures_are_refused(
    signer: Signer, trusted: dict[str, Any], signature: Any
) -> None:
    document = {**signer.sign(_answer()), "signature": signature}
    with pytest.raises(SignatureError):
        verify(document, trusted)


def test_a_signature_error_is_a_denial_with_a_hint() -> None:
    error = SignatureError("x")
    assert isinstance(error, DeniedError)
    assert error.exit_code == 5
    assert "licensing.md" in error.hint


def test_public_keys_round_trip_as_raw_base64_and_pem(signer: Signer) -> None:
    text = public_key_text(signer.public_key)
    assert len(text) == 43 and "=" not in text
    pem = signer.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    for form in (text, pem):
        assert key_id(load_public_key(form)) == signer.key_id
    assert len(signer.key_id) == 16 and int(signer.key_id, 16) >= 0


@pytest.mark.parametrize("text", ["", "abc", "A" * 44])
def test_something_else_is_not_taken_for_a_public_key(text: str) -> None:
    with pytest.raises(ValidationError, match="Ed25519"):
        load_public_key(text)


def test_an_rsa_pem_is_not_taken_for_an_ed25519_key() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=1024)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(ValidationError, match="not an Ed25519 key"):
        load_public_key(pem)


def _licence_file(signer: Signer, **payload: Any) -> dict[str, Any]:
    body = {
        "license_id": "lic-1",
        "plan": "pro",
        "fingerprint": "machine-a",
        "issued_at": NOW.isoformat(),
        "valid_until": (NOW + timedelta(days=7)).isoformat(),
        **payload,
    }
    document = {"format": LICENCE_FILE_FORMAT, "version": LICENCE_FILE_VERSION, "payload": body}
    return _over_the_wire(signer.sign(document))


def test_an_offline_file_verifies_for_its_machine_until_it_expires(
    signer: Signer, trusted: dict[str, Any]
) -> None:
    document = _licence_file(signer)
    payload = verify_licence_file(document, trusted, fingerprint="machine-a", now=NOW)
    assert payload["plan"] == "pro"
    last_moment = NOW + timedelta(days=7) - timedelta(microseconds=1)
    assert verify_licence_file(document, trusted, fingerprint="machine-a", now=last_moment)
    with pytest.raises(SignatureError, match="expired") as caught:
        verify_licence_file(document, trusted, fingerprint="machine-a", now=NOW + timedelta(days=7))
    assert "online" in caught.value.hint


def test_an_offline_file_for_another_machine_is_refused(
    signer: Signer, trusted: dict[str, Any]
) -> None:
    with pytest.raises(SignatureError, match="another machine"):
        verify_licence_file(_licence_file(signer), trusted, fingerprint="machine-b", now=NOW)


def test_an_edited_offline_file_is_refused(signer: Signer, trusted: dict[str, Any]) -> None:
    document = _licence_file(signer)
    document["payload"]["valid_until"] = (NOW + timedelta(days=3650)).isoformat()
    with pytest.raises(SignatureError, match="altered"):
        verify_licence_file(document, trusted, fingerprint="machine-a", now=NOW)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "something-else"}, "not a CODITECT licence file"),
        ({"version": 2}, "unsupported licence file version"),
        ({"payload": "text"}, "not a CODITECT licence file"),
    ],
)
def test_a_signed_document_that_is_not_a_licence_file_is_refused(
    signer: Signer, trusted: dict[str, Any], change: dict[str, Any], message: str
) -> None:
    document = {**_licence_file(signer), **change}
    resigned = signer.sign(document)
    with pytest.raises(SignatureError, match=message):
        verify_licence_file(resigned, trusted, fingerprint="machine-a", now=NOW)


def test_a_licence_file_without_a_readable_end_is_refused(
    signer: Signer, trusted: dict[str, Any]
) -> None:
    for value in (None, "soon", "2026-11-30T00:00:00"):  # the last one has no zone
        document = _licence_file(signer, valid_until=value)
        with pytest.raises(SignatureError, match="valid_until"):
            verify_licence_file(document, trusted, fingerprint="machine-a", now=NOW)
