"""The question sets Staff Pulse ships with, found by id wherever `pulse` runs from.

An operator's first import should not depend on the directory they stand in: a name that is not
a file is looked up among the shipped sets (``config/question_sets``, installed with the code).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def shipped_sets() -> dict[str, Path]:
    """Shipped set id -> its YAML file (the file is named after the set's id)."""
    folder = resources.files("config") / "question_sets"
    found = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".yaml"):
            found[entry.name.removesuffix(".yaml")] = Path(str(entry))
    return dict(sorted(found.items()))


def resolve_set_source(source: str) -> Path:
    """A path as given where it exists (or looks like a path), else the shipped set of that id;
    the path as given where neither fits, so that reading it says what is wrong."""
    path = Path(source)
    if path.exists() or path.suffix in {".yaml", ".yml"} or "/" in source:
        return path
    return shipped_sets().get(source, path)
