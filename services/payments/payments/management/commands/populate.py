from convoykit.commands import PopulateCommand
from convoykit.populator import Field, amount, choice, text
from convoykit.uuids import parse_uuid

from payments.models import Payment


class Command(PopulateCommand):
    """Events and users are only referred to by UUID: nothing is asked of the other services."""

    schema = {
        "payments": {
            "uuid": Field(parse_uuid),
            "event": Field(parse_uuid),
            "user": Field(parse_uuid),
            "amount": Field(amount),
            "currency": Field(text, default="EUR"),
            "status": Field(choice(*Payment.Status.values), default=Payment.Status.PENDING),
        },
    }

    def apply(self, record):
        values = dict(record.values)
        values["event_uuid"] = values.pop("event")
        values["user_uuid"] = values.pop("user")
        Payment.objects.update_or_create(uuid=values.pop("uuid"), defaults=values)
