"""The check-in as screens and buttons: one message edited in place, one question at a time.

The whole state of an unfinished check-in (which round, the answers so far) travels in the
buttons' callback data, signed, within Telegram's 64 bytes; nothing is stored against the member
before "send" (P5). This module only lays out screens; what counts as a valid answer is decided
by survey/ when the check-in is sent.
"""

from __future__ import annotations

import html
import string
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo

from bot.buttons import Kind
from survey.checkin_form import AskedItem
from survey.crypto.buttons import ButtonSigner
from survey.i18n import Texts

_DIGITS = string.digits + string.ascii_lowercase  # option index in one character (up to 36)
SKIPPED = "-"
FOCUS = "~"
PREFIX = Kind.CHECKIN.value
#: ``CheckinState.focus`` while the worker picks which answer to change from the summary.
CHOOSING = -1


#: One question as the chat shows it: the form's item (survey.checkin_form), under the name the
#: chat's screens have always used.
ItemView = AskedItem


@dataclass(frozen=True)
class CheckinState:
    round_id: int
    #: Per answered item: the option index, or None when skipped.
    answers: tuple[int | None, ...]
    #: None while answering in order; from the summary, ``CHOOSING`` while picking which answer
    #: to change, then the index of the answer being changed.
    focus: int | None = None

    def encode(self, action: str) -> str:
        chars = "".join(SKIPPED if a is None else _DIGITS[a] for a in self.answers)
        if self.focus is not None:
            chars += FOCUS + (FOCUS if self.focus == CHOOSING else _DIGITS[self.focus])
        return f"{PREFIX}|{_base36(self.round_id)}|{chars}|{action}"

    @classmethod
    def decode(cls, payload: str) -> tuple[CheckinState, str] | None:
        parts = payload.split("|")
        if len(parts) != 4 or parts[0] != PREFIX:
            return None
        _, round_text, chars, action = parts
        chars, marked, focus_text = chars.partition(FOCUS)
        try:
            round_id = int(round_text, 36)
            answers = tuple(None if c == SKIPPED else _DIGITS.index(c) for c in chars)
            focus = None
            if marked:
                if len(focus_text) != 1:
                    return None
                focus = CHOOSING if focus_text == FOCUS else _DIGITS.index(focus_text)
        except ValueError:
            return None
        if focus is not None and focus >= len(answers):
            return None
        return cls(round_id, answers, focus), action


class Screen:
    """One screen of the check-in for one worker: the text and the signed buttons."""

    def __init__(
        self, views: list[ItemView], texts: Texts, signer: ButtonSigner, user_id: int
    ) -> None:
        self.views = views
        self.t = texts
        self.signer = signer
        self.user_id = user_id

    def button(self, label: str, state: CheckinState, action: str) -> InlineKeyboardButton:
        data = self.signer.sign(state.encode(action), self.user_id)
        assert len(data.encode()) <= 64, data
        return InlineKeyboardButton(label, callback_data=data)

    def render(self, state: CheckinState) -> tuple[str, InlineKeyboardMarkup]:
        if state.focus == CHOOSING:
            return self.chooser(state)
        position = len(state.answers) if state.focus is None else state.focus
        if position >= len(self.views):
            return self.summary(state)
        view = self.views[position]
        t = self.t
        heading = t._("Question {n} of {total}").format(n=position + 1, total=len(self.views))
        rows = [
            [self.button(label, state, f"a{_DIGITS[i]}")] for i, label in enumerate(view.labels)
        ]
        extra = []
        if position > 0 or state.focus is not None:
            extra.append(self.button("« " + t._("Back"), state, "b"))
        if not view.item.required:
            extra.append(self.button(t._("Skip") + " »", state, "k"))
        if extra:
            rows.append(extra)
        return f"{heading}\n\n<b>{html.escape(view.text)}</b>", InlineKeyboardMarkup(rows)

    def summary(self, state: CheckinState) -> tuple[str, InlineKeyboardMarkup]:
        t = self.t
        lines = ["<b>" + html.escape(t._("Your answers")) + "</b>", ""]
        for view, answer in zip(self.views, state.answers, strict=True):
            shown = t._("(skipped)") if answer is None else view.labels[answer]
            lines.append(f"• {html.escape(view.text)}\n  → {html.escape(shown)}")
        change = self.button("✎ " + t._("Change an answer"), state, "c")
        if all(answer is None for answer in state.answers):
            # Nothing to send: a check-in of skips only would count someone as having answered.
            note = t._("You skipped every question, so there is nothing to send.")
            lines += ["", html.escape(note)]
            return "\n".join(lines), InlineKeyboardMarkup([[change]])
        question = t._("Send them? They are sealed at once and cannot be tied to you.")
        lines += ["", html.escape(question)]
        keyboard = InlineKeyboardMarkup([[self.button("✓ " + t._("Send"), state, "s"), change]])
        return "\n".join(lines), keyboard

    def chooser(self, state: CheckinState) -> tuple[str, InlineKeyboardMarkup]:
        """Which answer to change: every question, with the answer given, one tap away."""
        t = self.t
        rows = []
        for index, (view, answer) in enumerate(zip(self.views, state.answers, strict=True)):
            shown = t._("(skipped)") if answer is None else view.labels[answer]
            label = _shortened(f"{index + 1}. {view.text} → {shown}")
            rows.append([self.button(label, state, f"e{_DIGITS[index]}")])
        rows.append([self.button("« " + t._("Back to the summary"), state, "b")])
        return html.escape(t._("Which answer do you want to change?")), InlineKeyboardMarkup(rows)


def page_screen(t: Texts, url: str) -> tuple[str, InlineKeyboardMarkup]:
    """The check-in as one button that opens the page (a Mini App on our own server): the chat
    then holds no answer at all, and Telegram never carries one."""
    text = html.escape(
        t._(
            "Tap “Answer” to open the questions. Your answers go straight to our own server: "
            "Telegram never sees them, and nothing of them stays in this chat."
        )
    )
    button = InlineKeyboardButton("✎ " + t._("Answer"), web_app=WebAppInfo(url))
    return text, InlineKeyboardMarkup([[button]])


def step(views: list[ItemView], state: CheckinState, action: str) -> CheckinState | None:
    """The state after pressing ``action``; None if the press does not fit this state (stale or
    replayed). "s" (send) leaves the state as it is: sending is survey's business."""
    if state.focus is not None:
        return _step_changing(views, state, action)
    position = len(state.answers)
    if action == "b" and position > 0:
        return CheckinState(state.round_id, state.answers[:-1])
    if action == "c" and position == len(views) and position > 0:
        return CheckinState(state.round_id, state.answers, CHOOSING)
    if action == "s" and position == len(views):
        return state if any(answer is not None for answer in state.answers) else None
    if position >= len(views):
        return None
    view = views[position]
    if action == "k" and not view.item.required:
        return CheckinState(state.round_id, (*state.answers, None))
    if action.startswith("a") and len(action) == 2:
        index = _DIGITS.find(action[1])
        if 0 <= index < len(view.labels):
            return CheckinState(state.round_id, (*state.answers, index))
    return None


def _step_changing(views: list[ItemView], state: CheckinState, action: str) -> CheckinState | None:
    """From the summary: pick an answer (``e<i>``), then a new option, a skip, or back."""
    if len(state.answers) != len(views):
        return None
    if state.focus == CHOOSING:
        if action == "b":
            return CheckinState(state.round_id, state.answers)
        if action.startswith("e") and len(action) == 2:
            index = _DIGITS.find(action[1])
            if 0 <= index < len(views):
                return CheckinState(state.round_id, state.answers, index)
        return None
    assert state.focus is not None
    index, view = state.focus, views[state.focus]
    if action == "b":
        return CheckinState(state.round_id, state.answers, CHOOSING)
    chosen: int | None
    if action == "k" and not view.item.required:
        chosen = None
    elif (
        action.startswith("a")
        and len(action) == 2
        and 0 <= _DIGITS.find(action[1]) < len(view.labels)
    ):
        chosen = _DIGITS.find(action[1])
    else:
        return None
    answers = (*state.answers[:index], chosen, *state.answers[index + 1 :])
    return CheckinState(state.round_id, answers)


def _shortened(text: str, limit: int = 60) -> str:
    """A button label Telegram shows whole on a phone."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def answers_of(views: list[ItemView], state: CheckinState) -> dict[str, object]:
    """The check-in as survey/ takes it: item key -> option value (skipped items left out)."""
    return {
        view.item.key: view.item.options[answer]
        for view, answer in zip(views, state.answers, strict=True)
        if answer is not None
    }


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _DIGITS[rest] + digits
        if number == 0:
            return digits
