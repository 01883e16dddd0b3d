"""PNG charts with matplotlib: trends per construct against parent and organisation, a heatmap
of units x constructs for the latest round, and response rates. Hidden figures are gaps, marked
"fewer than k answers", never zeros. Colours: the Okabe-Ito palette, safe for colour-blindness.
"""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")  # no display: charts are files
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LinearSegmentedColormap

from aggregation.report import UnitReport
from survey.i18n import Texts

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
    dates = [r.closed_at.strftime("%d/%m") for r in report.rounds]
    x = np.arange(len(dates))
    for axis in axes.flat[len(constructs) :]:
        axis.set_visible(False)
    for axis, construct in zip(axes.flat, constructs, strict=False):
        # Rounds that did not ask the construct (rotation) are left out of the lines; rounds
        # that asked it but show nothing (fewer than k answers) are gaps, shaded grey.
        asked = report.asked[construct].to_numpy()
        lines = [(report.indices, "-", OKABE_ITO[0], report.unit_name, "o")]
        if report.parent_name:
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
            )
        hidden = report.indices[construct].isna().to_numpy() & asked
        for position in x[hidden]:
            axis.axvspan(position - 0.4, position + 0.4, color="#DDDDDD", alpha=0.6, lw=0)
        label = report.construct_labels[construct].get(language, construct)
        better = report.construct_better.get(construct) == "higher_is_better"
        axis.set_title(
            f"{label} ({t._('higher is better') if better else t._('higher is worse')})", fontsize=9
        )
        axis.set_ylim(0, 100)
        axis.set_xticks(x, dates, fontsize=7, rotation=45)
        axis.grid(alpha=0.3)
    if constructs:
        axes.flat[0].legend(fontsize=7, loc="best")
    footnote = t._(
        "Grey: not shown that round (fewer than {k} answers, or to protect a smaller group)."
    ).format(k=report.rounds[-1].k if report.rounds else 5)
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


def heatmap_chart(
    units: dict[str, dict[str, float | tuple[float, float] | None]],
    labels: dict[str, str],
    better: dict[str, str],
    language: str,
    k: int,
) -> bytes:
    """Units (rows) x constructs (columns) for one round; hidden cells hatched and labelled.

    Cells are coloured by how favourable they are (so 'higher is worse' indices are flipped for
    the colour only; the number shown is the index itself).
    """
    t = Texts(language)
    names = list(units)
    constructs = sorted({c for values in units.values() for c in values})
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
    figure, axis = plt.subplots(figsize=(1.3 * len(constructs) + 3, 0.5 * len(names) + 1.8))
    axis.imshow(np.ma.masked_invalid(badness), cmap=GOOD_BAD, vmin=0, vmax=100, aspect="auto")
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
                axis.text(column, row, text, ha="center", va="center", fontsize=8)
    axis.set_xticks(
        range(len(constructs)),
        [labels.get(c, c) for c in constructs],
        rotation=30,
        ha="right",
        fontsize=8,
    )
    axis.set_yticks(range(len(names)), names, fontsize=8)
    axis.set_title(
        t._("Latest round by unit (hatched: not shown, too few members or answers)"),
        fontsize=10,
        wrap=True,
    )
    figure.tight_layout()
    return _png(figure)


def response_rate_chart(report: UnitReport, language: str) -> bytes:
    t = Texts(language)
    dates = [r.closed_at.strftime("%d/%m") for r in report.rounds]
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


def _png(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()
