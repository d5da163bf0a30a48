import uuid

from django.db import models


class Event(models.Model):
    """A community event. Users (organizer, attendees) are referred to by their auth UUID."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    starts_at = models.DateTimeField()
    location = models.CharField(max_length=200, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="EUR")
    organizer_uuid = models.UUIDField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at", "id"]

    def __str__(self):
        return self.title


class Attendee(models.Model):
    event = models.ForeignKey(Event, related_name="attendees", on_delete=models.CASCADE)
    user_uuid = models.UUIDField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "user_uuid"], name="unique_attendee"),
        ]

    def __str__(self):
        return f"{self.user_uuid} at {self.event}"
