import requests
from django.conf import settings
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from orders.models import Order
from orders.tasks import confirm_order


class OrderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Order
        fields = ["id", "product", "status"]
        read_only_fields = ["status"]


class OrderViewSet(viewsets.ModelViewSet):
    queryset = Order.objects.order_by("id")
    serializer_class = OrderSerializer

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = serializer.validated_data["product"]
        found = requests.get(f"{settings.CATALOG_URL}/api/products/{product}/", timeout=5)
        if found.status_code != 200:
            return Response({"product": "unknown product"}, status=status.HTTP_400_BAD_REQUEST)
        order = serializer.save()
        confirm_order.delay(order.id)
        return Response(self.get_serializer(order).data, status=status.HTTP_201_CREATED)
