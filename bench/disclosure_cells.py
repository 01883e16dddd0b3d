"""What disclosure control costs: shown unit x construct x round cells of a Staff Pulse database.

Run on the demo's database (`pulse demo --out DIR`, then `python bench/disclosure_cells.py
DIR/data/pulse.sqlite3`) before and after a change to the publication rules, and compare. A cell
is one construct that a closed round asked, for one unit in that round's scope; it is "shown"
when the unit's published figures carry that construct's index, "capped" when only a range is
published (extreme values of a small group). "published answers" are the top units' published
respondents per round: compare them with the check-ins the demo says it made to see how many
answers the caps left out.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from collections import Counter
from pathlib import Path


def count_cells(path: Path) -> dict[str, object]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    names = dict(connection.execute("SELECT id, name FROM unit"))
    rows = connection.execute(
        "SELECT s.round_id, s.unit_id, s.figures FROM round_statistic s "
        "JOIN survey_round r ON r.id = s.round_id WHERE r.state = 'closed'"
    ).fetchall()
    held = connection.execute(
        "SELECT COUNT(*) FROM round_statistic WHERE figures LIKE '%held_back%'"
    ).fetchone()[0]
    connection.close()
    published: Counter[int] = Counter()
    for round_id, _, text in rows:
        figure = json.loads(text)
        if figure.get("shown") and figure.get("parent") is None:
            published[round_id] += int(figure.get("respondents", 0))
    cells = shown = capped = 0
    per_unit: Counter[str] = Counter()
    per_unit_cells: Counter[str] = Counter()
    for _, unit_id, text in rows:
        figure = json.loads(text)
        asked = figure.get("asked", [])
        constructs = figure.get("constructs", {}) if figure.get("shown") else {}
        name = names.get(unit_id, str(unit_id))
        for construct in asked:
            cells += 1
            per_unit_cells[name] += 1
            if construct in constructs:
                shown += 1
                per_unit[name] += 1
                if "range" in constructs[construct]:
                    capped += 1
    return {
        "cells": cells,
        "shown": shown,
        "shown_share": round(shown / cells, 3) if cells else None,
        "capped (range only)": capped,
        "units with figures held back by the pinning audit": held,
        "published answers per round": [published[r] for r in sorted(published)],
        "per unit (shown/asked)": {
            name: f"{per_unit[name]}/{per_unit_cells[name]}" for name in sorted(per_unit_cells)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path)
    args = parser.parse_args()
    print(json.dumps(count_cells(args.database), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
