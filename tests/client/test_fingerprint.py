"""The machine fingerprint: an HMAC of the OS id, stable, and never the id itself."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import sys
from pathlib import Path

import pytest

from coditect.client import fingerprint as fp


def test_the_fingerprint_is_an_hmac_keyed_with_the_app_key() -> None:
    raw = "3d1219c7c4c5404aaa1f6d2a48adfda4"
    expected = hmac.new(b"coditect/machine-fingerprint/v1", raw.encode(), hashlib.sha256)
    assert fp.fingerprint(raw) == expected.hexdigest()
    assert fp.fingerprint(raw) != hashlib.sha256(raw.encode()).hexdigest()  # keyed, not a hash
    assert raw not in fp.fingerprint(raw)
    assert fp.fingerprint(raw) != fp.fingerprint(raw[:-1] + "5")


def test_this_machine_has_a_stable_fingerprint_that_hides_its_id() -> None:
    first, second = fp.fingerprint(), fp.fingerprint()
    assert first == second
    assert len(first) == 64 and set(first) <= set("0123456789abcdef")
    assert fp.machine_id() not in first


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux machine-id files")
def test_linux_reads_the_os_machine_id() -> None:
    found = next((p for p in fp.LINUX_ID_FILES if p.is_file() and p.read_text().strip()), None)
    if found is None:
        pytest.skip("this Linux has no machine-id file")
    assert fp.machine_id() == found.read_text().strip()


def test_the_first_machine_id_file_with_content_wins(tmp_path: Path) -> None:
    empty, dbus = tmp_path / "machine-id", tmp_path / "dbus-machine-id"
    empty.write_text("\n")
    dbus.write_text("abc123\n")
    assert fp._linux_id((tmp_path / "missing", empty, dbus)) == "abc123"
    assert fp._linux_id((tmp_path / "missing",)) is None


def test_without_an_os_id_a_random_one_is_kept(tmp_path: Path) -> None:
    first = fp._fallback_id(tmp_path)
    assert len(first) == 32
    assert fp._fallback_id(tmp_path) == first  # kept, so the fingerprint stays stable
    path = tmp_path / fp.FALLBACK_FILE
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.unlink()
    assert fp._fallback_id(tmp_path) != first  # a new machine, as far as anyone can tell
