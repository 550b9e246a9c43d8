"""Private files of the user dir: written atomically, readable only by the user (0600)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

from coditect.errors import StateCorruptedError

__all__ = ["private_dir", "read_json", "write_private"]


def private_dir(path: Path) -> Path:
    """``path`` as a folder, created readable only by the user if it is new."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: temp file (mode 0600) in the same folder, fsync,
    ``os.replace``, fsync of the folder. Readers see the old or the new file, never a mix."""
    private_dir(path.parent)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):  # mkstemp already makes 0600 on POSIX; say it anyway
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    if os.name == "posix":
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            with contextlib.suppress(OSError):  # some file systems cannot sync folders
                os.fsync(folder)
        finally:
            os.close(folder)


def read_json(path: Path, what: str, hint: str) -> dict[str, Any] | None:
    """The JSON object in ``path``; ``None`` if there is no file. A damaged file is a
    ``StateCorruptedError`` naming ``what`` it held and ``hint``."""
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except orjson.JSONDecodeError as exc:
        raise StateCorruptedError(f"{what} in {path} is damaged: {exc}", hint) from exc
    except OSError as exc:
        raise StateCorruptedError(f"cannot read {what} in {path}: {exc.strerror}", hint) from exc
    if not isinstance(data, dict):
        raise StateCorruptedError(f"{what} in {path} is damaged: not a JSON object", hint)
    return data
