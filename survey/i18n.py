"""Swedish and English texts through gettext catalogs (Babel).

Messages are written in English in the code, marked with ``_()``/``ngettext``; the Swedish
catalog lives in ``survey/locale/sv/LC_MESSAGES/pulse.po``. Catalogs are read from the .po files
at start-up (no compile step to forget), and a test fails when a marked message has no Swedish
translation. Bot and reports share the one catalog, so a term reads the same everywhere.
"""

from __future__ import annotations

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
        value = f"{share * 100:.0f}"
        return f"{value} %" if self.language == "sv" else f"{value}%"

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
        names = {"worker": self._("worker"), "manager": self._("manager"), "admin": self._("admin")}
        return names.get(role, role)

    def number(self, value: float, digits: int = 0) -> str:
        text = f"{value:.{digits}f}"
        return text.replace(".", ",") if self.language == "sv" else text
