from shopkit.populate import PopulateCommand

from orders.models import Order


class Command(PopulateCommand):
    kind = "orders"

    def apply(self, record):
        Order.objects.update_or_create(
            reference=record["reference"],
            defaults={"sku": record["sku"], "quantity": record.get("quantity", 1)},
        )
