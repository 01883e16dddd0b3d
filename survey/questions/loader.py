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

from survey.phrases import N_, Phrase, Translator, phrase, verbatim
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
    """One reason a file cannot be used, at a line, said in English (``render``) or in the
    reader's language (``render(source, t)``)."""

    line: int | None
    where: Phrase | str
    message: Phrase

    def render(self, source: str, t: Translator | None = None) -> str:
        def said(part: Phrase | str) -> str:
            if isinstance(part, str):
                return part
            return part.in_language(t) if t is not None else str(part)

        at = f"{source}:{self.line}" if self.line else source
        message = said(self.message)
        return f"{at}: {said(self.where)}: {message}" if self.where else f"{at}: {message}"


class QuestionSetError(ValueError):
    """A question-set file cannot be used; ``problems`` lists every reason with its line."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(p.render(source) for p in problems))


def load_question_set_file(path: FilePath) -> QuestionSet:
    if path.is_dir():
        raise QuestionSetError(
            str(path), [Problem(None, "", phrase(N_("is a directory, not a YAML file")))]
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise QuestionSetError(
            str(path), [Problem(None, "", phrase(N_("cannot read: {reason}"), reason=exc.strerror))]
        ) from exc
    if size > MAX_FILE_BYTES:
        raise QuestionSetError(
            str(path),
            [Problem(None, "", _too_large(size))],
        )
    return load_question_set(path.read_bytes(), source=path.name)


def load_question_set(raw: bytes | str, source: str = "<upload>") -> QuestionSet:
    """Parse and fully check a question set, or raise ``QuestionSetError``."""
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > MAX_FILE_BYTES:
        raise QuestionSetError(
            source,
            [Problem(None, "", _too_large(len(data)))],
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise QuestionSetError(
            source, [Problem(None, "", phrase(N_("not a text file (expected UTF-8 YAML)")))]
        ) from exc
    try:
        _check_shape(text, source)  # bounded before anything is built from the text
        root = yaml.compose(text, Loader=_Loader)
        _check_expansion(root, source)
        document = yaml.load(text, Loader=_Loader)  # noqa: S506  (_Loader is a SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise QuestionSetError(
            source,
            [Problem(line, "", phrase(N_("not valid YAML: {problem}"), problem=exc.problem))],
        ) from exc
    except yaml.YAMLError as exc:
        raise QuestionSetError(
            source, [Problem(None, "", phrase(N_("not valid YAML: {problem}"), problem=str(exc)))]
        ) from exc
    if not isinstance(document, dict) or root is None:
        raise QuestionSetError(
            source,
            [
                Problem(
                    1,
                    "",
                    phrase(
                        N_(
                            "not a question set: expected a mapping with id, title, "
                            "languages, constructs, scales and items"
                        )
                    ),
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
                    [
                        Problem(
                            line, "", phrase(N_("nested more than {n} levels deep"), n=MAX_DEPTH)
                        )
                    ],
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
                source,
                [Problem(node.start_mark.line + 1, "", phrase(N_("an alias refers to itself")))],
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
                            phrase(
                                N_(
                                    "expands to more than {n} values (through aliases): not a "
                                    "question set"
                                ),
                                n=MAX_NODES,
                            ),
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


def _message(error: ErrorDetails) -> Phrase:
    """Pydantic's finding in words a question-set author understands, in either language."""
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == "extra_forbidden":
        return phrase(
            N_("unknown field (check the spelling; `pulse questions schema` lists every field)")
        )
    if kind == "missing":
        return phrase(N_("required field is missing"))
    if kind == "string_pattern_mismatch":
        allowed = phrase(
            N_("use lower-case letters, digits, _ and -, starting with a letter")
            if "-" in str(ctx.get("pattern", ""))
            else N_("use lower-case letters, digits and _, starting with a letter")
        )
        return phrase(
            N_("'{value}' is not allowed: {allowed}"), value=error.get("input"), allowed=allowed
        )
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return phrase(N_("must be one of: {choices}"), choices=", ".join(choices))
    bounds = {
        "greater_than_equal": (N_("must be at least {limit}"), "ge"),
        "less_than_equal": (N_("must be at most {limit}"), "le"),
        "greater_than": (N_("must be more than {limit}"), "gt"),
        "less_than": (N_("must be less than {limit}"), "lt"),
        "string_too_short": (N_("must have at least {limit} characters"), "min_length"),
        "string_too_long": (N_("may have at most {limit} characters"), "max_length"),
        "too_short": (N_("needs at least {limit} entries"), "min_length"),
        "too_long": (N_("may have at most {limit} entries"), "max_length"),
    }
    if kind in bounds:
        template, key = bounds[kind]
        return phrase(template, limit=ctx.get(key))
    kinds = {
        "int_type": N_("must be a whole number"),
        "int_parsing": N_("must be a whole number"),
        "int_from_float": N_("must be a whole number"),
        "float_type": N_("must be a number"),
        "float_parsing": N_("must be a number"),
        "bool_type": N_("must be true or false"),
        "bool_parsing": N_("must be true or false"),
        "string_type": N_("must be text"),
        "list_type": N_("must be a list (lines starting with -)"),
        "tuple_type": N_("must be a list (lines starting with -)"),
        "dict_type": N_("must be a mapping (key: value lines)"),
        "model_type": N_("must be a mapping (key: value lines)"),
        "model_attributes_type": N_("must be a mapping (key: value lines)"),
    }
    if kind in kinds:
        return phrase(kinds[kind])
    return verbatim(str(error["msg"]).removeprefix("Value error, "))


def _problem(root: yaml.Node, document: Any, path: Path, message: Phrase) -> Problem:
    parts = [p for p in path if p != "[key]"]
    return Problem(_line_of(root, parts), _where(document, parts), message)


def _where(document: Any, path: list[str | int]) -> Phrase | str:
    """'item 'stress': text.en' rather than 'items.3.text.en'."""
    if len(path) >= 2 and path[0] == "items" and isinstance(path[1], int):
        items = document.get("items") if isinstance(document, dict) else None
        key = None
        if isinstance(items, list) and path[1] < len(items) and isinstance(items[path[1]], dict):
            key = items[path[1]].get("key")
        rest = ".".join(str(p) for p in path[2:])
        if key:
            return (
                phrase(N_("item '{key}': {field}"), key=key, field=rest)
                if rest
                else phrase(N_("item '{key}'"), key=key)
            )
        number = path[1] + 1
        if rest:
            return phrase(N_("item {n}: {field}"), n=number, field=rest)
        return phrase(N_("item {n}"), n=number)
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


def _too_large(size: int) -> Phrase:
    return phrase(
        N_("file is {size} bytes; a question set may be at most {limit} bytes"),
        size=f"{size:,}",
        limit=f"{MAX_FILE_BYTES:,}",
    )


def _duplicate_keys(node: yaml.Node, trail: str = "") -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                where = f"{trail}.{key}" if trail else key
                problems.append(
                    Problem(
                        key_node.start_mark.line + 1,
                        where,
                        phrase(N_("this key appears twice here")),
                    )
                )
            seen.add(key)
            problems.extend(_duplicate_keys(value_node, f"{trail}.{key}" if trail else key))
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            problems.extend(_duplicate_keys(child, f"{trail}[{index}]"))
    return problems
