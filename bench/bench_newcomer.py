"""What a newcomer and an operator wait for: `pulse demo` and the CLI's start-up.

Each command runs as a separate process, the way a person runs it: the demo on a pseudo-terminal
(so its progress bar behaves as on a laptop), timed from the start of the process to its first
line, to its first line about the product at work (people joining) and to its end; light CLI
commands are timed over several runs and the median is reported.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from bench.report import publish

PULSE = Path(sys.executable).with_name("pulse")


def run_demo(out: Path) -> dict[str, float]:
    """Seconds until the first visible line, until the first product step, and until exit."""
    controller, terminal = pty.openpty()
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603  (our own command)
        [str(PULSE), "demo", "--out", str(out)],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "COLUMNS": "100"},
    )
    os.close(terminal)
    seen = b""
    first = joined = None
    while True:
        ready, _, _ = select.select([controller], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            now = time.perf_counter() - started
            seen += chunk
            if first is None and seen.strip():
                first = now
            if joined is None and b"join" in seen:
                joined = now
        elif process.poll() is not None:
            break
    code = process.wait()
    total = time.perf_counter() - started
    os.close(controller)
    if code != 0:
        sys.exit(f"pulse demo failed ({code}):\n{seen.decode(errors='replace')[-3000:]}")
    return {"first": first or total, "joined": joined or total, "total": total}


def median_seconds(
    arguments: list[str], runs: int, env: dict[str, str] | None = None, program: str = ""
) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(  # noqa: S603  (our own command, or the interpreter as a reference)
            [program or str(PULSE), *arguments], check=True, capture_output=True, env=env
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="Runs per CLI command (median).")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures: dict[str, object] = {}
    # How fast this machine runs plain Python right now: shared machines vary by half in an hour,
    # and every other figure here moves with this one.
    started = time.perf_counter()
    sum(i * i for i in range(10_000_000))
    figures["reference: 10 million squares in plain Python (s)"] = round(
        time.perf_counter() - started, 2
    )
    help_seconds = median_seconds(["--help"], args.runs)
    sub_help = median_seconds(["schedules", "create", "--help"], args.runs)
    figures["pulse --help (median, s)"] = round(help_seconds, 3)
    figures["pulse schedules create --help (median, s)"] = round(sub_help, 3)
    with tempfile.TemporaryDirectory() as folder:
        data = {**os.environ, "PULSE_DATA_DIR": str(Path(folder) / "data")}
        subprocess.run([str(PULSE), "init"], check=True, capture_output=True, env=data)  # noqa: S603
        bare = median_seconds(["-c", "pass"], args.runs, program=sys.executable)
        units = median_seconds(["units", "list"], args.runs, data)
        status = median_seconds(["status"], args.runs, data)
        figures["reference: python -c pass (median, s)"] = round(bare, 3)
        figures["pulse units list on SQLite (median, s)"] = round(units, 3)
        figures["pulse status on SQLite (median, s)"] = round(status, 3)
        figures["pulse units list / python -c pass"] = round(units / bare, 1)
        demo = run_demo(Path(folder) / "demo")
        shutil.rmtree(Path(folder) / "demo", ignore_errors=True)
    figures["pulse demo: first line (s)"] = round(demo["first"], 2)
    figures["pulse demo: first product step, people joining (s)"] = round(demo["joined"], 2)
    figures["pulse demo: whole run (s)"] = round(demo["total"], 1)
    publish(
        "Staff Pulse newcomer benchmark",
        figures,
        [
            (f"pulse --help < 0.3 s ({help_seconds:.2f} s)", help_seconds < 0.3),
            (f"demo's first useful output < 10 s ({demo['joined']:.1f} s)", demo["joined"] < 10),
            (f"whole demo < 30 s ({demo['total']:.1f} s)", demo["total"] < 30),
            (
                f"commands that open the database < 0.5 s (units list {units:.2f} s, status "
                f"{status:.2f} s)",
                max(units, status) < 0.5,
            ),
        ],
        args.json,
    )


if __name__ == "__main__":
    main()
