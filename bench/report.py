"""Printing and saving benchmark figures the same way for every benchmark."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def publish(
    title: str, figures: dict[str, object], targets: list[tuple[str, bool]], json_path: Path | None
) -> None:
    """Print a table of figures and target verdicts; also write them as JSON if asked."""
    print(f"{title} ({machine()})")
    width = max(len(name) for name in figures)
    for name, value in figures.items():
        print(f"  {name:<{width}}  {value}")
    for description, met in targets:
        print(f"  target: {description} -> {'met' if met else 'NOT met'}")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "machine": machine(),
            "figures": figures,
            "targets": dict(targets),
        }
        json_path.write_text(json.dumps(record, indent=2, ensure_ascii=False))
