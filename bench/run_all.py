"""Run every benchmark and write one table: `make bench` (results in bench/results/)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BENCHES = [
    ("core", "bench_core.py"),
    ("aggregation", "bench_aggregation.py"),
    ("bot", "bench_bot.py"),
    ("newcomer", "bench_newcomer.py"),
    ("web", "bench_web.py"),
]


def main() -> None:
    RESULTS.mkdir(exist_ok=True)
    lines = [f"# Benchmark results ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", ""]
    machine = ""
    for name, script in BENCHES:
        target = RESULTS / f"{name}.json"
        print(f"== {script}", flush=True)
        command = [sys.executable, str(HERE / script), "--json", str(target)]
        subprocess.run(command, check=True)  # noqa: S603  (our own scripts)
        record = json.loads(target.read_text())
        machine = record["machine"]
        lines += [f"## {name}", "", "| figure | value |", "| --- | --- |"]
        lines += [f"| {figure} | {value} |" for figure, value in record["figures"].items()]
        for description, met in record.get("targets", {}).items():
            lines.append(f"| target: {description} | {'met' if met else 'NOT met'} |")
        lines.append("")
    lines.insert(1, f"\nMachine: {machine}.")
    (RESULTS / "README.md").write_text("\n".join(lines) + "\n")
    print(f"Table written to {RESULTS / 'README.md'}")


if __name__ == "__main__":
    main()
