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
        user, created = User.objects.update_or_create(uuid=values.pop("uuid"), defaults=values)
        # A new salt on every run would change the row: an existing user keeps a matching hash.
        # A new user has none to check, and checking would hash anyway (Django hashes once to
        # hide that the password was unusable): one hash per new user, not two.
        if created or not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
