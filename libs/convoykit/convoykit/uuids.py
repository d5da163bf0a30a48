"""UUIDs identify users (and other shared objects) across services."""
import uuid


def parse_uuid(value):
    """Return ``value`` as a :class:`uuid.UUID`, or raise ``ValueError`` if it is not one."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a UUID string, got {type(value).__name__}")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a valid UUID") from None


def is_uuid(value):
    """Tell whether ``value`` is a UUID or a string holding one."""
    try:
        parse_uuid(value)
    except ValueError:
        return False
    return True
