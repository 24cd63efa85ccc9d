"""A small declarative schema for the protocol's YAML files (params.yaml, pipelines/*.yaml).

Each node checks one value and returns every problem it finds as `key.path: value ...; fix`; the caller
prefixes the file name and raises one ConfigError with all of them. Unknown keys are problems too, with
the closest known key suggested, so a typo never falls back to a default silently. Booleans are never
numbers here (YAML reads `yes` as True).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.protocol.errors import ConfigError

Problems = list[str]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' for the closest choice, '' when none is close."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _where(path: str) -> str:
    return path or "the top level"


class Node:
    doc: str = ""

    def check(self, value: Any, path: str) -> Problems:
        raise NotImplementedError


@dataclass
class Number(Node):
    """A finite int or float, with optional bounds (`gt`: strictly greater, `ge`: at least, `lt`: strictly
    less)."""

    doc: str = "a number"
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    integer: bool = False

    def check(self, value: Any, path: str) -> Problems:
        kind = "an integer" if self.integer else "a number"
        wrong_type = isinstance(value, bool) or not isinstance(value, int | float)
        if wrong_type or (self.integer and not isinstance(value, int)):
            return [f"{path}: {value!r} is not {kind}; write {self.doc}"]
        if not math.isfinite(value):
            return [f"{path}: {value!r} is not finite; write {self.doc}"]
        if self.gt is not None and not value > self.gt:
            return [f"{path}: {value!r} must be > {self.gt:g}; write {self.doc}"]
        if self.ge is not None and not value >= self.ge:
            return [f"{path}: {value!r} must be >= {self.ge:g}; write {self.doc}"]
        if self.lt is not None and not value < self.lt:
            return [f"{path}: {value!r} must be < {self.lt:g}; write {self.doc}"]
        return []


def Int(doc: str, ge: int | None = None) -> Number:  # noqa: N802  (reads like a type in the tables below)
    return Number(doc=doc, ge=ge, integer=True)


@dataclass
class Flag(Node):
    """true or false."""

    doc: str = "true or false"

    def check(self, value: Any, path: str) -> Problems:
        return [] if isinstance(value, bool) else [f"{path}: {value!r} is not true or false; write {self.doc}"]


@dataclass
class Text(Node):
    """A string, optionally one of `choices` (a tuple, or a function giving it when checked: names that a file
    being checked may add, e.g. declared datasets) or accepted by `valid` (which returns a problem or None)."""

    doc: str = "a string"
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None
    valid: Callable[[str], str | None] | None = None

    def options(self) -> tuple[str, ...] | None:
        return self.choices() if callable(self.choices) else self.choices

    def check(self, value: Any, path: str) -> Problems:
        if not isinstance(value, str):
            return [f"{path}: {value!r} is not a string; write {self.doc}"]
        options = self.options()
        if options is not None and value not in options:
            return [f"{path}: {value!r} is not one of {', '.join(options)}{did_you_mean(value, options)}"]
        if self.valid is not None and (problem := self.valid(value)):
            return [f"{path}: {problem}"]
        return []


@dataclass
class Sequence(Node):
    item: Node
    doc: str = "a list"
    min_len: int = 0
    unique: bool = False

    def check(self, value: Any, path: str) -> Problems:
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not a list; write {self.doc}"]
        if len(value) < self.min_len:
            return [f"{path}: the list is empty; write {self.doc}"]
        problems = [p for i, v in enumerate(value) for p in self.item.check(v, f"{path}[{i}]")]
        if self.unique:
            items = [v for v in value if isinstance(v, str | int)]
            problems += [f"{path}: {v!r} is listed twice" for v in dict.fromkeys(items) if items.count(v) > 1]
        return problems


@dataclass
class Mapping(Node):
    """A mapping with known `fields` (some `required`); other keys are allowed only when `keys` accepts them
    (a Text node, e.g. dataset names), each checked with `values`."""

    fields: dict[str, Node] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    keys: Text | None = None
    values: Node | None = None
    doc: str = "a mapping"

    def check(self, value: Any, path: str) -> Problems:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            return [f"{_where(path)}: {value!r} is not a mapping; write {self.doc}"]
        problems = [f"{_where(path)}: `{key}` is missing; add {self.fields[key].doc}" for key in self.required
                    if key not in value]
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key in self.fields:
                problems += self.fields[key].check(item, where)
            elif self.keys is not None and self.values is not None and not self.keys.check(key, where):
                problems += self.values.check(item, where)
            else:
                known = [*self.fields, *((self.keys.options() or ()) if self.keys is not None else ())]
                allowed = ", ".join(known) if known else "none"
                if self.keys is not None and self.keys.options() is None:
                    allowed += f", or {self.keys.doc}"
                problems.append(f"{where}: unknown key{did_you_mean(key, known)}; allowed: {allowed}")
        return problems


def read_yaml(path: Path) -> Any:
    """The parsed file; a syntax error becomes a ConfigError naming the file, line and column. Parsed by libyaml
    where PyYAML has it (every stage reads params.yaml and the study files: ~0.6 s a stage in pure Python)."""
    try:
        return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = " ".join(str(part) for part in (getattr(exc, "context", None), getattr(exc, "problem", None))
                           if part) or str(exc).splitlines()[0]
        noticed = getattr(exc, "problem_mark", None)
        if noticed is not None and noticed is not mark:
            problem += f" (noticed at line {noticed.line + 1})"
        raise ConfigError(f"{where}: YAML syntax error: {problem}; fix the file (indentation, a missing "
                          "':' or quote)") from None


def raise_problems(source: str, problems: Problems) -> None:
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise ConfigError("\n".join(f"{source}: {p}" for p in shown))
