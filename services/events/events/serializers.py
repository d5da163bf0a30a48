from rest_framework import serializers

from .models import Event


class EventSerializer(serializers.ModelSerializer):
    organizer = serializers.UUIDField(source="organizer_uuid", read_only=True)
    attendees = serializers.SlugRelatedField(many=True, read_only=True, slug_field="user_uuid")

    class Meta:
        model = Event
        fields = [
            "uuid", "title", "description", "starts_at", "location", "price", "currency",
            "organizer", "attendees", "created_at",
        ]
        read_only_fields = ["uuid", "created_at"]
