"""Shared fixtures: every test gets its own user dir and, when asked, its own project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from coditect.cli import main
from coditect.paths import ProjectPaths
from coditect.tasks.store import StateStore

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


@pytest.fixture(autouse=True)
def user_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point CODITECT_HOME at a fresh folder and clear CODITECT_* settings."""
    home = tmp_path_factory.mktemp("coditect-home")
    for name in list(os.environ):
        if name.startswith("CODITECT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CODITECT_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An initialised project in a temporary folder, which is also the working folder."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    run_cli("init", cwd=root)
    yield root


@pytest.fixture
def store(project_dir: Path) -> StateStore:
    return StateStore(ProjectPaths(project_dir).state_dir)


def run_cli(
    *args: str, cwd: Path | None = None, input: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the real ``coditect`` command as a subprocess."""
    result = subprocess.run(
        [sys.executable, "-m", "coditect", *args],
        check=False,
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"coditect {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Run = Callable[..., Result]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    """``cli(*args, code=0)`` runs ``main(args)`` in-process and checks the exit code."""

    def run(*args: str, code: int = 0) -> Result:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exc:
            status = exc.code
        else:  # pragma: no cover - main always exits
            raise AssertionError("main() returned instead of exiting")
        captured = capsys.readouterr()
        result = Result(int(status or 0), captured.out, captured.err)
        assert result.code == code, f"coditect {' '.join(args)} exited {result.code}: {result}"
        return result

    return run
