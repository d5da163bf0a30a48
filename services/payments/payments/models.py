import uuid

from django.db import models


class Payment(models.Model):
    """A user's payment for an event; both are referred to by UUID (they live in other services)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PAID = "paid"
        REFUNDED = "refunded"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event_uuid = models.UUIDField(db_index=True)
    user_uuid = models.UUIDField(db_index=True)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.amount} {self.currency} by {self.user_uuid} for {self.event_uuid}"
