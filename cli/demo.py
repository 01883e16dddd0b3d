"""`pulse demo`: the real product, end to end, on a laptop with no Telegram account.

The story itself lives in cli/simulation.py; this command shows its progress from the first
second (the bot and statistics libraries load while the first line is already on screen) and
prints where the reports went.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from cli.common import OPERATOR_ERROR, err

if TYPE_CHECKING:
    from rich.progress import Progress

    from cli.simulation import DemoResult

console = Console()


def demo(
    out: Annotated[Path, typer.Option(help="Where the reports, charts and database go.")] = Path(
        "pulse-demo"
    ),
    weeks: Annotated[int, typer.Option(min=2, max=52, help="Weekly rounds to simulate.")] = 12,
    workers: Annotated[int, typer.Option(min=20, max=1000, help="About how many workers.")] = 120,
    seed: Annotated[int, typer.Option(help="Change it for another story.")] = 7,
    serve: Annotated[
        bool,
        typer.Option(
            help="Afterwards, open this week's check-in and keep serving the page on "
            "127.0.0.1, with a link to answer it yourself (Ctrl-C stops)."
        ),
    ] = False,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port of the page with --serve.")
    ] = 8080,
) -> None:
    """Run the whole product locally: a municipality, the real bot, 12 weeks of check-ins."""
    import asyncio

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    # Refreshed at each step, not by rich's own thread ten times a second: that thread would
    # compete with the simulated bot for the interpreter and slow the demo by a quarter.
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        auto_refresh=False,
    )
    with progress:
        task = progress.add_task("", total=1.0)

        def on_step(text: str, done: float) -> None:
            progress.update(task, description=text, completed=done, refresh=True)
            if not console.is_terminal:  # a log or a pipe: one line per step instead of a bar
                console.print(text, highlight=False, markup=False)

        on_step("Loading the bot, the survey core and the statistics libraries", 0)
        from cli.simulation import run_demo

        on_step(f"Building a municipality of about {workers} workers in {out}/", 0)
        try:
            result = asyncio.run(
                run_demo(
                    out,
                    weeks=weeks,
                    workers=workers,
                    seed=seed,
                    on_step=on_step,
                    serve=(lambda done: _serve(done, progress)) if serve else None,
                    port=port if serve else 0,
                )
            )
        except OSError as exc:  # the page's port is taken (with --serve)
            progress.stop()
            err.print(
                f"[red]Error:[/red] cannot serve the check-in page on 127.0.0.1:{port} "
                f"({exc.strerror}): choose another with --port",
                highlight=False,
            )
            raise typer.Exit(OPERATOR_ERROR) from exc
    if not serve:
        _print_result(result)
        console.print(
            "Answer a check-in yourself on the page, and open the managers' dashboard: "
            "[bold]pulse demo --serve[/bold]",
            highlight=False,
        )


async def _serve(result: DemoResult, progress: Progress) -> None:
    """The demo's result, then the link, then wait for Ctrl-C with the page still served."""
    import asyncio
    import signal

    progress.stop()
    _print_result(result)
    console.rule("[bold]Answer this week's check-in yourself[/bold]")
    console.print(
        "Open this link in a browser: the check-in page as Telegram opens it for a worker of "
        "Barnutredning Norr (the link carries the signed Telegram data that Telegram would "
        "put there). Open it again after sending: it says you have already answered.",
        highlight=False,
    )
    console.print(result.try_it, highlight=False, markup=False, soft_wrap=True)
    console.rule("[bold]The dashboard of the manager of Barn och familj[/bold]")
    console.print(
        "This link logs you in once (as /dashboard in the bot would give it), for a day:",
        highlight=False,
    )
    console.print(result.dashboard, highlight=False, markup=False, soft_wrap=True)
    console.print("Ctrl-C stops the server.")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    await stop.wait()


def _print_result(result: DemoResult) -> None:
    """The manager's report as Telegram shows it, and where everything went."""
    console.print()
    console.rule("[bold]Barnutredning Norr – the manager's report in Telegram[/bold]")
    for message in result.summary:
        console.print(_plain(message), highlight=False, markup=False)
    console.rule()
    in_chat = result.answered_in_telegram - result.answered_on_page
    console.print(
        f"{result.answered} check-ins. The last week's {result.answered_in_telegram} came from "
        f"the real bot's invitations: {result.answered_on_page} on the check-in page, through "
        f"our web server as the page sends them (Telegram never carried an answer), and "
        f"{in_chat} with the chat's buttons by those who chose them in /settings "
        f"({result.presses} presses). The earlier weeks went through the survey API the bot "
        "calls.",
        highlight=False,
    )
    console.print(f"HTML reports:  {result.out.resolve()}/report-*.html", highlight=False)
    console.print(f"PNG charts:    {result.out.resolve()}/charts/", highlight=False)
    console.print(f"Database:      {result.database.resolve()}", highlight=False)


def _plain(html_text: str) -> str:
    return html.unescape(re.sub(r"</?(b|i)>", "", html_text))
