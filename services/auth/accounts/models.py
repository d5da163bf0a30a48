import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """The full user record. Other services know users only by ``uuid`` (never by ``pk``)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
