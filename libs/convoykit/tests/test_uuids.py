import uuid

import pytest

from convoykit.uuids import is_uuid, parse_uuid

VALUE = "a11ce000-0000-4000-8000-000000000001"


def test_parse_uuid_accepts_strings_and_uuids():
    assert parse_uuid(VALUE) == uuid.UUID(VALUE)
    assert parse_uuid(uuid.UUID(VALUE)) == uuid.UUID(VALUE)


@pytest.mark.parametrize("value", ["", "not-a-uuid", 42, None, "a11ce000"])
def test_parse_uuid_rejects_other_values(value):
    with pytest.raises(ValueError):
        parse_uuid(value)
    assert not is_uuid(value)


def test_is_uuid():
    assert is_uuid(VALUE)
