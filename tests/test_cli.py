"""The `pulse` command line as an operator uses it: set up, inspect, rotate, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from survey.storage import head_revision

runner = CliRunner()


def _run(*args: str):  # type: ignore[no-untyped-def]
    """Invoke `pulse`; output with rich's line wrapping folded back into single spaces."""
    result = runner.invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    monkeypatch.setenv("PULSE_DATA_DIR", str(tmp_path / "data"))
    for name in ("PULSE_DATABASE_URL", "PULSE_KEYS_DIR", "PULSE_MIN_GROUP_SIZE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "data"


def test_init_then_status(env: Path) -> None:
    result_code, result = _run("init")
    assert result_code == 0
    assert "Created keys" in result
    assert (env / "pulse.sqlite3").exists()
    status_code, status = _run("status")
    assert status_code == 0
    assert head_revision() in status
    assert "1 public, 1 private on this host" in status


def test_second_init_leaves_keys_untouched(env: Path) -> None:
    _run("init")
    before = {p.name: p.read_bytes() for p in (env / "keys").iterdir()}
    result_code, result = _run("init")
    assert result_code == 0
    assert "left unchanged" in result
    assert {p.name: p.read_bytes() for p in (env / "keys").iterdir()} == before


def test_rotate_and_list_keys(env: Path) -> None:
    _run("init")
    rotated_code, _ = _run("keys", "rotate")
    assert rotated_code == 0
    _, listing = _run("keys", "list")
    assert listing.count("private key here") == 2
    assert listing.count("active") == 1


def test_bad_setting_gets_a_clear_message(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_MIN_GROUP_SIZE", "2")
    result_code, result = _run("status")
    assert result_code == 1
    assert "PULSE_MIN_GROUP_SIZE" in result
    assert "at least 3" in result
    assert "Traceback" not in result


def test_unreachable_database_gets_a_clear_message(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULSE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    result_code, result = _run("status")
    assert result_code == 1
    assert "cannot reach the database" in result
