"""Swedish and English texts through gettext catalogs (Babel).

Messages are written in English in the code, marked with ``_()``/``ngettext``; the Swedish
catalog lives in ``survey/locale/sv/LC_MESSAGES/pulse.po``. Catalogs are read from the .po files
at start-up (no compile step to forget), and a test fails when a marked message has no Swedish
translation. Bot and reports share the one catalog, so a term reads the same everywhere.
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from survey.settings import SUPPORTED_LANGUAGES

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "pulse"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalog for ``language`` ('sv' or 'en'); English is the source language."""
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == "en" or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Texts:
    """``t = Texts('sv'); t._('Thanks!')`` - one object per language, passed where text is made."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._catalog = translations(language)

    def _(self, message: str) -> str:
        return self._catalog.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._catalog.ngettext(singular, plural, n)

    def percent(self, share: float) -> str:
        """ "46 %" in Swedish (a no-break space, so a line never ends before the sign), "46%"."""
        from babel.numbers import format_percent

        return str(
            format_percent(
                share, format="#,##0 %" if self.language == "sv" else None, locale=self.language
            )
        ).replace(" ", "\u00a0")

    def number(self, value: float, digits: int = 0) -> str:
        """A figure as the reader writes it ("12,5" in Swedish); never "-0"."""
        from babel.numbers import format_decimal

        rounded = round(value, digits) + 0.0  # -0.4 rounds to -0.0; adding 0.0 makes it 0.0
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return str(format_decimal(rounded, format=pattern, locale=self.language))

    def count_word(self, n: int) -> str:
        """A small count as prose writes it ("fyra föregående", "the four rounds before"):
        words up to twelve, figures above."""
        words = {
            "sv": "noll en två tre fyra fem sex sju åtta nio tio elva tolv",
            "en": "zero one two three four five six seven eight nine ten eleven twelve",
        }[self.language].split()
        return words[n] if 0 <= n < len(words) else self.number(n)

    def signed(self, value: float) -> str:
        """A change: "+7", "−3" (a true minus sign), "±0" when it rounds to nothing."""
        rounded = round(value)
        if rounded == 0:
            return "±0"
        return ("+" if rounded > 0 else "\u2212") + self.number(abs(rounded))

    def date(self, day: dt.date) -> str:
        """ "19 nov. 2026", "19 Nov 2026"."""
        from babel.dates import format_date

        return str(format_date(day, "d MMM y", locale=self.language))

    def week(self, day: dt.date) -> str:
        """The ISO week, as Swedish managers name their weeks: "v. 47", "week 47"."""
        return self._("week {n}").format(n=day.isocalendar().week)

    def weekday(self, index: int) -> str:
        """Monday is 0, as in ``datetime.weekday()``: "måndag", "Monday"."""
        from babel.dates import get_day_names

        return str(get_day_names("wide", locale=self.language)[index])

    def cadence(self, cadence: str) -> str:
        names = {
            "weekly": self._("every week"),
            "biweekly": self._("every other week"),
            "monthly": self._("every month"),
        }
        return names.get(cadence, cadence)

    def role(self, role: str) -> str:
        names = {
            "worker": self._("worker"),
            "manager": self._("manager"),
            "safety_rep": self._("safety representative"),
            "admin": self._("admin"),
        }
        return names.get(role, role)
