import datetime
import uuid

import pytest
from django.db import IntegrityError

from events.models import Attendee, Event

ALICE = uuid.UUID("a11ce000-0000-4000-8000-000000000001")


def make_event(**fields):
    fields = {"title": "PyDay", "starts_at": datetime.datetime(2026, 6, 21, tzinfo=datetime.UTC),
              "organizer_uuid": ALICE, **fields}
    return Event.objects.create(**fields)


@pytest.mark.django_db
def test_event_gets_its_own_uuid_and_defaults():
    event = make_event()
    assert isinstance(event.uuid, uuid.UUID)
    assert event.uuid != make_event().uuid
    assert (event.price, event.currency, str(event)) == (0, "EUR", "PyDay")


@pytest.mark.django_db
def test_a_user_attends_an_event_once():
    event = make_event()
    Attendee.objects.create(event=event, user_uuid=ALICE)
    with pytest.raises(IntegrityError):
        Attendee.objects.create(event=event, user_uuid=ALICE)
