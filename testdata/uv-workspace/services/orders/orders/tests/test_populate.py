from django.core.management import call_command

from orders.models import Order


def test_default_scenario_loads_and_reloads(db):
    call_command("populate", "--scenario", "default", verbosity=0)
    call_command("populate", "--scenario", "default", verbosity=0)
    assert [(o.reference, o.sku, o.quantity) for o in Order.objects.all()] == [
        ("ord-0001", "kettle-1l", 2), ("ord-0002", "teapot-cast-iron", 1),
    ]
