"""The published figures of a round, as stored in ``round_statistic.figures`` and read by every
report, chart, export and results message: one typed contract for all of them.

Each unit of a closed round's scope has one ``UnitFigure``. A unit that is not shown carries
only why (``reason``) and its place in the tree; a shown unit carries how many answered and its
items' and areas' figures. Only what disclosure control allowed is ever in here (docs/privacy.md,
P6): a figure that could pin anyone is a published range (``range``, a ``mean`` pair, an
``unfavourable_range``) or is absent.

The stored JSON is this shape, and each stored row says which version of it
(``round_statistic.figures_version``). Keys may be added within a version; a key that changes
its meaning is a new version, so a reader of stored figures (an export, an outside analysis)
never meets a silent change, and mypy checks every read and write of a key against this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict, cast

#: The shape described here, as stored with every row of figures.
FIGURES_VERSION = 1

#: Why a unit is not shown, where it is not simply too few respondents this round (no reason):
#: too few members ever to be shown (``min_members`` says how many it would need), or to
#: protect a smaller unit next to it.
HiddenReason = Literal["members", "neighbours"]
#: A figure of an item that the pinning audit can hold back.
HeldBack = Literal["mean", "share"]


class ItemFigure(TypedDict):
    """One question's figures in one unit."""

    #: Respondents who answered this item.
    n: int
    #: The item's key across question-set versions (the same question under another key).
    lineage: str
    #: The item's 0-100 index as a published [low, high] pair (equal ends: exact).
    mean: NotRequired[list[float]]
    #: The share of unfavourable answers, 0-1 (the middle of the range where there is one).
    unfavourable_share: NotRequired[float]
    #: [low, high] where only a range of the share is published.
    unfavourable_range: NotRequired[list[float]]
    #: What the pinning audit held back of this item here ("mean", "share"): published without.
    held_back: NotRequired[list[HeldBack]]


class ConstructFigure(TypedDict):
    """An area's (construct's) 0-100 index in one unit: the mean of its items' means."""

    n: int
    index: float
    #: [low, high] where only a range is published (``index`` is then its middle).
    range: NotRequired[list[float]]


class UnitFigure(TypedDict):
    """One unit in one closed round."""

    shown: bool
    #: The unit's parent when the round closed (the tree as it was then).
    parent: NotRequired[int | None]
    #: Members attached to the unit (with its sub-units) when the round opened.
    members: NotRequired[int]
    #: Respondents published (a lower bound where ``respondents_at_least``).
    respondents: NotRequired[int]
    respondents_at_least: NotRequired[bool]
    reason: NotRequired[HiddenReason]
    min_members: NotRequired[int]
    #: Areas the round asked.
    asked: NotRequired[list[str]]
    items: NotRequired[dict[str, ItemFigure]]
    constructs: NotRequired[dict[str, ConstructFigure]]
    #: Areas whose index the pinning audit held back here (with an item's mean it is built on).
    constructs_held_back: NotRequired[list[str]]


#: A round's figures by unit id.
RoundFigures = dict[int, UnitFigure]


class FiguresVersionError(ValueError):
    """Stored figures of a shape this version of Staff Pulse does not read."""


def stored_figure(data: Mapping[str, Any], version: int = FIGURES_VERSION) -> UnitFigure:
    """A unit's figures as read back from ``round_statistic.figures`` (JSON): written only from
    a ``UnitFigure`` (``as_stored``) of ``version``, so read as one."""
    if version != FIGURES_VERSION:
        remedy = "upgrade Staff Pulse" if version > FIGURES_VERSION else "run `pulse migrate`"
        raise FiguresVersionError(
            f"stored figures have shape version {version}; this Staff Pulse reads version "
            f"{FIGURES_VERSION}: {remedy}"
        )
    return cast(UnitFigure, data)


def as_stored(figure: UnitFigure) -> dict[str, Any]:
    """A unit's figures for the JSON column, keys in the order they were set."""
    return dict(figure)


def not_published() -> UnitFigure:
    """What a unit without figures in a round reads as: not shown."""
    return {"shown": False}


def item_of(figure: UnitFigure, key: str) -> ItemFigure | None:
    """An item's figures in a unit, where the unit is shown and published it."""
    return figure.get("items", {}).get(key)


def construct_of(figure: UnitFigure, construct: str) -> ConstructFigure | None:
    """An area's index in a unit, where the unit is shown and published it."""
    return figure.get("constructs", {}).get(construct)


def asked_areas(figure: UnitFigure) -> list[str]:
    """The areas a round asked, as stored with a unit's figures (older rounds: those with an
    index)."""
    return figure["asked"] if "asked" in figure else list(figure.get("constructs", {}))
