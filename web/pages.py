"""Rendering the pages: one Jinja2 environment, autoescaped, strict about missing names, with
the reader's translations. Anything a user wrote (unit names, action titles, comments) is
escaped wherever it is shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from survey.i18n import Texts

HERE = Path(__file__).parent

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(name: str, t: Texts, status: int = 200, **context: Any) -> web.Response:
    """A page in the reader's language (``_`` translates in the template)."""
    html = _TEMPLATES.get_template(name).render(lang=t.language, _=t._, **context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def see_other(path: str) -> web.Response:
    """A redirect after a form (303: the browser then GETs ``path``)."""
    return web.Response(status=303, headers={"Location": path})
