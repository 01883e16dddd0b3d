"""One logging set-up for every `pulse` command, with redaction at the source (P4).

Libraries log more than we would: httpx puts the bot token in every request URL at INFO;
python-telegram-bot at DEBUG prints whole updates (user and chat ids, first names, `/start
<invite code>`, the callback data that carries a check-in's answers). Rather than trusting each
library's levels, every record is rewritten the moment it is made (a log record factory),
whatever logger it came from and whatever its level, exception text included: so a handler an
operator adds later (an error tracker, journald) gets only redacted records too. Our own handler
filters again, in case something replaced the factory. A redacted record says what happened,
never to whom or with what.
"""

from __future__ import annotations

import contextlib
import json
import logging
import logging.handlers
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

REDACTED = "‹redacted›"

_KEYED_TEXT = (
    "first_name|last_name|username|full_name|name|title|text|caption|data|callback_data|query|"
    "file_name|phone_number|bio|invite_link|link|start_parameter|secret_token|token|url"
)
#: Order matters: tokens and keyed values first, then anything that still looks like an id.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A bot token (123456789:AA...), also inside URLs like .../bot123456789:AA.../sendMessage.
    (re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}"), REDACTED),
    # key='value', key="value", 'key': 'value', "key": "value" for identifying or free fields.
    (
        re.compile(
            rf"""(['"]?\b(?:{_KEYED_TEXT})\b['"]?\s*[:=]\s*)(?:'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")"""
        ),
        rf"\1'{REDACTED}'",
    ),
    # A deep link or command with an invite code.
    (re.compile(r"(start[= ])\S+"), rf"\1{REDACTED}"),
    # Our check-in callback data (c1|round|answers|action|signature).
    (re.compile(r"c\d\|[^\s'\",)]*"), REDACTED),
    # Long random tokens: invite codes, secrets, signatures.
    (re.compile(r"[A-Za-z0-9_-]{32,}"), REDACTED),
    # Telegram user and chat ids (and any other number long enough to be one).
    (re.compile(r"(?<![\w.])-?\d{5,}(?![\w.])"), REDACTED),
)


def redact(text: str) -> str:
    """``text`` without tokens, ids, names, invite codes, callback data or answers."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """``record`` with its message, exception and stack text through ``redact`` (the traceback
    becomes text: its frames' values are never handed on)."""
    try:
        message = record.getMessage()
    except Exception:  # a library's broken format string must not break logging
        message = str(record.msg)
    record.msg = redact(message)
    record.args = None
    if record.exc_info:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


class RedactionFilter(logging.Filter):
    """Rewrites a record through ``redact_record`` before the handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


class _RedactingFactory:
    """The log record factory: every record is redacted as it is made, for every handler."""

    def __init__(self, make: Callable[..., logging.LogRecord]) -> None:
        self.make = make

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(self.make(*args, **kwargs))


def redact_at_the_source() -> None:
    """Install the redacting record factory (once; repeated set-ups keep the one)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(current))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and exception)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ResilientFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file that a full disk or a lost permission cannot turn into noise.

    The standard handler prints a traceback to stderr for every line it cannot write (60 of
    them in a 25-second disk-full); the bot has no use for them and an operator reads past
    them. This one says once on stderr that the log cannot be written, drops lines meanwhile,
    and, once writing works again, says in the log itself how many were lost.
    """

    def __init__(self, file: Path, max_bytes: int, backups: int) -> None:
        super().__init__(
            file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
        )
        #: Lines dropped since writing last failed (0: the log is being written).
        self.dropped = 0
        self._failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.dropped:
            self._end_partial_line()
            notice = logging.LogRecord(
                "survey.logs",
                logging.WARNING,
                __file__,
                0,
                "%d log line(s) were lost while the log file could not be written",
                (self.dropped,),
                None,
            )
            if not self._written(notice):
                self.dropped += 1
                return
            self.dropped = 0
        if not self._written(record):
            self.dropped += 1

    def _end_partial_line(self) -> None:
        """A write cut off by a full disk can leave half a line: the next starts on its own."""
        with contextlib.suppress(OSError), open(self.baseFilename, "rb+") as log_file:
            if log_file.seek(0, os.SEEK_END) == 0:
                return
            log_file.seek(-1, os.SEEK_END)
            if log_file.read(1) != b"\n":
                log_file.write(b"\n")

    def _written(self, record: logging.LogRecord) -> bool:
        """Write (the base class reports a failure through ``handleError``), then flush."""
        self._failed = False
        super().emit(record)
        return not self._failed

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            super().handleError(record)  # a bug in a format string: the standard report
            return
        self._failed = True
        if not self.dropped:
            reason = error.strerror or type(error).__name__
            with contextlib.suppress(OSError):  # stderr may be just as unwritable
                print(
                    f"pulse: cannot write the log file {self.baseFilename} ({reason}); "
                    "log lines are dropped until it can be written again",
                    file=sys.stderr,
                    flush=True,
                )
        # Drop the stream whose buffer holds the failed line, so it is not written twice;
        # the next line opens the file again (delay=True).
        stream, self.stream = self.stream, None
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def configure_logging(
    level: str = "INFO",
    fmt: Literal["text", "json"] = "text",
    file: Path | None = None,
    max_bytes: int = 10_000_000,
    backups: int = 5,
) -> logging.Handler:
    """Install the one handler (stderr, or a rotating file) with the redaction filter on the
    root logger, replacing any handler there; every library logger reaches it. Records are
    redacted as they are made, so handlers added later get them redacted too."""
    redact_at_the_source()
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = ResilientFileHandler(file, max_bytes, backups)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactionFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper())
    # One line per HTTP request or migration step is noise at INFO; all of it shows at DEBUG.
    chatty = logging.WARNING if logging.getLevelName(level.upper()) > logging.DEBUG else 0
    for name in ("alembic", "httpx", "httpcore", "apscheduler"):
        logging.getLogger(name).setLevel(chatty)
    return handler
