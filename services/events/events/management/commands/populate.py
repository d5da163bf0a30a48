from convoykit.commands import PopulateCommand
from convoykit.populator import Field, amount, list_of, text, timestamp
from convoykit.uuids import parse_uuid

from events.models import Attendee, Event


class Command(PopulateCommand):
    schema = {
        "events": {
            "uuid": Field(parse_uuid),
            "title": Field(text),
            "description": Field(text, default=""),
            "starts_at": Field(timestamp),
            "location": Field(text, default=""),
            "price": Field(amount, default=0),
            "currency": Field(text, default="EUR"),
            "organizer": Field(parse_uuid),
            "attendees": Field(list_of(parse_uuid), default=()),
        },
    }

    def apply(self, record):
        values = dict(record.values)
        attendees = values.pop("attendees")
        values["organizer_uuid"] = values.pop("organizer")
        event, _ = Event.objects.update_or_create(uuid=values.pop("uuid"), defaults=values)
        event.attendees.exclude(user_uuid__in=attendees).delete()
        for user_uuid in attendees:
            Attendee.objects.get_or_create(event=event, user_uuid=user_uuid)
