import uuid

from django.db import models


class Item(models.Model):
    """An item of the {{.Name}} service: rename it, add fields, then makemigrations."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return self.name
