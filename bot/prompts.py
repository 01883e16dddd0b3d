"""Typed answers: when the bot has asked a person to write something (an action's description,
a comment, a reply), their next plain message is that answer.

What is awaited is kept in the person's ``user_data`` and, so that a restart between the
question and the answer loses nothing, in the database (``survey.prompts``, staff only,
forgotten once answered or after PULSE_PROMPT_HOURS). Nothing the person writes is logged (P4).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram import Update

from bot.context import member_of, services_of
from bot.shared import Context
from survey.prompts import forget_prompt, pending_prompt, remember_prompt

Answer = Callable[[Update, Context, "Prompt", str], Awaitable[None]]
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


async def await_answer(
    context: Context, user_id: int, kind: str, **data: Any
) -> None:
    """Wait for ``user_id``'s next plain message as the answer to a prompt of ``kind``."""
    assert context.user_data is not None, "prompts are asked in private chats"
    context.user_data["prompt"] = Prompt(kind, dict(data))
    member = await member_of(context, user_id)
    if member is not None:
        services = services_of(context)
        await asyncio.to_thread(
            remember_prompt, services.db, member.id, kind, dict(data), services.clock()
        )


async def cancel(context: Context, user_id: int) -> None:
    if context.user_data is not None:
        context.user_data.pop("prompt", None)
    member = await member_of(context, user_id)
    if member is not None:
        await asyncio.to_thread(forget_prompt, services_of(context).db, member.id)


async def answer_prompt(update: Update, context: Context) -> bool:
    """Hand a plain text to the awaiting prompt; False when nothing was awaited."""
    message = update.effective_message
    user = update.effective_user
    if message is None or message.text is None or user is None:
        return False
    prompt = (context.user_data or {}).get("prompt")
    if not isinstance(prompt, Prompt):
        prompt = await _remembered(context, user.id)
        if prompt is None:
            return False
    handler = _HANDLERS.get(prompt.kind)
    if handler is None:
        return False
    await handler(update, context, prompt, message.text)
    return True


async def _remembered(context: Context, user_id: int) -> Prompt | None:
    """The prompt kept in the database from before a restart, put back in ``user_data``."""
    member = await member_of(context, user_id)
    if member is None:
        return None
    services = services_of(context)
    found = await asyncio.to_thread(
        pending_prompt,
        services.db,
        member.id,
        services.clock(),
        timedelta(hours=services.settings.prompt_hours),
    )
    if found is None:
        return None
    prompt = Prompt(*found)
    if context.user_data is not None:
        context.user_data["prompt"] = prompt
    return prompt
