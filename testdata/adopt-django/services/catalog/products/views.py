from rest_framework import serializers, viewsets

from products.legacy_pricing import with_tax
from products.models import Product


class ProductSerializer(serializers.ModelSerializer):
    price_with_tax = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = ["id", "sku", "price_cents", "price_with_tax"]

    def get_price_with_tax(self, product):
        return with_tax(product.price_cents)


class ProductViewSet(viewsets.ModelViewSet):
    queryset = Product.objects.order_by("id")
    serializer_class = ProductSerializer
