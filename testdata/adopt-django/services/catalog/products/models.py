from django.db import models


class Product(models.Model):
    sku = models.CharField(max_length=32, unique=True)
    price_cents = models.PositiveIntegerField()
