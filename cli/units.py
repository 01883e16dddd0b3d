"""`pulse units`: the organisation tree."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from cli.common import command_group, console, context

app = command_group("Units: create, rename, move, list as a tree, archive.")
KINDS = ("forvaltning", "avdelning", "enhet", "team")


@app.command("create")
def create(
    name: str,
    parent: Annotated[int | None, typer.Option(help="Id of the parent unit.")] = None,
    kind: Annotated[str, typer.Option(help=f"One of {', '.join(KINDS)}.")] = "enhet",
) -> None:
    """Create a unit (a förvaltning at the top, teams at the bottom)."""
    from survey.enrolment import create_unit

    if kind not in KINDS:
        raise typer.BadParameter(f"kind must be one of {', '.join(KINDS)}")
    with context() as ctx:
        unit = create_unit(ctx.db, name, parent_id=parent, kind=kind)
    console.print(f"Created unit {unit.id}: {escape(unit.name)} ({unit.kind})", highlight=False)


@app.command("rename")
def rename(unit_id: int, name: str) -> None:
    """Give a unit a new name; its history stays."""
    from survey.enrolment import rename_unit

    with context() as ctx:
        unit = rename_unit(ctx.db, unit_id, name)
    console.print(f"Unit {unit.id} is now called {escape(unit.name)}", highlight=False)


@app.command("move")
def move(
    unit_id: int,
    parent: Annotated[int | None, typer.Option(help="New parent unit id.")] = None,
    top: Annotated[bool, typer.Option("--top", help="Make it a top-level unit.")] = False,
) -> None:
    """Move a unit, with everything below it, under another unit."""
    from survey.enrolment import move_unit

    if (parent is None) == (not top):
        raise typer.BadParameter("give either --parent ID or --top")
    with context() as ctx:
        unit = move_unit(ctx.db, unit_id, None if top else parent)
    where = "the top" if unit.parent_id is None else f"unit {unit.parent_id}"
    console.print(f"Moved unit {unit.id} under {where}")


@app.command("archive", short_help="Archive a unit; its past results stay.")
def archive(unit_id: int) -> None:
    """Archive a unit without members or active sub-units; its past results stay."""
    from survey.enrolment import archive_unit

    with context() as ctx:
        unit = archive_unit(ctx.db, unit_id)
    console.print(f"Archived unit {unit.id}: {escape(unit.name)}", highlight=False)


@app.command("list", short_help="The tree, with workers per unit (only where >= k).")
def list_units(
    archived: Annotated[bool, typer.Option(help="Show archived units too.")] = False,
) -> None:
    """The tree, with workers per unit (sub-units included) where no count below k shows."""
    from survey.enrolment import unit_tree

    with context() as ctx:
        nodes = unit_tree(ctx.db, ctx.settings.min_group_size, include_archived=archived)
        k = ctx.settings.min_group_size
    if not nodes:
        console.print("No units yet: `pulse units create NAME`")
        return
    console.print(
        f"Workers per unit, sub-units included; shown only where no count below {k} can be "
        "worked out from it.",
        highlight=False,
    )
    for node in nodes:
        if node.members is not None:
            members = f"{node.members} workers"
        elif node.too_few:
            members = f"fewer than {k}"
        else:
            members = "not shown (it would reveal a smaller group)"
        flag = " (archived)" if node.unit.archived else ""
        console.print(
            f"{'  ' * node.depth}{node.unit.id:>4}  {escape(node.unit.name)} ({node.unit.kind}) - "
            f"{members}{flag}",
            highlight=False,
        )
