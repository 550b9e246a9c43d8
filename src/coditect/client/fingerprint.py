"""This machine's fingerprint: an HMAC-SHA256 of the OS machine id, never the id itself.

The id comes from the OS: ``/etc/machine-id`` or ``/var/lib/dbus/machine-id`` (Linux,
BSD), ``IOPlatformUUID`` (macOS, from ``ioreg``), ``MachineGuid`` (Windows registry).
Where none exists (a minimal container), a random id is made once and kept in the user
dir. The fingerprint keys the HMAC with a fixed application key, so the service sees a
stable value per machine that cannot be turned back into the OS id, nor matched with the
ids other applications derive from it. Written by hand: the sources are a file, a
registry value and one command; no library reads all three without shelling out on
Windows, and none keeps a fallback id.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import subprocess
import sys
from pathlib import Path

from coditect.client.files import write_private
from coditect.paths import user_dir

__all__ = ["APP_KEY", "fingerprint", "machine_id"]

APP_KEY = b"coditect/machine-fingerprint/v1"
"""The HMAC key: fixed, so a machine keeps its fingerprint across installs."""
LINUX_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))
FALLBACK_FILE = "machine-id"
_IOREG_UUID = re.compile(r'"IOPlatformUUID"\s*=\s*"([^"]+)"')


def _linux_id(files: tuple[Path, ...] = LINUX_ID_FILES) -> str | None:
    for path in files:
        try:
            value = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if value:
            return value
    return None


def _macos_id() -> str | None:
    try:
        result = subprocess.run(
            ["ioreg", "-rd1", "-c", "IOPlatformExpertDevice"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = _IOREG_UUID.search(result.stdout)
    return match.group(1) if match else None


def _windows_id() -> str | None:
    if sys.platform != "win32":
        return None
    import winreg

    try:
        with winreg.OpenKey(
            winreg.HKEY_LOCAL_MACHINE,
            r"SOFTWARE\Microsoft\Cryptography",
            0,
            winreg.KEY_READ | winreg.KEY_WOW64_64KEY,
        ) as key:
            value, _kind = winreg.QueryValueEx(key, "MachineGuid")
    except OSError:
        return None
    return str(value).strip() or None


def _fallback_id(folder: Path) -> str:
    """A random id kept in the user dir, made on first use."""
    path = folder / FALLBACK_FILE
    try:
        value = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        value = ""
    if not value:
        value = secrets.token_hex(16)
        write_private(path, value.encode("ascii") + b"\n")
    return value


def machine_id() -> str:
    """The OS id of this machine (or the kept random one). Never sent anywhere."""
    if sys.platform == "darwin":
        found = _macos_id()
    elif sys.platform == "win32":
        found = _windows_id()
    else:
        found = _linux_id()
    return found or _fallback_id(user_dir())


def fingerprint(raw_id: str | None = None) -> str:
    """HMAC-SHA256 of the machine id, keyed with ``APP_KEY``: 64 hex digits."""
    value = machine_id() if raw_id is None else raw_id
    return hmac.new(APP_KEY, value.encode("utf-8"), hashlib.sha256).hexdigest()
