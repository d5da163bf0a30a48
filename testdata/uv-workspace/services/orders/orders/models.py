from django.db import models


class Order(models.Model):
    """An order of a quantity of one product, known by its catalogue SKU."""

    reference = models.SlugField(max_length=40, unique=True)
    sku = models.SlugField(max_length=40)
    quantity = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["reference"]

    def __str__(self):
        return f"{self.reference}: {self.quantity} x {self.sku}"
