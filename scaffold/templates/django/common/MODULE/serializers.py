from rest_framework import serializers

from .models import Item


class ItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = Item
        fields = ["uuid", "name", "created_at"]
        read_only_fields = ["uuid", "created_at"]
