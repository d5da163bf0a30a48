from servicekit.commands import PopulateCommand
from servicekit.populator import Field, date, text

from lending.models import Loan


class Command(PopulateCommand):
    schema = {
        "loans": {
            "isbn": Field(text),
            "member": Field(text),
            "due": Field(date),
        },
    }

    def apply(self, record):
        values = dict(record.values)
        Loan.objects.update_or_create(isbn=values.pop("isbn"), member=values.pop("member"), defaults=values)
