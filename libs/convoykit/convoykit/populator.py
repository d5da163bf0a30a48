"""Populator scenarios: YAML files describing a service's seed data, checked with line numbers.

A scenario maps section names to lists of records::

    users:                      # a section the service's schema knows
      - uuid: a11ce000-0000-4000-8000-000000000001
        username: alice

A schema maps each section to its fields (``{"users": {"uuid": Field(parse_uuid), ...}}``).
Every problem -- invalid YAML, an unknown section or field, a missing required field, a value that
does not parse -- raises :class:`ScenarioError` naming ``file:line``. Nothing here touches a
database or the network.
"""
import dataclasses
import datetime
import decimal
from typing import Any, Callable

import yaml
from yaml.constructor import SafeConstructor

_MISSING = object()


class ScenarioError(Exception):
    """A scenario file is malformed or invalid; ``str()`` is ``"path:line: message"``."""

    def __init__(self, path, line, message):
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line, self.message = path, line, message


@dataclasses.dataclass(frozen=True)
class Field:
    """One field of a record: how to parse its YAML value and what to use when it is absent."""

    parse: Callable[[Any], Any]
    default: Any = _MISSING

    @property
    def required(self):
        return self.default is _MISSING


@dataclasses.dataclass(frozen=True)
class Record:
    """A parsed record of ``section``, with where it starts for error messages."""

    section: str
    values: dict
    path: str
    line: int


def load_scenario(path, schema):
    """Parse the scenario file at ``path`` against ``schema``; return its records in file order."""
    path = str(path)
    with open(path, encoding="utf-8") as stream:
        try:
            root = yaml.compose(stream, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            raise ScenarioError(path, _line(exc.problem_mark or exc.context_mark),
                                _yaml_problem(exc)) from None
    if root is None:
        return []
    _expect(path, root, yaml.MappingNode, "the scenario must be a mapping of sections")
    records, seen = [], set()
    for key, value in root.value:
        section = _scalar_key(path, key)
        if section in seen:
            raise ScenarioError(path, _line(key.start_mark), f"duplicate section {section!r}")
        seen.add(section)
        if section not in schema:
            known = ", ".join(sorted(schema))
            raise ScenarioError(path, _line(key.start_mark),
                                f"unknown section {section!r} (expected one of: {known})")
        _expect(path, value, yaml.SequenceNode, f"section {section!r} must be a list of records")
        for item in value.value:
            records.append(_record(path, section, item, schema[section]))
    return records


def _record(path, section, node, fields):
    _expect(path, node, yaml.MappingNode, f"a record of {section!r} must be a mapping")
    values = {}
    for key, value_node in node.value:
        name = _scalar_key(path, key)
        if name not in fields:
            known = ", ".join(sorted(fields))
            raise ScenarioError(path, _line(key.start_mark),
                                f"unknown field {name!r} in {section!r} (expected one of: {known})")
        if name in values:
            raise ScenarioError(path, _line(key.start_mark), f"duplicate field {name!r}")
        try:
            values[name] = fields[name].parse(SafeConstructor().construct_object(value_node, True))
        except (ValueError, TypeError, yaml.YAMLError) as exc:
            line = _line(value_node.start_mark)
            raise ScenarioError(path, line, f"field {name!r}: {exc}") from None
    missing = [name for name, field in fields.items() if field.required and name not in values]
    if missing:
        message = f"{section!r} record is missing required field(s): {', '.join(missing)}"
        raise ScenarioError(path, _line(node.start_mark), message)
    for name, field in fields.items():
        values.setdefault(name, field.default)
    return Record(section, values, path, _line(node.start_mark))


def _yaml_problem(exc):
    message = exc.problem or exc.context
    if exc.problem and exc.context:
        message += f" ({exc.context}"
        message += f" started at line {_line(exc.context_mark)})" if exc.context_mark else ")"
    return f"invalid YAML: {message}"


def _scalar_key(path, node):
    _expect(path, node, yaml.ScalarNode, "keys must be plain strings")
    return node.value


def _expect(path, node, kind, message):
    if not isinstance(node, kind):
        raise ScenarioError(path, _line(node.start_mark), message)


def _line(mark):
    return mark.line + 1 if mark is not None else 1


# Value parsers: each takes a constructed YAML value and returns it converted or raises ValueError.

def text(value):
    """A string (quote values YAML would read as numbers, booleans or dates)."""
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


def boolean(value):
    """``true`` or ``false``."""
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def amount(value):
    """A non-negative decimal amount such as ``12.50`` (a string or a number)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected an amount, got {value!r}")
    try:
        result = decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal amount") from None
    if not result.is_finite() or result < 0:
        raise ValueError(f"{value!r} is not a non-negative amount")
    return result


def timestamp(value):
    """An ISO 8601 date and time with a time zone, e.g. ``2019-06-21T10:00:00Z``."""
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 date and time") from None
    if not isinstance(value, datetime.datetime):
        raise ValueError(f"expected a date and time, got {value!r}")
    if value.tzinfo is None:
        raise ValueError(f"{value.isoformat()} has no time zone (add Z or +HH:MM)")
    return value


def choice(*allowed):
    """A parser accepting exactly one of ``allowed``."""
    def parse(value):
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of: {', '.join(map(str, allowed))}")
        return value
    return parse


def list_of(parse):
    """A parser for a list whose items each go through ``parse``."""
    def parse_list(value):
        if not isinstance(value, list):
            raise ValueError(f"expected a list, got {type(value).__name__}")
        return [parse(item) for item in value]
    return parse_list
