from django.db import models


class Product(models.Model):
    """Something the shop sells, known to every service by its SKU."""

    sku = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        ordering = ["sku"]

    def __str__(self):
        return f"{self.sku} {self.name}"
