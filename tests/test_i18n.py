"""Every marked message has a Swedish translation with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from survey.i18n import LOCALE_DIR, Texts

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def _marked_messages() -> set[str]:
    found: set[str] = set()
    for package in ("survey", "aggregation", "bot"):
        for _, _, message, _, _ in extract_from_dir(
            ROOT / package,
            method_map=[("**.py", "python")],
            keywords={"_": None, "N_": None, "ngettext": (1, 2)},
        ):
            found.update([message] if isinstance(message, str) else message)
    return {m for m in found if m}


def test_every_message_is_translated_to_swedish() -> None:
    with (LOCALE_DIR / "sv" / "LC_MESSAGES" / "pulse.po").open("rb") as handle:
        catalog = read_po(handle, locale="sv")
    translated: dict[str, str] = {}
    for entry in catalog:
        if isinstance(entry.id, tuple):  # ngettext: singular and plural, each with its form
            forms = entry.string if isinstance(entry.string, tuple | list) else (entry.string,)
            translated.update(zip(entry.id, map(str, forms), strict=True))
        elif entry.id:
            translated[str(entry.id)] = str(entry.string)
    missing = sorted(m for m in _marked_messages() if not translated.get(m))
    assert missing == [], f"add these to survey/locale/sv/LC_MESSAGES/pulse.po: {missing}"
    for message_id, text in translated.items():
        assert sorted(PLACEHOLDER.findall(str(message_id))) == sorted(PLACEHOLDER.findall(text)), (
            message_id
        )


def test_catalogs_load_and_english_is_the_source() -> None:
    assert Texts("sv")._("Alerts") == "Varningssignaler"
    assert Texts("en")._("Alerts") == "Alerts"
    assert Texts("sv").percent(0.456) == "46 %"
    assert Texts("en").percent(0.456) == "46%"
