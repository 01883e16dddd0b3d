"""The web server inside `pulse run`: the check-in page and its two requests, on the bot's own
event loop, behind a reverse proxy that terminates TLS (docs/operations.md).

Every response carries the same guard headers: the page may load nothing from another host
(``default-src 'self'``), may be framed only by Telegram Web, sends no referrer, and is never
cached. No access log is written, and nothing here logs a request's address, body or
initData: they name a person or carry answers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from survey.i18n import Texts
from survey.settings import SUPPORTED_LANGUAGES
from web.checkin import DESK, CheckinDesk, Refusal, open_checkin_page, send_checkin
from web.dashboard import DashboardDesk
from web.limits import RateLimit, client_address
from web.pages import HERE, render

log = logging.getLogger(__name__)

STATIC = HERE / "static"
#: Telegram Web (web.telegram.org/k and /a) shows a Mini App in a frame; nobody else may.
TELEGRAM_WEB = "https://web.telegram.org"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {TELEGRAM_WEB}",
    ]
)
GUARD_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Strict-Transport-Security": "max-age=31536000",
}

#: The dashboard's paths (its forms are checked by Origin).
STAFF_PATHS = ("/dashboard", "/login", "/logout")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ADDRESS_LIMIT = web.AppKey("address_limit", RateLimit)


def build_web_app(desk: CheckinDesk, dashboard: DashboardDesk | None = None) -> web.Application:
    """The aiohttp application of the HTTP surfaces: the check-in page, and the staff's
    dashboard when given (a webhook route may be added to it)."""
    app = web.Application(
        # A webhook may share this server (an update can be larger than a check-in); the
        # check-in requests read at most MAX_BODY themselves.
        client_max_size=1024 * 1024,
        middlewares=[_guarded, _bounded_per_address],
    )
    app[DESK] = desk
    app[ADDRESS_LIMIT] = RateLimit(desk.settings.web_address_requests_per_minute)
    app.router.add_get("/checkin", checkin_page)
    app.router.add_post("/checkin/open", open_checkin_page)
    app.router.add_post("/checkin/send", send_checkin)
    app.router.add_get("/static/{name}", static_file)
    app.router.add_get("/healthz", health)
    app.router.add_get("/favicon.ico", no_icon)  # browsers ask for it; an answer, not a 404
    if dashboard is not None:
        from web.dashboard_pages import add_dashboard

        add_dashboard(app, dashboard)
    return app


def checkin_address(public_url: str, round_id: int, language: str) -> str:
    """The page's address for a round, in a language: what the web_app button opens."""
    return f"{public_url}/checkin?round={round_id}&lang={language}"


async def checkin_page(request: web.Request) -> web.Response:
    """The page's shell; its questions come with the first request, once the page has shown
    Telegram's signature on who opened it."""
    desk = request.app[DESK]
    language = request.query.get("lang", "")
    t = Texts(language if language in SUPPORTED_LANGUAGES else desk.language)
    return render(
        "checkin.html.j2",
        t,
        title=t._("This week's questions"),
        loading=t._("Loading…"),
        needs_script=t._(
            "This page needs JavaScript. You can answer in the chat instead: /settings."
        ),
        offline=t._("No connection to our server: nothing was sent. Try again."),
        close=t._("Close"),
        version=STATIC_VERSION,
    )


#: The page's own files, read once: the page is small and never changes while running.
_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
STATIC_FILES = {
    path.name: path.read_bytes() for path in STATIC.iterdir() if path.suffix in _STATIC_TYPES
}
#: Changes whenever a file changes, so that a client never mixes an old script with a new page.
STATIC_VERSION = hashlib.sha256(
    b"".join(STATIC_FILES[name] for name in sorted(STATIC_FILES))
).hexdigest()[:12]


async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    response = web.Response(
        body=STATIC_FILES[name], content_type=_STATIC_TYPES[Path(name).suffix], charset="utf-8"
    )
    response.headers["Cache-Control"] = "no-cache"
    return response


async def health(_: web.Request) -> web.Response:
    return web.Response(text="ok")


async def no_icon(_: web.Request) -> web.Response:
    return web.Response(status=204)


@web.middleware
async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The guard headers on every response, errors included; an unexpected error is logged by
    its kind only (a traceback's frames could hold a body) and answered in words."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # a redirect, a page of ours, a route that does not exist
        response = web.Response(
            status=exc.status, reason=exc.reason, text=exc.text, headers=exc.headers
        )
    except Exception as exc:
        log.error("a web request failed (%s)", type(exc).__name__)
        t = Texts(request.app[DESK].language)
        response = Refusal(
            500,
            "error",
            t._(
                "Something went wrong on our side and nothing was saved. Please try again in "
                "a moment."
            ),
        ).response()
    if request.path.startswith(STAFF_PATHS):
        # The staff's forms are checked by their Origin, which a browser sends as "null" under
        # no-referrer; same-origin sends it to us, and still no referrer to anyone else.
        response.headers.setdefault("Referrer-Policy", "same-origin")
    for name, value in GUARD_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@web.middleware
async def _bounded_per_address(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The pages' requests per address; Telegram's webhook posts, if served here, are not
    counted (they are Telegram's, checked by their secret)."""
    if request.path.startswith("/checkin") and not request.app[ADDRESS_LIMIT].allow(
        client_address(request, request.app[DESK].settings.web_trusted_proxies)
    ):
        t = Texts(request.app[DESK].language)
        return Refusal(
            429, "busy", t._("Too many requests at once. Wait a minute and try again.")
        ).response()
    return await handler(request)


class WebServer:
    """The aiohttp application served on ``host:port`` until stopped, with no access log."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        if self.port == 0:  # tests ask for any free port: learn which one
            self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
