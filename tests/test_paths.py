"""Project discovery and the user dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from coditect.errors import ProjectNotFoundError
from coditect.paths import find_project, user_dir


def test_finds_the_project_from_a_sub_folder(tmp_path: Path) -> None:
    (tmp_path / ".coditect").mkdir()
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    project = find_project(deep)
    assert project.root == tmp_path.resolve()
    assert project.state_dir == tmp_path.resolve() / ".coditect" / "state"
    assert project.config_file.name == "config.toml"
    assert project.logs_dir.name == "logs"


def test_no_project_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFoundError, match="no CODITECT project") as info:
        find_project(tmp_path)
    assert "coditect init" in info.value.hint


def test_user_dir_honours_coditect_home(user_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert user_dir() == user_home
    monkeypatch.delenv("CODITECT_HOME")
    assert user_dir().name == "coditect"
