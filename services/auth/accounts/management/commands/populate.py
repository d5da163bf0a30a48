from convoykit.commands import PopulateCommand
from convoykit.populator import Field, boolean, text
from convoykit.uuids import parse_uuid

from accounts.models import User


class Command(PopulateCommand):
    """Users keep the fixed UUIDs the other services' scenarios refer to."""

    schema = {
        "users": {
            "uuid": Field(parse_uuid),
            "username": Field(text),
            "password": Field(text),
            "email": Field(text, default=""),
            "first_name": Field(text, default=""),
            "last_name": Field(text, default=""),
            "is_staff": Field(boolean, default=False),
        },
    }

    def apply(self, record):
        values = dict(record.values)
        password = values.pop("password")
        user, _ = User.objects.update_or_create(uuid=values.pop("uuid"), defaults=values)
        if not user.check_password(password):  # a new salt on every run would change the row
            user.set_password(password)
            user.save(update_fields=["password"])
