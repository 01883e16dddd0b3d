"""Messages made by the rules, shown by an adapter in the reader's language.

Domain code (question-set checks, for one) states its messages in English and marks them with
``N_`` for the catalog; it knows nothing of who reads them. A ``Phrase`` keeps the template and
its values apart, so the CLI prints the English and the bot the Swedish of the same message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class Translator(Protocol):
    def _(self, message: str) -> str: ...


def N_(message: str) -> str:
    """Marks an English message for the catalog without translating it (gettext's N_)."""
    return message


@dataclass(frozen=True)
class Phrase:
    template: str
    params: Mapping[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.template.format(**self.params) if self.params else self.template

    def in_language(self, t: Translator) -> str:
        text = t._(self.template)
        if not self.params:
            return text
        said = {
            name: value.in_language(t) if isinstance(value, Phrase) else value
            for name, value in self.params.items()
        }
        return text.format(**said)


def phrase(template: str, **params: object) -> Phrase:
    return Phrase(template, params)


def verbatim(text: str) -> Phrase:
    """A message from a library (pydantic, PyYAML) that the catalog does not know: as it is."""
    return Phrase(text)
