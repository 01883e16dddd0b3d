"""`pulse invites`: invite links (and QR codes) for workers, managers and admins."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from cli.common import command_group, console, context, err
from cli.options import OptionError, as_role
from survey.roles import Role

app = command_group("Invite links: create, list, revoke.")


def _duration(value: str) -> timedelta:
    from survey.schedules import parse_duration_hours

    try:
        return timedelta(hours=parse_duration_hours(value))
    except ValueError as exc:
        raise OptionError(f"--expires: {exc}") from exc


@app.command("create", short_help="Create an invite and print its Telegram link.")
def create(
    unit: Annotated[int, typer.Option(help="Unit id (see `pulse units list`).")],
    role: Annotated[
        str,
        typer.Option(
            help="worker; manager or safety_rep (skyddsombud): results of the unit and its "
            "sub-units; admin."
        ),
    ] = Role.WORKER.value,
    expires: Annotated[
        str | None,
        typer.Option(help="e.g. 14d, 48h (default: 14 days for workers, 48 hours for staff)."),
    ] = None,
    uses: Annotated[
        int | None,
        typer.Option(help="How many may join with it (default: 50 for workers; staff: 1 only)."),
    ] = None,
    label: Annotated[str, typer.Option(help="Your note, e.g. 'poster, team meeting'.")] = "",
    qr: Annotated[Path | None, typer.Option(help="Also write a QR code PNG here.")] = None,
) -> None:
    """Create an invite and print its Telegram link (the code is shown only now)."""
    from survey.invites import create_invite, default_terms, invite_link, write_qr_png

    with context() as ctx:
        role_given = as_role("--role", role)
        default_life, default_uses = default_terms(ctx.settings, role_given)
        life = _duration(expires) if expires else default_life
        created = create_invite(
            ctx.db,
            unit_id=unit,
            role=role_given,
            expires_in=life,
            max_uses=default_uses if uses is None else uses,
            label=label,
        )
        bot = ctx.settings.bot_username
    people = "one person only" if created.max_uses == 1 else f"up to {created.max_uses} people"
    console.print(
        f"Invite {created.invite_id}: {created.role.value} of unit {created.unit_id}, "
        f"{people}, expires {created.expires_at:%Y-%m-%d %H:%M} UTC",
        highlight=False,
    )
    if bot:
        link = invite_link(bot, created.token)
        typer.echo(link)
        if qr:
            console.print(f"QR code: {write_qr_png(link, qr)}")
    else:
        typer.echo(f"code: {created.token}")
        err.print("Set PULSE_BOT_USERNAME to print the t.me link (and --qr to write a QR code).")
    console.print(
        "[yellow]Share it only with the people it is for; revoke it if it leaks.[/yellow]"
    )


@app.command("list", short_help="All invites with their state.")
def list_all() -> None:
    """All invites with their state (codes cannot be shown again: only hashes are stored)."""
    from survey.invites import list_invites

    with context() as ctx:
        invites = list_invites(ctx.db)
    if not invites:
        console.print("No invites yet.")
    for invite in invites:
        state = "revoked" if invite.revoked else f"{invite.uses}/{invite.max_uses} used"
        console.print(
            f"{invite.id:>4}  unit {invite.unit_id}  {invite.role}  {state}  expires "
            f"{invite.expires_at:%Y-%m-%d %H:%M} UTC  {invite.label}",
            highlight=False,
        )


@app.command("revoke")
def revoke(invite_id: int) -> None:
    """Withdraw an invite; people who already joined stay."""
    from survey.invites import revoke_invite

    with context() as ctx:
        revoke_invite(ctx.db, invite_id)
    console.print(f"Invite {invite_id} revoked")
