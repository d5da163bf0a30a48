from rest_framework import serializers

from .models import Order


class OrderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Order
        fields = ["reference", "sku", "quantity", "created_at"]
        read_only_fields = ["created_at"]

    def validate_quantity(self, value):
        if value < 1:
            raise serializers.ValidationError("order at least one")
        return value
