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
    for package in ("survey", "aggregation", "bot", "web"):
        for _, _, message, _, _ in extract_from_dir(
            ROOT / package,
            method_map=[("**.py", "python"), ("**.j2", "jinja2")],
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
    assert Texts("sv")._("To do now") == "Att göra nu"
    assert Texts("en")._("To do now") == "To do now"
    assert Texts("sv").percent(0.456) == "46\u00a0%"  # no line break before the sign
    assert Texts("en").percent(0.456) == "46%"


def test_numbers_dates_and_weeks_read_as_each_language_writes_them() -> None:
    from datetime import date

    sv, en = Texts("sv"), Texts("en")
    assert (sv.number(12.55, 1), en.number(12.55, 1)) == ("12,6", "12.6")
    assert sv.number(-0.4) == "0"  # never "-0"
    assert (sv.signed(7.2), sv.signed(-3.4), sv.signed(0.3)) == ("+7", "\u22123", "±0")
    day = date(2026, 11, 19)
    assert (sv.date(day), en.date(day)) == ("19 nov. 2026", "19 Nov 2026")
    assert (sv.week(day), en.week(day)) == ("v.\u00a047", "week 47")  # never "v." alone
    assert (sv.weekday(0), en.weekday(0)) == ("måndag", "Monday")
