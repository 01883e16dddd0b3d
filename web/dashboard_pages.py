"""The dashboard's pages and forms: the overview of a grant, a unit's page, its charts and
exports, and the actions recorded, moved on, commented and noted from the page.

Each handler turns a request into calls to survey/ (which decides what may be done) and
aggregation/ (which says what may be shown), and the outcome into a page; a POST is accepted
only from our own pages (Origin) with the session's CSRF token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from aiohttp import web

from aggregation.charts import area_chart, response_rate_chart, trend_chart, units_heatmap
from aggregation.exports import report_csv, report_xlsx
from aggregation.heatmap import unit_heat_rows, unit_heatmap_data
from aggregation.html_report import (
    action_rows,
    participation_rows,
    report_headline,
    report_sections,
)
from aggregation.overview import grant_overview
from aggregation.report import ReportError, UnitReport
from aggregation.wording import hidden_reason, too_late_for_a_note
from survey.actions import (
    ActionError,
    NoteTooLateError,
    add_comment,
    record_action,
    set_action_status,
    write_note,
)
from survey.enrolment import UnitNode, unit_tree
from survey.i18n import Texts
from survey.roles import Role
from survey.staff_access import StaffSession, log_access
from survey.storage import Database
from survey.storage.models import ActionStatus
from web.dashboard import (
    DASHBOARD,
    DashboardDesk,
    current_staff,
    login_page,
    login_with_link,
    login_with_telegram,
    logout,
    not_found,
    same_origin,
    staff_texts,
    valid_csrf,
)
from web.pages import render, see_other

#: One chart at a time: matplotlib's pyplot is not safe to use from several threads at once.
_DRAWING = asyncio.Lock()
CHARTS = ("trend", "units", "participation")


def add_dashboard(app: web.Application, desk: DashboardDesk) -> None:
    app[DASHBOARD] = desk
    app.router.add_get("/dashboard", dashboard_home)
    app.router.add_post("/dashboard/login/telegram", login_with_telegram)
    app.router.add_get("/login/{token}", login_page)
    app.router.add_post("/login", login_with_link)
    app.router.add_post("/logout", logout)
    app.router.add_get("/dashboard/figures", figures_page)
    app.router.add_get("/dashboard/unit/{unit}", unit_view)
    app.router.add_get("/dashboard/unit/{unit}/chart/{chart}.png", chart)
    app.router.add_get("/dashboard/unit/{unit}/area/{construct}.png", area)
    app.router.add_get("/dashboard/unit/{unit}/report.{format}", export)
    app.router.add_post("/dashboard/unit/{unit}/actions", record)
    app.router.add_post("/dashboard/unit/{unit}/actions/{action}/status", move_on)
    app.router.add_post("/dashboard/unit/{unit}/actions/{action}/comment", comment)
    app.router.add_post("/dashboard/unit/{unit}/note", note)


# --- pages ----------------------------------------------------------------------------------


async def grant_nodes(desk: DashboardDesk, staff: StaffSession) -> list[UnitNode]:
    """The units of the grant in tree order (archived ones left out)."""
    nodes = await asyncio.to_thread(unit_tree, desk.db, desk.survey.min_group_size)
    return [node for node in nodes if node.unit.id in staff.scope]


async def dashboard_home(request: web.Request) -> web.Response:
    """The overview of the grant, or how to log in."""
    desk = request.app[DASHBOARD]
    staff = await current_staff(request)
    if staff is None:
        return render("dashboard/welcome.html.j2", Texts(desk.survey.language), staff=None)
    t = staff_texts(staff)
    root = staff.member.unit_id
    await asyncio.to_thread(log_access, desk.db, desk.keys, staff, root, desk.clock())
    nodes = await grant_nodes(desk, staff)
    reports = dict(
        zip(
            [node.unit.id for node in nodes],
            await asyncio.gather(*(desk.report(node.unit.id) for node in nodes)),
            strict=True,
        )
    )
    overview = grant_overview(nodes, reports.__getitem__, t.language)
    top = reports[root]
    heat = await asyncio.to_thread(heat_cards, desk.db, top, t)
    return render(
        "dashboard/overview.html.j2",
        t,
        staff=staff,
        unit=top,
        overview=overview,
        heat=heat,
        heatmap=bool(heat),
    )


async def figures_page(request: web.Request) -> web.Response:
    """How the figures protect each person, in the reader's words (linked from every "at
    least")."""
    desk = request.app[DASHBOARD]
    staff = await current_staff(request)
    t = staff_texts(staff) if staff is not None else Texts(desk.survey.language)
    return render("dashboard/figures.html.j2", t, staff=staff, k=desk.survey.min_group_size)


async def unit_view(request: web.Request) -> web.StreamResponse:
    desk, staff, report = await _unit_request(request)
    t = staff_texts(staff)
    await asyncio.to_thread(log_access, desk.db, desk.keys, staff, report.unit_id, desk.clock())
    return render(
        "dashboard/unit.html.j2",
        t,
        staff=staff,
        **await asyncio.to_thread(_unit_context, desk, staff, report, t),
        saved=request.query.get("saved") == "1",
    )


def _unit_context(
    desk: DashboardDesk, staff: StaffSession, report: UnitReport, t: Texts
) -> dict[str, Any]:
    """What the unit's page shows, from the audited report: the same sections as the HTML
    file, and the forms this reader may use."""
    latest = report.latest_round
    context: dict[str, Any] = {
        "unit": report,
        "k": latest.k if latest else desk.survey.min_group_size,
        "latest": None,
        "hidden": None,
        "findings": [],
        "indices": [],
        "shares": [],
        "more_alerts": [],
        "parent": None,
        "organisation": None,
        "participation": [],
        "areas": [
            (construct, labels.get(t.language) or next(iter(labels.values()), construct))
            for construct, labels in report.construct_labels.items()
        ],
        "actions": _actions(report, t),
        "may_act": staff.may_act,
        "may_note": staff.may_act and report.unit_id == staff.member.unit_id,
        "today": desk.clock().date().isoformat(),
        "heatmap": False,
        "heat": [],
    }
    context.update(report_headline(report, t))
    if context["latest"] is not None:
        context.update(report_sections(report, t, t.language))
        context["heat"] = heat_cards(desk.db, report, t)
        context["heatmap"] = bool(context["heat"])
    context["participation"] = list(reversed(participation_rows(report, t)))
    return context


def heat_cards(db: Database, report: UnitReport, t: Texts) -> list[dict[str, Any]]:
    """The sub-units heatmap as cards a phone can read: each unit with its areas' latest
    figures, and for a unit shown nothing of, its own reason in words."""
    latest = report.latest_round
    rows = unit_heat_rows(db, report)
    if latest is None or len(rows) < 2:
        return []
    closed = t.date(latest.closed_at)
    labels = {
        construct: labels.get(t.language) or next(iter(labels.values()), construct)
        for construct, labels in report.construct_labels.items()
    }
    cards = []
    for row in rows:
        shown = bool(row.figure.get("shown"))
        cards.append(
            {
                "unit_id": row.unit_id,
                "name": row.name,
                "depth": min(row.depth, 4),
                "hidden": None
                if shown
                else hidden_reason(t, row.figure, latest.k, closed, row.counted_in or "–"),
                "cells": [
                    {
                        "label": labels.get(construct, construct),
                        "text": _cell_text(t, cell),
                        "tone": _tone(cell, report.construct_better.get(construct)),
                    }
                    for construct, cell in row.cells.items()
                ]
                if shown
                else [],
            }
        )
    return cards


def _cell_text(t: Texts, cell: float | tuple[float, float] | None) -> str:
    if cell is None:
        return t._("not shown")
    if isinstance(cell, tuple):
        return f"{t.number(cell[0])}–{t.number(cell[1])}"
    return t.number(cell)


def _tone(cell: float | tuple[float, float] | None, better: str | None) -> str:
    """A colour band of the index (as the heatmap's scale), for the reader's eye only."""
    if cell is None:
        return "none"
    value = (cell[0] + cell[1]) / 2 if isinstance(cell, tuple) else cell
    good = value if better == "higher_is_better" else 100 - value
    return "good" if good >= 60 else "bad" if good < 40 else "mid"


def _actions(report: UnitReport, t: Texts) -> list[dict[str, Any]]:
    """The report's actions as the HTML file shows them, with what the forms need."""
    return [
        {**shown, "id": row.id, "unit_id": row.unit_id, "status_key": row.status.value}
        for shown, row in zip(action_rows(report, t, t.language), report.actions, strict=True)
    ]


async def _unit_request(request: web.Request) -> tuple[DashboardDesk, StaffSession, UnitReport]:
    """The desk, the logged-in reader and the report of the unit in the path; "not found"
    alike for a unit outside the grant and one that does not exist."""
    desk = request.app[DASHBOARD]
    staff = await current_staff(request)
    if staff is None:
        raise web.HTTPSeeOther("/dashboard")
    text = request.match_info.get("unit", "")
    unit_id = int(text) if text.isdigit() and len(text) < 10 else None
    if unit_id is None or unit_id not in staff.scope:
        raise _NotFound(not_found(staff_texts(staff)))
    try:
        report = await desk.report(unit_id)
    except ReportError as exc:
        raise _NotFound(not_found(staff_texts(staff))) from exc
    return desk, staff, report


class _NotFound(web.HTTPException):
    """Answer with the dashboard's own "not found" page."""

    def __init__(self, page: web.Response) -> None:
        super().__init__(text=page.text, content_type="text/html")
        self.set_status(404)


# --- charts and exports ---------------------------------------------------------------------


async def chart(request: web.Request) -> web.StreamResponse:
    desk, staff, report = await _unit_request(request)
    name, language = request.match_info["chart"], staff.member.language
    if name not in CHARTS or report.latest_round is None:
        return not_found(staff_texts(staff))
    async with _DRAWING:
        if name == "trend":
            png = await asyncio.to_thread(trend_chart, report, language)
        elif name == "participation":
            png = await asyncio.to_thread(response_rate_chart, report, language)
        else:
            drawn = await asyncio.to_thread(units_heatmap, desk.db, report, language)
            if drawn is None:
                return not_found(staff_texts(staff))
            png = drawn
    return _png(png)


async def area(request: web.Request) -> web.StreamResponse:
    _, staff, report = await _unit_request(request)
    construct = request.match_info["construct"]
    if construct not in report.construct_labels or report.latest_round is None:
        return not_found(staff_texts(staff))
    async with _DRAWING:
        png = await asyncio.to_thread(area_chart, report, construct, staff.member.language)
    return _png(png)


def _png(png: bytes) -> web.Response:
    response = web.Response(body=png, content_type="image/png")
    response.headers["Cache-Control"] = "private, no-store"
    return response


async def export(request: web.Request) -> web.StreamResponse:
    """The unit's figures as the report has them (the same audited figures), to download."""
    desk, staff, report = await _unit_request(request)
    language = staff.member.language
    kind = request.match_info["format"]
    name = f"staff-pulse-{report.unit_id}"
    if kind == "csv":
        body = await asyncio.to_thread(report_csv, report, language)
        content_type = "text/csv"
    elif kind == "xlsx":
        heat = await asyncio.to_thread(unit_heatmap_data, desk.db, report)
        body = await asyncio.to_thread(report_xlsx, report, language, heat or None)
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        return not_found(staff_texts(staff))
    response = web.Response(body=body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    return response


# --- forms ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Post:
    """A POST of one of the unit page's forms, checked: our own page, the session's token."""

    desk: DashboardDesk
    staff: StaffSession
    report: UnitReport
    form: Any
    t: Texts
    #: Where the refusal page's "Back" leads.
    back: str

    def refuse(self, message: str, status: int = 400) -> _Refused:
        return _Refused(self.t, message, status, self.back)

    def unreadable(self) -> _Refused:
        return self.refuse(self.t._("This request could not be read."))

    async def apply(
        self,
        change: Callable[..., object],
        *args: Any,
        explain: Callable[[ActionError], str] | None = None,
        **kwargs: Any,
    ) -> None:
        """Run one of survey/'s changes; its refusal is shown in the reader's words
        (``explain``: words of the page's own for a refusal that needs them)."""
        try:
            await asyncio.to_thread(change, self.desk.db, *args, **kwargs)
        except ActionError as exc:
            said = explain(exc) if explain is not None else exc.problem.in_language(self.t)
            raise self.refuse(said, 403 if isinstance(exc, PermissionError) else 400) from exc
        self.desk.forget_reports()


async def _form(request: web.Request, section: str = "actions") -> _Post:
    desk, staff, report = await _unit_request(request)
    form = await request.post()
    t = staff_texts(staff)
    if not same_origin(request) or not valid_csrf(staff, str(form.get("csrf", ""))):
        raise _Refused(t, t._("This request did not come from our own page."), 403)
    return _Post(desk, staff, report, form, t, f"/dashboard/unit/{report.unit_id}#{section}")


class _Refused(web.HTTPException):
    def __init__(self, t: Texts, message: str, status: int = 400, back: str = "") -> None:
        page = render(
            "dashboard/message.html.j2",
            t,
            status=status,
            title=t._("Not done"),
            message=message,
            back=back,
            staff=None,
        )
        super().__init__(text=page.text, content_type="text/html")
        self.set_status(status)


def _back(report: UnitReport, section: str = "actions") -> web.Response:
    return see_other(f"/dashboard/unit/{report.unit_id}?saved=1#{section}")


async def record(request: web.Request) -> web.StreamResponse:
    post = await _form(request)
    if not post.staff.may_act:
        raise post.refuse(post.t._("Only managers and admins record actions."), 403)
    construct = str(post.form.get("area", "")) or None
    if construct is not None and construct not in post.report.construct_labels:
        raise post.unreadable()
    try:
        due = date.fromisoformat(str(post.form.get("due", "")))
    except ValueError as exc:
        raise post.refuse(post.t._("Give the due date as a date.")) from exc
    await post.apply(
        record_action,
        unit_id=post.report.unit_id,
        title=str(post.form.get("title", "")),
        owner=str(post.form.get("owner", "")),
        due_on=due,
        today=post.desk.clock().date(),
        construct=construct,
        created_by=post.staff.member.id,
        scope=set(post.staff.scope),
    )
    return _back(post.report)


async def move_on(request: web.Request) -> web.StreamResponse:
    post = await _form(request)
    if not post.staff.may_act:
        raise post.refuse(post.t._("Only managers and admins record actions."), 403)
    try:
        status = ActionStatus(str(post.form.get("status", "")))
        action_id = int(request.match_info["action"])
    except ValueError as exc:
        raise post.unreadable() from exc
    await post.apply(
        set_action_status,
        action_id,
        status,
        scope=set(post.staff.scope),
        today=post.desk.clock().date(),
    )
    return _back(post.report)


async def comment(request: web.Request) -> web.StreamResponse:
    post = await _form(request)
    try:
        action_id = int(request.match_info["action"])
    except ValueError as exc:
        raise post.unreadable() from exc
    await post.apply(
        add_comment,
        action_id,
        role=Role(post.staff.member.role),
        text=str(post.form.get("text", "")),
        scope=set(post.staff.scope),
        today=post.desk.clock().date(),
    )
    return _back(post.report)


async def note(request: web.Request) -> web.StreamResponse:
    post = await _form(request, "note")
    t, report, latest = post.t, post.report, post.report.latest_round
    if latest is None:
        raise post.refuse(t._("No closed round yet: results appear when a round closes."))

    def explain(refusal: ActionError) -> str:
        if isinstance(refusal, NoteTooLateError):
            return too_late_for_a_note(t, latest.closed_at)
        return refusal.problem.in_language(t)

    await post.apply(
        write_note,
        writer=post.staff.member,
        unit_id=report.unit_id,
        round_id=latest.round_id,
        text=str(post.form.get("text", "")),
        explain=explain,
    )
    return _back(report, "note")
