from convoykit.commands import PopulateCommand
from convoykit.populator import Field, amount, choice, text
from convoykit.uuids import parse_uuid

from opportunities.models import Opportunity


class Command(PopulateCommand):
    schema = {
        "opportunities": {
            "uuid": Field(parse_uuid),
            "title": Field(text),
            "description": Field(text, default=""),
            "owner": Field(parse_uuid),
            "budget": Field(amount, default=None),
            "currency": Field(text, default="EUR"),
            "status": Field(choice(*Opportunity.Status.values), default=Opportunity.Status.OPEN),
        },
    }

    def apply(self, record):
        values = dict(record.values)
        values["owner_uuid"] = values.pop("owner")
        Opportunity.objects.update_or_create(uuid=values.pop("uuid"), defaults=values)
