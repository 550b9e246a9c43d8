"""Settings precedence: flag > environment > project > user > default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from coditect.config import Config, load_config
from coditect.errors import ValidationError
from coditect.paths import ProjectPaths


def _project(tmp_path: Path, text: str | None) -> ProjectPaths:
    project = ProjectPaths(tmp_path)
    project.dir.mkdir()
    if text is not None:
        project.config_file.write_text(text)
    return project


def test_defaults(tmp_path: Path) -> None:
    assert load_config(_project(tmp_path, None)) == Config()
    assert load_config().state.backups == 20


def test_precedence(tmp_path: Path, user_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (user_home / "config.toml").write_text("[state]\nbackups = 5\n[project]\nname = 'u'\n")
    project = _project(tmp_path, "[state]\nbackups = 7\n")
    assert load_config().state.backups == 5
    config = load_config(project)
    assert (config.state.backups, config.project.name) == (7, "u")
    monkeypatch.setenv("CODITECT_STATE_BACKUPS", "9")
    assert load_config(project).state.backups == 9
    assert load_config(project, {"state": {"backups": 11}}).state.backups == 11


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[state]\nbackup = 3\n", "unknown setting state.backup"),
        ("[stat]\nbackups = 3\n", "unknown setting section [stat]"),
        ("[state]\nbackups = 'many'\n", "state.backups must be int"),
        ("[state]\nbackups = true\n", "state.backups must be int"),
        ("[state]\nbackups = 0\n", "at least 1"),
        ("[state\n", "config.toml"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        load_config(_project(tmp_path, text))


def test_bad_environment_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODITECT_STATE_BACKUPS", "lots")
    with pytest.raises(ValidationError, match=re.escape("environment: state.backups must be int")):
        load_config(_project(tmp_path, None))


def test_unreadable_config_is_an_error(tmp_path: Path) -> None:
    project = _project(tmp_path, None)
    project.config_file.mkdir()
    with pytest.raises(ValidationError, match="cannot read"):
        load_config(project)


def test_a_config_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    project = _project(tmp_path, None)
    project.config_file.write_bytes(b'[state]\nbackups = "\xff"\n')
    with pytest.raises(ValidationError, match=r"config\.toml"):
        load_config(project)
