"""What a worker is told about their privacy: plain words first, the technical detail one tap
away. Both must stay true to docs/privacy.md."""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from survey.i18n import Texts


def privacy_text(t: Texts, k: int, *, answers_in_chat: bool) -> str:
    """Four short paragraphs a worker reads in the chat, in the language of the workplace.
    ``answers_in_chat``: this worker answers with the chat's buttons (no page is configured,
    or they chose the chat), so Telegram carries their answers."""
    sections = [
        (
            t._("What is stored about you"),
            t._(
                "Your unit, your role, your language and whether you want the results after "
                "each round. Not your name or your phone number. To send you check-ins, the "
                "bot keeps your chat number, locked with a key. Only if you ask to talk to "
                "someone (/talk) is your name kept, with the day, for the person you chose: "
                "that request is not anonymous."
            ),
        ),
        (
            t._("Your answers"),
            t._(
                "Your answers are locked the moment you send them and saved without your name "
                "or anything else that leads back to you. Not even whoever runs the database "
                "can tell which answers are yours."
            ),
        ),
        (
            t._("Who sees what"),
            t._(
                "Your manager sees results only for groups of at least {k} people: never your "
                "own answers, and nothing while a check-in is open. A group that is too small "
                "is counted in a larger one."
            ).format(k=k),
        ),
        (t._("What Telegram sees"), _what_telegram_sees(t, answers_in_chat)),
    ]
    return "\n\n".join(
        f"<b>{html.escape(title)}</b>\n{html.escape(body)}" for title, body in sections
    )


def _what_telegram_sees(t: Texts, answers_in_chat: bool) -> str:
    if answers_in_chat:
        return t._(
            "Telegram carries this chat like any other, so it can see which buttons you "
            "press, and so your answers. Once you have sent them, they are no longer shown "
            "in the chat."
        )
    return t._(
        "You answer on a page of our own that opens inside Telegram. Telegram learns that you "
        "opened it, when and for how long, never what you answer, and no answer is ever in this "
        "chat. The page stores nothing on your phone. If you choose to answer in the chat "
        "instead (/settings), Telegram carries your answers like any message."
    )


def details_text(t: Texts) -> str:
    """The same promises as the engineer would state them."""
    points = [
        t._(
            "Instead of your Telegram id the bot stores a pseudonym made with a secret key "
            "(HMAC-SHA256); your chat id is encrypted (AES-256-GCM) and bound to that pseudonym."
        ),
        t._(
            "Answers are sealed (X25519, HKDF-SHA256, AES-256-GCM) to a report key whose private "
            "half need not be on the bot's machine, padded to one size, and stored without "
            "member, time or order."
        ),
        t._(
            "When the round closes, the answers are shuffled and re-sealed together under the "
            "groups they may be reported in, and the record of who answered is destroyed."
        ),
        t._(
            "Reports follow minimum group sizes and are checked by an independent audit, so that "
            "no figure, and no subtraction of figures, shows whether a given person answered or "
            "what they answered."
        ),
    ]
    title = "<b>" + html.escape(t._("Technical details")) + "</b>"
    return "\n\n".join([title, *("• " + html.escape(point) for point in points)])


def details_keyboard(t: Texts, signed_details: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t._("Technical details"), callback_data=signed_details)]]
    )
