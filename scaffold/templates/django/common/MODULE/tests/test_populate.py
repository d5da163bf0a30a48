import pytest
from django.core.management import call_command

from {{.Module}}.models import Item


@pytest.mark.django_db
def test_default_scenario_loads_twice_the_same():
    call_command("populate", "--scenario", "default")
    call_command("populate", "--scenario", "default")
    assert Item.objects.count() == 2
