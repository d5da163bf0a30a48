from shopkit.populate import PopulateCommand

from products.models import Product


class Command(PopulateCommand):
    kind = "products"

    def apply(self, record):
        Product.objects.update_or_create(
            sku=record["sku"], defaults={"name": record["name"], "price": record["price"]},
        )
