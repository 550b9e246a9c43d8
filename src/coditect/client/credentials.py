"""Where the CLI keeps its secrets: sign-in tokens and licence keys.

The OS keyring (``keyring``: macOS Keychain, Windows Credential Locker, Secret Service,
KWallet) when the machine has a real one; otherwise ``credentials.json`` in the user dir,
readable only by the user (0600), replaced atomically under an inter-process lock.
``[cloud] credentials`` chooses: ``auto`` (the default), ``keyring`` or ``file``.

``auto`` takes the keyring only if it is a recommended backend (priority ≥ 1, keyring's
own rule) or one the user chose explicitly (``PYTHON_KEYRING_BACKEND`` or
``keyringrc.cfg``): keyring's fail and null backends, and the plaintext stand-ins of
``keyrings.alt``, never hold tokens unasked. Secrets are stored per server address, so
accounts on several services do not mix.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson

from coditect.client.files import read_json, write_private
from coditect.errors import ServiceUnavailableError, StateCorruptedError, UsageError
from coditect.paths import user_dir

__all__ = [
    "SERVICE",
    "Credentials",
    "FileStore",
    "KeyringStore",
    "Location",
    "SecretStore",
    "Session",
    "open_credentials",
    "open_store",
]

SERVICE = "coditect"
"""The keyring service name; the user name is ``<kind>@<server>``."""
FILE_NAME = "credentials.json"
_DAMAGED_HINT = (
    "Sign in again with `coditect user login EMAIL`: it replaces the damaged credentials."
)


@dataclass(frozen=True)
class Location:
    """Where secrets go: the keyring (``detail`` names the backend) or a file (its path)."""

    kind: Literal["keyring", "file"]
    detail: str

    def describe(self) -> str:
        return f"keyring ({self.detail})" if self.kind == "keyring" else f"file {self.detail}"

    def to_dict(self) -> dict[str, str]:
        key = "backend" if self.kind == "keyring" else "path"
        return {"store": self.kind, key: self.detail}


class SecretStore(Protocol):
    """A flat map of names to secret strings."""

    location: Location

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> bool: ...


class FileStore:
    """Secrets in one JSON file, mode 0600, replaced atomically under a file lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = Location("file", str(path))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        from filelock import FileLock

        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with FileLock(str(self.path.with_name(f".{self.path.name}.lock")), timeout=30):
            yield

    def _read(self) -> dict[str, str]:
        data = read_json(self.path, "the stored credentials", _DAMAGED_HINT) or {}
        secrets = data.get("secrets", {})
        if not isinstance(secrets, dict) or not all(isinstance(v, str) for v in secrets.values()):
            raise StateCorruptedError(f"the credentials in {self.path} are damaged", _DAMAGED_HINT)
        return secrets

    def _write(self, secrets: dict[str, str]) -> None:
        if not secrets:
            self.path.unlink(missing_ok=True)
            return
        data = {"version": 1, "secrets": secrets}
        write_private(self.path, orjson.dumps(data, option=orjson.OPT_INDENT_2))

    def get(self, name: str) -> str | None:
        return self._read().get(name)

    def set(self, name: str, value: str) -> None:
        with self._locked():
            secrets = self._read()
            secrets[name] = value
            self._write(secrets)

    def delete(self, name: str) -> bool:
        with self._locked():
            secrets = self._read()
            if secrets.pop(name, None) is None:
                return False
            self._write(secrets)
            return True


class KeyringStore:
    """Secrets in the OS keyring, under the service name ``coditect``."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.location = Location("keyring", str(getattr(backend, "name", type(backend).__name__)))

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        from keyring.errors import KeyringError

        try:
            yield
        except KeyringError as exc:
            raise ServiceUnavailableError(
                f"the OS keyring ({self.location.detail}) could not {action}: {exc}",
                'Unlock the keyring, or keep credentials in a file: [cloud] credentials = "file".',
            ) from exc

    def get(self, name: str) -> str | None:
        with self._translated("read a secret"):
            value = self.backend.get_password(SERVICE, name)
        return value if isinstance(value, str) else None

    def set(self, name: str, value: str) -> None:
        with self._translated("store a secret"):
            self.backend.set_password(SERVICE, name, value)

    def delete(self, name: str) -> bool:
        from keyring.errors import PasswordDeleteError

        if self.get(name) is None:
            return False
        with self._translated("delete a secret"):
            try:
                self.backend.delete_password(SERVICE, name)
            except PasswordDeleteError:
                return False  # deleted meanwhile
        return True


def _usable(backend: Any) -> bool:
    from keyring.backends import chainer, fail, null

    if isinstance(backend, chainer.ChainerBackend):
        return any(_usable(inner) for inner in backend.backends)
    return not isinstance(backend, (fail.Keyring, null.Keyring))


def _recommended(backend: Any) -> bool:
    from keyring.backends import chainer
    from keyring.core import recommended

    if isinstance(backend, chainer.ChainerBackend):
        return any(_recommended(inner) for inner in backend.backends)
    return bool(recommended(backend))


def _chosen_explicitly() -> bool:
    from keyring.util.platform_ import config_root

    return (
        bool(os.environ.get("PYTHON_KEYRING_BACKEND"))
        or (Path(config_root()) / "keyringrc.cfg").is_file()
    )


def _keyring_backend() -> Any | None:
    """keyring's active backend, or ``None`` when it has no usable one."""
    try:
        import keyring

        backend = keyring.get_keyring()
    except Exception:  # a misconfigured PYTHON_KEYRING_BACKEND or keyringrc.cfg
        return None
    return backend if _usable(backend) else None


def open_store(mode: str = "auto") -> SecretStore:
    """The secret store for ``[cloud] credentials`` = ``mode`` (auto, keyring or file)."""
    file_store = FileStore(user_dir() / FILE_NAME)
    if mode == "file":
        return file_store
    backend = _keyring_backend()
    if mode == "keyring":
        if backend is None:
            raise UsageError(
                "[cloud] credentials is keyring, but this machine has no usable OS keyring",
                'Install or unlock one, or set [cloud] credentials = "auto" or "file".',
            )
        return KeyringStore(backend)
    if backend is not None and (_recommended(backend) or _chosen_explicitly()):
        return KeyringStore(backend)
    return file_store


@dataclass(frozen=True)
class Session:
    """A signed-in session on one server. The tokens are secrets."""

    server: str
    email: str
    user_id: str
    session_id: str
    access_token: str
    refresh_token: str
    refresh_expires_at: str

    def to_json(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_json(cls, text: str) -> Session:
        try:
            data = orjson.loads(text)
            return cls(**{name: str(data[name]) for name in cls.__dataclass_fields__})
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise StateCorruptedError("the stored sign-in is damaged", _DAMAGED_HINT) from exc


class Credentials:
    """Sessions and licence keys, per server, in one ``SecretStore``."""

    def __init__(self, store: SecretStore) -> None:
        self.store = store

    @property
    def location(self) -> Location:
        return self.store.location

    def session(self, server: str) -> Session | None:
        text = self.store.get(f"session@{server}")
        return None if text is None else Session.from_json(text)

    def save_session(self, session: Session) -> None:
        self.store.set(f"session@{session.server}", session.to_json())

    def forget_session(self, server: str) -> bool:
        return self.store.delete(f"session@{server}")

    def licence_key(self, server: str) -> str | None:
        return self.store.get(f"licence-key@{server}")

    def save_licence_key(self, server: str, key: str) -> None:
        self.store.set(f"licence-key@{server}", key)

    def forget_licence_key(self, server: str) -> bool:
        return self.store.delete(f"licence-key@{server}")


def open_credentials(mode: str = "auto") -> Credentials:
    return Credentials(open_store(mode))
