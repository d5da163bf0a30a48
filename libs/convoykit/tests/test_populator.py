import datetime
import decimal
import textwrap
import uuid

import pytest

from convoykit.populator import (
    Field, ScenarioError, amount, choice, list_of, load_scenario, text, timestamp,
)
from convoykit.uuids import parse_uuid

SCHEMA = {
    "things": {
        "uuid": Field(parse_uuid),
        "name": Field(text),
        "price": Field(amount, default=decimal.Decimal("0")),
        "when": Field(timestamp, default=None),
        "kind": Field(choice("a", "b"), default="a"),
        "tags": Field(list_of(text), default=()),
    },
}
UUID = "a11ce000-0000-4000-8000-000000000001"


def scenario(tmp_path, body):
    path = tmp_path / "default.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def test_records_are_parsed_with_defaults_and_line_numbers(tmp_path):
    path = scenario(tmp_path, f"""\
        # comment
        things:
          - uuid: {UUID}
            name: first
            price: 12.50
            when: 2019-06-21T10:00:00Z
            tags: [x, y]
          - uuid: {UUID}
            name: second
        """)
    first, second = load_scenario(path, SCHEMA)
    assert first.values == {
        "uuid": uuid.UUID(UUID), "name": "first", "price": decimal.Decimal("12.50"),
        "when": datetime.datetime(2019, 6, 21, 10, tzinfo=datetime.timezone.utc),
        "kind": "a", "tags": ["x", "y"],
    }
    assert (first.section, first.line, second.line) == ("things", 3, 8)
    assert second.values["price"] == 0 and second.values["when"] is None


def test_empty_scenario_has_no_records(tmp_path):
    assert load_scenario(scenario(tmp_path, "# nothing yet\n"), SCHEMA) == []


@pytest.mark.parametrize("body, line, message", [
    ("things:\n  - uuid: [oops\n", 3, "invalid YAML"),
    ("things:\n  - name: a\n   bad: indent\n", 3, "block collection started at line 2"),
    ('things:\n  - name: "a\n', 3, "invalid YAML: found unexpected end of stream"),
    ("- a\n- b\n", 1, "must be a mapping"),
    ("things: []\nstuff: []\n", 2, "unknown section 'stuff'"),
    ("things: []\nthings: []\n", 2, "duplicate section 'things'"),
    ("things: {}\n", 1, "must be a list"),
    (f"things:\n  - uuid: {UUID}\n    name: a\n    colour: red\n", 4, "unknown field 'colour'"),
    (f"things:\n  - uuid: {UUID}\n    name: a\n    name: b\n", 4, "duplicate field 'name'"),
    ("things:\n  - name: a\n    kind: b\n", 2, "missing required field(s): uuid"),
    ("things:\n  - uuid: nope\n    name: a\n", 2, "field 'uuid': 'nope' is not a valid UUID"),
    (f"things:\n  - uuid: {UUID}\n\n    name: 7\n", 4, "field 'name': expected a string"),
    (f"things:\n  - uuid: {UUID}\n    name: a\n    price: -1\n", 4, "non-negative"),
    (f"things:\n  - uuid: {UUID}\n    name: a\n    when: 2019-06-21\n", 4, "date and time"),
    (f"things:\n  - uuid: {UUID}\n    name: a\n    kind: c\n", 4, "not one of: a, b"),
    ("things:\n  - 42\n", 2, "must be a mapping"),
])
def test_errors_name_file_and_line(tmp_path, body, line, message):
    path = scenario(tmp_path, body)
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(path, SCHEMA)
    assert excinfo.value.line == line
    assert str(excinfo.value).startswith(f"{path}:{line}: ")
    assert message in str(excinfo.value)
