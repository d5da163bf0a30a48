"""YAML scenarios: ``populator/NAME.yaml`` files of records, checked against a schema.

A scenario maps a kind to a list of records::

    books:
      - isbn: "9780141439518"
        title: Pride and Prejudice

A schema maps each kind to its fields: ``{"books": {"isbn": Field(text), ...}}``. Errors name the
file and the line of the record: ``populator/demo.yaml:3: unknown field 'titel'``.
"""
import datetime
from dataclasses import dataclass

import yaml

REQUIRED = object()


class ScenarioError(ValueError):
    """A scenario that does not match its schema."""


@dataclass(frozen=True)
class Field:
    """A field of a record: ``parse`` turns the YAML value into the model's; no default = required."""

    parse: object
    default: object = REQUIRED


@dataclass(frozen=True)
class Record:
    """One record of a scenario, its values parsed, and where it was written."""

    kind: str
    values: dict
    path: str
    line: int


def text(value):
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected non-empty text, got {value!r}")
    return value.strip()


def integer(value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def date(value):
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"expected a date like 2026-06-21, got {value!r}") from None


class _LineLoader(yaml.SafeLoader):
    """A safe loader that records the line (1-based) of every mapping under ``__line__``."""

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def load_scenario(path, schema):
    """Parse ``path`` and return its records, or raise ScenarioError naming file and line."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.load(f, Loader=_LineLoader) or {}
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}:1: expected a mapping of kinds ({', '.join(schema)})")
    data.pop("__line__", None)
    records = []
    for kind, items in data.items():
        if kind not in schema:
            raise ScenarioError(f"{path}: unknown kind {kind!r} (expected one of {', '.join(schema)})")
        if not isinstance(items, list):
            raise ScenarioError(f"{path}: {kind}: expected a list of records")
        records.extend(_record(path, kind, item, schema[kind]) for item in items)
    return records


def _record(path, kind, item, fields):
    if not isinstance(item, dict):
        raise ScenarioError(f"{path}: {kind}: expected a record (a mapping), got {item!r}")
    line = item.pop("__line__")
    unknown = sorted(set(item) - set(fields))
    if unknown:
        raise ScenarioError(f"{path}:{line}: unknown field {unknown[0]!r} in {kind}")
    values = {}
    for name, field in fields.items():
        if name not in item:
            if field.default is REQUIRED:
                raise ScenarioError(f"{path}:{line}: {kind} record lacks required field {name!r}")
            values[name] = field.default
            continue
        try:
            values[name] = field.parse(item[name])
        except ValueError as exc:
            raise ScenarioError(f"{path}:{line}: {name}: {exc}") from None
    return Record(kind, values, str(path), line)
