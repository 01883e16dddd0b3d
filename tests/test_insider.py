"""P6 against the people closest to the answers: the insider (docs/privacy.md).

The anonymity issue's cases, each written as the colleague or manager would run it: they know
their own answer and whether they answered, and whether up to J others answered (who was on
leave). Each publication as the rules before the insider made it is shown to fall to the attack
(the pinning audit, judged for the insider, refuses it), and as the rules make it now to hold.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from aggregation.disclosure import Tree
from aggregation.holdback import hold_back
from aggregation.pinning import pinning_audit
from aggregation.statistics import ItemInfo, participation_figures
from aggregation.worker_summary import response_band
from survey.figures import RoundFigures
from survey.grouping import OUTSIDER
from tests.test_pinning import FIVE, scale_item, scales
from tests.test_pinning import publish as pinning_publish

K, SPREAD, J = 5, 10, 1


def publish(
    parent: Mapping[int, int | None],
    roster: Mapping[int, int],
    answers: Sequence[tuple[int, Mapping[str, Any]]],
    items: Sequence[ItemInfo],
    known: int,
) -> RoundFigures:
    return pinning_publish(parent, roster, answers, items, k=K, known=known)


def counts_seen(members: int, answered: int, known: int) -> tuple[Any, ...]:
    figures, _ = participation_figures(Tree({1: None}), {1: members}, {1: answered}, K, known)
    figure = figures[1]
    return (figure["shown"], figure.get("respondents"), figure.get("respondents_at_least"))


# --- Case 1: a colleague who did not answer --------------------------------------------------


def test_case_1_the_old_rules_let_a_colleague_who_did_not_answer_count_the_others() -> None:
    """Team A (6 members, 5 answered): "at least 5 answered", so the one who did not answer
    knows all five others did. The audit, judged for the insider, refuses it."""
    old, _ = participation_figures(Tree({1: None}), {1: 6}, {1: 5}, K, OUTSIDER)
    assert (old[1]["respondents"], old[1]["respondents_at_least"]) == (5, True)
    assert [p.measure for p in pinning_audit({1: None}, {1: 6}, old, [], K, J)] == ["participation"]
    # The results message said "80-90 %" to everyone in the team: only 5 of 6 fits it.
    assert response_band(5, 6, at_least=False) == (80, 90)


@pytest.mark.parametrize("members", range(6, 16))
def test_case_1_nobody_can_tell_that_all_others_answered(members: int) -> None:
    """Every team size and every number who answered: a member who did not answer and knows
    that one other did not (on leave) still sees a world in which someone else did not answer;
    one who answered and knows one other did still sees a world in which someone else did."""
    for answered in range(members + 1):
        seen = counts_seen(members, answered, J)
        same = [n for n in range(members + 1) if counts_seen(members, n, J) == seen]
        if answered <= members - 2:  # the insider and the one on leave did not answer
            fits = [n for n in same if n <= members - 2]
            assert any(n < members - 2 for n in fits), (members, answered, seen)
        if answered >= 2:  # the insider and one they know answered
            fits = [n for n in same if n >= 2]
            assert any(n > 2 for n in fits), (members, answered, seen)
        figures, _ = participation_figures(Tree({1: None}), {1: members}, {1: answered}, K, J)
        assert pinning_audit({1: None}, {1: members}, figures, [], K, J) == []


def test_case_1_the_results_band_never_claims_more_than_the_published_count() -> None:
    """A count published as "at least n" gives an open band ("at least 60 %"), never a band
    that the true share may lie above."""
    assert response_band(5, 8, at_least=True) == (60, 100)
    assert response_band(5, 8, at_least=False) == (60, 70)


def test_case_1_team_b_with_two_known_absences_is_beyond_j_and_says_so() -> None:
    """Team B (8): with J = 1 the rules hold against one known absence; two need J = 2, which
    needs k of at least 5 + ... (PULSE_KNOWN_OTHERS <= k - 3)."""
    seen = counts_seen(8, 6, J)
    assert seen == (True, 5, True)  # "at least 5": 5, 6, 7 and 8 all look the same
    assert counts_seen(8, 8, J) == seen
    # With J = 2 a team of 8 is not shown on its own at all (it needs k + J + 2 = 9 members).
    assert counts_seen(8, 6, 2)[0] is False


# --- Case 2: a colleague who answered --------------------------------------------------------


def test_case_2_a_colleague_who_answered_cannot_tell_the_others_answers() -> None:
    """Five answered in a team; one of them said stress 3 and the other four said 5. The old
    range 90-100 fitted "one person answered differently" - and that person was the insider,
    so the other four were pinned at 5. Now the range also fits a second person differing."""
    items = [scale_item("stress", "stress")]
    roster = {1: 9}
    mine = (1, {"stress": 3})
    others = [(1, {"stress": 5})] * 4
    old = publish({1: None}, roster, [mine, *others], items, OUTSIDER)
    assert old[1]["items"]["stress"]["mean"] == [90.0, 100.0]
    pins = pinning_audit({1: None}, roster, old, scales(items), K, J)
    assert [p.why for p in pins] == ["a respondent who knows their own answer can tell another's"]

    new = publish({1: None}, roster, [mine, *others], items, J)
    assert new[1]["items"]["stress"]["mean"] == [75.0, 100.0]
    assert pinning_audit({1: None}, roster, new, scales(items), K, J) == []
    # The insider's brute force: every four answers of the others that publish the same.
    seen = new[1]["items"]["stress"]
    possible = set()
    for four in itertools.combinations_with_replacement(FIVE, 4):
        world = publish({1: None}, roster, [mine, *((1, {"stress": v}) for v in four)], items, J)
        if world[1]["items"]["stress"] == seen:
            possible |= set(four)
    assert len(possible) > 1, possible


def test_case_2_support_80_does_not_single_out_the_others_either() -> None:
    """ "Support: 80" with five answers: the insider who said 1 knew the four others said 5."""
    items = [scale_item("support", "support", (1, 2))]
    roster = {1: 9}
    answers = [(1, {"support": 1}), *[(1, {"support": 5})] * 4]
    old = publish({1: None}, roster, answers, items, OUTSIDER)
    assert old[1]["items"]["support"]["mean"] == [80.0, 80.0]
    assert pinning_audit({1: None}, roster, old, scales(items), K, J)
    new = publish({1: None}, roster, answers, items, J)
    assert new[1]["items"]["support"]["mean"] == [75.0, 100.0]
    assert pinning_audit({1: None}, roster, new, scales(items), K, J) == []


# --- Case 4: a round the audit refuses -------------------------------------------------------

FORVALTNING, ENHET, TEAM, TEAM_3 = 1, 2, 3, 4
CASE_4_TREE = {FORVALTNING: None, ENHET: FORVALTNING, TEAM: ENHET, TEAM_3: FORVALTNING}
CASE_4_ROSTER = {FORVALTNING: 0, ENHET: 7, TEAM: 7, TEAM_3: 12}
CASE_4_ANSWERS = [
    *[(ENHET, {"stress": 1})] * 5,
    *[(TEAM, {"stress": 4})] * 5,
    *[(TEAM_3, {"stress": v}) for v in (1, 2, 3, 4, 5, 1, 2, 3, 4, 5)],
]


def test_case_4_a_refused_share_is_held_back_and_the_rest_of_the_round_publishes() -> None:
    """The Enhet's unfavourable share spans its own atom and Team's, whose mean 75 is exact:
    the five unfavourable answers are Team's, each a 4. Published as the outsider rules made
    it, the audit refuses it (and lost the whole round); now only one figure is held back."""
    items = [scale_item("stress", "stress")]
    figures = publish(CASE_4_TREE, CASE_4_ROSTER, CASE_4_ANSWERS, items, OUTSIDER)
    assert figures[TEAM]["items"]["stress"]["mean"] == [75.0, 75.0]
    assert figures[ENHET]["items"]["stress"]["unfavourable_share"] == 0.5
    refused = pinning_audit(CASE_4_TREE, CASE_4_ROSTER, figures, scales(items), K, OUTSIDER)
    assert refused

    held = hold_back(
        CASE_4_TREE, CASE_4_ROSTER, figures, scales(items), K, OUTSIDER, {"stress": "stress"}
    )
    assert pinning_audit(CASE_4_TREE, CASE_4_ROSTER, held.figures, scales(items), K, OUTSIDER) == []
    # One figure goes: Team's exact mean (holding back the Enhet's share would have needed
    # the förvaltning's too, which spans the same answers); its area index goes with it.
    assert held.count == 1
    team = held.figures[TEAM]
    assert "mean" not in team["items"]["stress"]
    assert team["items"]["stress"]["held_back"] == ["mean"]
    assert team["constructs_held_back"] == ["stress"]
    assert "stress" not in team["constructs"]
    # Everything else of the round stands: the Enhet, Team 3 and the förvaltning.
    for unit in (ENHET, TEAM_3, FORVALTNING):
        assert held.figures[unit] == figures[unit], unit
    # Deterministic: the same publication is held back the same way every time.
    again = hold_back(
        CASE_4_TREE, CASE_4_ROSTER, figures, scales(items), K, OUTSIDER, {"stress": "stress"}
    )
    assert again == held


def test_case_4_the_insider_rules_publish_the_same_tree_without_a_refusal() -> None:
    """With blocks of k + J + 2 and the wider ranges, the same week (teams of 9) passes."""
    items = [scale_item("stress", "stress")]
    roster = {FORVALTNING: 0, ENHET: 9, TEAM: 9, TEAM_3: 12}
    figures = publish(CASE_4_TREE, roster, CASE_4_ANSWERS, items, J)
    assert all(figures[unit]["shown"] for unit in (TEAM, ENHET, TEAM_3))
    assert pinning_audit(CASE_4_TREE, roster, figures, scales(items), K, J) == []


def test_case_4_a_close_keeps_the_round_and_logs_no_group_fact(db, keys, settings, caplog) -> None:
    """End to end: a round whose publication the audit refuses in part is closed, stores
    figures for every unit, and the log names the round and a count of figures only."""
    from datetime import UTC, date, datetime, time, timedelta
    from pathlib import Path

    from sqlmodel import select

    from aggregation.close import release_with_statistics
    from survey.enrolment import create_unit, enrol_member
    from survey.lifecycle import create_schedule, tick
    from survey.questions import import_question_set, load_question_set_file, parse_items
    from survey.schedules import ScheduleSpec
    from survey.storage.models import RoundStatistic, SurveyRound
    from survey.submissions import submit

    sets = Path(__file__).resolve().parents[1] / "config" / "question_sets"
    import_question_set(db, load_question_set_file(sets / "social-work-weekly.yaml"))
    forvaltning = create_unit(db, "Förvaltning", kind="forvaltning")
    enhet = create_unit(db, "Enhet", parent_id=forvaltning.id)
    team = create_unit(db, "Team", parent_id=enhet.id, kind="team")
    team_3 = create_unit(db, "Team 3", parent_id=forvaltning.id, kind="team")
    people = {
        unit.id: [
            enrol_member(
                db,
                keys,
                telegram_user_id=unit.id * 100 + i,
                chat_id=unit.id * 100 + i,
                unit_id=unit.id,
            )
            for i in range(size)
        ]
        for unit, size in ((enhet, 7), (team, 7), (team_3, 12))
    }
    create_schedule(
        db,
        unit_id=forvaltning.id,
        question_sets=["social-work-weekly"],
        spec=ScheduleSpec(starts_on=date(2026, 11, 1), local_time=time(9)),
    )
    opens = datetime(2026, 11, 2, 8, tzinfo=UTC)
    (round_id,) = tick(db, keys, settings, opens).opened
    with db.session() as session:
        survey_round = session.get(SurveyRound, round_id)
        assert survey_round is not None
        survey_round.known_others = OUTSIDER  # opened by a version before the insider rules
        items = parse_items(survey_round.items)
    stresses = {
        enhet.id: (1,) * 5,
        team.id: (4,) * 5,
        team_3.id: (1, 2, 3, 4, 5, 1, 2, 3, 4, 5),
    }
    for unit_id, values in stresses.items():
        for member, stress in zip(people[unit_id], values, strict=False):
            answers = {i.key: i.options[2] for i in items if i.required}
            answers["stress"] = stress
            submit(
                db,
                keys,
                member_id=member.id,
                round_id=round_id,
                answers=answers,
                now=opens + timedelta(hours=1),
            )
    with caplog.at_level(logging.WARNING):
        tick(db, keys, settings, opens + timedelta(hours=72), close=release_with_statistics)
    with db.session() as session:
        stored = {
            row.unit_id: row.figures
            for row in session.exec(
                select(RoundStatistic).where(RoundStatistic.round_id == round_id)
            )
        }
    assert all(stored[u]["shown"] for u in (forvaltning.id, enhet.id, team.id, team_3.id))
    assert stored[team.id]["items"]["stress"]["held_back"] == ["mean"]
    assert "stress" not in stored[team.id]["constructs"]
    assert "unfavourable_share" in stored[enhet.id]["items"]["stress"]
    assert "stress" in stored[team_3.id]["constructs"]
    messages = [r.getMessage() for r in caplog.records]
    assert [m for m in messages if "held back" in m] == [
        f"round {round_id}: 1 figure was held back by the pinning audit; the rest of the "
        "round is published"
    ]
    assert not any("same answer" in m or "refused the publication" in m for m in messages)
    # A round stored before holding back existed (the figure still in the database): every
    # output of a report holds it back too, the sub-units heatmap included, which used to read
    # the stored figures a second time.
    from aggregation.heatmap import unit_heatmap_data
    from aggregation.report import build_report

    with db.session() as session:
        row = session.get(RoundStatistic, (round_id, team.id))
        assert row is not None
        unheld = dict(row.figures["items"])
        unheld["stress"] = {"n": 5, "lineage": unheld["stress"]["lineage"], "mean": [75.0, 75.0]}
        constructs = {**row.figures["constructs"], "stress": {"n": 5, "index": 75.0}}
        row.figures = {**row.figures, "items": unheld, "constructs": constructs}
    report = build_report(db, enhet.id)
    assert report.audited[(round_id, team.id)]["items"]["stress"]["held_back"] == ["mean"]
    heat = unit_heatmap_data(db, report)
    team_row = next(name for name in heat if name.strip().startswith("Team ("))
    assert heat[team_row]["stress"] is None
