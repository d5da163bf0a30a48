import pytest
from django.core.management import CommandError, call_command

from products.models import Product


def test_default_scenario_loads_and_reloads(db):
    call_command("populate", "--scenario", "default", verbosity=0)
    call_command("populate", "--scenario", "default", verbosity=0)
    assert list(Product.objects.values_list("sku", flat=True)) == ["kettle-1l", "teapot-cast-iron"]
    assert str(Product.objects.get(sku="kettle-1l").price) == "24.90"


def test_unknown_scenario_is_refused(db):
    with pytest.raises(CommandError, match="unknown scenario"):
        call_command("populate", "--scenario", "nope", verbosity=0)
