"""What the CLI keeps of its licence: the cached signed answers and the pinned service key.

``<user dir>/licence/licence.json`` (0600) holds the licence this machine activated: its
server, ids, the last signed validation answer and the signed offline licence file. The
documents are kept exactly as the service signed them, so every read checks them again.
``<user dir>/licence/trusted-keys.json`` pins, per server, the Ed25519 key its licences
must be signed with (trust on first use); ``[cloud] public_key`` replaces the pin with a
configured key. The licence key itself is a secret: it lives with the credentials.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from coditect.client.files import read_json, write_private
from coditect.errors import SignatureError, StateCorruptedError
from coditect.paths import user_dir

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["LicenceCache", "Pin", "cache_path", "keys_path", "pinned_keys", "save_pin"]

_CACHE_HINT = (
    "Forget it with `coditect license deactivate --local`, then activate the licence again."
)
_KEYS_HINT = "Delete that file; the next `coditect license activate` pins the key again."


def cache_path() -> Path:
    return user_dir() / "licence" / "licence.json"


def keys_path() -> Path:
    return user_dir() / "licence" / "trusted-keys.json"


@dataclass
class LicenceCache:
    """The licence activated on this machine, as last heard from its server."""

    server: str
    license_id: str
    key_prefix: str
    machine_id: str
    fingerprint: str
    activated_at: str
    validation: dict[str, Any] | None = None
    """The last signed answer of ``POST /licenses/validate``, as received."""
    validated_at: str | None = None
    """This machine's clock when that answer came (the signed time is inside it)."""
    offline: dict[str, Any] | None = None
    """The signed offline licence file, as received."""
    version: int = field(default=1)

    @classmethod
    def load(cls) -> LicenceCache | None:
        path = cache_path()
        data = read_json(path, "the licence cache", _CACHE_HINT)
        if data is None:
            return None
        try:
            cache = cls(**data)
        except TypeError as exc:
            raise StateCorruptedError(f"the licence cache {path} is damaged", _CACHE_HINT) from exc
        for name in ("validation", "offline"):
            if not isinstance(getattr(cache, name), dict | None):
                raise StateCorruptedError(f"the licence cache {path} is damaged", _CACHE_HINT)
        return cache

    def save(self) -> None:
        write_private(cache_path(), orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2))

    @staticmethod
    def clear() -> bool:
        path = cache_path()
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed


@dataclass(frozen=True)
class Pin:
    """A service key to pin for ``server`` once the command that fetched it succeeds."""

    server: str
    key_id: str
    public_key: str
    pinned_at: str


def _read_pins() -> dict[str, Any]:
    return read_json(keys_path(), "the pinned service keys", _KEYS_HINT) or {}


def pinned_keys(server: str) -> dict[str, Ed25519PublicKey]:
    """The key pinned for ``server`` by key id; empty when none is."""
    from coditect.errors import ValidationError
    from coditect.signing import key_id, load_public_key

    entry = _read_pins().get(server)
    if entry is None:
        return {}
    try:
        key = load_public_key(str(entry["public_key"]))
    except (KeyError, TypeError, ValidationError) as exc:
        raise StateCorruptedError(f"the key pinned for {server} is damaged", _KEYS_HINT) from exc
    if key_id(key) != entry.get("key_id"):
        raise SignatureError(
            f"the key pinned for {server} in {keys_path()} was altered", _KEYS_HINT
        )
    return {key_id(key): key}


def save_pin(pin: Pin) -> None:
    pins = _read_pins()
    pins[pin.server] = {
        "key_id": pin.key_id,
        "public_key": pin.public_key,
        "pinned_at": pin.pinned_at,
    }
    write_private(keys_path(), orjson.dumps(pins, option=orjson.OPT_INDENT_2))
