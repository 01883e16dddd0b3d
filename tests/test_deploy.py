"""The operator's files in deploy/: systemd accepts them, and they keep the privacy settings."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
UNITS = ("staff-pulse.service", "staff-pulse-check.service", "staff-pulse-check.timer")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    pulse = Path(sys.executable).with_name("pulse")
    for name in UNITS:
        text = (DEPLOY / name).read_text().replace("/opt/staff-pulse/.venv/bin/pulse", str(pulse))
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / n) for n in UNITS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_the_service_keeps_keys_private_and_stops_on_operator_mistakes() -> None:
    service = (DEPLOY / "staff-pulse.service").read_text()
    assert "UMask=0077" in service  # database, backups and logs: owner only
    assert "StateDirectoryMode=0700" in service  # the keys live below PULSE_DATA_DIR
    assert "RestartPreventExitStatus=2" in service  # a rejected token is not retried in a loop
    assert "User=staff-pulse" in service  # never root
    check = (DEPLOY / "staff-pulse-check.service").read_text()
    assert "pulse status --check" in check
