"""Ed25519 signatures over canonical JSON, shared by the cloud service and the CLI.

The service signs every licence validation answer and every offline licence file; the
CLI verifies them with the service's public key, so a forged or altered answer is
refused. One rule covers both: the signature is Ed25519 over the *canonical encoding*
of the JSON object without its ``signature`` member — UTF-8 JSON with keys sorted at
every level and no spaces (orjson with ``OPT_SORT_KEYS``). The object carries
``key_id`` (the first 16 hex digits of the SHA-256 of the raw public key) and
``signature`` (URL-safe base64 of the 64 signature bytes, no padding).

Public keys travel as URL-safe base64 of their 32
raw bytes or as PEM. This module needs ``cryptography`` and nothing from the server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from coditect.errors import SignatureError, ValidationError

__all__ = [
    "ALGORITHM",
    "LICENCE_FILE_FORMAT",
    "Signer",
    "canonical_json",
    "key_id",
    "load_public_key",
    "public_key_text",
    "verify",
    "verify_licence_file",
]

ALGORITHM: Final = "Ed25519"
LICENCE_FILE_FORMAT = "coditect-licence"
LICENCE_FILE_VERSION = 1


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys at every level, compact."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short name for a public key: 16 hex digits of the SHA-256 of its raw bytes."""
    return hashlib.sha256(_raw(public_key)).hexdigest()[:16]


def public_key_text(public_key: Ed25519PublicKey) -> str:
    """The public key as URL-safe base64 of its 32 raw bytes."""
    return _b64encode(_raw(public_key))


def load_public_key(value: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM or from URL-safe base64 of its 32 raw bytes."""
    try:
        if "-----BEGIN" in value:
            key = serialization.load_pem_public_key(value.encode("ascii"))
        else:
            key = Ed25519PublicKey.from_public_bytes(_b64decode(value.strip()))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValidationError(
            "not an Ed25519 public key", "Copy it from GET /api/v1/licenses/public-key."
        ) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValidationError(
            f"the public key is a {type(key).__name__}, not an Ed25519 key",
            "Copy it from GET /api/v1/licenses/public-key.",
        )
    return key


class Signer:
    """Signs JSON objects with one private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    def sign(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """The document with ``key_id`` and ``signature`` added."""
        signed = {key: value for key, value in document.items() if key != "signature"}
        signed["key_id"] = self.key_id
        signed["signature"] = _b64encode(self._private_key.sign(canonical_json(signed)))
        return signed


def verify(
    document: Mapping[str, Any], public_keys: Mapping[str, Ed25519PublicKey]
) -> dict[str, Any]:
    """The document without its signature, if the signature is good; else ``SignatureError``.

    ``public_keys`` maps key ids to the keys trusted to sign (usually one).
    """
    signature, kid = document.get("signature"), document.get("key_id")
    if not isinstance(signature, str) or not isinstance(kid, str):
        raise SignatureError("the answer is not signed")
    public_key = public_keys.get(kid)
    if public_key is None:
        raise SignatureError(f"the answer is signed by an unknown key ({kid})")
    signed = {key: value for key, value in document.items() if key != "signature"}
    try:
        public_key.verify(_b64decode(signature), canonical_json(signed))
    except (InvalidSignature, ValueError, binascii.Error, TypeError) as exc:
        raise SignatureError("the signature does not match: the answer was altered") from exc
    return signed


def verify_licence_file(
    document: Mapping[str, Any],
    public_keys: Mapping[str, Ed25519PublicKey],
    *,
    fingerprint: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The payload of an offline licence file, checked with no network.

    Refuses (``SignatureError``) a file that is not signed by a trusted key, is not a
    licence file, is bound to another machine, or whose ``valid_until`` has passed.
    """
    verify(document, public_keys)
    payload = document.get("payload")
    if document.get("format") != LICENCE_FILE_FORMAT or not isinstance(payload, dict):
        raise SignatureError("this is not a CODITECT licence file")
    if document.get("version") != LICENCE_FILE_VERSION:
        raise SignatureError(f"unsupported licence file version {document.get('version')!r}")
    if payload.get("fingerprint") != fingerprint:
        raise SignatureError("the licence file belongs to another machine")
    try:
        valid_until = datetime.fromisoformat(str(payload.get("valid_until")))
        expired = (now or datetime.now(UTC)) >= valid_until
    except (ValueError, TypeError) as exc:
        raise SignatureError("the licence file has no valid_until time") from exc
    if expired:
        raise SignatureError(
            f"the licence file expired at {valid_until.isoformat()}",
            "Go online once so that the CLI can fetch a fresh licence file.",
        )
    return payload
