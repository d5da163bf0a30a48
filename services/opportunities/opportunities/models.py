import uuid

from django.db import models


class Opportunity(models.Model):
    """A marketplace opportunity, owned by a user known by their auth UUID."""

    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner_uuid = models.UUIDField(db_index=True)
    budget = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, default="EUR")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "opportunities"

    def __str__(self):
        return self.title
