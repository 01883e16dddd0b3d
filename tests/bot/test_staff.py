"""Managers and admins in chat: scope, reports of closed rounds only, invites, YAML uploads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from aggregation.close import close_round
from bot.scheduler import run_tick
from survey.enrolment import create_unit, enrol_member
from survey.questions import import_question_set, load_question_set_file, load_version
from survey.questions.locked import lock_items
from survey.rounds import open_round
from survey.storage.models import Role, RoundStatistic, SurveyRound
from tests.bot.loop_world import answered_and_closed

SETS = Path(__file__).resolve().parents[2] / "config" / "question_sets"
MANAGER, ADMIN, WORKER = 7_000_000_001, 7_000_000_002, 7_000_000_003


@pytest.fixture
def tree(db, keys, settings):
    import_question_set(db, load_question_set_file(SETS / "social-work-weekly.yaml"))
    row, question_set = load_version(db, "social-work-weekly")
    root = create_unit(db, "IFO")
    team_a = create_unit(db, "Team A", parent_id=root.id)
    team_b = create_unit(db, "Team B", parent_id=root.id)
    enrol_member(
        db,
        keys,
        telegram_user_id=MANAGER,
        chat_id=MANAGER,
        unit_id=team_a.id,
        role=Role.MANAGER,
        language="en",
    )
    enrol_member(
        db,
        keys,
        telegram_user_id=ADMIN,
        chat_id=ADMIN,
        unit_id=root.id,
        role=Role.ADMIN,
        language="en",
    )
    enrol_member(
        db, keys, telegram_user_id=WORKER, chat_id=WORKER, unit_id=team_b.id, language="en"
    )
    answered_and_closed(db, keys, settings, root, team_a, team_b)
    now = datetime.now(UTC)
    items = lock_items([(row.id, question_set)], 0)
    open_round(
        db,
        keys,
        settings,
        unit_id=root.id,
        items=items,
        opens_at=now,
        closes_at=now + timedelta(days=3),
        question_set_versions=[row.id],
    )
    return {"root": root, "a": team_a, "b": team_b}


async def test_manager_reports_stay_within_the_grant(bot, tree) -> None:
    api = bot
    api.send_text(MANAGER, "/report", language="en")
    await api.wait_for(lambda: api.texts(MANAGER))
    report = api.texts(MANAGER)[0]
    assert "Team A" in report
    # Everyone in Team A answered; three answers are left out so that this is never published,
    # not even to a colleague who knows who was on leave.
    assert "at least 5 answered" in report
    api.send_text(MANAGER, f"/report {tree['b'].id}", language="en")
    await api.wait_for(lambda: len(api.texts(MANAGER)) == 2)
    assert "only the units you were given access to" in api.texts(MANAGER)[1]
    api.send_text(MANAGER, f"/report {tree['root'].id}", language="en")
    await api.wait_for(lambda: len(api.texts(MANAGER)) == 3)
    assert "only the units you were given access to" in api.texts(MANAGER)[2]
    api.send_text(MANAGER, "/report team a", language="en")  # by name, within the grant
    await api.wait_for(lambda: len(api.texts(MANAGER)) == 4)
    assert api.texts(MANAGER)[3] == report
    api.send_text(MANAGER, "/report Team B", language="en")  # a name outside it: not found
    await api.wait_for(lambda: len(api.texts(MANAGER)) == 5)
    assert "None of your units is called “Team B”" in api.texts(MANAGER)[4]
    api.send_text(WORKER, "/report", language="en")
    await api.wait_for(lambda: api.texts(WORKER))
    assert "for managers, safety representatives and admins" in api.texts(WORKER)[0]


async def test_units_and_trend_for_managers(bot, tree) -> None:
    api = bot
    api.send_text(MANAGER, "/units", language="en")
    await api.wait_for(lambda: api.texts(MANAGER))
    listing = api.texts(MANAGER)[0]
    assert "sub-units included" in listing
    assert "Team A – 8 workers" in listing
    assert "Team B" not in listing
    api.send_text(MANAGER, "/trend", language="en")
    await api.wait_for(lambda: any(m.kind == "photo" for m in api.messages[MANAGER]))
    chart = next(m for m in api.messages[MANAGER] if m.kind == "photo")
    assert (chart.text or "").startswith("Team A\nOther areas: /trend ")  # one area, others named
    api.send_text(MANAGER, "/trend stress", language="en")  # an area by name
    await api.wait_for(lambda: sum(m.kind == "photo" for m in api.messages[MANAGER]) == 2)
    second = [m for m in api.messages[MANAGER] if m.kind == "photo"][1]
    assert "/trend stress" not in (second.text or "")  # the others are offered, not this one


async def test_the_report_brings_its_sub_units_as_a_chart(bot, tree) -> None:
    api = bot
    api.send_text(ADMIN, "/report", language="en")
    await api.wait_for(lambda: any(m.kind == "photo" for m in api.messages[ADMIN]))
    chart = next(m for m in api.messages[ADMIN] if m.kind == "photo")
    assert chart.text == "Sub-units, latest figures"
    assert api.texts(ADMIN)[0].startswith("<b>Staff Pulse – IFO</b>")


async def test_admin_invites_and_uploads_a_question_set(bot, tree, db) -> None:
    api = bot
    api.send_text(ADMIN, f"/invite {tree['a'].id} manager", language="en")
    await api.wait_for(lambda: any(m.kind == "photo" for m in api.messages[ADMIN]))
    assert f"https://t.me/{api.username}?start=" in api.texts(ADMIN)[0]
    assert "valid 48 hours. It works once" in api.texts(ADMIN)[0]  # staff invites: one person

    good = (SETS / "who5.yaml").read_bytes()
    broken = good.replace(b"type: scale", b"type: slider", 1)
    api.send_document(ADMIN, "who5.yaml", broken, language="en")
    await api.wait_for(lambda: "nothing was imported" in (api.last(ADMIN).text or ""))
    assert "who5.yaml:" in (api.last(ADMIN).text or "")
    assert "must be one of: scale, choice, yes_no, text" in (api.last(ADMIN).text or "")

    api.send_document(ADMIN, "who5.yaml", good, language="en")
    await api.wait_for(lambda: "valid" in (api.last(ADMIN).text or ""))
    preview = api.last(ADMIN)
    api.press(ADMIN, preview, preview.buttons()[0][1], language="en")
    await api.wait_for(lambda: "Imported who5 version 1" in (preview.text or ""))
    assert "No schedule asks it yet" in (preview.text or "")  # what the admin must do next
    row, _ = load_version(db, "who5")
    assert row.version == 1

    api.send_document(MANAGER, "who5.yaml", good, language="en")  # managers cannot
    await api.wait_for(lambda: api.texts(MANAGER))
    assert api.texts(MANAGER) == ["This is for admins."]
    assert load_version(db, "who5")[0].version == 1  # nothing new was imported


async def test_managers_get_the_report_once_after_a_round_closes(bot, tree, db) -> None:
    api = bot
    with db.session() as session:
        still_open = session.exec(select(SurveyRound).where(SurveyRound.state == "open")).one()
        still_open.closes_at = datetime.now(UTC) - timedelta(minutes=1)
    await run_tick(api.application)
    reports = [t for t in api.texts(MANAGER) if "Team A" in t]
    admin_reports = [t for t in api.texts(ADMIN) if "IFO" in t]
    assert len(reports) == 2  # the round closed earlier, and the one that just closed
    assert len(admin_reports) == 2
    assert all("Figures for fewer than 5 answers" in r for r in reports)
    await run_tick(api.application)
    assert len([t for t in api.texts(MANAGER) if "Team A" in t]) == 2  # once each
    assert not any("Staff Pulse –" in t for t in api.texts(WORKER))  # workers get no reports


async def test_a_report_whose_reply_was_lost_is_not_sent_twice(bot, tree, db) -> None:
    """Telegram carries out the report's send but the reply is lost: the manager has it, so
    the next tick does not send it again (it used to count as not sent)."""
    api = bot
    with db.session() as session:
        still_open = session.exec(select(SurveyRound).where(SurveyRound.state == "open")).one()
        still_open.closes_at = datetime.now(UTC) - timedelta(minutes=1)
    api.lose_replies("sendMessage", times=1)
    await run_tick(api.application)
    await run_tick(api.application)
    # One report of each closed round (the earlier one and this one) each, never a third.
    for chat in (MANAGER, ADMIN):
        assert len([t for t in api.texts(chat) if t.startswith("<b>Staff Pulse")]) == 2, chat


async def test_a_round_of_a_team_alone_reports_to_the_staff_above_it(
    bot, tree, db, keys, settings
) -> None:
    """A team with a schedule of its own: the admin granted the whole IFO gets Team B's report
    (the manager of Team A, beside it, does not)."""
    api = bot
    row, question_set = load_version(db, "social-work-weekly")
    now = datetime.now(UTC)
    team_round = open_round(
        db,
        keys,
        settings,
        unit_id=tree["b"].id,
        items=lock_items([(row.id, question_set)], 0),
        opens_at=now - timedelta(days=3),
        closes_at=now - timedelta(minutes=1),
        question_set_versions=[row.id],
    )
    with db.session() as session:  # only the team round is due to close
        for other in session.exec(select(SurveyRound).where(SurveyRound.state == "open")).all():
            if other.id != team_round.id:
                other.closes_at = now + timedelta(days=3)
    await run_tick(api.application)
    await api.wait_for(lambda: any("Staff Pulse – Team B" in t for t in api.texts(ADMIN)))
    assert not any("Team B" in t for t in api.texts(MANAGER))  # beside it, not above it


async def test_admins_see_rounds_with_response_rates_of_closed_rounds_only(bot, tree) -> None:
    api = bot
    api.send_text(ADMIN, "/rounds", language="en")
    await api.wait_for(lambda: api.texts(ADMIN))
    overview = api.texts(ADMIN)[0]
    assert "Closed rounds" in overview
    # 8 + 7 answered of 16; each team's count is capped at 8 - 3 = 5.
    assert "at least 10 answered of 16 (62%)" in overview
    assert overview.count("answered of") == 1  # the open round is not there


async def test_an_admin_working_in_swedish_reads_swedish(bot, tree, db, keys, settings) -> None:
    """Roles, cadences, weekdays and question-set problems in the admin's language; a round
    in which too few answered is listed as such, not left out."""
    from survey.lifecycle import create_schedule
    from survey.schedules import ScheduleSpec
    from survey.storage.models import Member

    api = bot
    with db.session() as session:
        for member in session.exec(select(Member).where(Member.role != Role.WORKER)).all():
            member.language = "sv"
    create_schedule(
        db,
        unit_id=tree["root"].id,
        question_sets=["social-work-weekly"],
        spec=ScheduleSpec(starts_on=datetime.now(UTC).date()),
    )
    api.send_text(ADMIN, f"/invite {tree['a'].id} chef", language="sv")
    await api.wait_for(lambda: any(m.kind == "photo" for m in api.messages[ADMIN]))
    assert api.texts(ADMIN)[0].startswith(f"Inbjudan för en person som chef i enhet {tree['a'].id}")
    before = len(api.texts(ADMIN))
    api.send_text(ADMIN, "/invite", language="sv")
    await api.wait_for(lambda: len(api.texts(ADMIN)) > before)
    usage = "Använd: /invite <enhets-id> <medarbetare|chef|skyddsombud|administratör>"
    assert api.texts(ADMIN)[-1] == usage

    broken = (SETS / "who5.yaml").read_bytes().replace(b"type: scale", b"type: slider", 1)
    api.send_document(ADMIN, "who5.yaml", broken, language="sv")
    await api.wait_for(lambda: "inget importerades" in (api.last(ADMIN).text or ""))
    problem = api.last(ADMIN).text or ""
    assert "fråga '" in problem
    assert "måste vara något av: scale, choice, yes_no, text" in problem
    assert "Input should" not in problem

    row, question_set = load_version(db, "social-work-weekly")
    quiet = open_round(  # a round of Team B alone in which nobody answered
        db,
        keys,
        settings,
        unit_id=tree["b"].id,
        items=lock_items([(row.id, question_set)], 0),
        opens_at=datetime.now(UTC) - timedelta(days=3),
        closes_at=datetime.now(UTC) - timedelta(days=1),
        question_set_versions=[row.id],
    )
    close_round(db, keys, quiet.id)
    before = len(api.texts(ADMIN))
    api.send_text(ADMIN, "/rounds", language="sv")
    await api.wait_for(lambda: len(api.texts(ADMIN)) > before)
    overview = api.texts(ADMIN)[-1]
    assert "social-work-weekly · varje vecka, måndag kl. 09:00 · aktivt" in overview
    assert "visas inte (färre än 5 svarade)" in overview


async def test_a_close_interrupted_before_statistics_is_finished_and_reported_once(
    bot, tree, db, keys
) -> None:
    """A crash between the release and the statistics: the next tick computes them, and the
    managers get the real report then - never "no closed round yet" recorded as delivered."""
    from survey.submissions import release_round

    api = bot
    with db.session() as session:
        still_open = session.exec(select(SurveyRound).where(SurveyRound.state == "open")).one()
        still_open.closes_at = datetime.now(UTC) - timedelta(minutes=1)
        round_id = still_open.id
    release_round(db, keys, round_id)  # released; the process "dies" before statistics
    await run_tick(api.application)
    with db.session() as session:
        assert session.exec(select(RoundStatistic).where(RoundStatistic.round_id == round_id)).all()
    reports = [t for t in api.texts(MANAGER) if "Team A" in t or "IFO" in t]
    assert reports
    assert not any("No closed round yet" in t for t in api.texts(MANAGER))
    await run_tick(api.application)
    assert [t for t in api.texts(MANAGER) if "Team A" in t or "IFO" in t] == reports  # once


async def test_a_hostile_upload_is_refused_and_nobody_waits(bot, tree) -> None:
    api = bot
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n"
        for i in range(8)
    )
    for _ in range(5):  # (a sixth at the same moment would be dropped as a flood)
        api.send_document(ADMIN, "laughs.yaml", laughs.encode(), language="en")
    api.send_text(WORKER, "/help", language="en")
    await api.wait_for(lambda: api.texts(WORKER))  # answered while the uploads are refused
    await api.wait_for(lambda: len(api.texts(ADMIN)) == 5)
    assert all("expands to more than" in text for text in api.texts(ADMIN))


async def test_help_fits_the_role_and_plain_messages_get_an_answer(bot, tree) -> None:
    api = bot
    api.send_text(MANAGER, "/help", language="en")
    await api.wait_for(lambda: api.texts(MANAGER))
    assert "/report" in api.texts(MANAGER)[0]
    assert "/invite" not in api.texts(MANAGER)[0]
    api.send_text(ADMIN, "/help", language="en")
    await api.wait_for(lambda: api.texts(ADMIN))
    assert "/invite" in api.texts(ADMIN)[0]
    assert "YAML" in api.texts(ADMIN)[0]
    api.send_text(WORKER, "/help", language="en")
    await api.wait_for(lambda: api.texts(WORKER))
    assert "/checkin" in api.texts(WORKER)[0]
    assert "/report" not in api.texts(WORKER)[0]
    api.send_text(WORKER, "hej?", language="en")
    await api.wait_for(lambda: len(api.texts(WORKER)) == 2)
    assert "only understand the commands" in api.texts(WORKER)[1]
    api.send_text(WORKER, "/nosuchcommand", language="en")
    await api.wait_for(lambda: len(api.texts(WORKER)) == 3)
    assert "/checkin" in api.texts(WORKER)[2]


async def test_trend_of_a_unit_never_shown_is_answered_in_words(
    bot, tree, db, keys, settings
) -> None:
    api = bot
    small = create_unit(db, "Team C", parent_id=tree["root"].id)
    for i in range(2):
        enrol_member(db, keys, telegram_user_id=950 + i, chat_id=950 + i, unit_id=small.id)
    row, question_set = load_version(db, "social-work-weekly")
    survey_round = open_round(
        db,
        keys,
        settings,
        unit_id=tree["root"].id,
        items=lock_items([(row.id, question_set)], 0),
        opens_at=datetime.now(UTC) - timedelta(days=3),
        closes_at=datetime.now(UTC) - timedelta(days=1),
        question_set_versions=[row.id],
    )
    close_round(db, keys, survey_round.id)
    api.send_text(ADMIN, f"/trend {small.id}", language="en")
    await api.wait_for(lambda: api.texts(ADMIN))
    answer = api.texts(ADMIN)[0]
    assert "not shown on its own" in answer  # the reason, as the report gives it
    assert f"/trend {tree['root'].id} shows IFO" in answer
    assert not any(m.kind == "photo" for m in api.messages[ADMIN])  # no empty chart


async def test_a_safety_representative_follows_the_results_of_their_units_and_changes_nothing(
    bot, tree, db, keys
) -> None:
    """Skyddsombud of Team B: the same reports as its manager would get, by command and after
    each close; nothing of Team A beside it; no invites, no uploads, no schedules."""
    api = bot
    rep = 7_000_000_004
    enrol_member(
        db,
        keys,
        telegram_user_id=rep,
        chat_id=rep,
        unit_id=tree["b"].id,
        role=Role.SAFETY_REP,
        language="en",
    )
    api.send_text(rep, "/report", language="en")
    await api.wait_for(lambda: api.texts(rep))
    assert api.texts(rep)[0].startswith("<b>Staff Pulse – Team B</b>")
    for refused, answer in (
        (f"/report {tree['a'].id}", "only the units you were given access to"),
        ("/invite 1 worker", "This is for admins."),
        ("/rounds", "This is for admins."),
    ):
        before = len(api.texts(rep))
        api.send_text(rep, refused, language="en")
        await api.wait_for(lambda before=before: len(api.texts(rep)) > before)
        assert answer in api.texts(rep)[-1], refused
    with db.session() as session:
        still_open = session.exec(select(SurveyRound).where(SurveyRound.state == "open")).one()
        still_open.closes_at = datetime.now(UTC) - timedelta(minutes=1)
    before = len(api.texts(rep))
    await run_tick(api.application)
    await api.wait_for(lambda: len(api.texts(rep)) > before)
    delivered = api.texts(rep)[before:]
    assert any(t.startswith("<b>Staff Pulse – Team B</b>") for t in delivered)
    assert not any("Team A" in t for t in api.texts(rep))
