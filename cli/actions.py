"""`pulse actions`: what managers decided to do about their results, for admins."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape

from cli.common import command_group, console, context

app = command_group("Actions recorded by managers, their status and follow-up.")


@app.command("list", short_help="Actions of all units or one sub-tree; --overdue for late ones.")
def list_command(
    unit: Annotated[
        int | None, typer.Option(help="Only this unit and its sub-units (its id).")
    ] = None,
    overdue: Annotated[bool, typer.Option(help="Only actions past due and not done.")] = False,
) -> None:
    """Actions with unit, owner, due date, status, comments, and the follow-up answer where
    it was published (the same figures as the unit's report)."""
    from sqlmodel import col, select

    from aggregation.report import build_report
    from aggregation.wording import action_status, followup_text
    from survey.enrolment import subtree_ids
    from survey.i18n import Texts
    from survey.storage.models import Unit

    with context() as ctx:
        today = ctx.settings.today(datetime.now(UTC))
        with ctx.db.session() as session:
            if unit is not None and session.get(Unit, unit) is None:
                raise LookupError(f"there is no unit {unit} (`pulse units list` shows them)")
            roots = (
                [unit]
                if unit is not None
                else list(session.exec(select(Unit.id).where(col(Unit.parent_id).is_(None))))
            )
            covered = {u for root in roots for u in subtree_ids(session, root)}
        rows = []
        for root in roots:
            rows += build_report(ctx.db, root, change_spread=ctx.settings.change_spread).actions
    t = Texts("en")
    rows = [r for r in rows if r.unit_id in covered]
    if overdue:
        rows = [r for r in rows if r.overdue(today)]
    if not rows:
        console.print("No overdue actions." if overdue else "No actions recorded yet.")
        return
    for row in rows:
        late = " - overdue" if row.overdue(today) else ""
        console.print(
            f"{row.id:>4}  {escape(row.title)} ({escape(row.unit_name)}) - owner "
            f"{escape(row.owner)}, due {row.due_on.isoformat()}, "
            f"{action_status(t, row.status)}{late}",
            highlight=False,
        )
        for role, text, written_on in row.comments:
            console.print(
                f"      {escape(t.role(role))}, {written_on.isoformat()}: {escape(text)}",
                highlight=False,
            )
        if row.followup is not None:
            console.print(f"      {escape(followup_text(t, row.followup))}", highlight=False)
