from rest_framework import serializers

from .models import Opportunity


class OpportunitySerializer(serializers.ModelSerializer):
    owner = serializers.UUIDField(source="owner_uuid", read_only=True)

    class Meta:
        model = Opportunity
        fields = [
            "uuid", "title", "description", "owner", "budget", "currency", "status", "created_at",
        ]
        read_only_fields = ["uuid", "status", "created_at"]
