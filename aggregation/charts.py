"""PNG charts with matplotlib: trends per construct against parent and organisation, a heatmap
of units x constructs for the latest round, and response rates. Hidden figures are gaps, marked
"fewer than k answers", never zeros. Colours: the Okabe-Ito palette, safe for colour-blindness.
"""

from __future__ import annotations

import io
import math
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: charts are files
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LinearSegmentedColormap

from aggregation.findings import change_margin
from aggregation.heatmap import unit_heatmap
from aggregation.report import UnitReport, latest_asked
from survey.figures import construct_of, not_published
from survey.i18n import Texts
from survey.storage import Database

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
#: Blue (good) to orange (bad): distinguishable for the common colour-vision deficiencies.
GOOD_BAD = LinearSegmentedColormap.from_list("good_bad", ["#0072B2", "#F7F7F7", "#E69F00"])


def trend_chart(report: UnitReport, language: str) -> bytes:
    """One panel per construct: the unit, its parent (dashed) and the organisation (dotted)."""
    t = Texts(language)
    constructs = [c for c in report.indices.columns if report.indices[c].notna().any()]
    columns = max(1, min(3, len(constructs)))
    rows = max(1, math.ceil(len(constructs) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.0 * rows), squeeze=False)
    dates = [t.week(r.closed_at) for r in report.rounds]
    x = np.arange(len(dates))
    for axis in axes.flat[len(constructs) :]:
        axis.set_visible(False)
    for axis, construct in zip(axes.flat, constructs, strict=False):
        _panel(axis, report, construct, t, x, dates, size=7)
    if constructs:
        axes.flat[0].legend(fontsize=7, loc="best")
    footnote = _grey_note(t, report, constructs)
    figure.suptitle(f"{report.unit_name}: {t._('Indices (0–100)')}", fontsize=11)
    figure.text(0.01, 0.005, footnote, fontsize=7, color="#555555")
    # Fixed margins in inches instead of tight_layout, which measured every tick label again
    # and cost as much as drawing the chart; the panels are all alike, so nothing is lost.
    width, height = figure.get_size_inches()
    figure.subplots_adjust(
        left=0.5 / width,
        right=1 - 0.15 / width,
        top=1 - 0.75 / height,
        bottom=0.75 / height,
        hspace=0.6,
        wspace=0.22,
    )
    return _png(figure)


def area_chart(report: UnitReport, construct: str, language: str) -> bytes:
    """One area over time, drawn to be read on a phone: large type, weeks on the axis, the
    unit against its parent and the organisation, and a note that says what grey means."""
    t = Texts(language)
    dates = [t.week(r.closed_at) for r in report.rounds]
    x = np.arange(len(dates))
    figure, axis = plt.subplots(figsize=(6.4, 4.8))
    _panel(axis, report, construct, t, x, dates, size=11)
    axis.legend(fontsize=10, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    note = _grey_note(t, report, [construct])
    figure.text(0.02, 0.02, note, fontsize=8, color="#555555", wrap=True)
    figure.subplots_adjust(left=0.1, right=0.97, top=0.9, bottom=0.32)
    return _png(figure, dpi=160)


def _panel(
    axis: Any,
    report: UnitReport,
    construct: str,
    t: Texts,
    x: Any,
    dates: list[str],
    size: int,
) -> None:
    """Rounds that did not ask the construct (rotation) are left out of the lines; rounds that
    asked it but show nothing (fewer than k answers) are gaps, shaded grey."""
    asked = report.asked[construct].to_numpy()
    lines = [(report.indices, "-", OKABE_ITO[0], report.unit_name, "o")]
    if report.parent_name and report.parent_id != report.org_id:  # never one line twice
        lines.append((report.parent_indices, "--", OKABE_ITO[1], report.parent_name, ""))
    if report.org_id != report.unit_id:
        lines.append((report.org_indices, ":", OKABE_ITO[2], report.org_name, ""))
    for frame, style, colour, name, marker in lines:
        axis.plot(
            x[asked],
            frame[construct].to_numpy()[asked],
            linestyle=style,
            color=colour,
            label=name,
            marker=marker or None,
            linewidth=2 if size > 8 else 1.5,
        )
    # A figure published only as a range is drawn as its range, with the line through its
    # middle: the chart never claims more than the report.
    for position, ref in zip(x, report.rounds, strict=True):
        entry = report.published.get((ref.round_id, report.unit_id), not_published())
        published = construct_of(entry, construct) if entry.get("shown") else None
        if published is not None and "range" in published:
            low, high = published["range"]
            axis.vlines(position, low, high, color=OKABE_ITO[0], linewidth=4, alpha=0.35)
    for position in x[_hidden_rounds(report, construct)]:
        axis.axvspan(position - 0.4, position + 0.4, color="#DDDDDD", alpha=0.6, lw=0)
    for position in _actions_done(report, construct):
        # An action on this area was done before this round: its effect shows from here.
        axis.axvline(position - 0.5, color="#444444", linestyle="-.", linewidth=1, alpha=0.7)
        axis.text(position - 0.45, 97, "✓ " + t._("action done"), fontsize=size - 1, va="top")
    label = report.construct_labels[construct].get(t.language, construct)
    better = report.construct_better.get(construct) == "higher_is_better"
    direction = t._("higher is better") if better else t._("higher is worse")
    axis.set_title(f"{label} ({direction})", fontsize=size + 2)
    axis.set_ylim(0, 100)
    step = max(1, math.ceil(len(dates) / 8)) if size > 8 else 1  # a phone fits eight weeks
    axis.set_xticks(x[::step], dates[::step], fontsize=size, rotation=45)
    axis.tick_params(axis="y", labelsize=size)
    axis.grid(alpha=0.3)


def _actions_done(report: UnitReport, construct: str) -> list[int]:
    """Positions of the first round closed after each action on ``construct`` was done."""
    positions = set()
    for action in report.actions:
        if action.construct != construct or action.done_on is None:
            continue
        after = [
            position
            for position, ref in enumerate(report.rounds)
            if ref.closed_at.date() >= action.done_on
        ]
        if after and after[0] > 0:
            positions.add(after[0])
    return sorted(positions)


def _grey_note(t: Texts, report: UnitReport, constructs: list[str]) -> str:
    """What grey means, only where a drawn area has a grey band (a round that asked it and
    showed nothing), and what a bar means, only where one is drawn; always what a missing
    round means."""
    notes = []
    if any(_hidden_rounds(report, construct).any() for construct in constructs):
        notes.append(
            t._(
                "Grey band: not shown that round (fewer than {k} answers, or to protect a "
                "smaller group)."
            ).format(k=report.rounds[-1].k if report.rounds else 5)
        )
    if any(_ranged(report, construct) for construct in constructs):
        notes.append(
            t._(
                "Bar: only a range is published, since the group answered so alike that an "
                "exact figure could tell someone's answer."
            )
        )
    notes.append(t._("Rounds that did not ask an area are left out of its line."))
    return " ".join(notes)


def _ranged(report: UnitReport, construct: str) -> bool:
    return any(
        "range" in entry.get("constructs", {}).get(construct, {})
        for (_, unit), entry in report.published.items()
        if unit == report.unit_id and entry.get("shown")
    )


def _hidden_rounds(report: UnitReport, construct: str) -> Any:
    """Per round: asked the construct but showed nothing (drawn as a grey band)."""
    return report.indices[construct].isna().to_numpy() & report.asked[construct].to_numpy()


def heatmap_chart(
    units: dict[str, dict[str, float | tuple[float, float] | None]],
    labels: dict[str, str],
    better: dict[str, str],
    language: str,
    k: int,
    marks: dict[tuple[str, str], str] | None = None,
) -> bytes:
    """Units (rows) x constructs (columns) for one round; hidden cells hatched and labelled;
    ``marks`` adds an arrow to a cell whose change since the previous round exceeds chance.

    Cells are coloured by how favourable they are (so 'higher is worse' indices are flipped for
    the colour only; the number shown is the index itself).

    Long because it draws one figure top to bottom (cells, hatching, labels, legend); split, the
    drawing order would be lost.
    """
    t = Texts(language)
    names = list(units)
    present = {c for values in units.values() for c in values}
    # In the question set's order (as ``labels`` lists them), not alphabetically.
    constructs = [c for c in labels if c in present] + sorted(present - set(labels))
    data = np.full((len(names), len(constructs)), np.nan)
    shown_as: dict[tuple[int, int], str] = {}
    for row, name in enumerate(names):
        for column, construct in enumerate(constructs):
            value = units[name].get(construct)
            if isinstance(value, tuple):  # only a range is published: coloured by its middle
                data[row, column] = sum(value) / 2
                shown_as[row, column] = f"{t.number(value[0])}–{t.number(value[1])}"
            elif value is not None:
                data[row, column] = value
    badness = data.copy()
    for column, construct in enumerate(constructs):
        if better.get(construct) == "higher_is_better":
            badness[:, column] = 100 - badness[:, column]
    widest = max((len(name) for name in names), default=10)
    figure, axis = plt.subplots(
        figsize=(1.3 * len(constructs) + 1.5 + widest * 0.07, 0.5 * len(names) + 2.2)
    )
    image = axis.imshow(
        np.ma.masked_invalid(badness), cmap=GOOD_BAD, vmin=0, vmax=100, aspect="auto"
    )
    legend = figure.colorbar(image, ax=axis, fraction=0.04, pad=0.02, ticks=[0, 100])
    legend.ax.set_yticklabels([t._("better"), t._("worse")], fontsize=8)
    legend.outline.set_visible(False)
    for row in range(len(names)):
        for column in range(len(constructs)):
            value = data[row, column]
            if np.isnan(value):
                axis.add_patch(
                    plt.Rectangle(
                        (column - 0.5, row - 0.5),
                        1,
                        1,
                        fill=False,
                        hatch="//",
                        color="#999999",
                        lw=0,
                    )
                )
                axis.text(column, row, "–", ha="center", va="center", fontsize=8, color="#555555")
            else:
                text = shown_as.get((row, column), t.number(value))
                mark = (marks or {}).get((names[row], constructs[column]))
                if mark:
                    text += " " + mark
                axis.text(column, row, text, ha="center", va="center", fontsize=8)
    axis.set_xticks(
        range(len(constructs)),
        [labels.get(c, c) for c in constructs],
        rotation=30,
        ha="right",
        fontsize=8,
    )
    axis.set_yticks(range(len(names)), names, fontsize=8)
    # Left-aligned, so the tree's indentation shows: the labels sit in a margin as wide as the
    # longest of them.
    widest = max((len(name) for name in names), default=10)
    axis.tick_params(axis="y", pad=widest * 4.6)
    for tick in axis.get_yticklabels():
        tick.set_horizontalalignment("left")
    axis.set_title(
        t._(
            "Latest figures by unit (hatched: not shown on its own: too few members, too few "
            "answers, or to protect a smaller group)"
        )
        + (
            "\n" + t._("▲ ▼: a change since the previous round larger than chance") if marks else ""
        ),
        fontsize=10,
        wrap=True,
    )
    figure.tight_layout()
    return _png(figure)


def units_heatmap(db: Database, report: UnitReport, language: str) -> bytes | None:
    """The sub-units heatmap of a report's latest round; None when there is only the unit."""
    data, moves = unit_heatmap(db, report)
    if len(data) < 2:
        return None
    t = Texts(language)
    latest = report.latest_round
    labels = {}
    for construct, ref in latest_asked(report).items():
        label = report.construct_labels[construct].get(language) or construct
        # Rotation: an area asked in an earlier round says which week its figures are from.
        if latest is not None and ref.round_id != latest.round_id:
            label += "\n(" + t._("asked {week}").format(week=t.week(ref.closed_at)) + ")"
        labels[construct] = label
    # A clear change since the area's previous round (beyond chance for both group sizes).
    marks: dict[tuple[str, str], str] = {}
    for name, moved in moves.items():
        for construct, (delta, now, before) in moved.items():
            if abs(delta) > change_margin(report.change_spread, now, [before]):
                marks[name, construct] = "▲" if delta > 0 else "▼"
    return heatmap_chart(
        data, labels, report.construct_better, language, latest.k if latest else 5, marks
    )


def response_rate_chart(report: UnitReport, language: str) -> bytes:
    t = Texts(language)
    dates = [t.week(r.closed_at) for r in report.rounds]
    rates = report.response_rate.to_numpy() * 100
    figure, axis = plt.subplots(figsize=(6, 2.6))
    x = np.arange(len(dates))
    shown = ~np.isnan(rates)
    axis.bar(x[shown], rates[shown], color=OKABE_ITO[0])
    for position in x[~shown]:
        axis.text(
            position,
            3,
            "–",
            ha="center",
            fontsize=7,
            color="#555555",
            rotation=90,
        )
    axis.set_ylim(0, 100)
    axis.set_xticks(x, dates, fontsize=7, rotation=45)
    axis.set_ylabel("%")
    axis.set_title(f"{report.unit_name}: {t._('Response rate')}", fontsize=10)
    axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return _png(figure)


def _png(figure: plt.Figure, dpi: int = 110) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    plt.close(figure)
    return buffer.getvalue()
