"""Typed answers: when the bot has asked a person to write something (an action's description,
a comment, a reply), their next plain message is that answer.

What is awaited lives in the person's ``user_data`` (memory): a restart forgets it, and the
bot says so when the text arrives. Nothing the person writes is logged (P4).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

Answer = Callable[[Update, ContextTypes.DEFAULT_TYPE, "Prompt", str], Awaitable[None]]
_HANDLERS: dict[str, Answer] = {}


@dataclass
class Prompt:
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


def on_answer(kind: str) -> Callable[[Answer], Answer]:
    """Register the handler of typed answers to prompts of ``kind``."""

    def register(handler: Answer) -> Answer:
        _HANDLERS[kind] = handler
        return handler

    return register


def await_answer(context: ContextTypes.DEFAULT_TYPE, kind: str, **data: Any) -> None:
    assert context.user_data is not None, "prompts are asked in private chats"
    context.user_data["prompt"] = Prompt(kind, dict(data))


def cancel(context: ContextTypes.DEFAULT_TYPE) -> None:
    if context.user_data is not None:
        context.user_data.pop("prompt", None)


async def answer_prompt(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Hand a plain text to the awaiting prompt; False when nothing was awaited."""
    prompt = (context.user_data or {}).get("prompt")
    message = update.effective_message
    if not isinstance(prompt, Prompt) or message is None or message.text is None:
        return False
    handler = _HANDLERS.get(prompt.kind)
    if handler is None:
        return False
    await handler(update, context, prompt, message.text)
    return True
