"""Every button the bot makes, as a typed value: one kind per button, one codec for all.

A button's callback data is ``kind|field|field...``, signed per user (survey.crypto.buttons),
within Telegram's 64 bytes. Each kind is a frozen dataclass whose fields say what the press
carries (an action's id, a language, a choice); ``data`` writes it and ``read`` turns verified
data back into the same value, refusing anything that does not fit the kind exactly (a wrong
number of fields, a number that is not one, a choice that is not offered). The check-in keeps
its own denser codec (bot.checkin.CheckinState); its kind is listed here so that every prefix
is in one place.

The wire formats are those of the buttons already in people's chats, so they keep working
after an upgrade.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from survey.crypto.buttons import ButtonSigner
from survey.storage.models import TalkRecipient


class Kind(StrEnum):
    """The first field of every button's data."""

    CHECKIN = "c1"
    LANGUAGE = "l"
    PRIVACY_DETAILS = "p"
    AFTER_CHECKIN = "x"
    LEAVE = "q"
    RESULTS = "rs"
    CHANNEL = "ch"
    TALK = "tk"
    RECORD_ACTION = "an"
    ACTION_AREA = "ac"
    ACTION_DUE = "ad"
    ACTION_STATUS = "as"
    ACTION_COMMENT = "am"
    TALK_REPLY = "tr"
    QUESTION_SET = "qa"


@dataclass(frozen=True)
class Button:
    """A kind of button; subclasses name their ``kind`` and declare their fields."""

    kind: ClassVar[Kind]


# --- workers --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChooseLanguage(Button):
    kind = Kind.LANGUAGE
    language: Literal["sv", "en"]


@dataclass(frozen=True)
class PrivacyDetails(Button):
    """The technical details under /privacy."""

    kind = Kind.PRIVACY_DETAILS
    part: Literal["tech"] = "tech"


@dataclass(frozen=True)
class AfterCheckin(Button):
    """Under the thanks: remove the check-in message from the chat ("") or keep it."""

    kind = Kind.AFTER_CHECKIN
    choice: Literal["", "keep"]


@dataclass(frozen=True)
class Leave(Button):
    kind = Kind.LEAVE
    choice: Literal["leave", "stay"]


@dataclass(frozen=True)
class Channel(Button):
    """Where to answer check-ins: the page (Mini App) or the chat's buttons."""

    kind = Kind.CHANNEL
    choice: Literal["webapp", "chat"]


@dataclass(frozen=True)
class Results(Button):
    """Results after each round: on or off."""

    kind = Kind.RESULTS
    choice: Literal["on", "off"]


@dataclass(frozen=True)
class Talk(Button):
    """Ask to talk: to whom, or None for the offer itself (the button after a check-in)."""

    kind = Kind.TALK
    recipient: TalkRecipient | None


# --- managers and safety representatives ---------------------------------------------------------


@dataclass(frozen=True)
class RecordAction(Button):
    kind = Kind.RECORD_ACTION
    unit_id: int


@dataclass(frozen=True)
class ActionArea(Button):
    """The area a new action answers (a construct key), or None for "something else"."""

    kind = Kind.ACTION_AREA
    unit_id: int
    construct: str | None


@dataclass(frozen=True)
class ActionDue(Button):
    kind = Kind.ACTION_DUE
    days: int


@dataclass(frozen=True)
class MoveAction(Button):
    """Move an action on: "o" started (ongoing), "d" done."""

    kind = Kind.ACTION_STATUS
    action_id: int
    status: Literal["o", "d"]


@dataclass(frozen=True)
class ActionComment(Button):
    kind = Kind.ACTION_COMMENT
    action_id: int


@dataclass(frozen=True)
class TalkReply(Button):
    kind = Kind.TALK_REPLY
    request_id: int


# --- admins ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivateQuestionSet(Button):
    """Activate an uploaded question set, by the digest of the upload."""

    kind = Kind.QUESTION_SET
    digest: str


#: Every kind with the generic codec (the check-in has its own).
KINDS: dict[Kind, type[Button]] = {
    cls.kind: cls
    for cls in (
        ChooseLanguage,
        PrivacyDetails,
        AfterCheckin,
        Leave,
        Results,
        Channel,
        Talk,
        RecordAction,
        ActionArea,
        ActionDue,
        MoveAction,
        ActionComment,
        TalkReply,
        ActivateQuestionSet,
    )
}

B = TypeVar("B", bound=Button)


def data(button: Button, signer: ButtonSigner, user_id: int) -> str:
    """The signed callback data of ``button`` for ``user_id``."""
    fields = [_write(getattr(button, f.name)) for f in dataclasses.fields(button)]
    return signer.sign("|".join([button.kind.value, *fields]), user_id)


def read(payload: str) -> Button | None:
    """The button behind a verified payload; None if it fits no kind exactly."""
    kind, *values = payload.split("|")
    try:
        cls = KINDS[Kind(kind)]
    except (ValueError, KeyError):  # not a kind, or the check-in's own codec
        return None
    fields = dataclasses.fields(cls)
    if len(values) != len(fields):
        return None
    hints = _hints(cls)
    parsed: dict[str, Any] = {}
    for field, value in zip(fields, values, strict=True):
        try:
            parsed[field.name] = _parse(hints[field.name], value)
        except ValueError:
            return None
    return cls(**parsed)


def _write(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, StrEnum):
        return value.value
    text = str(value)
    if "|" in text:
        raise ValueError(f"a button field cannot hold '|': {text!r}")
    return text


def _parse(hint: Any, value: str) -> object:
    origin = get_origin(hint)
    if origin is Literal:
        if value not in get_args(hint):
            raise ValueError(value)
        return value
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(hint) if a is not type(None)]
        return None if value == "" else _parse(inner[0], value)
    if hint is int:
        if not value.isdigit():
            raise ValueError(value)
        return int(value)
    if hint is str:
        if not value:
            raise ValueError("empty")
        return value
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return hint(value)
    raise TypeError(f"no codec for {hint!r}")


_HINTS: dict[type[Button], dict[str, Any]] = {}


def _hints(cls: type[Button]) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls, vars(typing) | globals())
    return _HINTS[cls]
