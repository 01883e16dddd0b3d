"""The `pulse` command line as an operator uses it: set up, inspect, rotate, and clear errors."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from cli.main import app
from survey.storage import head_revision

runner = CliRunner()


def _run(*args: str):
    """Invoke `pulse`; output with rich's line wrapping folded back into single spaces. `pulse`
    sets its process's umask (077): the test process gets its own back afterwards."""
    umask = os.umask(0o077)
    try:
        result = runner.invoke(app, list(args))
    finally:
        os.umask(umask)
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    monkeypatch.setenv("PULSE_DATA_DIR", str(tmp_path / "data"))
    for name in (
        "PULSE_DATABASE_URL",
        "PULSE_KEYS_DIR",
        "PULSE_MIN_GROUP_SIZE",
        "PULSE_BOT_USERNAME",
    ):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "data"


def test_init_then_status(env: Path) -> None:
    result_code, result = _run("init")
    assert result_code == 0
    assert "Created keys" in result
    assert (env / "pulse.sqlite3").exists()
    status_code, status = _run("status")
    assert status_code == 0
    assert head_revision() in status
    assert "1 public, 1 private on this host" in status


def test_second_init_leaves_keys_untouched(env: Path) -> None:
    _run("init")
    before = {p.name: p.read_bytes() for p in (env / "keys").iterdir()}
    result_code, result = _run("init")
    assert result_code == 0
    assert "left unchanged" in result
    assert {p.name: p.read_bytes() for p in (env / "keys").iterdir()} == before


def test_rotate_and_list_keys(env: Path) -> None:
    _run("init")
    rotated_code, _ = _run("keys", "rotate")
    assert rotated_code == 0
    _, listing = _run("keys", "list")
    assert listing.count("private key here") == 2
    assert listing.count("active") == 1


def test_bad_setting_gets_a_clear_message(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_MIN_GROUP_SIZE", "2")
    result_code, result = _run("status")
    assert result_code == 2
    assert "PULSE_MIN_GROUP_SIZE" in result
    assert "at least 3" in result
    assert "Traceback" not in result


def test_unreachable_database_gets_a_clear_message(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULSE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    result_code, result = _run("status")
    assert result_code == 2
    assert "cannot reach the database" in result


SETS = Path(__file__).resolve().parents[1] / "config" / "question_sets"


def test_an_admin_sets_up_a_municipality_from_the_cli(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULSE_BOT_USERNAME", "pulse_test_bot")
    _run("init")
    assert _run("units", "create", "Socialförvaltningen", "--kind", "forvaltning")[0] == 0
    assert _run("units", "create", "IFO", "--parent", "1", "--kind", "avdelning")[0] == 0
    assert _run("units", "create", "Team Norr", "--parent", "2", "--kind", "team")[0] == 0
    code, tree = _run("units", "list")
    assert code == 0
    assert "Team Norr (team) - fewer than 5" in tree
    code, moved = _run("units", "move", "1", "--parent", "3")
    assert code == 2
    assert "cannot move under itself" in moved

    code, imported = _run("questions", "import", str(SETS / "social-work-weekly.yaml"))
    assert code == 0
    assert "Imported social-work-weekly version 1 (active)" in imported
    assert "social-work-weekly" in _run("questions", "list")[1]
    assert "key: behind" in _run("questions", "show", "social-work-weekly")[1]

    qr = tmp_path / "poster.png"
    code, invite = _run("invites", "create", "--unit", "3", "--qr", str(qr))
    assert code == 0
    assert "https://t.me/pulse_test_bot?start=" in invite
    assert qr.read_bytes()[:4] == b"\x89PNG"
    assert "unit 3 worker 0/50 used" in _run("invites", "list")[1]

    code, schedule = _run(
        "schedules",
        "create",
        "--unit",
        "1",
        "--weekday",
        "mån",
        "--starts",
        "2026-11-23",
        "--skip",
        "2026-12-21/2027-01-03",
    )
    assert code == 0
    assert "weekly on mon 09:00 Europe/Stockholm" in schedule
    code, dry = _run("rounds", "tick", "--at", "2026-11-23T08:00:00+00:00")
    assert "open: schedule 1" in dry
    assert "Dry run" in dry
    assert "No rounds yet" in _run("rounds", "list")[1]
    # Carrying out what would be due at another time is refused: the running bot would invite
    # everyone now to a round that opens next month, or report one nobody could answer.
    code, refused = _run("rounds", "tick", "--at", "2026-11-23T08:00:00+00:00", "--apply")
    assert code == 2
    assert refused == (
        "Error: --at: 2026-11-23T08:00:00+00:00 is not now; --apply carries out only what is "
        "due now (without --at), and --at shows what would be due then"
    )
    assert "No rounds yet" in _run("rounds", "list")[1]
    # A schedule due this very minute: --apply opens it now.
    local = datetime.now(ZoneInfo("Europe/Stockholm")) - timedelta(minutes=1)
    _run(
        "schedules",
        "create",
        "--unit",
        "1",
        "--weekday",
        local.strftime("%a").lower(),
        "--time",
        local.strftime("%H:%M"),
        "--starts",
        local.date().isoformat(),
    )
    code, applied = _run("rounds", "tick", "--apply")
    assert code == 0
    assert "opened round 1" in applied
    listing = _run("rounds", "list")[1]
    assert "7 items k=5 open" in listing
    # In the schedule's own time (Stockholm), not the stored UTC.
    assert f"{local:%Y-%m-%d %H:%M} -> " in listing

    # The same schedule again would open a second round for the same people at the same minute.
    code, again = _run("schedules", "create", "--unit", "1", "--starts", "2026-11-23")
    assert code == 2
    assert "schedule 1 already asks unit 1 the same sets at the same time" in again
    assert _run("schedules", "list")[1].count("Europe/Stockholm open") == 2  # no third


def test_a_broken_question_set_is_explained_and_not_imported(env: Path, tmp_path: Path) -> None:
    _run("init")
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        (SETS / "social-work-weekly.yaml").read_text().replace("type: scale", "type: slider", 1)
    )
    code, output = _run("questions", "import", str(broken))
    assert code == 2
    assert "broken.yaml:" in output
    assert "item 'behind': type: must be one of: scale, choice, yes_no, text" in output
    assert "Nothing was imported." in output
    assert "No question sets yet" in _run("questions", "list")[1]


def test_schema_is_json(env: Path) -> None:
    code, output = _run("questions", "schema")
    assert code == 0
    assert '"title": "QuestionSet"' in output


def test_close_round_report_and_purge_from_the_cli(env: Path, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from survey.enrolment import create_unit, enrol_member
    from survey.installation import key_ring
    from survey.questions import LockedItem
    from survey.rounds import open_round
    from survey.settings import SurveySettings
    from survey.storage import Database
    from survey.submissions import submit

    _run("init")
    settings = SurveySettings(_env_file=None, data_dir=env)
    db, keys = Database.from_settings(settings), key_ring(settings)
    unit = create_unit(db, "Team Norr")
    now = datetime.now(UTC)
    people = [
        enrol_member(db, keys, telegram_user_id=90 + i, chat_id=90 + i, unit_id=unit.id)
        for i in range(8)
    ]
    survey_round = open_round(
        db,
        keys,
        settings,
        unit_id=unit.id,
        items=[LockedItem(key="stress", options=(1, 2, 3, 4, 5))],
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=1),
    )
    for member in people:
        submit(db, keys, member_id=member.id, round_id=survey_round.id, answers={"stress": 2})
    db.dispose()

    code, closed = _run("close-round", str(survey_round.id))
    assert code == 0
    assert "statistics for 1 units shown, 0 hidden" in closed
    # The published figure, not a raw count: all eight answered, three are left out (P6).
    assert "at least 5 answered of 8" in _run("rounds", "list")[1]
    code, text = _run("report", "--unit", str(unit.id), "--language", "en")
    assert code == 0
    assert "at least 5 answered" in text
    for fmt in ("html", "png", "csv", "xlsx"):
        out = tmp_path / f"report.{fmt}"
        code, output = _run("report", "--unit", str(unit.id), "--format", fmt, "--out", str(out))
        assert code == 0, output
        assert out.stat().st_size > 30
    code, purge = _run("purge")
    assert "Nothing is past the retention period" in purge
    code, missing = _run("report", "--unit", "999")
    assert code == 2
    assert "unit 999 does not exist" in missing


def test_unit_names_print_as_written(env: Path) -> None:
    _run("init")
    code, created = _run("units", "create", "Team [/bold] Norr [link=http://x]x[/link]")
    assert "[/bold]" in created
    assert code == 0
    code, listing = _run("units", "list")
    assert code == 0
    assert "Team [/bold] Norr [link=http://x]x[/link]" in listing


def test_operator_mistakes_are_one_line_and_exit_code_2(env: Path, monkeypatch) -> None:
    before_init: tuple[tuple[str, ...], ...] = (("units", "list"), ("status",), ("rounds", "tick"))
    for args in before_init:
        code, output = _run(*args)
        assert code == 2, args
        assert "run `pulse init` first" in output
        assert not env.exists(), "an empty data directory was left behind"
    _run("init")
    mistakes: tuple[tuple[str, ...], ...] = (
        ("units", "create", "X", "--parent", "99999999999999999999"),
        ("invites", "create", "--unit", "1", "--expires", "99999999d"),
        ("questions", "validate", str(env)),
    )
    for args in mistakes:
        code, output = _run(*args)
        assert code == 2, args
        assert "Traceback" not in output
    monkeypatch.setenv("PULSE_DATABASE_URL", "nonsense://")
    code, output = _run("units", "list")
    assert code == 2
    assert "not a database URL" in output


def test_a_schedule_asking_too_much_at_once_is_refused(env: Path) -> None:
    """Both shipped sets together ask twelve questions in some weeks: longer than a check-in of
    under a minute, so the schedule is refused with the week and the count."""
    _run("init")
    _run("units", "create", "Socialförvaltningen", "--kind", "forvaltning")
    for name in ("social-work-weekly.yaml", "who5.yaml"):
        assert _run("questions", "import", str(SETS / name))[0] == 0
    code, refused = _run("schedules", "create", "--unit", "1", "--sets", "social-work-weekly,who5")
    assert code == 2
    assert "would ask 12 questions, more than PULSE_MAX_ITEMS_PER_CHECKIN=8" in refused
    assert "No schedules yet" in _run("schedules", "list")[1]


def test_help_and_version_load_no_storage_or_telegram_code() -> None:
    """`pulse --help` stays instant because the layers below load only inside commands; this
    checks the cause (what is imported), the benchmark measures the time."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from cli.main import app\n"
        "for args in (['--help'], ['--version'], ['schedules', 'create', '--help']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0, args\n"
        "heavy = {'sqlalchemy', 'sqlmodel', 'telegram', 'pandas', 'matplotlib', 'alembic',\n"
        "         'cryptography', 'pydantic_settings'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"


def test_counts_read_as_english() -> None:
    from cli.common import counted

    assert counted(1, "item") == "1 item"
    assert counted(0, "answer") == "0 answers"
    assert counted(7, "item") == "7 items"


def test_actions_list_for_admins(env: Path) -> None:
    from datetime import date, timedelta

    from survey.actions import record_action, set_action_status
    from survey.settings import SurveySettings
    from survey.storage import Database, make_engine
    from survey.storage.models import ActionStatus

    assert _run("init")[0] == 0
    assert _run("units", "create", "IFO")[0] == 0
    assert _run("units", "create", "Familjehem", "--parent", "1", "--kind", "team")[0] == 0
    assert _run("units", "create", "Barn och unga", "--parent", "1", "--kind", "team")[0] == 0
    db = Database(make_engine(SurveySettings(_env_file=None).resolved_database_url))
    today = date.today()
    late = record_action(
        db,
        unit_id=2,
        title="Mentor [bold]for[/bold] all",
        owner="Anna",
        due_on=today,
        today=today - timedelta(days=3),
    )
    done = record_action(db, unit_id=3, title="Case review", owner="Bo", due_on=today, today=today)
    set_action_status(db, done.id, ActionStatus.DONE, scope={3}, today=today)
    with db.session() as session:  # made a while ago, due yesterday
        from survey.storage.models import Action

        stored = session.get(Action, late.id)
        assert stored is not None
        stored.due_on = today - timedelta(days=1)
    db.dispose()
    code, out = _run("actions", "list")
    assert code == 0, out
    assert "Mentor [bold]for[/bold] all (Familjehem) - owner Anna" in out  # escaped, not styled
    assert "overdue" in out
    assert "Case review (Barn och unga)" in out
    assert "done" in out
    code, out = _run("actions", "list", "--overdue")
    assert "Mentor" in out
    assert "Case review" not in out
    code, out = _run("actions", "list", "--unit", "3")
    assert "Case review" in out
    assert "Mentor" not in out
    code, out = _run("actions", "list", "--unit", "99")
    assert code == 2
    assert out == "Error: there is no unit 99 (`pulse units list` shows them)"


def test_shipped_question_sets_import_by_id_from_any_directory(env: Path) -> None:
    """The README's set-up from outside the checkout: shipped sets by their id, and a set that
    no schedule asks is said to be unasked, with how to change that."""
    _run("init")
    code, imported = _run("questions", "import", "who5")
    assert code == 0
    assert "Imported who5 version 1 (active)" in imported
    assert "No schedule asks who5 yet: add it with `pulse schedules create" in imported
    assert _run("questions", "validate", "social-work-weekly")[0] == 0
    code, missing = _run("questions", "import", "who6")
    assert code == 2
    assert missing == (
        "who6: no such file, and no question set of that id is shipped "
        "(shipped: social-work-weekly, who5)"
    )
    code, missing = _run("questions", "import", "sets/mine.yaml")
    assert (code, missing) == (2, "sets/mine.yaml: no such file")
    _run("units", "create", "IFO")
    _run("questions", "import", "social-work-weekly")
    _run("schedules", "create", "--unit", "1", "--sets", "social-work-weekly")
    code, again = _run("questions", "activate", "social-work-weekly", "1")
    assert code == 0
    assert "No schedule asks" not in again


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("schedules", "create", "--unit", "1", "--skip", "2026-13-01"),
            "Error: --skip: 2026-13-01 is not a date (YYYY-MM-DD)",
        ),
        (
            ("schedules", "create", "--unit", "1", "--skip", "2026-12-24/2026-12-01"),
            "Error: --skip: 2026-12-24/2026-12-01 ends before it starts",
        ),
        (
            ("schedules", "create", "--unit", "1", "--time", "25:00"),
            "Error: --time: 25:00 is not a time of day (HH:MM, 00:00-23:59)",
        ),
        (
            ("schedules", "create", "--unit", "1", "--starts", "1 dec"),
            "Error: --starts: 1 dec is not a date (YYYY-MM-DD)",
        ),
        (
            ("rounds", "tick", "--at", "2026-02-30T09:00"),
            "Error: --at: 2026-02-30T09:00 is not a date and time that exists "
            "(2026-12-07T09:00, or with a zone 2026-12-07T09:00+01:00)",
        ),
        (
            ("invites", "create", "--unit", "1", "--role", "boss"),
            "Error: --role: boss is not a role (one of worker, manager, safety_rep, admin)",
        ),
        (
            ("backup", "/nonexistent-pulse-dir/sub/x.db"),
            "Error: /nonexistent-pulse-dir/sub is not a directory: create it first, or fix the "
            "path",
        ),
        (("report", "--unit", "1", "--format", "png"), "Error: --out is needed for png"),
    ],
)
def test_option_mistakes_name_the_option_and_the_form(env: Path, args, line: str) -> None:
    """The operator's words, not a library's: the option's own name and the form expected."""
    _run("init")
    _run("units", "create", "IFO")
    code, output = _run(*args)
    assert (code, output) == (2, line)
    assert not Path("/nonexistent-pulse-dir").exists()


def test_a_report_of_a_unit_with_nothing_closed_says_so_and_writes_nothing(
    env: Path, tmp_path: Path
) -> None:
    _run("init")
    _run("units", "create", "Barn och unga")
    for fmt in ("text", "html", "png", "csv", "xlsx"):
        out = tmp_path / f"r.{fmt}"
        code, output = _run("report", "--unit", "1", "--format", fmt, "--out", str(out))
        assert (code, output) == (
            1,
            "Barn och unga has no closed round yet: results appear when a round closes "
            "(`pulse rounds list`).",
        )
        assert not out.exists()


def test_files_are_the_service_users_alone_and_status_flags_looser_ones(tmp_path: Path) -> None:
    """`pulse` sets its own umask: the database, its WAL, the keys and backups are 0600 in 0700
    directories even from a shell whose umask is 022; `pulse status --check` names a file that
    was made readable to others, and exits 1."""
    import subprocess
    import sys

    pulse = Path(sys.executable).with_name("pulse")
    env = {**os.environ, "PULSE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "400"}
    env.pop("PULSE_DATABASE_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(pulse), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            preexec_fn=lambda: os.umask(0o022),  # the shell's usual umask
        )

    assert run("init").returncode == 0
    assert run("backup", str(tmp_path / "pulse.backup")).returncode == 0
    data = tmp_path / "data"
    modes = {
        path.relative_to(tmp_path).as_posix(): oct(path.stat().st_mode & 0o777)
        for path in [data, data / "keys", *data.rglob("*"), tmp_path / "pulse.backup"]
    }
    assert set(modes.values()) <= {"0o700", "0o600"}, modes
    assert run("status", "--check").returncode == 0
    (data / "pulse.sqlite3").chmod(0o644)
    checked = run("status", "--check")
    assert checked.returncode == 1
    assert "pulse.sqlite3 (mode 0644)" in " ".join(checked.stdout.split())


def test_help_lists_the_commands_in_an_operators_order() -> None:
    from cli.common import OPERATOR_ORDER

    text = runner.invoke(app, ["--help"]).output
    lines = text.split("Commands:")[1].strip().splitlines()
    assert [line.split()[0] for line in lines] == list(OPERATOR_ORDER)


def test_access_log_says_who_opened_which_units_page(env: Path) -> None:
    """`pulse access-log`: the dashboard's openings with the reader's name and role; a unit
    that does not exist is an operator's mistake."""
    from datetime import UTC

    from survey.enrolment import create_unit, enrol_member
    from survey.installation import key_ring
    from survey.settings import SurveySettings
    from survey.staff_access import log_access, session_of, start_session
    from survey.storage import Database
    from survey.storage.models import Role

    _run("init")
    settings = SurveySettings()
    db, keys = Database.from_settings(settings), key_ring(settings)
    unit = create_unit(db, "Team <Norr>")
    manager = enrol_member(
        db, keys, telegram_user_id=71, chat_id=71, unit_id=unit.id, role=Role.MANAGER
    )
    now = datetime.now(UTC)
    token, _ = start_session(db, keys, manager, "Anna Andersson", now)
    staff = session_of(db, keys, token, now, timedelta(minutes=30))
    assert staff is not None
    log_access(db, keys, staff, unit.id, now)
    db.dispose()
    code, listing = _run("access-log", "--unit", str(unit.id))
    assert code == 0
    assert "Team <Norr> · manager · Anna Andersson" in listing
    code, refused = _run("access-log", "--unit", "999")
    assert code == 2
    assert "there is no unit 999" in refused
