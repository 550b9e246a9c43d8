"""The curated public API resolves, and importing the package stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import coditect


def test_every_public_name_resolves() -> None:
    for name in coditect.__all__:
        assert getattr(coditect, name) is not None, name


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = coditect.NoSuchThing


def test_import_does_not_load_heavy_modules() -> None:
    code = (
        "import sys, coditect, coditect.cli; "
        "heavy = {'pydantic', 'orjson', 'filelock', 'httpx', 'yaml'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
