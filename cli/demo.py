"""`pulse demo`: the real product, end to end, on a laptop with no Telegram account.

The story itself lives in cli/simulation.py; this command shows its progress from the first
second (the bot and statistics libraries load while the first line is already on screen) and
prints where the reports went.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()


def demo(
    out: Annotated[Path, typer.Option(help="Where the reports, charts and database go.")] = Path(
        "pulse-demo"
    ),
    weeks: Annotated[int, typer.Option(min=2, max=52, help="Weekly rounds to simulate.")] = 12,
    workers: Annotated[int, typer.Option(min=20, max=1000, help="About how many workers.")] = 120,
    seed: Annotated[int, typer.Option(help="Change it for another story.")] = 7,
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
        result = asyncio.run(
            run_demo(out, weeks=weeks, workers=workers, seed=seed, on_step=on_step)
        )
    console.print()
    console.rule("[bold]Barnutredning Norr – the manager's report in Telegram[/bold]")
    for message in result.summary:
        console.print(_plain(message), highlight=False, markup=False)
    console.rule()
    console.print(
        f"{result.answered} check-ins in {weeks} weeks. The last week's "
        f"{result.answered_in_telegram} went through the real bot ({result.presses} button "
        "presses); the earlier weeks through the survey API the bot calls."
    )
    console.print(f"HTML reports:  {result.out.resolve()}/report-*.html", highlight=False)
    console.print(f"PNG charts:    {result.out.resolve()}/charts/", highlight=False)
    console.print(f"Database:      {result.database.resolve()}", highlight=False)


def _plain(html_text: str) -> str:
    return html.unescape(re.sub(r"</?(b|i)>", "", html_text))
