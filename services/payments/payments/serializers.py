from rest_framework import serializers

from .models import Payment


class PaymentSerializer(serializers.ModelSerializer):
    event = serializers.UUIDField(source="event_uuid")
    user = serializers.UUIDField(source="user_uuid", read_only=True)

    class Meta:
        model = Payment
        fields = ["uuid", "event", "user", "amount", "currency", "status", "created_at"]
        read_only_fields = ["uuid", "amount", "currency", "status", "created_at"]
