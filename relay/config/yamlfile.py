"""YAML with line numbers and ${ENV} substitution.

Mappings load as `Mapping` (a dict that remembers the line of itself and of each key) so that
validation can say `rules.yaml:12: ...`. `${VAR}` must be set; `${VAR:-default}` may not be.
Every substituted value is registered as a secret (relay.secrets), and is a `FromEnv` whose
repr is the text as written, so an error quoting it shows `${VAR}`, never the value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from relay import secrets
from relay.errors import ConfigError, ConfigErrors

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class Mapping(dict[str, Any]):
    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class Sequence(list[Any]):
    line: int = 0


class FromEnv(str):
    """A string with ${VAR} substituted; `repr` gives the scalar as written in the file."""

    written: str

    def __new__(cls, value: str, written: str) -> FromEnv:
        self = super().__new__(cls, value)
        self.written = written
        return self

    def __repr__(self) -> str:
        return repr(self.written)


class _Loader(yaml.SafeLoader):
    file: str = "<config>"
    errors: list[ConfigError]


def _mapping(loader: _Loader, node: yaml.MappingNode) -> Mapping:
    result = Mapping()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise ConfigError(f"keys must be strings, got {key!r}", loader.file, key_node.start_mark.line + 1)
        if key in result:
            raise ConfigError(f"duplicate key {key!r}", loader.file, key_node.start_mark.line + 1)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> Sequence:
    result = Sequence(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    return result


def _string(loader: _Loader, node: yaml.ScalarNode) -> str:
    written = str(loader.construct_scalar(node))
    try:
        value = substitute(written, loader.file, node.start_mark.line + 1)
    except ConfigError as exc:  # go on: every variable that is not set is reported at once
        loader.errors.append(exc)
        return written
    return written if value == written else FromEnv(value, written)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)
_Loader.add_constructor("tag:yaml.org,2002:str", _string)


def substitute(value: str, file: str, line: int) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name)
        if found is None:
            if default is None:
                raise ConfigError(f"environment variable {name} is not set", file, line)
            return default
        secrets.register(found)
        return found

    return _ENV.sub(replace, value)


def load_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", str(path)) from exc
    loader = _Loader(text)
    loader.file, loader.errors = str(path), []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError(f"YAML syntax: {_plain_words(exc)}", str(path), line) from None
    finally:
        loader.dispose()
    if loader.errors:
        raise ConfigErrors(loader.errors)
    return data


# PyYAML's problem -> what to say instead ({opened}: where the open bracket or quote was)
_PLAIN = (
    ("found character '\\t'", "found a tab character where indentation is expected (indent with spaces)"),
    ("that cannot start any token", "a value cannot start with {char} (quote the value)"),
    (
        "mapping values are not allowed here",
        "a ':' where no key may start (check the indentation, or quote the value)",
    ),
    ("expected <block end>", "this line is not indented like the lines above it"),
    ("expected ',' or ']'", "a list opened with '[' {opened} is not closed with ']'"),
    ("expected ',' or '}'", "a mapping opened with '{{' {opened} is not closed with '}}'"),
    ("found unexpected end of stream", "a quoted string opened {opened} is not closed"),
    ("'<stream end>'", "the file ends in the middle of a value (a '[', '{{' or quote not closed?)"),
)


def _plain_words(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or "not valid YAML"
    opened = f"on line {exc.context_mark.line + 1}" if exc.context_mark else "above"
    char = problem.split("'")[1] if problem.startswith("found character '") else "this character"
    for pattern, words in _PLAIN:
        if pattern in problem:
            return words.format(opened=opened, char=repr(char))
    return problem
