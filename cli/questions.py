"""`pulse questions`: question sets, their versions and the JSON Schema for editors."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from cli.common import OPERATOR_ERROR, command_group, console, context, counted, err

if TYPE_CHECKING:
    from survey.questions import QuestionSet
    from survey.storage import Database

app = command_group("Question sets: validate, import, list, show, schema.")


def _load(source: str) -> QuestionSet:
    """A file, or a shipped set by id (``social-work-weekly``, ``who5``) from any directory."""
    from survey.questions import QuestionSetError, load_question_set_file
    from survey.questions.shipped import resolve_set_source, shipped_sets

    path = resolve_set_source(source)
    if not path.exists():
        if str(path) == source and source not in shipped_sets() and path.suffix == "":
            message = (
                f"{escape(source)}: no such file, and no question set of that id is shipped "
                f"(shipped: {', '.join(shipped_sets())})"
            )
        else:
            message = f"{escape(source)}: no such file"
        err.print(message, highlight=False, soft_wrap=True)
        raise typer.Exit(OPERATOR_ERROR)
    try:
        return load_question_set_file(path)
    except QuestionSetError as exc:
        count = len(exc.problems)
        err.print(f"[red]{count} problem{'s' if count != 1 else ''} in {escape(str(path))}:[/red]")
        for problem in exc.problems:
            err.print(
                f"  {problem.render(exc.source)}", highlight=False, markup=False, soft_wrap=True
            )
        err.print("Nothing was imported.")
        raise typer.Exit(OPERATOR_ERROR) from exc


SOURCE_HELP = "A YAML file, or the id of a shipped set: social-work-weekly, who5."


@app.command("validate", short_help="Check a question-set file without importing it.")
def validate(source: Annotated[str, typer.Argument(help=SOURCE_HELP)]) -> None:
    """Check a question-set file without importing it; shows the weekly rotation."""
    from survey.questions import items_for_round

    question_set = _load(source)
    console.print(
        f"[green]OK[/green]: {question_set.id}, {counted(len(question_set.items), 'item')}"
    )
    rounds = max(item.cadence for item in question_set.items)
    for index in range(rounds):
        keys = [item.key for item in items_for_round(question_set, index)]
        console.print(f"  round {index + 1}: {counted(len(keys), 'item')}: {', '.join(keys)}")


@app.command("import", short_help="Import a set (a changed file is a new version).")
def import_(
    source: Annotated[str, typer.Argument(help=SOURCE_HELP)],
    activate: Annotated[bool, typer.Option(help="Use it for rounds opened from now on.")] = True,
) -> None:
    """Import a set: a changed file becomes a new version; rounds already open keep theirs."""
    from survey.questions import import_question_set

    question_set = _load(source)
    with context() as ctx:
        result = import_question_set(ctx.db, question_set, activate=activate)
        if not result.created:
            console.print(f"{result.set_id}: unchanged, still version {result.version}")
        else:
            state = "active" if result.active else "not active"
            console.print(f"Imported {result.set_id} version {result.version} ({state})")
            for key, reason in result.trend_breaks.items():
                console.print(f"  trend for '{key}' starts afresh: {reason}")
        if result.active:
            _say_if_unasked(ctx.db, result.set_id)


@app.command("activate")
def activate(set_id: str, version: int) -> None:
    """Use an earlier or later version for rounds opened from now on."""
    from survey.questions import activate_version

    with context() as ctx:
        activate_version(ctx.db, set_id, version)
        console.print(f"{set_id}: version {version} is active")
        _say_if_unasked(ctx.db, set_id)


def _say_if_unasked(db: Database, set_id: str) -> None:
    """An active set that no schedule asks is never asked: say so, and how to change it."""
    from survey.lifecycle import list_schedules

    if any(set_id in schedule.question_sets for schedule in list_schedules(db)):
        return
    console.print(
        f"No schedule asks {set_id} yet: add it with `pulse schedules create --unit ID "
        f"--sets {set_id} ...` (several sets: --sets a,b).",
        highlight=False,
        soft_wrap=True,
    )


@app.command("list")
def list_sets() -> None:
    """Imported sets, their versions and which one is active."""
    from survey.questions import list_question_sets

    with context() as ctx:
        summaries = list_question_sets(ctx.db)
    if not summaries:
        console.print("No question sets yet: `pulse questions import social-work-weekly`")
    for summary in summaries:
        console.print(
            f"{summary.set_id}  {summary.title}  (versions: {summary.versions}, "
            f"active: {summary.active_version})",
            highlight=False,
        )


@app.command("show")
def show(
    set_id: str,
    version: Annotated[int | None, typer.Option(help="Default: the active version.")] = None,
) -> None:
    """Print a stored version as YAML."""
    from survey.questions import dump_question_set, load_version

    with context() as ctx:
        _, question_set = load_version(ctx.db, set_id, version)
    typer.echo(dump_question_set(question_set), nl=False)


@app.command("schema", short_help="Print the JSON Schema of the format.")
def schema() -> None:
    """Print the JSON Schema of the format, for editor completion and checks."""
    from survey.questions import QuestionSet

    typer.echo(
        json.dumps(QuestionSet.model_json_schema(by_alias=True), indent=2, ensure_ascii=False)
    )
