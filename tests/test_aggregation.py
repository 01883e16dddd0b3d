"""Aggregation end to end on both engines: close, statistics, disclosure, reports, alerts."""

from __future__ import annotations

import functools
import random
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from aggregation.charts import heatmap_chart, trend_chart
from aggregation.close import (
    StatisticsError,
    close_round,
    compute_statistics,
    release_with_statistics,
)
from aggregation.exports import report_csv, report_xlsx
from aggregation.heatmap import unit_heatmap_data, unit_heatmap_moves
from aggregation.html_report import report_html
from aggregation.report import build_report
from aggregation.trends import organisation_trends, trend_rows
from bot.messages import report_text, split_messages
from survey.enrolment import create_unit, enrol_member
from survey.lifecycle import create_schedule, tick
from survey.questions import import_question_set, load_question_set_file, parse_items
from survey.retention import purge_responses
from survey.schedules import ScheduleSpec
from survey.storage.models import Response, RoundStatistic, SurveyRound
from survey.submissions import submit

SETS = Path(__file__).resolve().parents[1] / "config" / "question_sets"
MONDAY = datetime(2026, 11, 2, 8, tzinfo=UTC)  # 09:00 Stockholm


@pytest.fixture
def org(db, keys, settings):
    import_question_set(db, load_question_set_file(SETS / "social-work-weekly.yaml"))
    root = create_unit(db, "Socialförvaltningen", kind="forvaltning")
    big = create_unit(db, "Barn och unga", parent_id=root.id)
    mid = create_unit(db, "Vuxen", parent_id=root.id)
    tiny = create_unit(db, "Familjerätt", parent_id=root.id, kind="team")
    people = {}
    for unit, size in ((big, 10), (mid, 8), (tiny, 2)):
        people[unit.id] = [
            enrol_member(
                db,
                keys,
                telegram_user_id=unit.id * 1000 + i,
                chat_id=unit.id * 1000 + i,
                unit_id=unit.id,
            )
            for i in range(size)
        ]
    create_schedule(
        db,
        unit_id=root.id,
        question_sets=["social-work-weekly"],
        spec=ScheduleSpec(starts_on=date(2026, 11, 1), local_time=time(9)),
    )
    return root, big, mid, tiny, people


def _run_week(db, keys, settings, org, week: int, stress: int):
    people = org[4]
    opens = MONDAY + timedelta(weeks=week)
    (round_id,) = tick(db, keys, settings, opens).opened
    with db.session() as session:
        items = parse_items(session.get(SurveyRound, round_id).items)
    for unit_people in people.values():
        for n, member in enumerate(unit_people):
            # Mostly alike, never unanimous: an all-alike group is published only as a range.
            answers = {i.key: i.options[n % 2] for i in items}
            answers["stress"] = stress if n % 4 else stress - 1
            answers["behind"] = 5 if n % 3 else 4
            submit(
                db,
                keys,
                member_id=member.id,
                round_id=round_id,
                answers=answers,
                now=opens + timedelta(hours=1),
            )
    # Which answers a group's cap leaves out is random in the product; seeded here, so that
    # these near-unanimous weeks publish (and hold back) the same figures on every run.
    close = functools.partial(release_with_statistics, chance=random.Random(week))
    tick(db, keys, settings, opens + timedelta(hours=72), close=close)
    return round_id


def test_closing_stores_only_publishable_figures(db, keys, settings, org) -> None:
    root, big, mid, tiny, _ = org
    round_id = _run_week(db, keys, settings, org, 0, stress=4)
    with db.session() as session:
        stats = {s.unit_id: s.figures for s in session.exec(select(RoundStatistic)).all()}
    asked = ["meaning", "quality_pressure", "stress", "support", "workload"]
    # 2 people: too few members to be shown at all, decided from the roster alone.
    by_roster = {
        "shown": False,
        "parent": root.id,
        "asked": asked,
        "reason": "members",
        "min_members": 8,  # k + J + 2
    }
    assert stats[tiny.id] == by_roster
    # 20 - 10 - 8 would reveal the 2 of the tiny team: the smaller sibling is hidden too.
    assert stats[mid.id] == by_roster
    # Everyone answered: three answers of each full block (Barn och unga; Vuxen +
    # Familjerätt) are left out, so "everyone answered" is never published, not even to a
    # colleague who did not answer and knows one other did not (J + 2 = 3).
    assert stats[big.id]["respondents"] == 7
    assert stats[root.id]["respondents"] == 14
    assert stats[root.id]["respondents_at_least"] is True
    behind = stats[root.id]["items"]["behind"]
    assert "counts" not in behind  # distributions are not published
    # Every answer was unfavourable (4 or 5): only a range that fits a group with two
    # favourable answers is published (12 of 14), so nobody's answer is pinned, not even for
    # a colleague who knows their own.
    assert behind["unfavourable_range"] == [0.8571, 1.0]
    assert "unfavourable_share" not in stats[big.id]["items"]["behind"]  # 7 < 10: no spread
    stress = stats[root.id]["constructs"]["stress"]
    assert 50 < stress["index"] < 75
    assert "range" not in stress
    assert close_round(db, keys, round_id).recomputed is False  # idempotent


def test_report_text_shows_what_may_be_shown(db, keys, settings, org) -> None:
    big, tiny = org[1], org[3]
    _run_week(db, keys, settings, org, 0, stress=4)
    _run_week(db, keys, settings, org, 1, stress=5)
    report = build_report(db, big.id)
    assert len(report.rounds) == 2
    text = "\n".join(report_text(report, "en"))
    assert "Barn och unga" in text
    assert "at least 7 answered (at least 70%)" in text  # 7 to 10 of 10: never "all"
    assert "Stress" in text
    small = "\n".join(report_text(build_report(db, tiny.id), "sv"))
    assert "färre än 8 medlemmar" in small
    assert not re.search(
        r"\b20\b", small.split("\n", 1)[1]
    )  # nothing of the parent's figures leaks in
    stress = next(row for row in trend_rows(report) if row.construct == "stress")
    assert stress.index >= 90  # nearly everyone "very much": published as a range
    assert stress.change_previous > 10
    assert re.search(r"\b8\d–100\b", text)  # 7 answers: from 100 - (100 + 25) / 7 up


def test_alerts_fire_on_the_question_set_rules(db, keys, settings, org) -> None:
    root = org[0]
    _run_week(db, keys, settings, org, 0, stress=4)
    _run_week(db, keys, settings, org, 1, stress=5)
    report = build_report(db, root.id)
    fired = {(a.item, a.rule) for a in report.alerts}
    assert ("stress", "share_unfavourable") in fired  # 100 % high stress, two rounds running
    assert ("behind", "share_unfavourable") in fired
    text = "\n".join(report_text(report, "sv"))
    # What to do comes first, right under the heading, ranked, with whom to do it.
    first = text.split("\n")[2:4]
    assert first == ["", "<b>Att göra nu</b>"]
    assert text.index("Att göra nu") < text.index("Index (0–100)")
    assert "1. " in text
    assert "skyddsombudet" in text


def test_stored_figures_of_another_shape_are_refused_not_misread(db, keys, settings, org) -> None:
    """A database whose figures were stored in another shape (a later version of Staff Pulse,
    or an outside tool writing rows) stops the report with a clear message: a key read under
    another meaning would misstate a figure."""
    from sqlalchemy import update

    from survey.figures import FIGURES_VERSION, FiguresVersionError
    from survey.storage.models import RoundStatistic

    big = org[1]
    _run_week(db, keys, settings, org, 0, stress=4)
    with db.session() as session:
        assert {r.figures_version for r in session.exec(select(RoundStatistic)).all()} == {
            FIGURES_VERSION
        }
        session.execute(update(RoundStatistic).values(figures_version=FIGURES_VERSION + 1))
    with pytest.raises(FiguresVersionError, match="version 2; this Staff Pulse reads version 1"):
        build_report(db, big.id)


def test_open_rounds_are_never_reported(db, keys, settings, org) -> None:
    root = org[0]
    (round_id,) = tick(db, keys, settings, MONDAY).opened
    report = build_report(db, root.id)
    assert report.rounds == []
    assert "No closed round yet" in report_text(report, "en")[0]
    with pytest.raises(StatisticsError, match="still open"):
        compute_statistics(db, keys, round_id)


def test_outputs_are_generated(db, keys, settings, org) -> None:
    root = org[0]
    for week in range(3):
        _run_week(db, keys, settings, org, week, stress=3 + week % 2)
    report = build_report(db, root.id)
    assert trend_chart(report, "sv")[:4] == b"\x89PNG"
    heat = unit_heatmap_data(db, report)
    rows = list(heat)
    # In tree order, sub-units indented under their parent, with how many answered - "at
    # least" where the report says "at least" (everyone answered: a lower bound is published).
    assert rows[0] == f"Socialförvaltningen (n≥{report.latest['respondents']})"
    assert report.latest["respondents_at_least"]
    assert all(row.startswith("\u00a0") for row in rows[1:])
    hidden = next(row for row in rows if row.strip() == "Familjerätt")  # no n: not shown
    assert heat[hidden]["stress"] is None  # hidden: drawn hatched
    moves = unit_heatmap_moves(db, report)
    assert hidden not in moves  # nothing moves where nothing is shown
    delta, now, before = moves[rows[0]]["stress"]  # the whole organisation, stress 4 -> 3
    assert delta < 0
    assert (now, before) == (report.respondents.iloc[-1], report.respondents.iloc[-2])
    assert heatmap_chart(heat, {}, report.construct_better, "en", 5)[:4] == b"\x89PNG"
    page = report_html(report, "en")
    assert page.startswith("<!doctype html>")
    assert "data:image/png;base64," in page
    assert report_csv(report, "en").startswith(
        "\ufeffUnit,Week,Closed,Answered,Response rate".encode()
    )
    assert report_xlsx(report, "sv")[:2] == b"PK"


def test_purge_keeps_statistics_and_recompute_then_refuses(db, keys, settings, org) -> None:
    round_id = _run_week(db, keys, settings, org, 0, stress=3)
    later = MONDAY + timedelta(days=800)
    plan = purge_responses(db, retention_days=730, now=later)
    # 20 answered: three left out of each of the two full blocks.
    assert [(p.round_id, p.responses) for p in plan] == [(round_id, 14)]
    with db.session() as session:
        assert len(session.exec(select(Response)).all()) == 14  # dry run changed nothing
    purge_responses(db, retention_days=730, now=later, apply=True)
    with db.session() as session:
        assert session.exec(select(Response)).all() == []
    assert build_report(db, org[0].id).latest["respondents"] == 14  # statistics stay
    with pytest.raises(StatisticsError, match="purged"):
        compute_statistics(db, keys, round_id)


def test_messages_are_split_under_telegram_limit() -> None:
    lines = [f"line {i} " + "x" * 90 for i in range(200)]
    messages = split_messages(lines)
    assert all(len(m) <= 4096 for m in messages)
    assert "\n".join(messages).count("line ") == 200


def test_organisation_trends_read_the_compact_indices(db, keys, settings, org) -> None:
    root, big, tiny = org[0], org[1], org[3]
    first = _run_week(db, keys, settings, org, 0, stress=4)
    second = _run_week(db, keys, settings, org, 1, stress=5)
    frame = organisation_trends(db, root.id)
    assert 60 < frame.loc[(first, root.id), "stress"] < 75  # stress 4, a few said 3
    assert frame.loc[(second, big.id), "stress"] > 80
    assert frame.loc[(second, tiny.id)].isna().all()  # hidden: a gap, never a zero


def test_rotation_is_not_mistaken_for_suppression(db, keys, settings, org) -> None:
    root = org[0]
    first = _run_week(db, keys, settings, org, 0, stress=3)
    second = _run_week(db, keys, settings, org, 1, stress=3)
    report = build_report(db, root.id)
    assert bool(report.asked.at[first, "quality_pressure"])
    assert not bool(report.asked.at[second, "quality_pressure"])  # rotation: asked every 2nd week
    latest_round = {row.construct: row.round_id for row in trend_rows(report)}
    assert latest_round["quality_pressure"] == first  # its latest value, from week 0
    assert latest_round["stress"] == second
    text = "\n".join(report_text(report, "en"))
    assert "asked " in text  # the reader is told the value is from an earlier round


def test_an_over_long_line_is_split_without_breaking_markup() -> None:
    line = "<b>" + " ".join(["Team&amp;Co"] * 900) + "</b>"
    messages = split_messages(["<b>Staff Pulse</b>", line])
    assert all(len(m) <= 4096 for m in messages)
    assert messages[0] == "<b>Staff Pulse</b>"
    assert all(m.count("<b>") == m.count("</b>") for m in messages)
    assert all(part.endswith("Co") or part.endswith("Team&amp;Co") for part in messages[1:])


def test_a_late_close_is_dated_by_the_day_it_closed(db, keys, settings, org) -> None:
    """The report private key was away over the weekend: the round due to close on Thursday
    closes on Monday, and the report says Monday."""
    root, _, _, _, people = org
    opens = MONDAY
    (round_id,) = tick(db, keys, settings, opens).opened
    with db.session() as session:
        items = parse_items(session.get(SurveyRound, round_id).items)
    for unit_people in people.values():
        for n, member in enumerate(unit_people):
            answers = {i.key: i.options[n % 2] for i in items}
            submit(db, keys, member_id=member.id, round_id=round_id, answers=answers, now=opens)
    late = opens + timedelta(days=7, hours=2)
    tick(db, keys, settings, late, close=release_with_statistics)
    with db.session() as session:
        closed = session.get(SurveyRound, round_id)
        assert closed is not None
        assert closed.closed_at == late
        assert closed.closes_at == opens + timedelta(hours=72)
    built = build_report(db, root.id)
    assert built.rounds[-1].closed_at == late
    text = report_text(built, "en")[0]
    assert f"closed {late.day} {late:%b %Y}" in text  # the Monday, not the Thursday
    assert f"Round of week {late.isocalendar().week}," in text


def test_exports_open_as_swedish_excel_expects(db, keys, settings, org) -> None:
    """CSV with ";" and decimal commas; XLSX with real dates, numbers and percentages, headers
    in the reader's language, unit names, and nothing for hidden groups."""
    import io

    from openpyxl import load_workbook

    from aggregation.heatmap import unit_heatmap_data

    root = org[0]
    _run_week(db, keys, settings, org, 0, stress=4)
    _run_week(db, keys, settings, org, 1, stress=3)
    report = build_report(db, root.id)
    text = report_csv(report, "sv").decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0].startswith("Enhet;Vecka;Avslutad;Svarade;Svarsfrekvens;")
    fields = lines[1].split(";")
    assert fields[0] == "Socialförvaltningen"
    assert fields[1].startswith("v.\u00a0")
    assert "," in fields[4]  # a decimal comma: "0,875"
    assert "." not in fields[4]

    book = load_workbook(io.BytesIO(report_xlsx(report, "sv", unit_heatmap_data(db, report))))
    assert book.sheetnames == ["Mätningar", "Senaste", "Underenheter"]
    rounds = book["Mätningar"]
    headers = [cell.value for cell in rounds[1]]
    assert headers[:5] == ["Enhet", "Vecka", "Avslutad", "Svarade", "Svarsfrekvens"]
    assert "Stress" in headers  # labels from the question set, never keys
    first = list(rounds[2])
    assert first[2].is_date
    assert first[4].number_format == "0%"
    stress = first[headers.index("Stress")]
    assert isinstance(stress.value, float)  # a number, not text
    assert stress.value == round(stress.value, 1)  # not 7.799999999999997
    units = book["Underenheter"]
    rows = {row[0].value.strip(): row for row in units.iter_rows(min_row=2)}
    assert all(cell.value == "–" for cell in rows["Familjerätt"][1:])  # hidden: no figures


def test_actions_and_their_follow_up_in_the_reports_and_exports(db, keys, settings, org) -> None:
    """An action of Barn och unga, done after week 0: week 1 asks its units whether it made a
    difference; the report, the HTML and the exports show the action, its comment and the
    published answer - and a hostile title stays text everywhere (no markup, no formula)."""
    import io

    from openpyxl import load_workbook

    from aggregation.exports import actions_csv
    from survey.actions import add_comment, followup_key, record_action, set_action_status
    from survey.storage.models import ActionStatus, Role

    root, big, _, _, people = org
    _run_week(db, keys, settings, org, 0, stress=4)
    day = (MONDAY + timedelta(days=3)).date()
    title = '=HYPERLINK("http://x","<b>Mentor</b>")'
    action = record_action(
        db, unit_id=big.id, title=title, owner="Anna", due_on=day, today=day, construct="support"
    )
    add_comment(db, action.id, role=Role.SAFETY_REP, text="Bra", scope={big.id}, today=day)
    set_action_status(db, action.id, ActionStatus.DONE, scope={big.id}, today=day)
    opens = MONDAY + timedelta(weeks=1)
    (round_id,) = tick(db, keys, settings, opens).opened
    with db.session() as session:
        items = parse_items(session.get(SurveyRound, round_id).items)
    key = followup_key(action.id)
    assert key in {i.key for i in items}
    for unit_id, unit_people in people.items():
        for n, member in enumerate(unit_people):
            answers = {i.key: i.options[n % 2] for i in items if i.asks(unit_id)}
            if key in answers:
                answers[key] = 3 if n % 2 else 4
            submit(
                db,
                keys,
                member_id=member.id,
                round_id=round_id,
                answers=answers,
                now=opens + timedelta(hours=1),
            )
    tick(db, keys, settings, opens + timedelta(hours=72), close=release_with_statistics)

    report = build_report(db, root.id)
    [row] = report.actions
    assert row.unit_name == "Barn och unga"
    assert row.followup is not None
    assert row.followup.figure is not None
    assert row.followup.figure["n"] == 7  # all ten answered: three are left out (P6)
    mean = row.followup.mean_range
    assert mean is not None
    low, high = mean
    assert low == high
    # Five threes and five fours, of which a random seven count: 3 2/7 to 3 5/7.
    assert 3 + 2 / 7 - 0.01 <= low <= 3 + 5 / 7 + 0.01
    text = "\n".join(report_text(report, "en"))
    assert "&lt;b&gt;Mentor&lt;/b&gt;" in text  # escaped in Telegram's HTML
    assert "Follow-up question (week" in text
    page = report_html(report, "sv")
    assert 'id="actions"' in page
    assert "&lt;b&gt;Mentor&lt;/b&gt;" in page
    assert "Uppföljningsfråga" in page
    book = load_workbook(io.BytesIO(report_xlsx(report, "sv")))
    assert "Åtgärder" in book.sheetnames
    cell = book["Åtgärder"]["A2"]
    assert cell.data_type == "s"
    assert cell.value == "'" + title  # shown as written, never run as a formula
    csv_text = actions_csv(report, "sv").decode("utf-8-sig")
    assert "'=HYPERLINK" in csv_text
    # The team's own report shows the same follow-up (it is the team's published figure).
    own = build_report(db, big.id)
    assert own.actions[0].followup == row.followup


def test_a_moved_unit_is_compared_with_the_parent_it_had_then(db, keys, settings, org) -> None:
    """Case 5 of the insider issue: after Vuxen moved under Barn och unga, its report compared
    its earlier rounds (when it sat beside Barn och unga) with Barn och unga's figures."""
    from survey.enrolment import move_unit

    _, big, mid, _, _ = org
    first = _run_week(db, keys, settings, org, 0, stress=4)
    move_unit(db, mid.id, big.id)
    second = _run_week(db, keys, settings, org, 1, stress=3)
    report = build_report(db, mid.id)
    assert report.parent_id == big.id
    # Barn och unga had figures that round, but Vuxen was not under it then.
    assert not build_report(db, big.id).indices.loc[first].isna().all()
    assert report.parent_indices.loc[first].isna().all()
    assert second in report.parent_indices.index
    assert not report.org_indices.loc[first].isna().all()  # the förvaltning was above it both times
