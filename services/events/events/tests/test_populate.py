import pytest
from django.core.management import CommandError, call_command

from events.models import Attendee, Event


def snapshot():
    return (list(Event.objects.values_list("uuid", "title", "price", "organizer_uuid")),
            sorted(Attendee.objects.values_list("event__uuid", "user_uuid")))


@pytest.mark.django_db
def test_populate_loads_every_scenario_idempotently():
    call_command("populate", verbosity=0)
    first = snapshot()
    call_command("populate", verbosity=0)
    assert snapshot() == first
    assert Event.objects.count() == 3
    assert Event.objects.get(title="PyDay Granada").attendees.count() == 1


@pytest.mark.django_db
def test_populate_loads_one_scenario():
    call_command("populate", scenarios=["default"], verbosity=0)
    assert Event.objects.count() == 2


@pytest.mark.django_db
def test_unknown_scenario_is_an_error():
    with pytest.raises(CommandError, match="unknown scenario"):
        call_command("populate", scenarios=["nope"], verbosity=0)


@pytest.mark.django_db
def test_invalid_scenario_names_file_and_line(settings, tmp_path):
    (tmp_path / "populator").mkdir()
    scenario = tmp_path / "populator" / "default.yaml"
    scenario.write_text("events:\n  - title: No uuid\n    when: tomorrow\n")
    settings.BASE_DIR = tmp_path
    with pytest.raises(CommandError, match=f"^{scenario}:3: unknown field 'when'"):
        call_command("populate", verbosity=0)
    assert not Event.objects.exists()
