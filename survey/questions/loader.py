"""Reading question-set YAML with errors a person can act on: file, line, item, what, allowed.

The whole file is checked before anything is stored, and every problem is reported at once, so
an admin fixes a file in one pass and nothing is ever half-imported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from survey.questions.model import Path, QuestionSet, check_consistency

#: A question set is a few dozen items; anything far larger is a wrong file, not a bigger set.
MAX_FILE_BYTES = 256 * 1024
#: Values in the document once aliases are expanded ("billion laughs" stays a few hundred bytes
#: on disk and becomes billions in memory), and how deeply they may nest: both far above any
#: real set (the default set has about 1,500 values, 6 levels deep).
MAX_NODES = 50_000
MAX_DEPTH = 40


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. YAML 1.1 would turn the answer codes yes/no (and
    the language code 'no') into booleans."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass(frozen=True)
class Problem:
    line: int | None
    where: str
    message: str

    def render(self, source: str) -> str:
        at = f"{source}:{self.line}" if self.line else source
        return f"{at}: {self.where}: {self.message}" if self.where else f"{at}: {self.message}"


class QuestionSetError(ValueError):
    """A question-set file cannot be used; ``problems`` lists every reason with its line."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(p.render(source) for p in problems))


def load_question_set_file(path: FilePath) -> QuestionSet:
    if path.is_dir():
        raise QuestionSetError(str(path), [Problem(None, "", "is a directory, not a YAML file")])
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise QuestionSetError(
            str(path), [Problem(None, "", f"cannot read: {exc.strerror}")]
        ) from exc
    if size > MAX_FILE_BYTES:
        raise QuestionSetError(
            str(path),
            [
                Problem(
                    None,
                    "",
                    f"file is {size:,} bytes; a question set may be at most "
                    f"{MAX_FILE_BYTES:,} bytes",
                )
            ],
        )
    return load_question_set(path.read_bytes(), source=path.name)


def load_question_set(raw: bytes | str, source: str = "<upload>") -> QuestionSet:
    """Parse and fully check a question set, or raise ``QuestionSetError``."""
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > MAX_FILE_BYTES:
        raise QuestionSetError(
            source,
            [
                Problem(
                    None,
                    "",
                    f"file is {len(data):,} bytes; a question set may be at most "
                    f"{MAX_FILE_BYTES:,} bytes",
                )
            ],
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise QuestionSetError(
            source, [Problem(None, "", "not a text file (expected UTF-8 YAML)")]
        ) from exc
    try:
        _check_shape(text, source)  # bounded before anything is built from the text
        root = yaml.compose(text, Loader=_Loader)
        _check_expansion(root, source)
        document = yaml.load(text, Loader=_Loader)  # noqa: S506  (_Loader is a SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise QuestionSetError(
            source, [Problem(line, "", f"not valid YAML: {exc.problem}")]
        ) from exc
    except yaml.YAMLError as exc:
        raise QuestionSetError(source, [Problem(None, "", f"not valid YAML: {exc}")]) from exc
    if not isinstance(document, dict) or root is None:
        raise QuestionSetError(
            source,
            [
                Problem(
                    1,
                    "",
                    "not a question set: expected a mapping with id, title, languages, "
                    "constructs, scales and items",
                )
            ],
        )
    duplicates = _duplicate_keys(root)
    if duplicates:
        raise QuestionSetError(source, duplicates)
    try:
        question_set = QuestionSet.model_validate(document)
    except ValidationError as exc:
        raise QuestionSetError(
            source, [_problem(root, document, tuple(e["loc"]), _message(e)) for e in exc.errors()]
        ) from exc
    problems = check_consistency(question_set)
    if problems:
        raise QuestionSetError(
            source, [_problem(root, document, path, message) for path, message in problems]
        )
    return question_set


def _check_shape(text: str, source: str) -> None:
    """Refuse deep nesting from the event stream, which PyYAML produces without recursion, so
    that a hostile file cannot exhaust the stack of the composer that comes next."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else None
                raise QuestionSetError(
                    source,
                    [Problem(line, "", f"nested more than {MAX_DEPTH} levels deep")],
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_expansion(root: yaml.Node | None, source: str) -> None:
    """Count the values the document would have with every alias expanded, without expanding
    anything (each node is counted once and its size remembered)."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)] if root is not None else []
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if not children_done and id(node) in visiting:
            raise QuestionSetError(
                source, [Problem(node.start_mark.line + 1, "", "an alias refers to itself")]
            )
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if children_done:
            visiting.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[id(node)] > MAX_NODES:
                raise QuestionSetError(
                    source,
                    [
                        Problem(
                            node.start_mark.line + 1,
                            "",
                            f"expands to more than {MAX_NODES:,} values (through aliases): "
                            "not a question set",
                        )
                    ],
                )
            continue
        visiting.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


def dump_question_set(question_set: QuestionSet) -> str:
    """YAML for a set (used for `pulse questions show` and round trips)."""
    data = question_set.model_dump(mode="json", exclude_defaults=True, by_alias=True)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def _message(error: ErrorDetails) -> str:
    kind, message = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; `pulse questions schema` lists every field)"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch":
        return (
            f"{error.get('input')!r} is not allowed: use lower-case letters, digits and _ , "
            "starting with a letter"
        )
    return message


def _problem(root: yaml.Node, document: Any, path: Path, message: str) -> Problem:
    parts = [p for p in path if p != "[key]"]
    return Problem(_line_of(root, parts), _where(document, parts), message)


def _where(document: Any, path: list[str | int]) -> str:
    """'item 'stress': text.en' rather than 'items.3.text.en'."""
    if len(path) >= 2 and path[0] == "items" and isinstance(path[1], int):
        items = document.get("items") if isinstance(document, dict) else None
        key = None
        if isinstance(items, list) and path[1] < len(items) and isinstance(items[path[1]], dict):
            key = items[path[1]].get("key")
        head = f"item '{key}'" if key else f"item {path[1] + 1}"
        rest = ".".join(str(p) for p in path[2:])
        return f"{head}: {rest}" if rest else head
    return ".".join(str(p) for p in path)


def _line_of(node: yaml.Node, path: list[str | int]) -> int:
    """The line (1-based) of the deepest key or element the path reaches: for ``text`` that is
    the ``text:`` line even when its translations follow on the lines below."""
    line = node.start_mark.line
    for part in path:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    child, line = value_node, key_node.start_mark.line
                    break
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line
        if child is None:
            break
        node = child
    return line + 1


def _duplicate_keys(node: yaml.Node, trail: str = "") -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                where = f"{trail}.{key}" if trail else key
                problems.append(
                    Problem(key_node.start_mark.line + 1, where, "this key appears twice here")
                )
            seen.add(key)
            problems.extend(_duplicate_keys(value_node, f"{trail}.{key}" if trail else key))
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            problems.extend(_duplicate_keys(child, f"{trail}[{index}]"))
    return problems
