"""Keep the Swedish catalog in step with the code: `python scripts/i18n_sync.py`.

Adds every marked message that the catalog lacks (empty, so tests/test_i18n.py names them until
a translation is written) and marks messages no longer in the code as obsolete.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "survey" / "locale" / "sv" / "LC_MESSAGES" / "pulse.po"


def main() -> None:
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="sv")
    marked = set()
    for package in ("survey", "aggregation", "bot"):
        for _, _, message, _, _ in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python"), ("**.j2", "jinja2")],
            keywords={"_": None, "N_": None, "ngettext": (1, 2)},
        ):
            marked.add(message)
    for message in sorted(marked, key=str):
        if message and message not in catalog:
            catalog.add(message, "" if isinstance(message, str) else ("", ""))
    for entry in list(catalog):
        key = entry.id if isinstance(entry.id, str) else tuple(entry.id)
        if key and key not in marked:
            catalog.obsolete[key] = entry  # type: ignore[index]  # babel types keys as str | (str, str); an id is one of those
            del catalog[key]
    with CATALOG.open("wb") as handle:
        write_po(handle, catalog, width=100, include_previous=False)


if __name__ == "__main__":
    main()
