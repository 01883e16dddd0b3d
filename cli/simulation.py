"""The demo's story: a municipality, its workers and managers, driven through the real product.

A temporary SQLite database and keys, a municipal tree, and the real bot (python-telegram-bot)
talking HTTP to the built-in local Bot API server. Every worker and manager joins by invite link
through the bot. The weeks before the last are seeded through the survey API the bot itself calls
(``tick`` opens and closes the rounds, ``submit_many`` takes the check-ins, as the bot's intake
does), so that twelve weeks take seconds; the last week runs entirely through the bot: the
invitation, every worker's button presses, the reminder, the close and the managers' reports in
Telegram. Nothing here computes a figure itself: every figure comes from survey/, aggregation/
and the bot.

The story a manager should recognise: in "Barnutredning Norr" the workload climbs while support
falls and stress alerts fire; "Familjehem" improves after it gets mentors halfway; the
three-person team "Familjerätt" never reaches k and is rolled up into its avdelning.

The loop is closed in Telegram: after the week before halfway, Familjehem's manager records the
mentoring as an action from their report, the safety representative comments on it, and every
worker gets their group's results with it the next day; two weeks later the manager marks it
done, the next check-in asks Familjehem whether it made a difference, and that answer stands
next to the action in the later reports (and in the results workers get in week 12).
"""

from __future__ import annotations

import asyncio
import functools
import random
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from pydantic import SecretStr
from sqlmodel import select
from telegram import Update
from telegram.ext import Application

from aggregation.charts import response_rate_chart, trend_chart, units_heatmap
from aggregation.close import release_with_statistics
from aggregation.html_report import report_html
from aggregation.report import UnitReport, build_report
from aggregation.wording import action_status, followup_text
from bot.app import Services, build_application
from bot.context import services_from
from bot.messages import report_text
from bot.scheduler import run_tick
from bot.settings import BotSettings
from cli.demo_page import (
    answer_on_page,
    dashboard_link,
    demo_page,
    demo_web_server,
    local_address,
    picker,
    try_it_link,
)
from local_bot_api import LocalBotApi, Sent
from survey.crypto import KeyRing
from survey.enrolment import create_unit, find_member
from survey.i18n import Texts
from survey.installation import initialise, key_ring
from survey.intake import SubmissionIntake
from survey.invites import create_invite
from survey.lifecycle import create_schedule, tick
from survey.questions import QuestionSet, import_question_set, load_question_set_file
from survey.questions.locked import LockedItem, parse_items
from survey.schedules import ScheduleSpec
from survey.settings import SurveySettings
from survey.storage import Database
from survey.storage.models import Member, Role, RoundState, SurveyRound
from survey.submissions import SubmissionRequest, submit_many

SETS = Path(__file__).resolve().parents[1] / "config" / "question_sets"
STOCKHOLM = ZoneInfo("Europe/Stockholm")

# (name, kind, parent, workers, story). Sizes add up to about 120 at the default scale.
TREE = [
    ("Socialförvaltningen", "forvaltning", None, 0, "steady"),
    ("Barn och familj", "avdelning", "Socialförvaltningen", 0, "steady"),
    ("Vuxen", "avdelning", "Socialförvaltningen", 0, "steady"),
    ("Barnutredning Norr", "enhet", "Barn och familj", 9, "climbing"),
    ("Team Norr 1", "team", "Barnutredning Norr", 8, "climbing"),
    ("Team Norr 2", "team", "Barnutredning Norr", 7, "climbing"),
    ("Barnutredning Söder", "enhet", "Barn och familj", 6, "steady"),
    ("Team Söder", "team", "Barnutredning Söder", 9, "steady"),
    ("Familjehem", "enhet", "Barn och familj", 14, "mentoring"),
    ("Familjerätt", "team", "Barn och familj", 3, "steady"),
    ("Ekonomiskt bistånd", "enhet", "Vuxen", 12, "steady"),
    ("Team Mottagning", "team", "Ekonomiskt bistånd", 9, "steady"),
    ("Missbruk och beroende", "enhet", "Vuxen", 8, "steady"),
    ("Team Öppenvård", "team", "Missbruk och beroende", 9, "steady"),
    ("Socialjour", "team", "Vuxen", 6, "steady"),
]
MANAGERS = [
    ("Barn och familj", Role.MANAGER),
    ("Vuxen", Role.MANAGER),
    ("Socialförvaltningen", Role.ADMIN),
    ("Familjehem", Role.MANAGER),
    ("Barn och familj", Role.SAFETY_REP),
]
FAMILJEHEM_MANAGER = 5_000_000_004
SAFETY_REP = 5_000_000_005
MENTORING = "En mentor för varje nyanställd socialsekreterare under första halvåret"


@dataclass
class Worker:
    user_id: int
    unit: str
    story: str
    diligence: float  # how likely they answer when asked
    #: Answers on the check-in page (the default); False: chose the chat's buttons in /settings.
    on_page: bool = True


@dataclass
class DemoResult:
    out: Path
    database: Path
    files: list[Path] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    presses: int = 0
    #: Check-ins of every week; of the last week, each one opened from the bot's invitation or
    #: reminder: on the check-in page (through our web server) or with the chat's buttons.
    answered: int = 0
    answered_in_telegram: int = 0
    answered_on_page: int = 0
    page_requests: int = 0
    #: The check-in page for one demo worker, for a newcomer's browser (with ``serve``).
    try_it: str | None = None
    #: A one-time login link to the dashboard for the manager of Barn och familj (``serve``).
    dashboard: str | None = None


def badness(story: str, week: int, weeks: int, rng: random.Random) -> float:
    """How hard the week is for someone in a unit with this story (0 good .. 1 bad)."""
    if story == "climbing":
        level = 0.35 + 0.5 * week / max(1, weeks - 1)
    elif story == "mentoring":
        level = 0.7 if week < weeks // 2 else 0.3
    else:
        level = 0.45
    return min(1.0, max(0.0, rng.gauss(level, 0.15)))


def choose(
    item_key: str, question_set: QuestionSet, count: int, bad: float, rng: random.Random
) -> int:
    """Which option a worker picks: worse answers on worse weeks, with some noise."""
    item = next((i for i in question_set.items if i.key == item_key), None)
    position = bad * (count - 1) + rng.gauss(0, 0.6)
    if item is not None:
        values = question_set.answer_values(item)
        worse_high = item.direction == "higher_is_worse" or (
            item.unfavourable and values.index(item.unfavourable[0]) >= count // 2
        )
        if item.type == "yes_no":
            return 0 if rng.random() < bad - 0.25 else (1 if rng.random() < 0.9 else 2)
        if not worse_high:
            position = (count - 1) - position
    return min(count - 1, max(0, round(position)))


async def answer(
    api: LocalBotApi,
    worker: Worker,
    message: Sent,
    question_set: QuestionSet,
    bad: float,
    rng: random.Random,
) -> int:
    """Press through one check-in in Telegram like a person would; returns the presses."""
    by_text = {item.text.get("sv"): item.key for item in question_set.items}
    presses = 0
    for _ in range(30):
        text = message.text or ""
        buttons = message.buttons()
        if "Tack!" in text or not buttons:
            return presses
        if text.startswith("<b>Dina svar") or "Dina svar" in text.split("\n", 1)[0]:
            _, data = buttons[0]  # "✓ Skicka"
        else:
            question = text.split("<b>", 1)[-1].split("</b>", 1)[0]
            options = [b for b in buttons if not b[0].startswith(("«", "Hoppa"))]
            picked = choose(by_text.get(question, ""), question_set, len(options), bad, rng)
            _, data = options[picked]
        before = message.text
        api.press(worker.user_id, message, data)
        presses += 1
        await api.wait_for_change(message, before, timeout=30)
    return presses


def seeded_answers(
    items: tuple[LockedItem, ...],
    question_set: QuestionSet,
    bad: float,
    rng: random.Random,
    unit_id: int,
) -> dict[str, int | str]:
    """The same choices as a person pressing the buttons, as the check-in the bot would submit
    (optional free text left out, as most people leave it; a follow-up question only where it
    is asked: the better the weeks, the more difference the action made)."""
    answers: dict[str, int | str] = {}
    for item in items:
        if item.text or not item.asks(unit_id):
            continue
        if item.followup is not None:
            position = (1 - bad) * (len(item.options) - 1) + rng.gauss(0, 0.6)
            answers[item.key] = item.options[min(len(item.options) - 1, max(0, round(position)))]
            continue
        answers[item.key] = item.options[
            choose(item.key, question_set, len(item.options), bad, rng)
        ]
    return answers


@dataclass
class Town:
    """Everything the story needs to reach: the database, the keys and the unit ids."""

    db: Database
    settings: SurveySettings
    units: dict[str, int]
    question_set: QuestionSet


@dataclass
class _Story:
    """What every step of the demo shares: the bot and its server, the town, the seeded
    generators, and the clock the bot reads (the story moves it)."""

    api: LocalBotApi
    application: Application
    town: Town
    keys: KeyRing
    clock: dict[str, datetime]
    rng: random.Random
    chance: random.Random
    weeks: int
    start_day: date
    on_step: Callable[[str, float], None]
    result: DemoResult
    #: The check-in page's server on 127.0.0.1, and the demo's way of talking to it.
    web_base: str = ""
    http: aiohttp.ClientSession | None = None


async def run_demo(
    out: Path,
    *,
    weeks: int,
    workers: int,
    seed: int,
    on_step: Callable[[str, float], None],
    serve: Callable[[DemoResult], Awaitable[None]] | None = None,
    port: int = 0,
) -> DemoResult:
    """The whole story: people join in Telegram, weeks of check-ins and closes, an action and
    its follow-up, the last week answered on the check-in page (some in the chat), then the
    reports and charts. With ``serve``: a new week opens, and ``serve`` is awaited with the
    check-in page still served on ``port`` (a link for a newcomer in ``result.try_it``)."""
    rng = random.Random(seed)
    # Which answers a group's cap leaves out at close: seeded too, so the same seed gives the
    # same figures (the product itself uses the system's cryptographic generator).
    chance = random.Random(f"release:{seed}")
    if out.exists():
        shutil.rmtree(out)
    (out / "charts").mkdir(parents=True)
    data_dir = out / "data"
    today = datetime.now(UTC).date()
    start_day = today - timedelta(days=today.weekday() + 7 * weeks)  # a Monday, weeks ago
    clock = {"now": _local_nine(start_day) - timedelta(days=3)}

    async with LocalBotApi(username="staff_pulse_demo_bot", strict=False) as api:
        settings = SurveySettings(
            _env_file=None,
            data_dir=data_dir,
            bot_username=api.username,
            language="sv",
        )
        town = _build_town(settings, start_day)
        keys = key_ring(settings)
        application = _demo_bot(api, town, keys, clock, chance)
        result = DemoResult(out, data_dir / "pulse.sqlite3")
        story = _Story(
            api, application, town, keys, clock, rng, chance, weeks, start_day, on_step, result
        )
        pages = demo_web_server(
            town.db,
            keys,
            services_from(application).intake,  # one intake for the chat and the page
            api.token,
            lambda: clock["now"],
            town.settings,
            port,
        )
        await pages.start()
        story.web_base = f"http://127.0.0.1:{pages.port}"
        try:
            async with aiohttp.ClientSession() as http, application:
                story.http = http
                await application.start()
                # Updates reach the bot the way a webhook delivers them: straight onto its queue.
                api.push_to = lambda data: application.update_queue.put_nowait(
                    Update.de_json(data, application.bot)
                )
                try:
                    on_step("Workers and managers join by invite link in Telegram", 0)
                    people = await _join(api, town, workers, rng)
                    await _some_choose_the_chat(api, people, random.Random(f"channel:{seed}"))
                    await _seeded_weeks(story, people)
                    await _last_week_in_telegram(story, people)
                    if serve is not None:
                        result.try_it = await _this_week_for_a_newcomer(story, people)
                finally:
                    await application.stop()
            on_step("Writing the reports and charts", 1.0)
            _summarise(story, people, out)
            if serve is not None:
                await serve(result)
        finally:
            await pages.stop()
        town.db.dispose()
    return result


def _demo_bot(
    api: LocalBotApi,
    town: Town,
    keys: KeyRing,
    clock: dict[str, datetime],
    chance: random.Random,
) -> Application:
    """The real bot on the local server, reading the story's clock."""
    services = Services(
        town.db,
        keys,
        town.settings,
        SubmissionIntake(town.db, keys),
        clock=lambda: clock["now"],
        chance=chance,
        checkin_page=demo_page(),
    )
    return build_application(
        BotSettings(
            _env_file=None,
            bot_token=SecretStr(api.token),
            bot_api_url=api.base_url,
            bot_file_url=api.base_file_url,
        ),
        services,
        rate_limit=False,
        # A local server answers at once: a few connections serve better than hundreds,
        # whose bookkeeping the HTTP client would walk on every request.
        connection_pool_size=8,
    )


async def _seeded_weeks(story: _Story, people: list[Worker]) -> None:
    """Every week but the last: check-ins through the survey API, then the close; halfway,
    the mentoring action is recorded and later marked done."""
    town, weeks, clock = story.town, story.weeks, story.clock
    members = {p.user_id: find_member(town.db, story.keys, p.user_id) for p in people}
    for week in range(weeks - 1):
        story.on_step(
            f"Week {week + 1}: check-ins through the survey API, then the close", week / weeks
        )
        opens = _local_nine(story.start_day + timedelta(weeks=week))
        story.result.answered += await asyncio.to_thread(
            _seed_week,
            town,
            story.keys,
            people,
            members,
            week,
            weeks,
            opens,
            story.rng,
            story.chance,
        )
        closed = opens + timedelta(hours=72)
        if week == weeks // 2 - 1:
            story.on_step(
                "Familjehem's manager records the mentoring as an action; the "
                "safety representative comments; workers get their results",
                (week + 0.5) / weeks,
            )
            clock["now"] = closed + timedelta(hours=1)
            await _record_mentoring(story.api)
            clock["now"] = closed + timedelta(hours=town.settings.results_delay_hours + 1)
            await run_tick(story.application)
        elif week == weeks // 2 + 1:
            story.on_step(
                "The mentoring is done: the next check-in asks Familjehem whether "
                "it made a difference",
                (week + 0.5) / weeks,
            )
            clock["now"] = closed + timedelta(hours=1)
            await _mark_done(story.api)


async def _last_week_in_telegram(story: _Story, people: list[Worker]) -> None:
    """The last week as people live it: the invitation, presses, one reminder, the close."""
    api, application, rng, weeks, clock = (
        story.api,
        story.application,
        story.rng,
        story.weeks,
        story.clock,
    )
    story.on_step(f"Week {weeks}: the check-in opens in Telegram", (weeks - 1) / weeks)
    opens = _local_nine(story.start_day + timedelta(weeks=weeks - 1))
    clock["now"] = opens
    await run_tick(application)
    bad = {p.user_id: badness(p.story, weeks - 1, weeks, rng) for p in people}
    first = [p for p in people if rng.random() < p.diligence * 0.8]
    # Everyone presses at once, each with a generator of their own, drawn in a fixed order:
    # what they answer does not depend on who is served first.
    own = {p.user_id: random.Random(rng.getrandbits(64)) for p in people}
    story.on_step(
        f"Week {weeks}: {len(first)} workers answer, on the check-in page or in the chat",
        (weeks - 0.8) / weeks,
    )

    async def check_in(p: Worker) -> int:
        """One worker answers the message they have: on the page if it opens the page, else
        with the chat's buttons. Returns the requests or presses it took."""
        message = api.last(p.user_id)
        address = local_address(story.web_base, message)
        if address is None:
            return -await answer(
                api, p, message, story.town.question_set, bad[p.user_id], own[p.user_id]
            )
        assert story.http is not None, "run_demo opens the session"
        pick = picker(story.town.question_set, bad[p.user_id], own[p.user_id])
        return await answer_on_page(story.http, api, p.user_id, address, pick)

    async def press_all(group: list[Worker]) -> list[int]:
        return await asyncio.gather(*(check_in(p) for p in group))

    done = await press_all(first)
    story.on_step(
        f"Week {weeks}: one reminder to those who have not answered", (weeks - 0.5) / weeks
    )
    clock["now"] = opens + timedelta(hours=24)
    await run_tick(application)
    later = [p for p in people if p not in first and rng.random() < p.diligence]
    done += await press_all(later)
    result = story.result
    # Chat answers count their presses (negative above), page answers their requests.
    result.presses = -sum(n for n in done if n < 0)
    result.page_requests = sum(n for n in done if n > 0)
    result.answered_on_page = sum(1 for n in done if n > 0)
    result.answered_in_telegram = len(first) + len(later)
    result.answered += result.answered_in_telegram
    story.on_step(
        f"Week {weeks}: the round closes, managers get reports in Telegram",
        (weeks - 0.2) / weeks,
    )
    clock["now"] = opens + timedelta(hours=72)
    await run_tick(application)


async def _some_choose_the_chat(
    api: LocalBotApi, people: list[Worker], chooser: random.Random
) -> None:
    """About one in six prefers the chat's buttons and says so in /settings, as a person does
    (their own generator, so that the story's answers stay those of the seed)."""
    choosing = [p for p in people if chooser.random() < 1 / 6]
    for p in choosing:
        p.on_page = False
        api.send_text(p.user_id, "/settings", language="sv")
    await api.wait_for(
        lambda: all("Svara i chatten" in str(api.last(p.user_id).buttons()) for p in choosing),
        timeout=60,
    )
    for p in choosing:
        offer = api.last(p.user_id)
        api.press(p.user_id, offer, _button(offer, "Svara i chatten"))
    await api.wait_for(
        lambda: all("Svara på sidan" in str(api.last(p.user_id).buttons()) for p in choosing),
        timeout=60,
    )


async def _this_week_for_a_newcomer(story: _Story, people: list[Worker]) -> str:
    """This week's round opened (the invitations go out), and the page as one demo worker
    of Barnutredning Norr would open it from theirs."""
    opens = _local_nine(story.start_day + timedelta(weeks=story.weeks))
    story.clock["now"] = opens + timedelta(minutes=1)
    await run_tick(story.application)
    worker = next(p for p in people if p.unit == "Barnutredning Norr" and p.on_page)
    address = local_address(story.web_base, story.api.last(worker.user_id))
    assert address is not None, "the worker answers on the page"
    round_id = int(address.split("round=", 1)[1].split("&", 1)[0])
    story.result.dashboard = dashboard_link(
        story.town.db, story.keys, story.web_base, 5_000_000_001, story.clock["now"]
    )
    return try_it_link(story.web_base, story.api, worker.user_id, round_id)


def _summarise(story: _Story, people: list[Worker], out: Path) -> None:
    """The reports and charts on disk, and what the story's people saw in Telegram."""
    api, result = story.api, story.result
    files, reports = _write_reports(story.town.db, story.town.units, out)
    result.files += files
    built = reports["Barnutredning Norr"]
    result.summary = report_text(built, "sv")
    manager_chat = api.texts(5_000_000_001)
    received = sum("Staff Pulse –" in t for t in manager_chat)
    result.summary.append(f"(Chefen för Barn och familj fick {received} rapporter i Telegram.)")
    familjehem = reports["Familjehem"]
    for action in familjehem.actions:
        result.summary.append(
            f"Åtgärd i Familjehem: {action.title} – {action_status(Texts('sv'), action.status)}"
            + (
                f". {followup_text(Texts('sv'), action.followup)}"
                if action.followup is not None
                else ""
            )
        )
    worker = next(p.user_id for p in people if p.unit == "Familjehem")
    summaries = [t for t in api.texts(worker) if t.startswith("<b>Resultat för")]
    with_action = sum(MENTORING in text for text in summaries)
    result.summary.append(
        f"(En medarbetare i Familjehem fick {len(summaries)} resultatsammanfattningar i "
        f"Telegram; {with_action} av dem visade den nya åtgärden.)"
    )


def _button(message: Sent, label: str) -> str:
    return next(data for text, data in message.buttons() if label in text)


async def _record_mentoring(api: LocalBotApi) -> None:
    """Familjehem's manager, in Telegram: the report, "Registrera en åtgärd", the area, what
    will be done, who owns it, by when; then the safety representative comments in /actions."""
    manager = FAMILJEHEM_MANAGER
    seen = len(api.messages[manager])
    api.send_text(manager, "/report", language="sv")

    def with_record_button(message: Sent) -> bool:
        # Not just any message with buttons: a welcome still on its way from joining has some.
        return any("Registrera en åtgärd" in text for text, _ in message.buttons())

    await api.wait_for(lambda: any(map(with_record_button, api.messages[manager][seen:])), 30)
    report = next(m for m in api.messages[manager][seen:] if with_record_button(m))
    api.press(manager, report, _button(report, "Registrera en åtgärd"))
    await api.wait_for(lambda: "Vilket område" in (api.last(manager).text or ""), 30)
    areas = api.last(manager)
    api.press(manager, areas, _button(areas, "Stöd"))
    await api.wait_for(lambda: "Vad ska göras?" in (areas.text or ""), 30)
    api.send_text(manager, MENTORING, language="sv")
    await api.wait_for(lambda: "Vem är ansvarig?" in (api.last(manager).text or ""), 30)
    api.send_text(manager, "Enhetschefen för Familjehem", language="sv")
    await api.wait_for(lambda: "Klart när?" in (api.last(manager).text or ""), 30)
    due = api.last(manager)
    api.press(manager, due, due.buttons()[1][1])
    await api.wait_for(lambda: "Registrerad" in (api.last(manager).text or ""), 30)
    rep = SAFETY_REP
    seen = len(api.messages[rep])
    api.send_text(rep, "/actions Familjehem", language="sv")
    await api.wait_for(
        lambda: any("mentor" in (m.text or "") for m in api.messages[rep][seen:]), 30
    )
    listed = next(m for m in api.messages[rep][seen:] if "mentor" in (m.text or ""))
    api.press(rep, listed, _button(listed, "Kommentera"))
    await api.wait_for(lambda: "Skriv din kommentar" in (api.last(rep).text or ""), 30)
    api.send_text(rep, "Bra. Följ upp på APT om sex veckor.", language="sv")
    await api.wait_for(lambda: "Kommentaren är sparad" in (api.last(rep).text or ""), 30)


async def _mark_done(api: LocalBotApi) -> None:
    """Familjehem's manager marks the mentoring done in /actions."""
    manager = FAMILJEHEM_MANAGER
    seen = len(api.messages[manager])
    api.send_text(manager, "/actions", language="sv")
    await api.wait_for(
        lambda: any("Klar" in str(m.buttons()) for m in api.messages[manager][seen:]), 30
    )
    listed = next(m for m in api.messages[manager][seen:] if "Klar" in str(m.buttons()))
    api.press(manager, listed, _button(listed, "Klar"))
    await api.wait_for(lambda: "Status: klar" in (listed.text or ""), 30)


def _build_town(settings: SurveySettings, start_day: date) -> Town:
    db = Database.from_settings(settings)
    initialise(settings, db)
    question_set = load_question_set_file(SETS / "social-work-weekly.yaml")
    import_question_set(db, question_set)
    units: dict[str, int] = {}
    for name, kind, parent, _, _ in TREE:
        units[name] = create_unit(db, name, parent_id=units.get(parent or ""), kind=kind).id
    create_schedule(
        db,
        unit_id=units["Socialförvaltningen"],
        question_sets=[question_set.id],
        spec=ScheduleSpec(
            weekday=0,
            local_time=time(9),
            open_hours=72,
            remind_after_hours=24,
            starts_on=start_day,
        ),
        max_items=settings.max_items_per_checkin,
    )
    return Town(db, settings, units, question_set)


async def _join(api: LocalBotApi, town: Town, workers: int, rng: random.Random) -> list[Worker]:
    """Everyone joins the way people do: /start with the code of an invite link."""
    scale = workers / sum(size for *_, size, _ in TREE)
    people: list[Worker] = []
    next_id = 6_000_000_000
    for name, _, _, size, story in TREE:
        count = max(0, round(size * scale)) if name != "Familjerätt" else 3
        if not count:
            continue
        invite = create_invite(
            town.db,
            unit_id=town.units[name],
            role=Role.WORKER,
            expires_in=timedelta(days=14),
            max_uses=count,
        )
        for _ in range(count):
            next_id += 1
            people.append(Worker(next_id, name, story, rng.uniform(0.75, 0.97)))
            api.send_text(next_id, f"/start {invite.token}", language="sv")
    for index, (unit_name, role) in enumerate(MANAGERS):
        invite = create_invite(
            town.db,
            unit_id=town.units[unit_name],
            role=role,
            expires_in=timedelta(days=1),
            max_uses=1,
        )
        api.send_text(5_000_000_001 + index, f"/start {invite.token}", language="sv")
    staff = [5_000_000_001 + index for index in range(len(MANAGERS))]
    await api.wait_for(
        lambda: (
            all(len(api.texts(p.user_id)) >= 2 for p in people)
            and all(api.texts(user) for user in staff)
        ),
        timeout=120,
    )
    return people


def _seed_week(
    town: Town,
    keys: KeyRing,
    people: list[Worker],
    members: dict[int, Member | None],
    week: int,
    weeks: int,
    opens: datetime,
    rng: random.Random,
    chance: random.Random,
) -> int:
    """One earlier week through the survey API: the tick opens the round, the check-ins go in
    as the bot's intake submits them, and the tick closes it (release, statistics, audits)."""
    close = functools.partial(release_with_statistics, chance=chance)
    tick(town.db, keys, town.settings, opens, close=close)
    with town.db.session() as session:
        survey_round = session.exec(
            select(SurveyRound).where(SurveyRound.state == RoundState.OPEN)
        ).one()
    items = parse_items(survey_round.items)
    requests = []
    for person in people:
        member = members[person.user_id]
        if member is None or rng.random() >= person.diligence:
            continue
        bad = badness(person.story, week, weeks, rng)
        answers = seeded_answers(items, town.question_set, bad, rng, member.unit_id)
        requests.append(SubmissionRequest(member.id, survey_round.id, answers))
    outcomes = submit_many(town.db, keys, requests, now=opens + timedelta(hours=6))
    refused = [outcome for outcome in outcomes if outcome is not None]
    if refused:
        raise RuntimeError(f"the survey refused a seeded check-in: {refused[0]}")
    tick(town.db, keys, town.settings, opens + timedelta(hours=72), close=close)
    return len(requests)


def _local_nine(day: date) -> datetime:
    """09:00 in Stockholm on that day, whichever side of a daylight-saving change it falls."""
    return datetime.combine(day, time(9), tzinfo=STOCKHOLM).astimezone(UTC)


def _write_reports(
    db: Database, units: dict[str, int], out: Path
) -> tuple[list[Path], dict[str, UnitReport]]:
    """The HTML reports and charts of the story's units; each report is built once."""
    files = []
    reports: dict[str, UnitReport] = {}
    heats: dict[str, bytes | None] = {}
    for name in ("Socialförvaltningen", "Barnutredning Norr", "Familjehem"):
        built = reports[name] = build_report(db, units[name])
        slug = name.lower().replace(" ", "-").replace("ö", "o").replace("ä", "a").replace("å", "a")
        trend = trend_chart(built, "sv")
        heats[name] = units_heatmap(db, built, "sv")
        html_path = out / f"report-{slug}.html"
        html_path.write_text(report_html(built, "sv", trend, heats[name]), encoding="utf-8")
        png = out / "charts" / f"trend-{slug}.png"
        png.write_bytes(trend)
        files += [html_path, png]
    heat = out / "charts" / "units-latest-round.png"
    top_heat = heats["Socialförvaltningen"]
    assert top_heat is not None, "the demo's administration has sub-units"
    heat.write_bytes(top_heat)  # drawn once, for its report and as a file of its own
    rates = out / "charts" / "response-rate.png"
    rates.write_bytes(response_rate_chart(reports["Socialförvaltningen"], "sv"))
    return [*files, heat, rates], reports
