"""The local Bot API server: Telegram's Bot API on 127.0.0.1, for the demo, the tests and the
benchmarks (``LocalBotApi``), with Telegram's refusals in a module of their own."""

from local_bot_api.server import LocalBotApi, Sent, serve_in_subprocess

__all__ = ["LocalBotApi", "Sent", "serve_in_subprocess"]
